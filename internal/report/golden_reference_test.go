package report

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/refcheck"
)

// The golden report is not only what the report wrote last time (-update
// rewrites it): every figure it judges is the reference checker's, computed
// from docs/measures.md alone on the fixture's histories, and every figure
// it does not judge, the reference does not either.
func TestGoldenReportAgreesWithTheReferenceChecker(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var golden Report
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, sc := range golden.Scenarios {
		h, err := history.ReadFile(filepath.Join(fixture, sc.Dir, "history.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		ref := refcheck.Check(h, 0)
		if len(sc.Measurements) == 0 {
			t.Fatalf("%s: no measurements in the golden report", sc.Name)
		}
		for _, m := range sc.Measurements {
			f, ok := ref[m.Check]
			switch {
			case !ok || f.NotApplicable:
				t.Errorf("%s %s: the golden report judges a measure the reference says does not apply", sc.Name, m.Check)
			case m.Unmeasured != (f.NotJudged != ""):
				t.Errorf("%s %s: golden not judged %v (%s), reference not judged %q", sc.Name, m.Check, m.Unmeasured, m.NotJudged, f.NotJudged)
			case !m.Unmeasured && math.Abs(m.Measured-f.Value) > 1e-9*max(1, math.Abs(f.Value)):
				t.Errorf("%s %s: golden %v, reference %v", sc.Name, m.Check, m.Measured, f.Value)
			default:
				checked++
			}
		}
		// The other way round: every measure the reference gives appears.
		judged := map[string]bool{}
		for _, m := range sc.Measurements {
			judged[m.Check] = true
		}
		for _, m := range policy.Measures {
			if f := ref[m]; !f.NotApplicable && !judged[m] {
				t.Errorf("%s %s: the reference gives it (%+v), the golden report leaves it out", sc.Name, m, f)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d figures compared", checked)
	}
}
