// Package decision holds the failover decision logic shared by the lab's
// controller and the AWS failover-trigger Lambda: health observations in, one
// decision out. It is pure Go on purpose — no lab, AWS or clock imports — so
// that what the lab proves about failover decisions holds for the Lambda too.
package decision

import "fmt"

// Action is what the caller should do after a check.
type Action string

const (
	// None: the topology is healthy, nothing to do.
	None Action = "none"
	// Wait: something is wrong but acting now would be premature or unsafe.
	Wait Action = "wait"
	// Switchover: planned role swap with no data loss (the primary is reachable).
	Switchover Action = "switchover"
	// Failover: promote the secondary, accepting the loss of unreplicated writes.
	Failover Action = "failover"
	// Fence: a region that is not the primary is writable; make it read-only
	// and drop its application sessions before it accepts zombie writes.
	Fence Action = "fence"
)

// Health is one check's view of one region.
type Health struct {
	Region string
	// Known is false when the check produced no data for this region (the
	// metric was missing, the probe could not run). Unknown is not unhealthy:
	// a missing datapoint must never count towards a failover.
	Known bool
	// Reachable is true when the probe succeeded within its timeout.
	Reachable bool
	// Writable is true when the region accepts application writes.
	Writable bool
}

// Input is everything one decision needs. Callers keep the streak themselves:
// the lab in memory, a Lambda from the metric history it reads.
type Input struct {
	Primary   Health
	Secondary Health
	// PrimaryFailStreak counts consecutive checks, this one included, in which
	// the primary was known and unreachable.
	PrimaryFailStreak int
	// FailureThreshold is how many consecutive failed checks trigger a failover.
	FailureThreshold int
	// AutoFailover false means monitor only: report, never promote.
	AutoFailover bool
	// InProgress is true while a failover or switchover is already running;
	// the decision is then always Wait, which makes callers idempotent.
	InProgress bool
	// SwitchoverRequested asks for a planned role swap (an operator or an
	// alarm path that wants the primary moved while it is still reachable).
	SwitchoverRequested bool
	// PrimaryOwnView is the primary region's report on itself, read over a
	// path that does not cross between the regions. The streak above is
	// the view across the regions, which a network fault between them can
	// fake; a failover with data loss needs this second signal to agree.
	// OwnViewUnchecked (the lab's controller) skips the check.
	PrimaryOwnView OwnView
}

// OwnView is what the primary region says of itself.
type OwnView string

const (
	// OwnViewUnchecked: the caller has no second signal.
	OwnViewUnchecked OwnView = ""
	// OwnViewHealthy: a fresh report that the primary is healthy. The
	// region is up; only the path to it is down.
	OwnViewHealthy OwnView = "healthy"
	// OwnViewUnhealthy: a fresh report that the primary is not healthy.
	OwnViewUnhealthy OwnView = "unhealthy"
	// OwnViewSilent: no fresh report, or the region's own API does not
	// answer: what a region outage looks like from outside it.
	OwnViewSilent OwnView = "silent"
	// OwnViewUnreadable: the report could not be read for a reason of the
	// reader's own (access denied, a bad request): no evidence either way.
	OwnViewUnreadable OwnView = "unreadable"
)

// Decision is the outcome with its reasons, which callers log and publish.
type Decision struct {
	Action Action `json:"action"`
	// Target is the region to promote (Switchover, Failover) or fence (Fence).
	Target  string   `json:"target,omitempty"`
	Reasons []string `json:"reasons"`
}

func (d Decision) String() string {
	if d.Target != "" {
		return fmt.Sprintf("%s %s: %v", d.Action, d.Target, d.Reasons)
	}
	return fmt.Sprintf("%s: %v", d.Action, d.Reasons)
}

// Decide returns what to do. The order of the rules matters: idempotence
// first, then split-brain protection, then the failover rules.
func Decide(in Input) Decision {
	threshold := in.FailureThreshold
	if threshold < 1 {
		threshold = 1
	}
	if in.InProgress {
		return Decision{Action: Wait, Reasons: []string{"a failover or switchover is already in progress"}}
	}
	// A returning old primary that comes back writable must be fenced, never
	// failed back to: automatic failback would discard the new primary's writes.
	if in.Secondary.Known && in.Secondary.Reachable && in.Secondary.Writable {
		return Decision{Action: Fence, Target: in.Secondary.Region,
			Reasons: []string{fmt.Sprintf("%s is not the primary but accepts writes (split-brain risk)", in.Secondary.Region)}}
	}
	if !in.Primary.Known {
		return Decision{Action: Wait, Reasons: []string{fmt.Sprintf("no health data for primary %s; not counted as a failure", in.Primary.Region)}}
	}
	if in.Primary.Reachable {
		if in.SwitchoverRequested {
			if in.Secondary.Known && in.Secondary.Reachable {
				return Decision{Action: Switchover, Target: in.Secondary.Region,
					Reasons: []string{"switchover requested and both regions reachable"}}
			}
			return Decision{Action: Wait, Reasons: []string{fmt.Sprintf("switchover requested but secondary %s is not reachable", in.Secondary.Region)}}
		}
		return Decision{Action: None, Reasons: []string{fmt.Sprintf("primary %s healthy", in.Primary.Region)}}
	}
	reason := fmt.Sprintf("primary %s unreachable for %d of %d consecutive checks", in.Primary.Region, in.PrimaryFailStreak, threshold)
	if in.PrimaryFailStreak < threshold {
		return Decision{Action: Wait, Reasons: []string{reason}}
	}
	if !in.Secondary.Known || !in.Secondary.Reachable {
		return Decision{Action: Wait, Reasons: []string{reason, fmt.Sprintf("secondary %s is not reachable either; nothing to promote", in.Secondary.Region)}}
	}
	if !in.AutoFailover {
		return Decision{Action: Wait, Reasons: []string{reason, "automatic failover is disabled: the stack would not recover on its own"}}
	}
	switch in.PrimaryOwnView {
	case OwnViewHealthy:
		return Decision{Action: Wait, Reasons: []string{reason, fmt.Sprintf("but %s reports itself healthy: only the path between the regions is down, and a failover would make a second writer", in.Primary.Region)}}
	case OwnViewUnreadable:
		return Decision{Action: Wait, Reasons: []string{reason, fmt.Sprintf("but %s's own view of itself cannot be read: no second signal, no failover with data loss", in.Primary.Region)}}
	case OwnViewUnhealthy, OwnViewSilent:
		reason += fmt.Sprintf(", and %s's own view agrees (%s)", in.Primary.Region, in.PrimaryOwnView)
	}
	return Decision{Action: Failover, Target: in.Secondary.Region,
		Reasons: []string{reason, fmt.Sprintf("secondary %s reachable: failing over with data loss allowed", in.Secondary.Region)}}
}

// Streak counts consecutive failed checks of the primary across calls, for
// callers that keep state in memory (the lab controller). Unknown checks
// neither extend nor reset it.
type Streak struct{ n int }

// Observe records one check of the primary and returns the streak.
func (s *Streak) Observe(h Health) int {
	switch {
	case !h.Known:
	case h.Reachable:
		s.n = 0
	default:
		s.n++
	}
	return s.n
}

// Reset clears the streak, e.g. after a promotion changes who the primary is.
func (s *Streak) Reset() { s.n = 0 }
