// Package stackspec reads the DR stack as infra/aws writes it — names,
// regions, the metric alarms, the schedules, the tags — straight from the
// Terraform files, so that the AWS twin plays the stack as written rather
// than a second copy of it. It evaluates the HCL expressions it needs with
// the variables' defaults (or given values) and the locals; attributes
// that depend on what only a real apply knows (data sources, generated
// ids) are filled with twin values where the twin needs them, or left out.
package stackspec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Alarm is an aws_cloudwatch_metric_alarm as declared.
type Alarm struct {
	Resource          string // e.g. lag_secondary
	Region            string
	Name              string
	Namespace, Metric string
	Dimensions        map[string]string
	Statistic         string
	Period            time.Duration
	EvaluationPeriods int
	DatapointsToAlarm int
	Threshold         float64
	Comparison        string
	TreatMissing      string
	AlarmActions      []string
	OKActions         []string
}

// Schedule is an aws_cloudwatch_event_rule with a schedule expression.
type Schedule struct {
	Resource, Region, Name, Expression string
}

// Function is an aws_lambda_function as declared: its name, region, zip
// (which binary), timeout and environment. Endpoint hostnames in the
// environment are the twin's cluster endpoint names (see Load's endpoints).
type Function struct {
	Resource, Name, Region string
	Zip                    string // e.g. healthmonitor.zip
	Timeout                time.Duration
	Env                    map[string]string
	// Policies are the JSON documents of its role's aws_iam_role_policy
	// resources (one per for_each instance), as a plan would render them;
	// Role is the role's name.
	Policies []string
	Role     string
	// Subnets are the aws_subnet resources its vpc_config places it in
	// (none: outside the VPCs).
	Subnets []string
}

// Target is an aws_cloudwatch_event_target: which function a rule invokes,
// and the rule's schedule or event pattern.
type Target struct {
	Rule, Function, Region string
	Schedule               string // e.g. rate(1 minute)
	Pattern                string // JSON event pattern
}

// Spec is what the twin takes from infra/aws.
type Spec struct {
	Name                         string // local.name
	PrimaryRegion                string
	SecondaryRegion              string
	GlobalClusterID              string
	PrimaryClusterID             string
	SecondaryClusterID           string
	EngineVersion                string
	DatabaseName                 string
	Tags                         map[string]string
	Alarms                       []Alarm
	Schedules                    []Schedule
	PrimaryTopic, SecondaryTopic string
	// Locals are the string-valued locals (e.g. the function names).
	Locals map[string]string
	// OutputNames are the outputs the stack declares.
	OutputNames []string
	Functions   []Function
	Targets     []Target
	// SecretName is the database secret's name.
	SecretName string
	// Subscriptions are the topics' Lambda subscriptions: topic ARN → function name.
	Subscriptions []Subscription
	// HealthChecks are the Route 53 health checks.
	HealthChecks []HealthCheck
	// TopicKeys are the KMS keys the topics are encrypted with (topic ARN →
	// key ARN); SecretKeys the secret's, per region of its replicas.
	TopicKeys, SecretKeys map[string]string
	// DatabaseSubnets are the aws_subnet resources of the database subnet
	// groups: the subnets a region isolation puts on a deny-all ACL.
	DatabaseSubnets []string
	// Runner is the scheduled drill runner (runner.tf); nil when the stack
	// declares none or runner_enabled is false.
	Runner *Runner
	// KeyPolicies are the aws_kms_key policies (key ARN → JSON document).
	KeyPolicies map[string]string
	// Roles are the aws_iam_role resources with their policies.
	Roles []Role
}

// Role is an aws_iam_role as declared: its name, trust policy (when it
// evaluates here) and the JSON documents of its aws_iam_role_policy
// resources (one per for_each instance), as a plan would render them.
type Role struct {
	Resource, Name, ARN string
	AssumeRolePolicy    string
	Policies            []string
}

