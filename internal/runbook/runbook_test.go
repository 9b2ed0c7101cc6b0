package runbook_test

import (
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/runbook"
	"github.com/drdrill/drdrill/internal/target"
)

func availableOn(kind string) func(string) error {
	t := target.Offline(kind)
	return func(name string) error {
		f, err := fault.Lookup(name)
		if err != nil {
			return err
		}
		return f.Available(t)
	}
}

// Every fault a scenario names is in the catalogue, every scenario has a
// label of its own name first (how the suite finds it) and phases.
func TestEveryScenarioNamesRealFaultsAndItsOwnLabel(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range runbook.Scenarios {
		if seen[s.Name] {
			t.Errorf("scenario %s twice", s.Name)
		}
		seen[s.Name] = true
		if len(s.Labels) == 0 || s.Labels[0] != s.Name {
			t.Errorf("%s: labels %v must start with its name", s.Name, s.Labels)
		}
		if len(s.Phases) == 0 {
			t.Errorf("%s: no phases", s.Name)
		}
		for _, f := range s.Faults {
			if _, err := fault.Lookup(f.Name); err != nil {
				t.Errorf("%s: %v", s.Name, err)
			}
		}
		for _, f := range s.OneOf {
			if _, err := fault.Lookup(f); err != nil {
				t.Errorf("%s: %v", s.Name, err)
			}
		}
	}
}

// The plan is the label filter Ginkgo applies, minus what the target
// cannot run: on the lab the AWS-only scenarios are skipped, on AWS the
// lab-only ones; monitor-failure takes the outage each target offers.
func TestPlanPerTarget(t *testing.T) {
	lab, err := runbook.Select("", "lab", availableOn("lab"), runbook.LabExpectations)
	if err != nil {
		t.Fatal(err)
	}
	aws, err := runbook.Select("", "aws", availableOn("aws"), runbook.AWSExpectations(time.Minute, 1))
	if err != nil {
		t.Fatal(err)
	}
	runs := func(p runbook.Plan) (names []string, inject map[string]string) {
		inject = map[string]string{}
		for _, s := range p.Scenarios {
			if s.Skipped == "" {
				names = append(names, s.Name)
				var fs []string
				for _, f := range s.Inject {
					fs = append(fs, f.Name)
				}
				inject[s.Name] = strings.Join(fs, ",")
			}
		}
		return names, inject
	}
	ln, li := runs(lab)
	an, ai := runs(aws)
	if got := strings.Join(ln, " "); got != "steady-state planned-switchover region-outage region-freeze partition partition-no-control-path replication-lag monitor-failure failback" {
		t.Errorf("lab plan: %s", got)
	}
	if got := strings.Join(an, " "); got != "steady-state planned-switchover monitor-failure region-isolation alarm-path failback" {
		t.Errorf("aws plan: %s", got)
	}
	if li["monitor-failure"] != "monitor-failure,region-crash" || ai["monitor-failure"] != "monitor-failure,region-isolation" {
		t.Errorf("monitor-failure's outage: lab %s, aws %s", li["monitor-failure"], ai["monitor-failure"])
	}
	smoke, _ := runbook.Select("smoke && !steady-state", "lab", availableOn("lab"), runbook.LabExpectations)
	if n, _ := runs(smoke); strings.Join(n, " ") != "planned-switchover" {
		t.Errorf("smoke && !steady-state: %v", n)
	}
	if _, err := runbook.Select("smoke &&", "lab", availableOn("lab"), runbook.LabExpectations); err == nil {
		t.Error("a broken label filter was accepted")
	}
	// Where a scenario stands: index, total, and the time left from its start.
	i, n, left := lab.Place("region-outage")
	var want time.Duration
	for _, s := range lab.Scenarios[2:] {
		if s.Skipped == "" {
			want += s.Expected
		}
	}
	if i != 3 || n != 9 || left != want {
		t.Errorf("region-outage: %d/%d with %v left, want 3/9 with %v", i, n, left, want)
	}
	if i, n, _ := lab.Place("region-isolation"); i != 0 || n != 0 {
		t.Errorf("a skipped scenario has a place: %d/%d", i, n)
	}
	// AWS's durations are minutes; the twin's scale shrinks them.
	if aws.Expected < 30*time.Minute || lab.Expected > 5*time.Minute {
		t.Errorf("expected: lab %v, aws %v", lab.Expected, aws.Expected)
	}
	twin, _ := runbook.Select("", "aws", availableOn("aws"), runbook.AWSExpectations(1200*time.Millisecond, 0.02))
	if twin.Expected > aws.Expected/5 {
		t.Errorf("twin at 0.02: %v, aws %v", twin.Expected, aws.Expected)
	}
}
