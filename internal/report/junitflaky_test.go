package report

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Real Ginkgo with --flake-attempts=2 on a spec that fails once: Ginkgo's
// own JUnit calls it passed; after MarkFlakyJUnit the testcase says flaky,
// with its attempts and the first attempt's failure, and the other spec is
// untouched.
func TestFlakySpecIsMarkedInJUnit(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "flaky.test")
	if out, err := exec.Command("go", "test", "-c", "-o", bin, "./testdata/flakysuite").CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--ginkgo.flake-attempts=2", "--ginkgo.no-color",
		"--ginkgo.junit-report="+filepath.Join(dir, "junit.xml"), "--ginkgo.json-report="+filepath.Join(dir, "ginkgo-report.json"))
	cmd.Env = append(os.Environ(), "FLAKY_COUNTER="+filepath.Join(dir, "counter"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the suite should pass on the retry: %v\n%s", err, out)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	if strings.Contains(string(before), `status="flaky"`) || strings.Contains(string(before), `name="flaky"`) {
		t.Fatal("Ginkgo's own JUnit already says flaky: this test no longer proves anything")
	}
	n, err := MarkFlakyJUnit(dir)
	if err != nil || n != 1 {
		t.Fatalf("marked %d (%v), want 1", n, err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
	s := string(after)
	for _, want := range []string{`status="flaky"`, `<property name="flaky" value="true">`, `<property name="attempts" value="2">`, "injected flake", `<property name="rto_ms" value="250">`} {
		if !strings.Contains(s, want) {
			t.Errorf("junit.xml lacks %s:\n%s", want, s)
		}
	}
	if strings.Count(s, `name="flaky"`) != 1 {
		t.Errorf("only the retried spec is flaky:\n%s", s)
	}
	specs := readSpecs(dir)
	if specs.Passed != 2 || len(specs.Flaky) != 1 || specs.Flaky[0].Attempts != 2 {
		t.Fatalf("specs %+v", specs)
	}
	r := &Report{Specs: specs, Scenarios: []Scenario{{Name: "region-outage", Verdict: "pass"}, {Name: "steady-state", Verdict: "pass"}}}
	markFlaky(r)
	if r.Scenarios[0].Verdict != "flaky" || r.Scenarios[1].Verdict != "pass" {
		t.Fatalf("scenario verdicts %s, %s", r.Scenarios[0].Verdict, r.Scenarios[1].Verdict)
	}
}
