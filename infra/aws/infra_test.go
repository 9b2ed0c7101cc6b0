// Package aws_test checks infra/aws. The static checks parse every file and
// run everywhere; schema validation and plan tests need a terraform (or
// tofu) binary and the hashicorp/aws 6.19.0 schemas, and skip with one line
// otherwise. Each check exists because an earlier attempt at this stack got
// that thing wrong (../shared/reference/STACK-SPEC.md).
package aws_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// module is every .tf file of infra/aws, parsed.
type module struct {
	files map[string]*hclsyntax.Body
	src   map[string][]byte
}

// reporter is what the checks need from *testing.T, so they can also run
// against broken copies and have their complaints collected.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// collected records complaints instead of failing.
type collected struct{ msgs []string }

func (c *collected) Helper()                   {}
func (c *collected) Errorf(f string, a ...any) { c.msgs = append(c.msgs, fmt.Sprintf(f, a...)) }
func (c *collected) Fatalf(f string, a ...any) { c.msgs = append(c.msgs, fmt.Sprintf(f, a...)) }

func parse(t reporter, dir string) module {
	t.Helper()
	p := hclparse.NewParser()
	m := module{files: map[string]*hclsyntax.Body{}, src: map[string][]byte{}}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	tests, _ := filepath.Glob(filepath.Join(dir, "tests", "*.tftest.hcl"))
	paths = append(paths, tests...)
	if len(paths) == 0 {
		t.Fatalf("no .tf files in %s", dir)
	}
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatalf("%s does not parse: %v", path, diags)
		}
		m.files[path] = f.Body.(*hclsyntax.Body)
		m.src[path] = f.Bytes
	}
	return m
}

func (m module) blocks(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	for _, path := range sortedKeys(m.files) {
		for _, b := range m.files[path].Blocks {
			if b.Type == typ {
				out = append(out, b)
			}
		}
	}
	return out
}

