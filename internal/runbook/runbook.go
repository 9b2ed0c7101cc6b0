// Package runbook is the drill's plan as data: every scenario the drill
// suite runs, in order, with its labels, the faults it injects with their
// parameters, and the phases it spends its time in. `drdrill drill
// --dry-run` prints it for a target without starting anything; the suite
// takes its labels from it and refuses to inject a fault its entry does
// not name, so the plan and what runs cannot drift apart; a running drill
// says, from it, which scenario of how many it is in and how long is left.
package runbook

import (
	"fmt"
	"time"

	"github.com/onsi/ginkgo/v2/types"
)

// Fault is a fault a scenario injects, with the parameters it passes
// (the others take their defaults, resolved from the live topology).
type Fault struct {
	Name   string            `json:"name"`
	Params map[string]string `json:"params,omitempty"`
}

// Wait is one of a target's typical durations.
type Wait string

// The waits a scenario's phases are made of.
const (
	// Switchover: a planned promotion, from the call to writes on the new
	// writer (AWS: pending, then the promotion and the DNS TTL).
	Switchover Wait = "switchover"
	// Failover: an outage detected by the stack's own failover logic and
	// the promotion it makes.
	Failover Wait = "failover"
	// ForcedFailover: a failover injected directly (data loss allowed).
	ForcedFailover Wait = "forced-failover"
	// Reprotect: an old primary made a standby again after a failover
	// (the lab's re-seed; AWS's rebuild).
	Reprotect Wait = "reprotect"
	// Detection: how long the stack's failover logic needs to decide (a
	// scenario that proves no failover happened holds this long).
	Detection Wait = "detection"
	// Alarm: a lag alarm's change of state.
	Alarm Wait = "alarm"
	// MonitorsHealthy: the stack's health monitors seeing a region healthy.
	MonitorsHealthy Wait = "monitors-healthy"
	// Overhead: a scenario's fixed cost: the steady state checked, traffic
	// started, every region read, the history checked.
	Overhead Wait = "overhead"
)

// Phase is one step of a scenario's time: a fixed hold, or a wait whose
// length is the target's.
type Phase struct {
	What string        `json:"what"`
	Hold time.Duration `json:"hold,omitempty"`
	Wait Wait          `json:"wait,omitempty"`
}

// Scenario is one scenario of the drill.
type Scenario struct {
	Name   string   `json:"name"`
	Title  string   `json:"title"`
	Labels []string `json:"labels"`
	Faults []Fault  `json:"faults,omitempty"`
	// OneOf lists faults of which the scenario injects the first the
	// target offers (monitor-failure's outage: a crash on the lab, an
	// isolation on AWS).
	OneOf  []string `json:"one_of,omitempty"`
	Phases []Phase  `json:"phases"`
}

const (
	preFault    = 1400 * time.Millisecond // framework.PreFaultHold
	stabilityIn = 2250 * time.Millisecond // the stability window and its margin, covered before the final read
)

func hold(what string, d time.Duration) Phase { return Phase{What: what, Hold: d} }
func wait(what string, w Wait) Phase          { return Phase{What: what, Wait: w} }

