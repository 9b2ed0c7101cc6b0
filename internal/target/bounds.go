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
	// Detection: how long the stack's own failover logic takes to decide
	// on a primary outage; a drill that asserts no failover happened
	// holds this long. On AWS the trigger needs its threshold (3) of
	// failed checks, one per check period, plus two periods of slack.
	Detection time.Duration
}

// LabBounds: the lab promotes in well under a second and re-seeds in a few.
var LabBounds = Bounds{Promotion: 30 * time.Second, Inject: 2 * time.Minute, Rollback: 2 * time.Minute,
	Recover: 5 * time.Minute, Restore: 3 * time.Minute, Scenario: 3 * time.Minute, Detection: 3 * time.Second}

// AWSBounds: a promotion may take up to 30 minutes before drdrill gives
// up on it; everything that can contain one is bounded above that.
var AWSBounds = Bounds{Promotion: 30 * time.Minute, Inject: 35 * time.Minute, Rollback: 35 * time.Minute,
	Recover: 75 * time.Minute, Restore: 40 * time.Minute, Scenario: 90 * time.Minute, Detection: 5 * time.Minute}

// BoundsOf returns the target's bounds.
func BoundsOf(t Target) Bounds {
	if t != nil && t.Kind() == "aws" {
		return awsBounds()
	}
	return LabBounds
}

// awsBounds are AWSBounds with the detection time of the stack's check
// period: DRDRILL_CHECK_PERIOD, the variable its functions read (default
// one minute, the schedule in infra/aws).
func awsBounds() Bounds {
	b := AWSBounds
	if d, err := time.ParseDuration(os.Getenv("DRDRILL_CHECK_PERIOD")); err == nil && d > 0 {
		b.Detection = 5 * d
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