func sortedKeys[V any](mp map[string]V) []string {
	var k []string
	for x := range mp {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

func (m module) text(r hcl.Range) string {
	return string(m.src[r.Filename][r.Start.Byte:r.End.Byte])
}

// harnessOutputs are the outputs drdrill's AWS target reads.
var harnessOutputs = []string{
	"PrimaryVPCId", "SecondaryVPCId", "VPCPeeringConnectionId", "GlobalClusterIdentifier", "PrimaryClusterIdentifier",
	"SecondaryClusterIdentifier", "PrimaryClusterEndpoint", "SecondaryClusterEndpoint", "PrimaryReaderEndpoint", "SecondaryReaderEndpoint",
	"PrimaryHealthMonitorFunctionName",
	"SecondaryHealthMonitorFunctionName", "FailoverTriggerFunctionName", "PrimarySNSTopicArn", "SecondarySNSTopicArn",
	"ReplicationLagAlarmName", "PrimaryHealthCheckId", "SecondaryHealthCheckId",
	"GlobalWriterEndpoint", "DatabaseSecretArn", "PrimaryDatabaseSubnetIds", "SecondaryDatabaseSubnetIds",
	"PrimaryDatabaseNetworkAclId", "SecondaryDatabaseNetworkAclId", "PrimaryClusterArn", "SecondaryClusterArn",
	"PrimaryHealthMonitorFunctionArn", "SecondaryHealthMonitorFunctionArn", "FailoverTriggerFunctionArn",
	"PrimaryRegion", "SecondaryRegion", "DatabaseName", "TargetKind",
}

func TestEveryOutputTheHarnessReadsIsDeclared(t *testing.T) {
	checkEveryOutputTheHarnessReadsIsDeclared(t, ".")
}

func checkEveryOutputTheHarnessReadsIsDeclared(t reporter, dir string) {
	m := parse(t, dir)
	declared := map[string]bool{}
	for _, b := range m.blocks("output") {
		declared[b.Labels[0]] = true
		if _, ok := b.Body.Attributes["description"]; !ok {
			t.Errorf("output %s has no description", b.Labels[0])
		}
	}
	for _, name := range harnessOutputs {
		if !declared[name] {
			t.Errorf("output %s is not declared", name)
		}
	}
}

// The functions must load the zips `make lambda` builds — the exact names,
// in the directory the Makefile writes.
func TestLambdaFilenamesAreWhatMakeLambdaBuilds(t *testing.T) {
	checkLambdaFilenamesAreWhatMakeLambdaBuilds(t, ".")
}

func checkLambdaFilenamesAreWhatMakeLambdaBuilds(t reporter, dir string) {
	m := parse(t, dir)
	mk, err := os.ReadFile(filepath.Join(dir, "../../Makefile"))
	if err != nil {
		t.Fatalf("%v", err)
	}
	lambdas := regexp.MustCompile(`(?m)^LAMBDAS := (.+)$`).FindSubmatch(mk)
	if lambdas == nil || !strings.Contains(string(mk), "$(BUILD)/lambda/$$f.zip") {
		t.Fatalf("%s", "the Makefile no longer says which zips it builds (LAMBDAS, $(BUILD)/lambda/<fn>.zip)")
	}
	built := map[string]bool{}
	for _, f := range strings.Fields(string(lambdas[1])) {
		built[f+".zip"] = true
	}
	locals := map[string]string{}
	for _, b := range m.blocks("locals") {
		for name, a := range b.Body.Attributes {
			locals[name] = m.text(a.Expr.Range())
		}
	}
	var fns int
	for _, b := range m.blocks("resource") {
		if b.Labels[0] != "aws_lambda_function" {
			continue
		}
		fns++
		a, ok := b.Body.Attributes["filename"]
		if !ok {
			t.Errorf("lambda %s has no filename", b.Labels[1])
			continue
		}
		expr := m.text(a.Expr.Range())
		if strings.HasPrefix(expr, "local.") {
			expr = locals[strings.TrimPrefix(expr, "local.")]
		}
		zip := regexp.MustCompile(`"\$\{var\.lambda_dir\}/([a-z]+\.zip)"`).FindStringSubmatch(expr)
		if zip == nil || !built[zip[1]] {
			t.Errorf("lambda %s loads %s, which `make lambda` does not build (it builds %v)", b.Labels[1], expr, sortedKeys(built))
		}
		if _, ok := b.Body.Attributes["source_code_hash"]; !ok {
			t.Errorf("lambda %s has no source_code_hash: code changes would not redeploy", b.Labels[1])
		}
	}
	if fns != 3 {
		t.Errorf("%d functions, want 3 (two health monitors and the failover trigger)", fns)
	}
	for _, b := range m.blocks("variable") {
		if b.Labels[0] == "lambda_dir" {
			def := m.text(b.Body.Attributes["default"].Expr.Range())
			if filepath.Clean(filepath.Join("infra/aws", strings.Trim(def, `"`))) != "build/lambda" {
				t.Errorf("lambda_dir default %s does not point at build/lambda", def)
			}
		}
	}
}

// No literal secret anywhere: every password-like argument is an expression.
func TestNoLiteralSecret(t *testing.T) { checkNoLiteralSecret(t, ".") }

func checkNoLiteralSecret(t reporter, dir string) {
	m := parse(t, dir)
	secretish := regexp.MustCompile(`(?i)(^|_)(password|secret_string)(_wo)?$`)
	var walk func(body *hclsyntax.Body)
	walk = func(body *hclsyntax.Body) {
		for name, a := range body.Attributes {
			if !secretish.MatchString(name) || strings.HasSuffix(name, "_version") || strings.HasPrefix(name, "generate_") {
				continue
			}
			if tpl, ok := a.Expr.(*hclsyntax.TemplateExpr); ok && tpl.IsStringLiteral() {
				t.Errorf("%s: %s is a literal string", a.SrcRange, name)
			}
			if _, ok := a.Expr.(*hclsyntax.LiteralValueExpr); ok && name != "default" {
				t.Errorf("%s: %s is a literal", a.SrcRange, name)
			}
		}
		for _, b := range body.Blocks {
			if b.Type == "variable" {
				continue
			}
			walk(b.Body)
		}
	}
	for _, path := range sortedKeys(m.files) {
		walk(m.files[path])
	}
	for _, b := range m.blocks("variable") {
		if secretish.MatchString(b.Labels[0]) && !strings.HasPrefix(b.Labels[0], "generate_") {
			if _, ok := b.Body.Attributes["ephemeral"]; !ok {
				t.Errorf("variable %s holds a secret but is not ephemeral (it would be stored in state)", b.Labels[0])
			}
		}
	}
}

func TestBackendAndVersionPins(t *testing.T) {
	m := parse(t, ".")
	tf := m.blocks("terraform")
	if len(tf) != 1 {
		t.Fatalf("%d terraform blocks", len(tf))
	}
	rv, ok := tf[0].Body.Attributes["required_version"]
	if !ok || !regexp.MustCompile(`>= ?1\.1[1-9]`).MatchString(m.text(rv.Expr.Range())) {
		t.Errorf("required_version must be >= 1.11 (write-only arguments, ephemeral resources, use_lockfile)")
	}
	var backend, providers bool
	for _, b := range tf[0].Body.Blocks {
		switch b.Type {
		case "backend":
			backend = b.Labels[0] == "s3"
			if len(b.Body.Attributes) != 0 {
				t.Errorf("the backend block must stay empty (partial configuration); found %d arguments", len(b.Body.Attributes))
			}
		case "required_providers":
			a := b.Body.Attributes["aws"]
			providers = a != nil && strings.Contains(m.text(a.Expr.Range()), `"hashicorp/aws"`) && strings.Contains(m.text(a.Expr.Range()), `"~> 6.19"`)
		}
	}
	if !backend || !providers {
		t.Errorf("want backend \"s3\" {} and hashicorp/aws ~> 6.19 (backend %v, providers %v)", backend, providers)
	}
	// backend.hcl.example: only arguments the S3 backend knows, with
	// use_lockfile and encrypt on, and no deprecated DynamoDB locking.
	f, diags := hclparse.NewParser().ParseHCLFile("backend.hcl.example")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, _ := f.Body.JustAttributes()
	valid := map[string]bool{"bucket": true, "key": true, "region": true, "encrypt": true, "use_lockfile": true, "kms_key_id": true, "profile": true, "role_arn": true, "workspace_key_prefix": true}
	for name := range attrs {
		if !valid[name] {
			t.Errorf("backend.hcl.example: %q is not an S3 backend argument this stack uses", name)
		}
	}
	for _, want := range []string{"use_lockfile", "encrypt", "bucket", "key", "region"} {
		v, ok := attrs[want]
		if !ok {
			t.Errorf("backend.hcl.example lacks %s", want)
			continue
		}
		if want == "use_lockfile" || want == "encrypt" {
			val, _ := v.Expr.Value(nil)
			if !val.True() {
				t.Errorf("backend.hcl.example: %s must be true", want)
			}
		}
	}
}

func TestEveryVariableIsTypedAndDescribed(t *testing.T) {
	m := parse(t, ".")
	for _, b := range m.blocks("variable") {
		for _, want := range []string{"type", "description"} {
			if _, ok := b.Body.Attributes[want]; !ok {
				t.Errorf("variable %s has no %s", b.Labels[0], want)
			}
		}
	}
}

// Both regions must carry the same kinds of regional resources; the few
// one-sided ones are listed with their reason.
func TestBothRegionsCarryTheSameKinds(t *testing.T) {
	m := parse(t, ".")
	oneSided := map[string]string{
		"aws_rds_global_cluster":              "global, created through the primary region",
		"aws_secretsmanager_secret":           "replicated to the secondary by its replica block",
		"aws_secretsmanager_secret_version":   "replicated with the secret",
		"aws_iam_role":                        "IAM is global",
		"aws_iam_role_policy":                 "IAM is global",
		"aws_iam_role_policy_attachment":      "IAM is global",
		"aws_route53_health_check":            "Route 53 is global",
		"aws_cloudwatch_dashboard":            "one dashboard shows both regions",
		"aws_sns_topic_subscription":          "the primary topic feeds the trigger in the secondary",
		"aws_vpc_peering_connection":          "requester side",
		"aws_vpc_peering_connection_accepter": "accepter side",
		"aws_lambda_permission":               "the trigger has extra invokers",
		"aws_cloudwatch_metric_alarm":         "CPU/connections alarms watch the writer; the lag and health alarms exist in both",
	}
	// The scheduled runner (runner.tf) lives in the secondary region.
	for _, kind := range []string{"aws_s3_bucket", "aws_s3_bucket_public_access_block", "aws_s3_bucket_ownership_controls",
		"aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket_versioning", "aws_s3_bucket_lifecycle_configuration",
		"aws_s3_bucket_policy", "aws_s3_object", "aws_ecr_repository", "aws_ecr_lifecycle_policy", "aws_ecs_cluster",
		"aws_ecs_task_definition", "aws_scheduler_schedule", "aws_internet_gateway", "aws_eip", "aws_nat_gateway"} {
		oneSided[kind] = "the scheduled runner and its egress live in the secondary region"
	}
	kinds := map[string]map[string]bool{"aws.primary": {}, "aws.secondary": {}}
	for _, b := range m.blocks("resource") {
		p := b.Body.Attributes["provider"]
		if p == nil {
			t.Errorf("resource %s.%s has no provider: every resource must name its region", b.Labels[0], b.Labels[1])
			continue
		}
		if k, ok := kinds[m.text(p.Expr.Range())]; ok {
			k[b.Labels[0]] = true
		}
	}
	for kind := range kinds["aws.primary"] {
		if !kinds["aws.secondary"][kind] && oneSided[kind] == "" {
			t.Errorf("%s exists in the primary region only", kind)
		}
	}
	for kind := range kinds["aws.secondary"] {
		if !kinds["aws.primary"][kind] && oneSided[kind] == "" {
			t.Errorf("%s exists in the secondary region only", kind)
		}
	}
	for _, must := range []string{"aws_vpc", "aws_subnet", "aws_network_acl", "aws_vpc_endpoint", "aws_kms_key", "aws_rds_cluster", "aws_rds_cluster_instance", "aws_lambda_function", "aws_sns_topic", "aws_cloudwatch_event_rule"} {
		if !kinds["aws.primary"][must] || !kinds["aws.secondary"][must] {
			t.Errorf("%s must exist in both regions", must)
		}
	}
}

// The seed attempt used names_fqn and invented attribute names; the AZ list
// must come from the data source's names.
func TestAvailabilityZonesFromTheDataSource(t *testing.T) {
	m := parse(t, ".")
	for path, src := range m.src {
		if strings.Contains(string(src), "names_fqn") {
			t.Errorf("%s uses names_fqn", path)
		}
	}
	for _, b := range m.blocks("resource") {
		if b.Labels[0] == "aws_subnet" {
			az := m.text(b.Body.Attributes["availability_zone"].Expr.Range())
			if !strings.HasPrefix(az, "data.aws_availability_zones.") || !strings.HasSuffix(az, ".names[count.index]") {
				t.Errorf("subnet %s takes its AZ from %s", b.Labels[1], az)
			}
		}
	}
}

// The static checks can fail: each catches its broken copy.
func TestStaticChecksCatchBrokenCopies(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
		check                      func(reporter, string)
	}{
		{"literal password", "database.tf", "master_password_wo         = local.master_password", `master_password_wo         = "hunter2hunter2"`, "literal", checkNoLiteralSecret},
		{"missing output", "outputs.tf", `output "PrimaryHealthCheckId" {`, `output "PrimaryHealthCheck" {`, "PrimaryHealthCheckId is not declared", checkEveryOutputTheHarnessReadsIsDeclared},
		{"zip nothing builds", "lambda.tf", `"${var.lambda_dir}/failovertrigger.zip"`, `"${var.lambda_dir}/failover_trigger.zip"`, "does not build", checkLambdaFilenamesAreWhatMakeLambdaBuilds},
		{"monitor in a database subnet", "lambda.tf", `subnet_ids         = aws_subnet.functions_primary[*].id`, `subnet_ids         = aws_subnet.primary[*].id`, "aws_lambda_function.monitor_primary is in aws_subnet.primary", checkFunctionsOutsideIsolatedSubnets},
		{"endpoint in a database subnet", "network.tf", `subnet_ids          = aws_subnet.functions_secondary[*].id`, `subnet_ids          = aws_subnet.secondary[*].id`, "aws_vpc_endpoint.secondary is in aws_subnet.secondary", checkFunctionsOutsideIsolatedSubnets},
		{"harness deletes any ACL", "harness.tf", `{ Sid = "DeleteOnlyDrdrillsAcls", Effect = "Allow", Action = ["ec2:DeleteNetworkAcl"], Resource = local.harness_acls,
      Condition = { StringEquals = { "aws:ResourceTag/managedByDrdrill" = "true" } } },`, `{ Sid = "DeleteOnlyDrdrillsAcls", Effect = "Allow", Action = ["ec2:DeleteNetworkAcl"], Resource = local.harness_acls },`,
			"grants ec2:DeleteNetworkAcl on arn:aws:ec2:us-east-1:111122223333:network-acl/* without a condition", checkHarnessRole},
		{"harness assumable by any account's tasks", "harness.tf", `StringEquals = { "aws:SourceAccount" = local.account }`, `StringEquals = {}`, "without aws:SourceAccount", checkHarnessRole},
		{"runner output missing from the object", "runner.tf", "    TargetKind                         = \"aws\"\n", "", "output TargetKind is not in local.runner_outputs", checkRunnerOutputs},
		{"runner in the database subnets", "runner.tf", "subnets          = aws_subnet.functions_secondary[*].id", "subnets          = aws_subnet.secondary[*].id", "a database subnet", checkRunnerPlacement},
		{"function subnets without the NAT route", "runner.tf", "route_table_id         = aws_route_table.functions_secondary.id\n  destination_cidr_block = \"0.0.0.0/0\"", "route_table_id         = aws_route_table.public_secondary[0].id\n  destination_cidr_block = \"0.0.0.0/0\"", "has no NAT route", checkRunnerPlacement},
		{"monitor probing a writer endpoint", "lambda.tf", `DRDRILL_PEER_ENDPOINT     = "${aws_rds_cluster.primary.reader_endpoint}:3306"`, `DRDRILL_PEER_ENDPOINT     = "${aws_rds_cluster.primary.endpoint}:3306"`, "aws_lambda_function.monitor_secondary's DRDRILL_PEER_ENDPOINT is aws_rds_cluster.primary.endpoint", checkFunctionsUseReaderEndpoints},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "infra", "aws")
			os.MkdirAll(dir, 0o755)
			files, _ := filepath.Glob("*.tf")
			for _, f := range files {
				b, _ := os.ReadFile(f)
				os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			mk, _ := os.ReadFile("../../Makefile")
			os.WriteFile(filepath.Join(root, "Makefile"), mk, 0o644)
			edit(t, filepath.Join(dir, c.file), c.old, c.new)
			var got collected
			c.check(&got, dir)
			if !strings.Contains(strings.Join(got.msgs, "\n"), c.want) {
				t.Fatalf("the check did not catch it (want %q), reported: %v", c.want, got.msgs)
			}
		})
	}
}