// Role returns the role declared as aws_iam_role.<resource>.
func (s *Spec) Role(resource string) (Role, bool) {
	for _, r := range s.Roles {
		if r.Resource == resource {
			return r, true
		}
	}
	return Role{}, false
}

// rolePolicies are the policy documents of aws_iam_role.<resource> (none
// for a role the stack does not declare).
func (s *Spec) rolePolicies(resource string) []string {
	r, _ := s.Role(resource)
	return r.Policies
}

// subnetRefs are the aws_subnet resources an expression refers to.
func subnetRefs(e hcl.Expression) []string {
	var out []string
	for _, v := range e.Variables() {
		if v.RootName() != "aws_subnet" || len(v) < 2 {
			continue
		}
		if a, ok := v[1].(hcl.TraverseAttr); ok && !slices.Contains(out, a.Name) {
			out = append(out, a.Name)
		}
	}
	return out
}

// HealthCheck is an aws_route53_health_check as declared; a
// CLOUDWATCH_METRIC one follows its alarm.
type HealthCheck struct {
	Resource               string // e.g. primary
	Type                   string
	AlarmName, AlarmRegion string
	InsufficientDataStatus string // Healthy, Unhealthy or LastKnownStatus
	Inverted               bool
}

// Subscription is an aws_sns_topic_subscription with protocol "lambda".
type Subscription struct {
	TopicARN, Function string
}

// ClusterEndpoint and ReaderEndpoint are the hostnames the twin gives a
// regional cluster's writer and reader endpoints, in RDS's form.
func ClusterEndpoint(clusterID, region string) string {
	return clusterID + ".cluster-c0drdrilltwin." + region + ".rds.amazonaws.com"
}

// ReaderEndpoint: see ClusterEndpoint.
func ReaderEndpoint(clusterID, region string) string {
	return clusterID + ".cluster-ro-c0drdrilltwin." + region + ".rds.amazonaws.com"
}

// SecretARN is the twin's ARN of a secret in a region.
func SecretARN(region, account, name string) string {
	return fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-Tw1nAb", region, account, name)
}

