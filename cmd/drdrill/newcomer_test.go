package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A bad input to `drdrill drill` ends the command before a lab starts or
// Ginkgo runs: exactly one line, naming the file or flag and the fix, and
// a non-zero exit. Nothing is written under --reports.
func TestDrillRejectsBadInputsBeforeLaunching(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	broken := write("broken.json", `{"TargetKind": "lab",`)
	incomplete := write("incomplete.json", `{"TargetKind": "lab", "LabDir": "/x"}`)
	unknownKind := write("kind.json", `{"TargetKind": "gcp"}`)
	badPolicy := write("policy.yaml", "version: 1\nscenarios:\n  region-outage:\n    rto: 1\n")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--outputs", broken}, []string{broken, "not valid JSON", "regenerate"}},
		{[]string{"--outputs", filepath.Join(dir, "missing.json")}, []string{"missing.json", "does not exist", "drdrill lab up"}},
		{[]string{"--outputs", incomplete}, []string{incomplete, "GlobalWriterEndpoint", "drdrill lab up"}},
		{[]string{"--outputs", unknownKind}, []string{unknownKind, `unknown TargetKind "gcp"`}},
		{[]string{"--policy", badPolicy}, []string{badPolicy, `unknown measure "rto"`}},
		{[]string{"--policy", filepath.Join(dir, "nope.yaml")}, []string{"nope.yaml", "does not exist"}},
		{[]string{"--labels", "smoke && ("}, []string{"--labels", "not a valid Ginkgo label filter"}},
		{[]string{"--target", "gcp"}, []string{"--target", "want lab or aws"}},
		{[]string{"--suites", filepath.Join(dir, "nosuite")}, []string{"--suites", "nosuite", "make build"}},
		{[]string{"--target", "aws"}, []string{"drdrill-lifecycle not found", "make build-aws"}},
		{[]string{"--rate", "-5"}, []string{"--rate must be a positive number"}},
	}
	for _, c := range cases {
		reports := filepath.Join(dir, "reports")
		r := run(t, nil, append([]string{"drill", "--reports", reports}, c.args...)...)
		lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
		if r.code == 0 || len(lines) != 1 {
			t.Errorf("drdrill drill %s: exit %d, %d lines; want one line and a non-zero exit:\n%s", strings.Join(c.args, " "), r.code, len(lines), r.out)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(r.out, w) {
				t.Errorf("drdrill drill %s: %q lacks %q", strings.Join(c.args, " "), r.out, w)
			}
		}
		if _, err := os.Stat(reports); err == nil {
			t.Errorf("drdrill drill %s: created %s although it refused to start", strings.Join(c.args, " "), reports)
		}
	}
}

// A drdrill binary with no compiled suite beside it, started outside a
// checkout, says in one line how to get one instead of letting Ginkgo fail
// with "Found no test suites".
func TestDrillWithoutSuitesSaysWhatToDo(t *testing.T) {
	alone := filepath.Join(t.TempDir(), "drdrill")
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, b, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(alone, "drill", "--reports", filepath.Join(t.TempDir(), "r"))
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no drill suite found") || !strings.Contains(string(out), "make build") ||
		strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("drill without suites: %v\n%s", err, out)
	}
}

// The built drdrill runs a drill from any directory: it finds the compiled
// suite beside itself. Piped output carries no colour codes.
func TestDrillRunsFromAnyDirectoryWithoutColour(t *testing.T) {
	needMariaDB(t)
	cwd := t.TempDir()
	// 200 writes/s: this test is about finding the suite and clean output,
	// and it shares two cores with the other packages' tests.
	cmd := exec.Command(bin, "drill", "--labels", "steady-state", "--rate", "200")
	cmd.Dir = cwd
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = os.Environ()
	if err := cmd.Run(); err != nil {
		t.Fatalf("drill from %s: %v\n%s", cwd, err, out.String())
	}
	if i := bytes.IndexByte(out.Bytes(), 0x1b); i >= 0 {
		t.Fatalf("piped drill output has an escape sequence at byte %d: %q", i, out.Bytes()[max(0, i-40):min(out.Len(), i+40)])
	}
	for _, want := range []string{"[phase] lab up", "Ran 3 of", "verdict"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("drill output lacks %q:\n%s", want, out.String())
		}
	}
	runs, _ := filepath.Glob(filepath.Join(cwd, "reports", "*", "summary.md"))
	if len(runs) != 1 {
		t.Fatalf("want one run's summary.md under %s/reports, found %v", cwd, runs)
	}
}
