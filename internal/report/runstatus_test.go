package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// setStatus rewrites the fixture's run.json with a status and a stop.
func setStatus(t *testing.T, dir, status string, stop *Stop) {
	t.Helper()
	var m RunMeta
	b, err := os.ReadFile(filepath.Join(dir, RunMetaFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m.Status, m.Stop = status, stop
	b, _ = json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, RunMetaFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A run that was interrupted is never a pass, whatever its histories
// measured: the report says how it ended, where, and that it is not a
// sign-off, in the table, summary.md and index.html.
func TestAnInterruptedRunIsReportedAsSuchAndFails(t *testing.T) {
	dir := copyRun(t)
	setStatus(t, dir, StatusInterrupted, &Stop{Cause: "signal", Signal: "SIGTERM", Scenario: "region-outage", Step: "holding 3s: writes on the new primary"})
	r, err := Build(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "interrupted by SIGTERM in region-outage (holding 3s: writes on the new primary)"
	if r.Verdict != "fail" || !r.Partial || r.Run.Complete() || r.Run.StatusLine() != want {
		t.Fatalf("verdict %s, partial %v, complete %v, status line %q; want fail, partial, incomplete, %q", r.Verdict, r.Partial, r.Run.Complete(), r.Run.StatusLine(), want)
	}
	var table, md bytes.Buffer
	r.WriteTable(&table)
	if err := r.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "run INTERRUPTED by SIGTERM in region-outage") || !strings.Contains(md.String(), "**Run "+want+".** Not a complete run") {
		t.Fatalf("table:\n%s\nsummary.md:\n%s", table.String(), md.String())
	}
	if err := Render(dir, r); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, HTMLFile))
	if !strings.Contains(string(page), "Run "+want+": not a complete run") {
		t.Fatal("index.html does not say the run was interrupted")
	}
	index, _ := os.ReadFile(filepath.Join(filepath.Dir(dir), HTMLFile))
	if !strings.Contains(string(index), "(interrupted)") {
		t.Fatal("reports/index.html does not mark the run interrupted")
	}
}

// A suite run by ginkgo directly (no drdrill to write a status) or a drill
// killed part-way leaves the suite's stop.json: the report derives the
// status from it, and from Ginkgo's report when there is none.
func TestStatusIsDerivedFromTheSuitesRecord(t *testing.T) {
	dir := copyRun(t)
	if err := WriteStop(dir, Stop{Cause: "abort", By: "sre@host (pid 7)", Scenario: "region-outage"}); err != nil {
		t.Fatal(err)
	}
	r, err := Build(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Status != StatusAborted || r.Verdict != "fail" {
		t.Fatalf("status %q, verdict %s; want aborted, fail", r.Run.Status, r.Verdict)
	}

	dir = copyRun(t)
	setStatus(t, dir, StatusRunning, nil)
	if r, err = Build(dir, nil); err != nil {
		t.Fatal(err)
	}
	if r.Run.Complete() || !strings.Contains(r.Run.StatusLine(), "never finished") {
		t.Fatalf("a run.json still saying running: %q", r.Run.StatusLine())
	}

	dir = copyRun(t)
	os.WriteFile(filepath.Join(dir, "ginkgo-report.json"), []byte(`[{"SpecialSuiteFailureReasons":["Suite Timeout Elapsed"]}]`), 0o644)
	if r, err = Build(dir, nil); err != nil {
		t.Fatal(err)
	}
	if r.Run.Status != StatusTimedOut {
		t.Fatalf("Ginkgo's suite timeout: status %q", r.Run.Status)
	}
}

// A run stopped before any scenario wrote a history still has a report
// saying how it ended, instead of "no scenario histories".
func TestAnInterruptedRunWithoutHistoriesStillReports(t *testing.T) {
	dir := t.TempDir()
	b, _ := json.Marshal(RunMeta{ID: "r", Target: "lab", Status: StatusInterrupted, Stop: &Stop{Cause: "signal", Signal: "SIGHUP"}})
	os.WriteFile(filepath.Join(dir, RunMetaFile), b, 0o644)
	r, err := Build(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != "fail" || r.Run.StatusLine() != "interrupted by SIGHUP" {
		t.Fatalf("verdict %s, %q", r.Verdict, r.Run.StatusLine())
	}
	if _, err := Build(t.TempDir(), nil); err == nil {
		t.Fatal("a directory with no run in it built a report")
	}
}
