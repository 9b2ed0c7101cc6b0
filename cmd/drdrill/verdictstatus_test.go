package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/report"
)

// `drdrill verdict` refuses to pass a run that did not complete, however
// good the figures of what ran: an interrupted run is no sign-off.
func TestVerdictRefusesAnInterruptedRun(t *testing.T) {
	runDir := filepath.Join(t.TempDir(), "20261129T102824Z")
	if err := os.CopyFS(runDir, os.DirFS("../../internal/report/testdata/run/20261129T102824Z")); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	b, _ := os.ReadFile(filepath.Join(runDir, report.RunMetaFile))
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["status"] = "interrupted"
	m["stop"] = map[string]any{"cause": "signal", "signal": "SIGHUP", "scenario": "region-outage"}
	b, _ = json.Marshal(m)
	os.WriteFile(filepath.Join(runDir, report.RunMetaFile), b, 0o644)
	r := run(t, nil, "verdict", runDir)
	if r.code != 1 || !strings.Contains(r.out, "FAIL run 20261129T102824Z interrupted by SIGHUP in region-outage: not a complete run") || strings.Contains(r.out, "verdict: PASS") {
		t.Fatalf("verdict of an interrupted run: exit %d\n%s", r.code, r.out)
	}
}
