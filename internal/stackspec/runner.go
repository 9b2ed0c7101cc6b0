package stackspec

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Runner is the scheduled drill runner as infra/aws declares it: the
// reports bucket, the ECS cluster and task definition, the EventBridge
// Scheduler schedule, and the roles' policies.
type Runner struct {
	Region string
	// Bucket is the reports bucket: its name, the KMS key of its default
	// encryption, whether versioning is on, its bucket policy.
	Bucket       string
	BucketKMSKey string
	Versioned    bool
	BucketPolicy string
	// Objects are the aws_s3_object resources in it: key → content (the
	// outputs object's content is the stack's outputs: OutputsKey names it).
	Objects    map[string]string
	OutputsKey string
	Cluster    string // ARN
	Task       Task
	Schedule   RunnerSchedule
}

// Task is the runner's aws_ecs_task_definition.
type Task struct {
	Family, ARN, ARNWithoutRevision string
	TaskRole, ExecutionRole         string // ARNs
	TaskRolePolicies                []string
	Arch                            string // X86_64 or ARM64
	Container                       Container
}

// Container is the task's container definition.
type Container struct {
	Name, Image               string
	EntryPoint, Command       []string
	Environment               map[string]string
	StopTimeout               time.Duration
	LogGroup, LogStreamPrefix string
}

// RunnerSchedule is an aws_scheduler_schedule with an ECS target (Schedule
// is an EventBridge rule's).
type RunnerSchedule struct {
	Name, Group, Expression, Timezone string
	Enabled                           bool
	FlexibleWindow                    time.Duration
	Role                              string // ARN
	RolePolicies                      []string
	Cluster, TaskDefinition           string
	// Subnets are the aws_subnet resources its network configuration
	// names; SecurityGroups their ids as the twin names them.
	Subnets        []string
	AssignPublicIP bool
}

// countOf is a resource's count, when it has one.
func countOf(ctx *hcl.EvalContext, b *hclsyntax.Block) (int, bool) {
	a, ok := b.Body.Attributes["count"]
	if !ok {
		return 0, false
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 1, true // a count the twin cannot evaluate: one instance
	}
	n, _ := v.AsBigFloat().Int64()
	return int(n), true
}

// namedResource is what a real apply gives the resources whose ids and
// ARNs are made of their names (S3 buckets, IAM roles, ECR repositories,
// ECS clusters and task definitions, log groups); nil for others.
func namedResource(typ string, attr func(string) string, region, account string) map[string]cty.Value {
	str := cty.StringVal
	switch typ {
	case "aws_s3_bucket":
		n := attr("bucket")
		return map[string]cty.Value{"id": str(n), "bucket": str(n), "arn": str("arn:aws:s3:::" + n)}
	case "aws_iam_role":
		n := attr("name")
		return map[string]cty.Value{"id": str(n), "name": str(n), "arn": str(fmt.Sprintf("arn:aws:iam::%s:role/%s", account, n))}
	case "aws_lambda_function":
		// Its name, as the alarms on its AWS/Lambda metrics name it.
		n := attr("function_name")
		return map[string]cty.Value{"id": str(n), "function_name": str(n), "arn": str(fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, n))}
	case "aws_ecr_repository":
		n := attr("name")
		return map[string]cty.Value{"id": str(n), "name": str(n), "arn": str(fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", region, account, n)),
			"repository_url": str(fmt.Sprintf("%s.dkr.ecr.%s.amazonaws.com/%s", account, region, n))}
	case "aws_ecs_cluster":
		n := attr("name")
		arn := fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", region, account, n)
		return map[string]cty.Value{"id": str(arn), "name": str(n), "arn": str(arn)}
	case "aws_ecs_task_definition":
		f := attr("family")
		base := fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s", region, account, f)
		return map[string]cty.Value{"id": str(f), "family": str(f), "arn": str(base + ":1"), "arn_without_revision": str(base), "revision": cty.NumberIntVal(1)}
	case "aws_cloudwatch_log_group":
		n := attr("name")
		return map[string]cty.Value{"id": str(n), "name": str(n), "arn": str(fmt.Sprintf("arn:aws:logs:%s:%s:log-group:%s", region, account, n))}
	}
	return nil
}