// A region isolation puts the database subnets on a deny-all network ACL,
// and a network ACL does not filter traffic inside a subnet (FIS
// aws:network:disrupt-connectivity: scope "all" still allows intra-subnet
// traffic). A function or VPC endpoint in a database subnet would keep
// reaching the writer instance there through the isolation, and the
// region's health monitor would report it healthy: the trigger, which
// waits while the primary says so, would not fail over.
func TestFunctionsAndEndpointsLiveOutsideTheIsolatedSubnets(t *testing.T) {
	checkFunctionsOutsideIsolatedSubnets(t, ".")
}

var subnetRef = regexp.MustCompile(`aws_subnet\.(\w+)`)

func checkFunctionsOutsideIsolatedSubnets(t reporter, dir string) {
	t.Helper()
	m := parse(t, dir)
	refs := func(a *hclsyntax.Attribute) []string {
		if a == nil {
			return nil
		}
		var out []string
		for _, g := range subnetRef.FindAllStringSubmatch(m.text(a.Expr.Range()), -1) {
			out = append(out, g[1])
		}
		return out
	}
	isolatedBy := map[string]string{} // aws_subnet name → the network ACL isolating it
	for _, b := range m.blocks("resource") {
		if len(b.Labels) == 2 && b.Labels[0] == "aws_network_acl" {
			for _, sn := range refs(b.Body.Attributes["subnet_ids"]) {
				isolatedBy[sn] = b.Labels[1]
			}
		}
	}
	if len(isolatedBy) == 0 {
		t.Fatalf("no aws_network_acl in %s names its subnets: the region-isolation fault has nothing to swap", dir)
	}
	placed := 0
	check := func(what string, a *hclsyntax.Attribute) {
		placed++
		for _, sn := range refs(a) {
			if acl, ok := isolatedBy[sn]; ok {
				t.Errorf("%s is in aws_subnet.%s, which aws_network_acl.%s covers: an isolation of that subnet does not cut traffic inside it; give it subnets of its own", what, sn, acl)
			}
		}
	}
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 {
			continue
		}
		switch b.Labels[0] {
		case "aws_lambda_function":
			for _, inner := range b.Body.Blocks {
				if inner.Type == "vpc_config" {
					check("aws_lambda_function."+b.Labels[1], inner.Body.Attributes["subnet_ids"])
				}
			}
		case "aws_vpc_endpoint":
			check("aws_vpc_endpoint."+b.Labels[1], b.Body.Attributes["subnet_ids"])
		}
	}
	if placed == 0 {
		t.Fatalf("no function in a VPC and no VPC endpoint in %s: nothing to check", dir)
	}
}