// Load reads the stack in dir for account, with vars overriding the
// variables' defaults (environment_suffix has none: pass it).
func Load(dir, account string, vars map[string]string) (*Spec, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no Terraform files in %s: point --stack at infra/aws", dir)
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, diags := p.ParseHCL(src, f)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %s", f, diags.Error())
		}
		bodies = append(bodies, file.Body.(*hclsyntax.Body))
	}
	blocks := func(typ string, labels ...string) []*hclsyntax.Block {
		var out []*hclsyntax.Block
		for _, b := range bodies {
			for _, bl := range b.Blocks {
				if bl.Type != typ || len(bl.Labels) < len(labels) {
					continue
				}
				match := true
				for i, l := range labels {
					match = match && bl.Labels[i] == l
				}
				if match {
					out = append(out, bl)
				}
			}
		}
		return out
	}

	// var.*: the defaults, then the given values.
	vs := map[string]cty.Value{}
	for _, b := range blocks("variable") {
		if a, ok := b.Body.Attributes["default"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() && !v.IsNull() {
				vs[b.Labels[0]] = v
			}
		}
	}
	for k, v := range vars {
		// Given as text, as -var gives them; a number or bool variable is
		// converted to its default's type, a list or map read as HCL
		// (-var 'x=["a","b"]').
		val := cty.StringVal(v)
		if d, ok := vs[k]; ok && d.Type() != cty.String {
			if !d.Type().IsPrimitiveType() {
				expr, diags := hclsyntax.ParseExpression([]byte(v), k, hcl.InitialPos)
				if !diags.HasErrors() {
					val, diags = expr.Value(nil)
				}
				if diags.HasErrors() {
					return nil, fmt.Errorf("variable %s=%q: %s", k, v, diags.Error())
				}
				vs[k] = val
				continue
			}
			conv, err := convert.Convert(val, d.Type())
			if err != nil {
				return nil, fmt.Errorf("variable %s=%q: %v", k, v, err)
			}
			val = conv
		}
		vs[k] = val
	}
	// The data sources the locals read: the caller's account and partition.
	data := cty.ObjectVal(map[string]cty.Value{
		"aws_caller_identity": cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"account_id": cty.StringVal(account)})}),
		"aws_partition":       cty.ObjectVal(map[string]cty.Value{"current": cty.ObjectVal(map[string]cty.Value{"partition": cty.StringVal("aws")})}),
	})
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vs), "data": data}, Functions: functions()}

	// local.*: evaluated in rounds, since locals refer to each other;
	// those that need a data source or a resource are left out.
	locals := map[string]hcl.Expression{}
	for _, b := range blocks("locals") {
		for n, a := range b.Body.Attributes {
			locals[n] = a.Expr
		}
	}
	ls := map[string]cty.Value{}
	evalLocals(ctx, locals, ls)

	s := &Spec{Name: asString(ls["name"]), PrimaryRegion: asString(vs["primary_region"]), SecondaryRegion: asString(vs["secondary_region"]),
		EngineVersion: asString(vs["engine_version"]), DatabaseName: asString(vs["database_name"]), Tags: map[string]string{}}
	if s.Name == "" {
		return nil, fmt.Errorf("%s: local.name does not evaluate: pass environment_suffix", dir)
	}
	s.Locals = map[string]string{}
	for n, v := range ls {
		if str := asString(v); str != "" {
			s.Locals[n] = str
		}
	}
	for _, b := range blocks("output") {
		s.OutputNames = append(s.OutputNames, b.Labels[0])
	}
	sort.Strings(s.OutputNames)
	if t, ok := ls["tags"]; ok && t.CanIterateElements() {
		for k, v := range t.AsValueMap() {
			s.Tags[k] = asString(v)
		}
	}
	// A resource's region is its provider's: aws.secondary or the primary.
	region := func(b *hclsyntax.Block) string {
		if a, ok := b.Body.Attributes["provider"]; ok {
			if tr, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() && len(tr) == 2 {
				if at, ok := tr[1].(hcl.TraverseAttr); ok && at.Name == "secondary" {
					return s.SecondaryRegion
				}
			}
		}
		return s.PrimaryRegion
	}
	attr := func(b *hclsyntax.Block, name string) cty.Value { return attrIn(ctx, b, name) }

	// The resources the alarms and the outputs refer to, with what a real
	// apply would give them (ARNs in the twin's account).
	resources := map[string]map[string]cty.Value{}
	add := func(typ, name string, v map[string]cty.Value) {
		if resources[typ] == nil {
			resources[typ] = map[string]cty.Value{}
		}
		resources[typ][name] = cty.ObjectVal(v)
	}
	for _, b := range blocks("resource", "aws_rds_global_cluster") {
		s.GlobalClusterID = asString(attr(b, "global_cluster_identifier"))
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"id": cty.StringVal(s.GlobalClusterID), "global_cluster_identifier": cty.StringVal(s.GlobalClusterID)})
	}
	for _, b := range blocks("resource", "aws_rds_cluster") {
		id, r := asString(attr(b, "cluster_identifier")), region(b)
		if b.Labels[1] == "primary" {
			s.PrimaryClusterID = id
		} else if b.Labels[1] == "secondary" {
			s.SecondaryClusterID = id
		}
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"id": cty.StringVal(id), "cluster_identifier": cty.StringVal(id),
			"arn":             cty.StringVal(fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", r, account, id)),
			"endpoint":        cty.StringVal(ClusterEndpoint(id, r)),
			"reader_endpoint": cty.StringVal(ReaderEndpoint(id, r))})
	}
	for _, b := range blocks("resource", "aws_secretsmanager_secret") {
		s.SecretName = asString(attr(b, "name"))
		arn := SecretARN(region(b), account, s.SecretName)
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"arn": cty.StringVal(arn), "id": cty.StringVal(arn)})
	}
	for _, b := range blocks("resource", "aws_sns_topic") {
		arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", region(b), account, asString(attr(b, "name")))
		if b.Labels[1] == "primary" {
			s.PrimaryTopic = arn
		} else if b.Labels[1] == "secondary" {
			s.SecondaryTopic = arn
		}
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"arn": cty.StringVal(arn), "id": cty.StringVal(arn)})
	}
	// Every other resource gets an id and an ARN of the twin's making, so
	// that expressions naming them (IAM policies, KMS keys) evaluate.
	for _, bodyBlocks := range [][]*hclsyntax.Block{blocks("resource")} {
		for _, b := range bodyBlocks {
			if len(b.Labels) < 2 {
				continue
			}
			if _, done := resources[b.Labels[0]][b.Labels[1]]; done {
				continue
			}
			n, counted := countOf(ctx, b)
			if counted && n == 0 {
				continue // count = 0: not created, and nothing may refer to it
			}
			v := namedResource(b.Labels[0], func(name string) string { return asString(attr(b, name)) }, region(b), account)
			if v == nil {
				svc := strings.SplitN(strings.TrimPrefix(b.Labels[0], "aws_"), "_", 2)[0]
				id := fmt.Sprintf("%s-%s-twin", strings.ReplaceAll(strings.TrimPrefix(b.Labels[0], "aws_"), "_", "-"), b.Labels[1])
				v = map[string]cty.Value{"id": cty.StringVal(id), "name": cty.StringVal(id),
					"arn": cty.StringVal(fmt.Sprintf("arn:aws:%s:%s:%s:%s/%s", svc, region(b), account, strings.TrimPrefix(b.Labels[0], "aws_"), id))}
			}
			if !counted {
				add(b.Labels[0], b.Labels[1], v)
				continue
			}
			// A counted resource is a list of its instances.
			instances := make([]cty.Value, n)
			for i := range instances {
				instances[i] = cty.ObjectVal(v)
			}
			if resources[b.Labels[0]] == nil {
				resources[b.Labels[0]] = map[string]cty.Value{}
			}
			resources[b.Labels[0]][b.Labels[1]] = cty.TupleVal(instances)
		}
	}
	for typ, m := range resources {
		ctx.Variables[typ] = cty.ObjectVal(m)
	}

	for _, b := range blocks("resource", "aws_cloudwatch_metric_alarm") {
		a := Alarm{Resource: b.Labels[1], Region: region(b), Name: asString(attr(b, "alarm_name")),
			Namespace: asString(attr(b, "namespace")), Metric: asString(attr(b, "metric_name")), Statistic: asString(attr(b, "statistic")),
			Period: time.Duration(asNumber(attr(b, "period"))) * time.Second, EvaluationPeriods: int(asNumber(attr(b, "evaluation_periods"))),
			DatapointsToAlarm: int(asNumber(attr(b, "datapoints_to_alarm"))), Threshold: asNumber(attr(b, "threshold")),
			Comparison: asString(attr(b, "comparison_operator")), TreatMissing: asString(attr(b, "treat_missing_data")),
			Dimensions: map[string]string{}, AlarmActions: asStrings(attr(b, "alarm_actions")), OKActions: asStrings(attr(b, "ok_actions"))}
		if d := attr(b, "dimensions"); d != cty.NilVal && d.CanIterateElements() {
			for k, v := range d.AsValueMap() {
				a.Dimensions[k] = asString(v)
			}
		}
		if a.Name == "" || a.Metric == "" {
			continue // a metric-math alarm: not modelled
		}
		// CloudWatch's defaults (PutMetricAlarm API reference).
		if a.DatapointsToAlarm == 0 {
			a.DatapointsToAlarm = a.EvaluationPeriods
		}
		if a.TreatMissing == "" {
			a.TreatMissing = "missing"
		}
		s.Alarms = append(s.Alarms, a)
	}
	for _, b := range blocks("resource", "aws_route53_health_check") {
		h := HealthCheck{Resource: b.Labels[1], Type: asString(attr(b, "type")), AlarmName: asString(attr(b, "cloudwatch_alarm_name")),
			AlarmRegion: asString(attr(b, "cloudwatch_alarm_region")), InsufficientDataStatus: asString(attr(b, "insufficient_data_health_status"))}
		if v := attr(b, "inverted"); v != cty.NilVal && v.Type() == cty.Bool && v.IsKnown() {
			h.Inverted = v.True()
		}
		if a, ok := b.Body.Attributes["cloudwatch_alarm_name"]; ok && h.AlarmName == "" {
			// aws_cloudwatch_metric_alarm.X.alarm_name: the alarm declared above.
			if tr := a.Expr.Variables(); len(tr) == 1 && len(tr[0]) == 3 && tr[0].RootName() == "aws_cloudwatch_metric_alarm" {
				if step, ok := tr[0][1].(hcl.TraverseAttr); ok {
					for _, al := range s.Alarms {
						if al.Resource == step.Name {
							h.AlarmName = al.Name
						}
					}
				}
			}
		}
		s.HealthChecks = append(s.HealthChecks, h)
	}
	rules := map[string]*hclsyntax.Block{}
	for _, b := range blocks("resource", "aws_cloudwatch_event_rule") {
		rules[b.Labels[1]] = b
		if e := asString(attr(b, "schedule_expression")); e != "" {
			s.Schedules = append(s.Schedules, Schedule{Resource: b.Labels[1], Region: region(b), Name: asString(attr(b, "name")), Expression: e})
		}
	}
	// The locals that name other resources (the monitors' secret ARN per
	// region, …) evaluate now that the resources are in the context.
	evalLocals(ctx, locals, ls)
	functionsByResource := map[string]string{}
	for _, b := range blocks("resource", "aws_lambda_function") {
		f := Function{Resource: b.Labels[1], Name: asString(attr(b, "function_name")), Region: region(b),
			Zip: filepath.Base(asString(attr(b, "filename"))), Timeout: time.Duration(asNumber(attr(b, "timeout"))) * time.Second, Env: map[string]string{}}
		for _, eb := range b.Body.Blocks {
			if a, ok := eb.Body.Attributes["subnet_ids"]; ok && eb.Type == "vpc_config" {
				f.Subnets = subnetRefs(a.Expr)
			}
			if eb.Type != "environment" {
				continue
			}
			if a, ok := eb.Body.Attributes["variables"]; ok {
				v, diags := a.Expr.Value(ctx)
				if diags.HasErrors() {
					return nil, fmt.Errorf("%s: aws_lambda_function.%s environment: %s", dir, f.Resource, diags.Error())
				}
				for k, e := range v.AsValueMap() {
					f.Env[k] = asString(e)
				}
			}
		}
		if f.Timeout == 0 {
			f.Timeout = 3 * time.Second // Lambda's default
		}
		functionsByResource[f.Resource] = f.Name
		s.Functions = append(s.Functions, f)
	}
	for _, b := range blocks("resource", "aws_db_subnet_group") {
		if a, ok := b.Body.Attributes["subnet_ids"]; ok {
			s.DatabaseSubnets = append(s.DatabaseSubnets, subnetRefs(a.Expr)...)
		}
	}
	if err := rolePolicies(ctx, blocks, s); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	s.KeyPolicies = map[string]string{}
	for _, b := range blocks("resource", "aws_kms_key") {
		arn := asString(ctx.Variables["aws_kms_key"].GetAttr(b.Labels[1]).GetAttr("arn"))
		if doc := asString(attr(b, "policy")); doc != "" && arn != "" {
			s.KeyPolicies[arn] = doc
		}
	}
	s.TopicKeys, s.SecretKeys = map[string]string{}, map[string]string{}
	for _, b := range blocks("resource", "aws_sns_topic") {
		if k := asString(attr(b, "kms_master_key_id")); k != "" {
			s.TopicKeys[fmt.Sprintf("arn:aws:sns:%s:%s:%s", region(b), account, asString(attr(b, "name")))] = k
		}
	}
	for _, b := range blocks("resource", "aws_secretsmanager_secret") {
		if k := asString(attr(b, "kms_key_id")); k != "" {
			s.SecretKeys[region(b)] = k
		}
		for _, rb := range b.Body.Blocks {
			if rb.Type == "replica" {
				if r, k := asString(attr(rb, "region")), asString(attr(rb, "kms_key_id")); r != "" && k != "" {
					s.SecretKeys[r] = k
				}
			}
		}
	}
	for _, b := range blocks("resource", "aws_cloudwatch_event_target") {
		fn, rule := "", ""
		if tr, diags := hcl.AbsTraversalForExpr(b.Body.Attributes["arn"].Expr); !diags.HasErrors() && len(tr) >= 2 {
			if at, ok := tr[1].(hcl.TraverseAttr); ok {
				fn = functionsByResource[at.Name]
			}
		}
		if tr, diags := hcl.AbsTraversalForExpr(b.Body.Attributes["rule"].Expr); !diags.HasErrors() && len(tr) >= 2 {
			if at, ok := tr[1].(hcl.TraverseAttr); ok {
				rule = at.Name
			}
		}
		rb := rules[rule]
		if fn == "" || rb == nil {
			continue
		}
		s.Targets = append(s.Targets, Target{Rule: asString(attr(rb, "name")), Function: fn, Region: region(b),
			Schedule: asString(attr(rb, "schedule_expression")), Pattern: asString(attr(rb, "event_pattern"))})
	}
	for _, b := range blocks("resource", "aws_sns_topic_subscription") {
		if asString(attr(b, "protocol")) != "lambda" {
			continue
		}
		if tr, diags := hcl.AbsTraversalForExpr(b.Body.Attributes["endpoint"].Expr); !diags.HasErrors() && len(tr) >= 2 {
			if at, ok := tr[1].(hcl.TraverseAttr); ok && functionsByResource[at.Name] != "" {
				s.Subscriptions = append(s.Subscriptions, Subscription{TopicARN: asString(attr(b, "topic_arn")), Function: functionsByResource[at.Name]})
			}
		}
	}
	if s.Runner, err = readRunner(ctx, blocks, s, region); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	sort.Slice(s.Alarms, func(i, j int) bool { return s.Alarms[i].Name < s.Alarms[j].Name })
	if s.GlobalClusterID == "" || s.PrimaryClusterID == "" || s.SecondaryClusterID == "" {
		return nil, fmt.Errorf("%s: the global cluster and both regional clusters must be declared with literal identifiers", dir)
	}
	return s, nil
}

