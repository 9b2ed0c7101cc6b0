package awstest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// The static checks of the functions against infra/aws: which IAM actions
// and VPC endpoints the SDK calls a stub saw need, and what lambda.tf and
// locals.tf grant and create. Paths are relative to a package two levels
// below the repository (internal/<package>).

// iamPrefix maps the SDK's service id (as awstest records it) to the IAM
// action prefix of that service.
var iamPrefix = map[string]string{"RDS": "rds", "CloudWatch": "cloudwatch", "SNS": "sns", "Secrets Manager": "secretsmanager",
	"EC2": "ec2", "Lambda": "lambda", "SQS": "sqs", "Route 53": "route53", "STS": "sts"}

// noPermission are calls IAM does not authorise at all:
// GetCallerIdentity "No permissions are required to perform this
// operation" (STS API reference).
var noPermission = map[string]bool{"sts:GetCallerIdentity": true}

// kmsFor is what a call needs from KMS on top of its own action when the
// resource it touches is encrypted with a customer key, as every topic and
// the secret in infra/aws are: SNS Publish to an encrypted topic
// (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html) and
// GetSecretValue of an encrypted secret.
var kmsFor = map[string][]string{
	"sns:Publish":                   {"kms:GenerateDataKey*", "kms:Decrypt"},
	"secretsmanager:GetSecretValue": {"kms:Decrypt"},
	// Tags given at creation need the tagging action too (EC2 User Guide,
	// "Grant permission to tag resources during creation"; SQS API
	// reference, CreateQueue: "cross-account … tags … sqs:TagQueue").
	"ec2:CreateNetworkAcl": {"ec2:CreateTags"},
	"sqs:CreateQueue":      {"sqs:TagQueue"},
}

// Called maps every SDK call the stubs saw through fn (service id and
// operation name to the names it stands for), sorted and without repeats;
// a service fn does not know fails the test, naming the table to extend.
func Called(t testing.TB, table string, fn func(svc, op string) ([]string, bool), stubs ...*Stub) []string {
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

// ActionsCalled is the IAM actions of every SDK call the stubs saw, with
// the KMS actions they imply.
func ActionsCalled(t testing.TB, stubs ...*Stub) []string {
	t.Helper()
	return Called(t, "iamPrefix", func(svc, op string) ([]string, bool) {
		prefix, ok := iamPrefix[svc]
		a := prefix + ":" + op
		if noPermission[a] {
			return nil, ok
		}
		return append([]string{a}, kmsFor[a]...), ok
	}, stubs...)
}

// ParseInfra parses one file of infra/aws.
func ParseInfra(t testing.TB, name string) (string, *hclsyntax.Body) {
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

// GrantedActions reads the Action lists of an aws_iam_role_policy in
// infra/aws/lambda.tf, by walking the jsonencode({...}) expression.
func GrantedActions(t testing.TB, resource string) []string {
	t.Helper()
	return GrantedActionsIn(t, "lambda.tf", resource)
}

// GrantedActionsIn is GrantedActions for a policy in another file of
// infra/aws (harness.tf: the harness's own role).
func GrantedActionsIn(t testing.TB, file, resource string) []string {
	t.Helper()
	path, body := ParseInfra(t, file)
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

func Grants(granted []string, action string) bool {
	for _, g := range granted {
		if g == action || (strings.HasSuffix(g, "*") && strings.HasPrefix(action, strings.TrimSuffix(g, "*"))) {
			return true
		}
	}
	return false
}

// EndpointService maps the SDK's service id to its VPC endpoint name
// (com.amazonaws.<region>.<name>).
var EndpointService = map[string]string{"RDS": "rds", "CloudWatch": "monitoring", "SNS": "sns", "Secrets Manager": "secretsmanager"}

// EndpointSet reads a literal toset([...]) local from infra/aws/locals.tf.
func EndpointSet(t testing.TB, name string) []string {
	t.Helper()
	path, body := ParseInfra(t, "locals.tf")
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

// FunctionsInVPC names the aws_lambda_function resources with a vpc_config.
func FunctionsInVPC(t testing.TB) []string {
	t.Helper()
	_, body := ParseInfra(t, "lambda.tf")
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