// Scenarios are the drill's scenarios in the order the suite runs them.
var Scenarios = []Scenario{
	{Name: "steady-state", Title: "Steady state", Labels: []string{"steady-state", "smoke", "gameday", "signoff"},
		Phases: []Phase{wait("roles and a probe write in every region", Overhead), hold("measuring steady-state lag", 3*time.Second), wait("final read and check", Overhead)}},
	{Name: "planned-switchover", Title: "Planned switchover", Labels: []string{"planned-switchover", "smoke", "gameday", "signoff"},
		Faults: []Fault{{Name: "planned-switchover"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the switchover", preFault), wait("the switchover", Switchover),
			hold("writes on the new primary", 3*time.Second), wait("final read; the rollback switches back", Switchover), wait("check", Overhead)}},
	{Name: "region-outage", Title: "Region outage", Labels: []string{"region-outage", "gameday", "signoff"},
		Faults: []Fault{{Name: "region-crash"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the outage", preFault), wait("the stack fails over", Failover),
			hold("writes on the new primary", 3*time.Second), wait("the old primary re-seeded and in sync", Reprotect), wait("restore: switch back", Switchover), wait("check", Overhead)}},
	{Name: "region-freeze", Title: "Region freeze", Labels: []string{"region-freeze", "gameday"},
		Faults: []Fault{{Name: "region-freeze"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the freeze", preFault), wait("the stack fails over", Failover),
			hold("writes on the new primary", 3*time.Second), wait("the frozen primary re-seeded and in sync", Reprotect), wait("restore: switch back", Switchover), wait("check", Overhead)}},
	{Name: "partition", Title: "Partition", Labels: []string{"partition", "gameday", "signoff"},
		Faults: []Fault{{Name: "partition", Params: map[string]string{"control_path": "survives"}}, {Name: "unplanned-failover"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the partition", preFault), hold("partitioned", time.Second),
			wait("the failover", ForcedFailover), hold("writes on the new primary, the old one fenced", 3*time.Second),
			wait("healed; the old primary re-seeded and in sync", Reprotect), wait("restore: switch back", Switchover), wait("check", Overhead)}},
	{Name: "partition-no-control-path", Title: "Partition without a control path", Labels: []string{"partition-no-control-path", "gameday"},
		Faults: []Fault{{Name: "partition", Params: map[string]string{"control_path": "cut"}}, {Name: "unplanned-failover"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the partition", preFault), hold("partitioned", time.Second),
			wait("the failover", ForcedFailover), hold("the old primary unfenced, the new one promoted", 3*time.Second),
			wait("healed; the old primary re-seeded and in sync", Reprotect), wait("restore: switch back", Switchover), wait("check", Overhead)}},
	{Name: "replication-lag", Title: "Replication lag", Labels: []string{"replication-lag", "gameday"},
		Faults: []Fault{{Name: "wan-degradation", Params: map[string]string{"latency_ms": "700"}}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the degradation", preFault), wait("the lag alarm to ALARM", Alarm),
			wait("the rollback; the alarm back to OK", Alarm), hold("writes after the rollback", 2*time.Second), wait("check", Overhead)}},
	{Name: "monitor-failure", Title: "Monitor failure", Labels: []string{"monitor-failure", "gameday", "signoff"},
		Faults: []Fault{{Name: "monitor-failure"}}, OneOf: []string{"region-crash", "region-isolation"},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the failure", preFault),
			wait("a primary outage with no health monitor, as long as the stack takes to decide", Detection),
			hold("writes after the manual recovery", 3*time.Second), wait("check", Overhead)}},
	{Name: "region-isolation", Title: "Region isolation", Labels: []string{"region-isolation", "gameday", "signoff"},
		Faults: []Fault{{Name: "region-isolation"}, {Name: "unplanned-failover"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the isolation", 10*time.Second), wait("the failover", ForcedFailover),
			hold("writes on the new primary for the stability window", 30*time.Second), wait("healed; the monitors see the region healthy", MonitorsHealthy),
			wait("the old primary rebuilt", Reprotect), wait("switched back", Switchover), wait("the monitors see the region healthy", MonitorsHealthy), wait("check", Overhead)}},
	{Name: "alarm-path", Title: "Alarm path", Labels: []string{"alarm-path", "gameday", "signoff"},
		Faults: []Fault{{Name: "alarm-path", Params: map[string]string{"wait": "3m"}}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the alarm", preFault), wait("the notification delivered", Alarm), wait("check", Overhead)}},
	{Name: "failback", Title: "Failback", Labels: []string{"failback", "gameday", "signoff"},
		Faults: []Fault{{Name: "planned-switchover"}},
		Phases: []Phase{wait("steady state, traffic", Overhead), hold("writes before the switchover", preFault), wait("the switchover", Switchover),
			hold("writes on the secondary", 2*time.Second), wait("failing back", Switchover), hold("writes on the primary again", 3*time.Second), wait("check", Overhead)}},
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	for _, s := range Scenarios {
		if s.Name == name {
			return s, true
		}
	}
	return Scenario{}, false
}

// Injects says whether the scenario may inject the fault.
func (s Scenario) Injects(fault string) bool {
	for _, f := range s.Faults {
		if f.Name == fault {
			return true
		}
	}
	for _, f := range s.OneOf {
		if f == fault {
			return true
		}
	}
	return false
}

// Expectations are a target's typical durations: not its bounds (how long
// drdrill waits before giving up) but what a healthy stack takes.
type Expectations struct {
	Source string                 `json:"source"` // where the figures come from
	Waits  map[Wait]time.Duration `json:"waits"`
	// Setup is the run's own start (a lab started, the warm-up).
	Setup time.Duration `json:"setup"`
}

// LabExpectations are the lab's, calibrated on a full lab drill on two
// cores at 1,000 writes/s (1m2s of wall time, each scenario within a few
// hundred ms of its estimate): a promotion 0.4 s, a re-seed and catch-up
// 1.5 s, the monitor-failure hold its 3 s detection bound and a restart,
// a scenario's own start and check 0.2 s each.
var LabExpectations = Expectations{Source: "the lab's typical durations", Setup: 4 * time.Second, Waits: map[Wait]time.Duration{
	Switchover: 400 * time.Millisecond, Failover: 400 * time.Millisecond, ForcedFailover: 200 * time.Millisecond, Reprotect: 1500 * time.Millisecond,
	Detection: 3200 * time.Millisecond, Alarm: 400 * time.Millisecond, MonitorsHealthy: 0, Overhead: 200 * time.Millisecond}}

// AWSExpectations are AWS's documented typical durations (docs/twin.md
// cites each): a switchover's pending phase (10 s), promotion (150 s) and
// DNS TTL (5 s); detection by the failover trigger, three one-minute checks
// (the infra/aws schedule); the old primary's rebuild after a failover, 5
// minutes and a minute per GiB; a lag alarm's one-minute period; the
// monitors' next two checks; a scenario's own start and check, a poll of
// the AWS target's (10 s). scale multiplies every AWS duration (1 on AWS;
// the twin's time scale on the twin). On the twin at 0.02 the six AWS
// scenarios were estimated at 1m45s and ran in 1m30s.
func AWSExpectations(checkPeriod time.Duration, scale float64) Expectations {
	if checkPeriod <= 0 {
		checkPeriod = time.Minute
	}
	if scale <= 0 {
		scale = 1
	}
	s := func(d time.Duration) time.Duration { return time.Duration(float64(d) * scale) }
	promotion := s(10*time.Second + 150*time.Second + 5*time.Second)
	src := "AWS's documented typical durations"
	if scale != 1 {
		src += fmt.Sprintf(" at time scale %g", scale)
	}
	return Expectations{Source: src, Setup: 5 * time.Second, Waits: map[Wait]time.Duration{
		Switchover: promotion, Failover: 3*checkPeriod + promotion, ForcedFailover: promotion, Reprotect: s(6 * time.Minute),
		Detection: 5 * checkPeriod, Alarm: s(time.Minute), MonitorsHealthy: 2 * checkPeriod, Overhead: s(10 * time.Second)}}
}

// Expected is how long the scenario typically takes on a target.
func (s Scenario) Expected(e Expectations) time.Duration {
	var d time.Duration
	for _, p := range s.Phases {
		d += p.Hold + e.Waits[p.Wait]
	}
	return d
}

// Planned is a scenario as it will run on one target.
type Planned struct {
	Scenario
	Index    int           `json:"index"` // 1-based among those that run
	Expected time.Duration `json:"expected"`
	// Skipped says why it will not run on this target ("" when it runs).
	Skipped string `json:"skipped,omitempty"`
	// Inject is the faults it will inject here (OneOf resolved).
	Inject []Fault `json:"inject,omitempty"`
}

// Plan is what a drill will run on a target, in order.
type Plan struct {
	Target       string        `json:"target"`
	Labels       string        `json:"labels,omitempty"`
	Expectations Expectations  `json:"expectations"`
	Scenarios    []Planned     `json:"scenarios"`
	Run          int           `json:"run"` // scenarios that run
	Expected     time.Duration `json:"expected"`
}

// Select plans the scenarios a label filter picks, on a target whose
// faults available says are offered (nil: the fault runs there).
func Select(labels, kind string, available func(fault string) error, e Expectations) (Plan, error) {
	filter := func([]string) bool { return true }
	if labels != "" {
		f, err := types.ParseLabelFilter(labels)
		if err != nil {
			return Plan{}, fmt.Errorf("--labels %q is not a valid Ginkgo label filter: %v", labels, err)
		}
		filter = f
	}
	p := Plan{Target: kind, Labels: labels, Expectations: e, Expected: e.Setup}
	for _, sc := range Scenarios {
		if !filter(sc.Labels) {
			continue
		}
		pl := Planned{Scenario: sc}
		for _, f := range sc.Faults {
			if err := available(f.Name); err != nil && pl.Skipped == "" {
				pl.Skipped = fmt.Sprintf("fault %s is not available on the %s target: %v", f.Name, kind, err)
			}
			pl.Inject = append(pl.Inject, f)
		}
		if len(sc.OneOf) > 0 {
			chosen := ""
			for _, f := range sc.OneOf {
				if available(f) == nil {
					chosen = f
					break
				}
			}
			if chosen == "" && pl.Skipped == "" {
				pl.Skipped = fmt.Sprintf("none of %v is available on the %s target", sc.OneOf, kind)
			}
			if chosen != "" {
				pl.Inject = append(pl.Inject, Fault{Name: chosen})
			}
		}
		if pl.Skipped == "" {
			p.Run++
			pl.Index = p.Run
			pl.Expected = sc.Expected(e)
			p.Expected += pl.Expected
		}
		p.Scenarios = append(p.Scenarios, pl)
	}
	return p, nil
}

// Place is where a scenario stands in the plan: its index among those
// that run, their number, and the expected time from its start to the end
// of the run (0, 0, 0 when it is not in the plan).
func (p Plan) Place(name string) (index, total int, remaining time.Duration) {
	found := false
	for _, s := range p.Scenarios {
		if s.Skipped != "" {
			continue
		}
		if s.Name == name {
			found, index = true, s.Index
		}
		if found {
			remaining += s.Expected
		}
	}
	if !found {
		return 0, 0, 0
	}
	return index, p.Run, remaining
}