// The functions reach the databases through reader endpoints only. A
// cluster's writer (cluster) endpoint is inactive while the cluster is a
// secondary ("All secondary Regions also have writer endpoints, but
// they're inactive": AWS Database Blog, "Automate Amazon Aurora Global
// Database endpoint management"): a monitor probing one reports its
// region unhealthy after every switchover, and the region-isolation
// scenario then never sees it healthy again before its switch-back.
func TestFunctionsUseReaderEndpoints(t *testing.T) { checkFunctionsUseReaderEndpoints(t, ".") }

var writerEndpointRef = regexp.MustCompile(`aws_rds_cluster\.(\w+)\.endpoint\b`)

func checkFunctionsUseReaderEndpoints(t reporter, dir string) {
	t.Helper()
	m := parse(t, dir)
	probes := 0
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 || b.Labels[0] != "aws_lambda_function" {
			continue
		}
		for _, env := range b.Body.Blocks {
			if env.Type != "environment" {
				continue
			}
			vars, ok := env.Body.Attributes["variables"]
			if !ok {
				continue
			}
			obj, ok := vars.Expr.(*hclsyntax.ObjectConsExpr)
			if !ok {
				continue
			}
			for _, item := range obj.Items {
				name := strings.Trim(m.text(item.KeyExpr.Range()), `"`)
				value := m.text(item.ValueExpr.Range())
				if strings.Contains(value, ".reader_endpoint") {
					probes++
				}
				if g := writerEndpointRef.FindStringSubmatch(value); g != nil {
					t.Errorf("aws_lambda_function.%s's %s is aws_rds_cluster.%s.endpoint, a writer endpoint that is inactive while the cluster is a secondary: use its reader_endpoint", b.Labels[1], name, g[1])
				}
			}
		}
	}
	if probes == 0 {
		t.Fatalf("no function in %s reaches a reader endpoint: nothing to check", dir)
	}
}

