package signoff

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/report"
)

// A run that was interrupted (or aborted, or timed out) stopped part-way:
// its figures are left out of every window and comparison, and the set
// says so, rather than pulling a distribution toward whatever the stop cut.
func TestIncompleteRunsAreExcludedAndNamed(t *testing.T) {
	dir := t.TempDir()
	writeRuns(t, dir, "lab", "a", []float64{250, 260, 9999})
	stopped := filepath.Join(dir, "a-002", report.JSONFile)
	var r report.Report
	b, _ := os.ReadFile(stopped)
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	r.Run.Status, r.Run.Stop = report.StatusInterrupted, &report.Stop{Cause: "signal", Signal: "SIGINT", Scenario: "region-outage"}
	b, _ = json.Marshal(r)
	os.WriteFile(stopped, b, 0o644)

	s, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s = s.ForTarget("")
	if len(s.Runs) != 2 || len(s.Samples["region-outage"]["rto_ms"]) != 2 {
		t.Fatalf("%d runs, %d RTO samples: the interrupted run was included", len(s.Runs), len(s.Samples["region-outage"]["rto_ms"]))
	}
	if len(s.Excluded) != 1 || !strings.Contains(s.Excluded[0], "a-002: run interrupted by SIGINT in region-outage (not a complete run)") {
		t.Fatalf("excluded: %q", s.Excluded)
	}
}
