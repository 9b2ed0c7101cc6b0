package aws_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/stackspec"
)

// statement is one statement of a policy document as a plan renders it.
type statement struct {
	Sid       string
	Effect    string
	Principal map[string]any
	Action    any
	Resource  any
	Condition map[string]map[string]any
}

func asList(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// takesNoResource are the harness's actions that take no resource (Service
// Authorization Reference): on "*" they grant no more than they must.
var takesNoResource = []string{"ec2:DescribeNetworkAcls", "cloudwatch:GetMetricData", "sns:Unsubscribe"}

// unscoped: a resource that names every resource of its type. S3 objects
// take no aws:ResourceTag (Service Authorization Reference, Amazon S3): a
// key prefix in a named bucket is their scope, so only a whole bucket's
// objects count as every resource.
func unscoped(r string) bool {
	if bucketKey, ok := strings.CutPrefix(r, "arn:aws:s3:::"); ok {
		bucket, key, _ := strings.Cut(bucketKey, "/")
		return bucket == "*" || key == "*"
	}
	return r == "*" || strings.HasSuffix(r, "/*") || strings.HasSuffix(r, ":*")
}

// The harness's own role (harness.tf) is least privilege: assumable only
// by ECS tasks of this account (the scheduled runner, #26) and by the
// principals var.harness_principal_arns names; no action wildcard; "*"
// only for the actions that take no resource; a write on every resource
// of a type (a VPC, a network ACL, a function, an alarm) only under a
// tag condition.
func TestHarnessRoleIsLeastPrivilege(t *testing.T) { checkHarnessRole(t, ".") }

func checkHarnessRole(t reporter, dir string) {
	t.Helper()
	abs, _ := filepath.Abs(dir)
	for _, principals := range [][]string{nil, {"arn:aws:iam::111122223333:role/ci"}} {
		vars := map[string]string{"environment_suffix": "check"}
		if principals != nil {
			b, _ := json.Marshal(principals)
			vars["harness_principal_arns"] = string(b)
		}
		spec, err := stackspec.Load(abs, "111122223333", vars)
		if err != nil {
			t.Fatalf("reading %s: %v", dir, err)
			return
		}
		role, ok := spec.Role("harness")
		if !ok {
			t.Fatalf("%s declares no aws_iam_role.harness: the harness has no role of its own", dir)
			return
		}
		var trust struct{ Statement []statement }
		if err := json.Unmarshal([]byte(role.AssumeRolePolicy), &trust); err != nil {
			t.Fatalf("aws_iam_role.harness's trust policy does not evaluate to JSON (%q): %v", role.AssumeRolePolicy, err)
			return
		}
		var services, aws []string
		for _, st := range trust.Statement {
			services = append(services, asList(st.Principal["Service"])...)
			aws = append(aws, asList(st.Principal["AWS"])...)
			if slices.Contains(asList(st.Principal["Service"]), "ecs-tasks.amazonaws.com") && st.Condition["StringEquals"]["aws:SourceAccount"] != "111122223333" {
				t.Errorf("aws_iam_role.harness trusts ecs-tasks.amazonaws.com without aws:SourceAccount: any account's task could assume it")
			}
			if st.Principal["*"] != nil || slices.Contains(asList(st.Principal["AWS"]), "*") {
				t.Errorf("aws_iam_role.harness is assumable by anyone")
			}
		}
		if !slices.Equal(services, []string{"ecs-tasks.amazonaws.com"}) || !slices.Equal(aws, principals) {
			t.Errorf("aws_iam_role.harness is assumable by services %v and principals %v; want ecs-tasks.amazonaws.com and exactly %v", services, aws, principals)
		}
		if len(role.Policies) == 0 {
			t.Fatalf("aws_iam_role.harness has no aws_iam_role_policy")
			return
		}
		for _, doc := range role.Policies {
			var p struct{ Statement []statement }
			if err := json.Unmarshal([]byte(doc), &p); err != nil {
				t.Fatalf("the harness's policy does not evaluate to JSON: %v", err)
				return
			}
			for _, st := range p.Statement {
				for _, a := range asList(st.Action) {
					if strings.Contains(a, "*") {
						t.Errorf("statement %s grants %s: name each action", st.Sid, a)
					}
					for _, r := range asList(st.Resource) {
						write := !strings.Contains(a, ":Describe") && !strings.Contains(a, ":Get") && !strings.Contains(a, ":List")
						switch {
						case r == "*" && !slices.Contains(takesNoResource, a):
							t.Errorf("statement %s grants %s on \"*\": scope it by ARN", st.Sid, a)
						case unscoped(r) && write && len(st.Condition) == 0 && !slices.Contains(takesNoResource, a):
							t.Errorf("statement %s grants %s on %s without a condition: scope it by the drdrill:allowed (or managedByDrdrill) tag", st.Sid, a, r)
						}
					}
				}
			}
		}
	}
}