// readRunner reads the runner: nil when there is no schedule with an ECS
// target (runner_enabled false leaves every runner resource at count 0).
func readRunner(ctx *hcl.EvalContext, blocks func(string, ...string) []*hclsyntax.Block, s *Spec, region func(*hclsyntax.Block) string) (*Runner, error) {
	present := func(b *hclsyntax.Block) bool { n, counted := countOf(ctx, b); return !counted || n > 0 }
	attr := func(b *hclsyntax.Block, name string) cty.Value { return attrIn(ctx, b, name) }
	nested := func(b *hclsyntax.Block, typ string) *hclsyntax.Block {
		for _, nb := range b.Body.Blocks {
			if nb.Type == typ {
				return nb
			}
		}
		return nil
	}
	var r *Runner
	for _, b := range blocks("resource", "aws_scheduler_schedule") {
		target := nested(b, "target")
		if !present(b) || target == nil || nested(target, "ecs_parameters") == nil {
			continue
		}
		ecsp := nested(target, "ecs_parameters")
		r = &Runner{Region: region(b), Objects: map[string]string{}}
		sc := RunnerSchedule{Name: asString(attr(b, "name")), Group: asString(attr(b, "group_name")), Expression: asString(attr(b, "schedule_expression")),
			Timezone: asString(attr(b, "schedule_expression_timezone")), Enabled: asString(attr(b, "state")) != "DISABLED",
			Role: asString(attr(target, "role_arn")), Cluster: asString(attr(target, "arn")), TaskDefinition: asString(attr(ecsp, "task_definition_arn"))}
		if sc.Group == "" {
			sc.Group = "default"
		}
		if w := nested(b, "flexible_time_window"); w != nil && asString(attr(w, "mode")) == "FLEXIBLE" {
			sc.FlexibleWindow = time.Duration(asNumber(attr(w, "maximum_window_in_minutes"))) * time.Minute
		}
		if nc := nested(ecsp, "network_configuration"); nc != nil {
			if a, ok := nc.Body.Attributes["subnets"]; ok {
				sc.Subnets = subnetRefs(a.Expr)
			}
			if v := attr(nc, "assign_public_ip"); v != cty.NilVal && v.Type() == cty.Bool && v.IsKnown() {
				sc.AssignPublicIP = v.True()
			}
		}
		if a, ok := target.Body.Attributes["role_arn"]; ok {
			sc.RolePolicies = s.rolePolicies(roleResource(a.Expr))
		}
		r.Schedule, r.Cluster = sc, sc.Cluster
	}
	if r == nil {
		return nil, nil
	}
	for _, b := range blocks("resource", "aws_ecs_task_definition") {
		if !present(b) {
			continue
		}
		t := Task{Family: asString(attr(b, "family")), TaskRole: asString(attr(b, "task_role_arn")), ExecutionRole: asString(attr(b, "execution_role_arn"))}
		if a, ok := b.Body.Attributes["task_role_arn"]; ok {
			t.TaskRolePolicies = s.rolePolicies(roleResource(a.Expr))
		}
		if rp := nested(b, "runtime_platform"); rp != nil {
			t.Arch = asString(attr(rp, "cpu_architecture"))
		}
		var defs []struct {
			Name, Image         string
			EntryPoint, Command []string
			Environment         []struct{ Name, Value string }
			StopTimeout         int
			LogConfiguration    struct {
				Options map[string]string
			}
		}
		if err := json.Unmarshal([]byte(asString(attr(b, "container_definitions"))), &defs); err != nil || len(defs) != 1 {
			return nil, fmt.Errorf("aws_ecs_task_definition.%s: container_definitions must evaluate to one container (%v)", b.Labels[1], err)
		}
		d := defs[0]
		t.Container = Container{Name: d.Name, Image: d.Image, EntryPoint: d.EntryPoint, Command: d.Command, Environment: map[string]string{},
			StopTimeout: time.Duration(d.StopTimeout) * time.Second, LogGroup: d.LogConfiguration.Options["awslogs-group"],
			LogStreamPrefix: d.LogConfiguration.Options["awslogs-stream-prefix"]}
		for _, e := range d.Environment {
			t.Container.Environment[e.Name] = e.Value
		}
		r.Task = t
	}
	if tv, ok := ctx.Variables["aws_ecs_task_definition"]; ok {
		for _, inst := range tv.AsValueMap() {
			if inst.Type().IsTupleType() && inst.LengthInt() > 0 {
				inst = inst.Index(cty.NumberIntVal(0))
			}
			m := inst.AsValueMap()
			if asString(m["family"]) == r.Task.Family {
				r.Task.ARN, r.Task.ARNWithoutRevision = asString(m["arn"]), asString(m["arn_without_revision"])
			}
		}
	}
	for _, b := range blocks("resource", "aws_s3_bucket") {
		if present(b) {
			r.Bucket = asString(attr(b, "bucket"))
		}
	}
	for _, b := range blocks("resource", "aws_s3_bucket_server_side_encryption_configuration") {
		if rule := nested(b, "rule"); present(b) && rule != nil {
			if d := nested(rule, "apply_server_side_encryption_by_default"); d != nil && asString(attr(d, "sse_algorithm")) == "aws:kms" {
				r.BucketKMSKey = asString(attr(d, "kms_master_key_id"))
			}
		}
	}
	for _, b := range blocks("resource", "aws_s3_bucket_versioning") {
		if vc := nested(b, "versioning_configuration"); present(b) && vc != nil {
			r.Versioned = asString(attr(vc, "status")) == "Enabled"
		}
	}
	for _, b := range blocks("resource", "aws_s3_bucket_policy") {
		if present(b) {
			r.BucketPolicy = asString(attr(b, "policy"))
		}
	}
	for _, b := range blocks("resource", "aws_s3_object") {
		if !present(b) {
			continue
		}
		key := asString(attr(b, "key"))
		if a, ok := b.Body.Attributes["content"]; ok {
			for _, tr := range a.Expr.Variables() {
				if tr.RootName() == "local" && len(tr) > 1 {
					if at, ok := tr[1].(hcl.TraverseAttr); ok && at.Name == "runner_outputs" {
						r.OutputsKey = key
					}
				}
			}
		}
		r.Objects[key] = asString(attr(b, "content"))
	}
	return r, nil
}

// roleResource is the aws_iam_role an expression names
// (aws_iam_role.runner_task[0].arn → runner_task).
func roleResource(e hcl.Expression) string {
	for _, tr := range e.Variables() {
		if tr.RootName() == "aws_iam_role" && len(tr) > 1 {
			if at, ok := tr[1].(hcl.TraverseAttr); ok {
				return at.Name
			}
		}
	}
	return ""
}