// evalLocals evaluates into ls the locals that evaluate in ctx, in rounds
// since locals refer to each other, and leaves ctx's local.* at the result.
// Those that need something ctx lacks stay out.
func evalLocals(ctx *hcl.EvalContext, locals map[string]hcl.Expression, ls map[string]cty.Value) {
	for round := 0; round < 5; round++ {
		ctx.Variables["local"] = cty.ObjectVal(ls)
		for n, e := range locals {
			if _, done := ls[n]; done {
				continue
			}
			if v, diags := e.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				ls[n] = v
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(ls)
}

// functions are the Terraform functions the stack's locals and alarms use.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"merge": stdlib.MergeFunc, "toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)), "jsonencode": stdlib.JSONEncodeFunc,
		"coalesce": stdlib.CoalesceFunc, "concat": stdlib.ConcatFunc, "format": stdlib.FormatFunc,
		"lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc, "join": stdlib.JoinFunc,
		"tostring": stdlib.MakeToFunc(cty.String), "tonumber": stdlib.MakeToFunc(cty.Number), "replace": stdlib.ReplaceFunc,
		"length": stdlib.LengthFunc, "distinct": stdlib.DistinctFunc, "flatten": stdlib.FlattenFunc,
	}
}

func asString(v cty.Value) string {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func asNumber(v cty.Value) float64 {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0
	}
	f, _ := v.AsBigFloat().Float64()
	return f
}