// Each function waits for its VPC access (a function in a VPC cannot be
// created before its role may manage ENIs), and no role writes logs
// anywhere but its own log group: no managed policy with logs:* on "*".
func TestFunctionsWaitForVPCAccessAndLogOnlyToTheirGroup(t *testing.T) { checkLambdaIAMHygiene(t, ".") }

func checkLambdaIAMHygiene(t reporter, dir string) {
	t.Helper()
	m := parse(t, dir)
	fns := 0
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 {
			continue
		}
		switch b.Labels[0] {
		case "aws_lambda_function":
			fns++
			if !hasBlock(b.Body, "vpc_config") {
				continue // no ENIs to create: nothing to wait for
			}
			dep, ok := b.Body.Attributes["depends_on"]
			if !ok || !strings.Contains(m.text(dep.Expr.Range()), "aws_iam_role_policy.vpc_access") {
				t.Errorf("aws_lambda_function.%s does not depend on aws_iam_role_policy.vpc_access: it can be created before its role may create its ENIs", b.Labels[1])
			}
		case "aws_iam_role_policy_attachment":
			if a, ok := b.Body.Attributes["policy_arn"]; ok && strings.Contains(m.text(a.Expr.Range()), "AWSLambdaVPCAccessExecutionRole") {
				t.Errorf("aws_iam_role_policy_attachment.%s attaches AWSLambdaVPCAccessExecutionRole, which grants logs:* on \"*\"", b.Labels[1])
			}
		case "aws_iam_role_policy":
			pol, ok := b.Body.Attributes["policy"]
			if !ok {
				continue
			}
			hclsyntax.VisitAll(pol.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
				obj, ok := n.(*hclsyntax.ObjectConsExpr)
				if !ok {
					return nil
				}
				var action, resource string
				for _, it := range obj.Items {
					switch m.text(it.KeyExpr.Range()) {
					case "Action":
						action = m.text(it.ValueExpr.Range())
					case "Resource":
						resource = m.text(it.ValueExpr.Range())
					}
				}
				if strings.Contains(action, `"logs:`) && strings.Contains(resource, `"*"`) {
					t.Errorf("aws_iam_role_policy.%s grants %s on \"*\": scope logs to the function's own log group", b.Labels[1], action)
				}
				return nil
			})
		}
	}
	if fns == 0 {
		t.Fatalf("no aws_lambda_function in %s", dir)
	}
}

