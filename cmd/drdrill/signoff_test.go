package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
)

func writeRunSet(t *testing.T, dir, prefix string, rto ...float64) {
	t.Helper()
	for i, v := range rto {
		r := report.Report{Schema: report.Schema, Run: report.RunMeta{ID: fmt.Sprintf("%s%02d", prefix, i), Target: "lab"}, Policy: policy.Default("lab"), Verdict: "pass",
			Scenarios: []report.Scenario{{Name: "region-outage", Verdict: "pass", Measurements: []policy.Measurement{{Check: "rto_ms", Measured: v, Unit: "ms"}}}}}
		b, _ := json.Marshal(r)
		os.MkdirAll(filepath.Join(dir, r.Run.ID), 0o755)
		if err := os.WriteFile(filepath.Join(dir, r.Run.ID, report.JSONFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// `drdrill verdict --window` judges the distribution of the last N runs,
// and `drdrill compare --fail-on regression` gates CI on a real shift only.
func TestVerdictWindowAndCompare(t *testing.T) {
	base, slower, same := t.TempDir(), t.TempDir(), t.TempDir()
	writeRunSet(t, base, "a", 240, 255, 262, 248, 251, 270, 245, 259)
	writeRunSet(t, slower, "b", 410, 395, 420, 388, 402, 415, 399, 430)
	writeRunSet(t, same, "c", 250, 244, 266, 253, 247, 261, 249, 256)
	pol := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(pol, []byte("version: 1\nscenarios:\n  region-outage:\n    rto_ms: {p95: 300, max: 500}\n"), 0o644)

	out := mustRun(t, "verdict", "--window", "5", "--policy", pol, base)
	if !strings.Contains(out, "included: 8 run(s) of target lab") || !strings.Contains(out, "region-outage rto_ms: n=5") || !strings.Contains(out, "verdict: PASS") {
		t.Fatalf("base window:\n%s", out)
	}
	r := run(t, nil, "verdict", "--window", "5", "--policy", pol, slower)
	if r.code != 1 || !strings.Contains(r.out, "FAIL region-outage rto_ms p95: measured 430 ms exceeds 300") {
		t.Fatalf("slower window: exit %d\n%s", r.code, r.out)
	}
	r = run(t, nil, "compare", "--fail-on", "regression", base, slower)
	if r.code != 1 || !strings.Contains(r.out, "**regression**") {
		t.Fatalf("compare base slower: exit %d\n%s", r.code, r.out)
	}
	md := filepath.Join(t.TempDir(), "pr.md")
	out = mustRun(t, "compare", "--fail-on", "regression", "--markdown", md, base, same)
	if !strings.Contains(out, "| noise |") {
		t.Fatalf("compare base same:\n%s", out)
	}
	if b, _ := os.ReadFile(md); !strings.Contains(string(b), "### drdrill compare") {
		t.Fatalf("markdown file: %q", b)
	}
	if r := run(t, nil, "verdict", "--window", "0", base); r.code != 2 || !strings.Contains(r.out, "--window must be at least 1") {
		t.Fatalf("window 0: exit %d\n%s", r.code, r.out)
	}
	if r := run(t, nil, "compare", base); r.code != 2 || !strings.Contains(r.out, "give BASE and NEW") {
		t.Fatalf("one path: exit %d\n%s", r.code, r.out)
	}
}
