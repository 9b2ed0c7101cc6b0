package report

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/onsi/ginkgo/v2/reporters"
)

// DrillRunEnv names a run directory that a real drill just wrote; `make
// test` sets it after its drill. The test checks that drill's junit.xml,
// not a committed fixture: every scenario's testcase carries its measured
// values as properties, and they agree with report.json.
const DrillRunEnv = "DRDRILL_CHECK_RUN"

func TestDrillJUnitCarriesEveryMeasurement(t *testing.T) {
	run, set := os.LookupEnv(DrillRunEnv)
	switch {
	case !set:
		t.Skipf("$%s is not set: `make test` sets it to the run its drill just wrote", DrillRunEnv)
	case run == "":
		// make test found no run directory to give it: a silent skip
		// there would pass a junit check that checked nothing.
		t.Fatalf("$%s is set but empty: the drill wrote no run directory to check", DrillRunEnv)
	}
	r, err := Load(filepath.Join(run, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	junits, _ := filepath.Glob(filepath.Join(run, "junit.xml"))
	more, _ := filepath.Glob(filepath.Join(run, "iter-*", "junit.xml"))
	junits = append(junits, more...)
	if len(junits) == 0 {
		t.Fatalf("no junit.xml in %s", run)
	}
	// Per iteration: the property values of every testcase, by scenario
	// label, as Ginkgo wrote them.
	props := map[int]map[string]map[string]string{}
	for _, f := range junits {
		iter := 0
		if p := filepath.Base(filepath.Dir(f)); strings.HasPrefix(p, "iter-") {
			iter, _ = strconv.Atoi(strings.TrimPrefix(p, "iter-"))
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var suites reporters.JUnitTestSuites
		if err := xml.Unmarshal(b, &suites); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		props[iter] = map[string]map[string]string{}
		for _, s := range suites.TestSuites {
			for _, tc := range s.TestCases {
				if tc.Properties == nil || tc.Skipped != nil {
					continue
				}
				m := map[string]string{}
				for _, p := range tc.Properties.Properties {
					m[p.Name] = p.Value // the final attempt's value wins
				}
				if _, judged := m["rpo_lost_writes"]; !judged {
					continue
				}
				labels := specLabels(tc.Name)
				for _, sc := range r.Scenarios {
					if labels[sc.Name] {
						props[iter][sc.Name] = m
					}
				}
			}
		}
	}
	checked := 0
	for _, sc := range r.Scenarios {
		if sc.Verdict == "unreadable" || sc.Result == nil {
			continue
		}
		m := props[sc.Iteration][sc.Name]
		if m == nil {
			t.Errorf("%s (iteration %d): no judged testcase in junit.xml", sc.Name, sc.Iteration)
			continue
		}
		checked++
		for _, name := range []string{"rpo_lost_writes", "rpo_resolution_ms", "ops_ok", "ops_fail", "ops_info", "policy"} {
			if _, ok := m[name]; !ok && name != "policy" {
				t.Errorf("%s: junit.xml lacks property %s (has %v)", sc.Name, name, keys(m))
			}
		}
		if sc.Result.FaultMs != nil && sc.Result.RTO.Recovered {
			if _, ok := m["rto_ms"]; !ok {
				t.Errorf("%s: a recovered fault, but no rto_ms property", sc.Name)
			}
		}
		if sc.Result.Hypothesis != nil {
			if _, ok := m["rpo_lag_hypothesis"]; !ok {
				t.Errorf("%s: a failover, but no rpo_lag_hypothesis property", sc.Name)
			}
		}
		if sc.Result.Reads.Judged {
			for _, name := range []string{"reads", "vanished_reads", "stale_reads_after_promotion", "never_seen_writes"} {
				if _, ok := m[name]; !ok {
					t.Errorf("%s: the scenario read its regions, but junit.xml lacks %s", sc.Name, name)
				}
			}
			if len(sc.Result.Reads.Visibility) > 0 && (!hasPrefix(m, "read_visibility_p99_ms_") || !hasPrefix(m, "read_resolution_ms_")) {
				t.Errorf("%s: no per-region read visibility (read_visibility_p99_ms_*, read_resolution_ms_*) in junit.xml", sc.Name)
			}
		}
		if len(sc.Result.AckedPerSecond) == 0 || !hasPrefix(m, "acked_per_s_") {
			t.Errorf("%s: no achieved rate (acked_per_s_*) in junit.xml", sc.Name)
		}
		// The JUnit figure is the report's figure.
		for _, x := range sc.Measurements {
			v, ok := m[x.Check]
			if !ok {
				t.Errorf("%s: report.json has %s but junit.xml does not", sc.Name, x.Check)
				continue
			}
			if x.Unmeasured {
				if u, err := strconv.Unquote(v); err == nil {
					v = u // Ginkgo writes a string entry JSON-quoted
				}
				if v != "not judged: "+x.NotJudged {
					t.Errorf("%s: junit.xml %s=%q, report.json says not judged: %s", sc.Name, x.Check, v, x.NotJudged)
				}
				continue
			}
			got, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Errorf("%s: property %s=%q is not a number", sc.Name, x.Check, v)
				continue
			}
			if diff := got - x.Measured; diff > 1e-6*max(1, x.Measured) || diff < -1e-6*max(1, x.Measured) {
				t.Errorf("%s: junit.xml %s=%g, report.json %g", sc.Name, x.Check, got, x.Measured)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d judged scenarios found in %s: did the drill run?", checked, run)
	}
}

// specLabels are the labels Ginkgo lists at the end of a testcase name,
// "… [partition-no-control-path, gameday]": matched whole, so that the
// partition scenario does not take partition-no-control-path's figures.
func specLabels(name string) map[string]bool {
	out := map[string]bool{}
	i, j := strings.LastIndex(name, "["), strings.LastIndex(name, "]")
	if i < 0 || j < i {
		return out
	}
	for _, l := range strings.Split(name[i+1:j], ",") {
		out[strings.TrimSpace(l)] = true
	}
	return out
}

func TestSpecLabelsMatchWhole(t *testing.T) {
	l := specLabels("DR drill Partition without a control path cannot fence [partition-no-control-path, gameday]")
	if l["partition"] || !l["partition-no-control-path"] || !l["gameday"] {
		t.Fatalf("labels %v", l)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func hasPrefix(m map[string]string, prefix string) bool {
	for k := range m {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}
