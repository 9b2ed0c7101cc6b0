package policy_test

import (
	"os"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/policy"
)

// docs/policy.md shows the built-in policies as they are and lists every
// measure a policy may bound: the page and the code cannot drift apart.
func TestPolicyPageMatchesTheCode(t *testing.T) {
	b, err := os.ReadFile("../../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, kind := range []string{"lab", "aws"} {
		src := strings.TrimRight(string(policy.DefaultSource(kind)), "\n")
		if !strings.Contains(doc, "```yaml\n"+src+"\n```") {
			t.Errorf("docs/policy.md does not show the built-in %s policy as it is: paste `drdrill policy show --target %s` into it", kind, kind)
		}
	}
	for _, m := range check.Measures {
		if !strings.Contains(doc, "| `"+m.Key+"` | "+m.Unit+" |") {
			t.Errorf("docs/policy.md's measures lack %s (%s)", m.Key, m.Unit)
		}
	}
}
