package aws

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/drdrill/drdrill/internal/awstest"
)

// iamPrefix maps the SDK's service id (as awstest records it) to the IAM
// action prefix of that service.
var iamPrefix = map[string]string{"RDS": "rds", "CloudWatch": "cloudwatch", "SNS": "sns", "Secrets Manager": "secretsmanager"}

// kmsFor is what a call needs from KMS on top of its own action when the
// resource it touches is encrypted with a customer key, as every topic and
// the secret in infra/aws are: SNS Publish to an encrypted topic
// (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html) and
// GetSecretValue of an encrypted secret.
var kmsFor = map[string][]string{
	"sns:Publish":                   {"kms:GenerateDataKey*", "kms:Decrypt"},
	"secretsmanager:GetSecretValue": {"kms:Decrypt"},
}

// called maps every SDK call the stubs saw through fn (service id and
// operation name to the names it stands for), sorted and without repeats;
// a service fn does not know fails the test, naming the table to extend.
func called(t *testing.T, table string, fn func(svc, op string) ([]string, bool), stubs ...*awstest.Stub) []string {
	t.Helper()
	var out []string
	for _, s := range stubs {
		for _, op := range s.Ops() {
			svc, name, _ := strings.Cut(op, ".")
			names, ok := fn(svc, name)
			if !ok {
				t.Fatalf("the Lambda called %s, which this test does not know: add it to %s", op, table)
			}
			out = append(out, names...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// actionsCalled is the IAM actions of every SDK call the stubs saw, with
// the KMS actions they imply.
func actionsCalled(t *testing.T, stubs ...*awstest.Stub) []string {
	t.Helper()
	return called(t, "iamPrefix", func(svc, op string) ([]string, bool) {
		prefix, ok := iamPrefix[svc]
		a := prefix + ":" + op
		return append([]string{a}, kmsFor[a]...), ok
	}, stubs...)
}

// parseInfra parses one file of infra/aws.
func parseInfra(t *testing.T, name string) (string, *hclsyntax.Body) {
	t.Helper()
	path := filepath.Join("..", "..", "infra", "aws", name)
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return path, f.Body.(*hclsyntax.Body)
}

// grantedActions reads the Action lists of an aws_iam_role_policy in
// infra/aws/lambda.tf, by walking the jsonencode({...}) expression.
func grantedActions(t *testing.T, resource string) []string {
	t.Helper()
	path, body := parseInfra(t, "lambda.tf")
	var out []string
	found := false
	for _, b := range body.Blocks {
		if b.Type != "resource" || len(b.Labels) != 2 || b.Labels[0] != "aws_iam_role_policy" || b.Labels[1] != resource {
			continue
		}
		found = true
		attr, ok := b.Body.Attributes["policy"]
		if !ok {
			t.Fatalf("%s: aws_iam_role_policy.%s has no policy", path, resource)
		}
		hclsyntax.VisitAll(attr.Expr, func(n hclsyntax.Node) hcl.Diagnostics {
			obj, ok := n.(*hclsyntax.ObjectConsExpr)
			if !ok {
				return nil
			}
			for _, item := range obj.Items {
				key, _ := item.KeyExpr.Value(nil)
				if key.IsKnown() && key.Type().FriendlyName() == "string" && key.AsString() == "Action" {
					v, d := item.ValueExpr.Value(nil)
					if d.HasErrors() {
						t.Fatalf("%s: an Action of %s is not a literal list: %v", path, resource, d)
					}
					for it := v.ElementIterator(); it.Next(); {
						_, s := it.Element()
						out = append(out, s.AsString())
					}
				}
			}
			return nil
		})
	}
	if !found {
		t.Fatalf("%s has no aws_iam_role_policy.%s", path, resource)
	}
	return out
}

func grants(granted []string, action string) bool {
	for _, g := range granted {
		if g == action || (strings.HasSuffix(g, "*") && strings.HasPrefix(action, strings.TrimSuffix(g, "*"))) {
			return true
		}
	}
	return false
}

// Every SDK call each Lambda makes, on every branch the tests drive, must
// be granted by its role's policy in infra/aws — with the KMS actions an
// encrypted topic or secret needs — or the call gets AccessDenied on AWS.
func TestLambdaPoliciesGrantEveryCallTheCodeMakes(t *testing.T) {
	// The trigger, through every decision: none, wait, failover, switchover.
	var trig []*awstest.Stub
	for _, c := range []struct {
		w     world
		event string
	}{
		{world{peer: []float64{1, 1, 1}}, `{}`},
		{world{peer: []float64{0, 0, 0}}, `{}`},
		{world{peer: []float64{1, 1, 1}}, `{"action":"switchover"}`},
	} {
		s := c.w.stub()
		if _, err := trigger(t, s, false).Run(context.Background(), []byte(c.event)); err != nil {
			t.Fatal(err)
		}
		trig = append(trig, s)
	}
	// The monitor, as secondary (it reads the lag) and as primary.
	var mon []*awstest.Stub
	for _, primary := range []bool{false, true} {
		s := monitorStub("available", primary, `{"username":"admin","password":"pw"}`)
		if _, err := monitor(t, s, okProbe).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		mon = append(mon, s)
	}
	for _, fn := range []struct {
		resource string
		called   []string
	}{{"trigger", actionsCalled(t, trig...)}, {"monitor", actionsCalled(t, mon...)}} {
		granted := grantedActions(t, fn.resource)
		for _, a := range fn.called {
			if !grants(granted, a) {
				t.Errorf("aws_iam_role_policy.%s does not grant %s, which the Lambda needs (it grants %v)", fn.resource, a, granted)
			}
		}
		t.Logf("%s calls %v", fn.resource, fn.called)
	}
}

// endpointService maps the SDK's service id to its VPC endpoint name
// (com.amazonaws.<region>.<name>).
var endpointService = map[string]string{"RDS": "rds", "CloudWatch": "monitoring", "SNS": "sns", "Secrets Manager": "secretsmanager"}

// endpointSet reads a literal toset([...]) local from infra/aws/locals.tf.
func endpointSet(t *testing.T, name string) []string {
	t.Helper()
	path, body := parseInfra(t, "locals.tf")
	for _, b := range body.Blocks {
		if a, ok := b.Body.Attributes[name]; ok && b.Type == "locals" {
			call, ok := a.Expr.(*hclsyntax.FunctionCallExpr)
			if !ok || call.Name != "toset" || len(call.Args) != 1 {
				t.Fatalf("%s: local.%s is not a literal toset([...])", path, name)
			}
			v, d := call.Args[0].Value(nil)
			if d.HasErrors() {
				t.Fatalf("%s: local.%s: %v", path, name, d)
			}
			var out []string
			for it := v.ElementIterator(); it.Next(); {
				_, s := it.Element()
				out = append(out, s.AsString())
			}
			slices.Sort(out)
			return out
		}
	}
	t.Fatalf("%s has no local.%s", path, name)
	return nil
}

// The interface endpoints are the idle stack's largest cost: each region
// gets exactly the services its functions in the VPC call (the monitor, in
// both), derived from the calls the code makes. The trigger runs outside
// the VPCs (lambda.tf has no vpc_config for it): it needs none.
func TestEndpointsAreWhatTheLambdasCall(t *testing.T) {
	services := func(stubs ...*awstest.Stub) []string {
		return called(t, "endpointService", func(svc, _ string) ([]string, bool) {
			name, ok := endpointService[svc]
			return []string{name}, ok
		}, stubs...)
	}
	if inVPC := functionsInVPC(t); !slices.Equal(inVPC, []string{"monitor_primary", "monitor_secondary"}) {
		t.Fatalf("the functions in a VPC are %v: this test derives the endpoints from the monitor's calls alone; derive them from the others' too", inVPC)
	}
	var mon []*awstest.Stub
	for _, primary := range []bool{false, true} {
		s := monitorStub("available", primary, `{"username":"admin","password":"pw"}`)
		if _, err := monitor(t, s, okProbe).Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		mon = append(mon, s)
	}
	all := mon
	for _, c := range []struct {
		local string
		want  []string
	}{{"endpoint_services_primary", services(mon...)}, {"endpoint_services_secondary", services(all...)}} {
		if got := endpointSet(t, c.local); !slices.Equal(got, c.want) {
			t.Errorf("local.%s = %v; the functions in that region call %v: add what is missing (their calls fail without NAT), drop what nothing calls (it costs every hour)", c.local, got, c.want)
		}
	}
}

// functionsInVPC names the aws_lambda_function resources with a vpc_config.
func functionsInVPC(t *testing.T) []string {
	t.Helper()
	_, body := parseInfra(t, "lambda.tf")
	var out []string
	for _, b := range body.Blocks {
		if b.Type != "resource" || len(b.Labels) != 2 || b.Labels[0] != "aws_lambda_function" {
			continue
		}
		for _, inner := range b.Body.Blocks {
			if inner.Type == "vpc_config" {
				out = append(out, b.Labels[1])
			}
		}
	}
	slices.Sort(out)
	return out
}