func asStrings(v cty.Value) []string {
	if v == cty.NilVal || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if s := asString(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// rolePolicies gives each function the policy documents of its role: the
// aws_iam_role_policy resources whose role is the function's, each
// for_each instance evaluated with its each.key and each.value.
func rolePolicies(ctx *hcl.EvalContext, blocks func(string, ...string) []*hclsyntax.Block, s *Spec) error {
	byRole := map[string][]string{} // the role's id or ARN → documents
	for _, b := range blocks("resource", "aws_iam_role_policy") {
		if n, counted := countOf(ctx, b); counted && n == 0 {
			continue
		}
		instances := []map[string]cty.Value{nil}
		if fe, ok := b.Body.Attributes["for_each"]; ok {
			v, diags := fe.Expr.Value(ctx)
			if diags.HasErrors() || !v.CanIterateElements() {
				return fmt.Errorf("aws_iam_role_policy.%s: for_each: %s", b.Labels[1], diags.Error())
			}
			instances = nil
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				instances = append(instances, map[string]cty.Value{"key": k, "value": e})
			}
		}
		for _, each := range instances {
			c := ctx.NewChild()
			if each != nil {
				c.Variables = map[string]cty.Value{"each": cty.ObjectVal(each)}
			}
			role, doc := asString(attrIn(c, b, "role")), asString(attrIn(c, b, "policy"))
			if role == "" || doc == "" {
				return fmt.Errorf("aws_iam_role_policy.%s: its role or policy does not evaluate", b.Labels[1])
			}
			byRole[role] = append(byRole[role], doc)
		}
	}
	roles := map[string]Role{} // by resource name
	if rv, ok := ctx.Variables["aws_iam_role"]; ok && rv.CanIterateElements() {
		for name, r := range rv.AsValueMap() {
			if r.Type().IsTupleType() {
				if r.LengthInt() == 0 {
					continue
				}
				r = r.Index(cty.NumberIntVal(0)) // a counted role: its one instance
			}
			m := r.AsValueMap()
			roles[name] = Role{Resource: name, Name: asString(m["name"]), ARN: asString(m["arn"]),
				Policies: append(append([]string(nil), byRole[asString(m["id"])]...), byRole[asString(m["arn"])]...)}
		}
	}
	for _, b := range blocks("resource", "aws_iam_role") {
		if r, ok := roles[b.Labels[1]]; ok {
			r.AssumeRolePolicy = asString(attrIn(ctx, b, "assume_role_policy"))
			s.Roles = append(s.Roles, r)
		}
	}
	sort.Slice(s.Roles, func(i, j int) bool { return s.Roles[i].Resource < s.Roles[j].Resource })
	for _, b := range blocks("resource", "aws_lambda_function") {
		if tr, diags := hcl.AbsTraversalForExpr(b.Body.Attributes["role"].Expr); !diags.HasErrors() && len(tr) >= 2 {
			if at, ok := tr[1].(hcl.TraverseAttr); ok {
				for j := range s.Functions {
					if s.Functions[j].Resource == b.Labels[1] {
						s.Functions[j].Policies, s.Functions[j].Role = roles[at.Name].Policies, roles[at.Name].Name
					}
				}
			}
		}
	}
	return nil
}

// attrIn is a block attribute's value in c; NilVal when the block lacks it
// or it does not evaluate.
func attrIn(c *hcl.EvalContext, b *hclsyntax.Block, name string) cty.Value {
	a, ok := b.Body.Attributes[name]
	if !ok {
		return cty.NilVal
	}
	v, diags := a.Expr.Value(c)
	if diags.HasErrors() {
		return cty.NilVal
	}
	return v
}