// Global-cluster hygiene: each member cluster ignores engine_version (the
// global cluster upgrades them), and the cluster's and the secret's
// write-only versions are one expression, so a rotation bumps both.
func TestGlobalClusterUpgradeAndRotationHygiene(t *testing.T) { checkGlobalClusterHygiene(t, ".") }

func checkGlobalClusterHygiene(t reporter, dir string) {
	t.Helper()
	m := parse(t, dir)
	clusters := 0
	var versions []string
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 {
			continue
		}
		switch b.Labels[0] {
		case "aws_rds_cluster":
			clusters++
			ignores := false
			for _, lc := range b.Body.Blocks {
				if a, ok := lc.Body.Attributes["ignore_changes"]; ok && lc.Type == "lifecycle" && strings.Contains(m.text(a.Expr.Range()), "engine_version") {
					ignores = true
				}
			}
			if !ignores {
				t.Errorf("aws_rds_cluster.%s lacks lifecycle { ignore_changes = [engine_version] }: an engine upgrade of the global cluster would end in an inconsistent final plan", b.Labels[1])
			}
			if a, ok := b.Body.Attributes["master_password_wo_version"]; ok {
				versions = append(versions, "master_password_wo_version = "+m.text(a.Expr.Range()))
			}
		case "aws_secretsmanager_secret_version":
			if a, ok := b.Body.Attributes["secret_string_wo_version"]; ok {
				versions = append(versions, "secret_string_wo_version = "+m.text(a.Expr.Range()))
			}
		}
	}
	if clusters == 0 {
		t.Fatalf("no aws_rds_cluster in %s", dir)
	}
	if len(versions) != 2 {
		t.Fatalf("want one master_password_wo_version and one secret_string_wo_version, found %v", versions)
	}
	_, a, _ := strings.Cut(versions[0], " = ")
	_, b, _ := strings.Cut(versions[1], " = ")
	if a != b || !strings.HasPrefix(a, "var.") {
		t.Errorf("%s and %s: both must take the same variable, so a rotation bumps the cluster and the secret together", versions[0], versions[1])
	}
}

// No failover records: nothing the drill measures reads them, and a
// failover record pointing at a cluster endpoint steers clients to the
// read-only secondary when the primary's check fails (the global writer
// endpoint is what follows the writer).
func TestNoFailoverRecordsToClusterEndpoints(t *testing.T) {
	m := parse(t, ".")
	for _, b := range m.blocks("resource") {
		if len(b.Labels) != 2 || b.Labels[0] != "aws_route53_record" {
			continue
		}
		for _, inner := range b.Body.Blocks {
			if inner.Type == "failover_routing_policy" {
				t.Errorf("aws_route53_record.%s has a failover routing policy: nothing the drill measures reads it, and it steers to the read-only secondary when the primary's check fails", b.Labels[1])
			}
		}
	}
}

func hasBlock(body *hclsyntax.Body, typ string) bool {
	for _, b := range body.Blocks {
		if b.Type == typ {
			return true
		}
	}
	return false
}
