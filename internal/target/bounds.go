package target

import (
	"os"
	"time"

	"github.com/drdrill/drdrill/internal/outputs"
)

// Bounds are how long each kind of operation may take on a target: every
// wait in drdrill (a fault's inject and rollback, recover, the restore
// between scenarios, a scenario as a whole) takes its limit from here, so
// that no wait is shorter than what the target needs. On AWS a global
// database switchover or failover completes "within a few minutes" (Aurora
// User Guide), so the bounds are tens of minutes; on the lab, seconds.
type Bounds struct {
	// Promotion: a switchover or failover, from the call until the writer
	// has moved and the global cluster's FailoverState has cleared.
	Promotion time.Duration
	// Inject and Rollback: one fault (a promotion fault is a promotion; its
	// rollback a switch-back).
	Inject, Rollback time.Duration
	// Recover: every fault in the ledger rolled back and the stack healed.
	Recover time.Duration
	// Restore: a failback to the original primary and the steady state.
	Restore time.Duration
	// Scenario: one scenario with two promotions and its holds.
	Scenario time.Duration
	// Reprotect: until every region that lost sync with the primary is in
	// sync again (EventInSync: a rejoin, or a re-seed or rebuild caught
	// up) — how long a scenario keeps its history open after its faults
	// are rolled back, and how long a switch-back, failback, restore or
	// recover waits for an old primary's rebuild before it may switch over
	// (AWS: "from a few minutes to several hours" with the data size; a
	// longer one fails saying so, and recover can be run again later).
	Reprotect time.Duration
	// Detection: how long the stack's own failover logic takes to decide
	// on a primary outage; a drill that asserts no failover happened
	// holds this long. On AWS the trigger needs its threshold (3) of
	// failed checks, one per check period, plus two periods of slack.
	Detection time.Duration
	// Suite: one run of the suites, every scenario in it (drdrill's
	// default --timeout). A timeout rolls back like an interrupt.
	Suite time.Duration
	// StopPoll: how often a running drill (and `fault inject --for`)
	// looks for a `drdrill abort` request.
	StopPoll time.Duration
}

// LabBounds: the lab promotes in well under a second and re-seeds in a few.
var LabBounds = Bounds{Promotion: 30 * time.Second, Inject: 2 * time.Minute, Rollback: 2 * time.Minute,
	Recover: 5 * time.Minute, Restore: 3 * time.Minute, Scenario: 3 * time.Minute, Detection: 3 * time.Second,
	Reprotect: time.Minute, Suite: 45 * time.Minute, StopPoll: time.Second}

// AWSBounds: a promotion may take up to 30 minutes before drdrill gives
// up on it, a rebuild after a failover 45 minutes (Aurora rebuilds the old
// primary before it rejoins, "minutes to hours", Aurora User Guide);
// everything that can contain them is bounded above: an injected promotion
// waits for a rebuild and promotes (80 min), a switch-back first waits for
// a promotion still running (110 min), a region-isolation scenario holds a
// failover, two waits for the health monitors and a switch-back (255 min).
// A suite of the AWS scenarios is a day at most: the six that run on AWS
// take minutes each when the stack behaves, and hours only when Aurora is
// at its documented slowest. StopPoll is the AWS target's own poll
// (DRDRILL_AWS_POLL, default 10 s).
var AWSBounds = Bounds{Promotion: 30 * time.Minute, Inject: 80 * time.Minute, Rollback: 110 * time.Minute,
	Recover: 150 * time.Minute, Restore: 115 * time.Minute, Scenario: 255 * time.Minute, Detection: 5 * time.Minute,
	Reprotect: 45 * time.Minute, Suite: 24 * time.Hour, StopPoll: 10 * time.Second}

// BoundsOf returns the target's bounds.
func BoundsOf(t Target) Bounds {
	if t != nil && t.Kind() == "aws" {
		return awsBounds()
	}
	return LabBounds
}

// awsBounds are AWSBounds with the detection time of the stack's check
// period: DRDRILL_CHECK_PERIOD, the variable its functions read (default
// one minute, the schedule in infra/aws), and the stop poll of the AWS
// target's (DRDRILL_AWS_POLL).
func awsBounds() Bounds {
	b := AWSBounds
	if d, err := time.ParseDuration(os.Getenv("DRDRILL_CHECK_PERIOD")); err == nil && d > 0 {
		b.Detection = 5 * d
	}
	if d, err := time.ParseDuration(os.Getenv("DRDRILL_AWS_POLL")); err == nil && d > 0 {
		b.StopPoll = d
	}
	return b
}

// BoundsForOutputs returns the bounds of the target an outputs file names,
// before it is opened (Ginkgo decorators are fixed when the spec tree is
// built): AWS unless the file says it is the lab's. A file that cannot be
// read gets the AWS bounds, the longer ones; opening it reports the error.
func BoundsForOutputs(path string) Bounds {
	if path == "" {
		return LabBounds
	}
	if _, err := os.Stat(path); err != nil {
		return AWSBounds
	}
	out, err := outputs.Read(path)
	if err == nil && out[outputs.TargetKind] == "lab" {
		return LabBounds
	}
	return awsBounds()
}

// Offline is a target of a kind ("lab" or "aws") connected to nothing:
// it answers only which capabilities the kind offers (t.(Promoter)), for
// planning what a drill would run there without starting or reaching
// anything (`drdrill drill --dry-run`). Its other methods must not be
// called.
func Offline(kind string) Target {
	if kind == "aws" {
		return &AWS{}
	}
	return &Lab{}
}
