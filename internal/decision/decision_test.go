package decision

import (
	"strings"
	"testing"
)

func up(r string) Health      { return Health{Region: r, Known: true, Reachable: true} }
func primary(r string) Health { return Health{Region: r, Known: true, Reachable: true, Writable: true} }
func down(r string) Health    { return Health{Region: r, Known: true} }
func unknown(r string) Health { return Health{Region: r} }

func TestDecide(t *testing.T) {
	const e, w = "us-east-1", "us-west-2"
	cases := []struct {
		name       string
		in         Input
		want       Action
		target     string
		reasonHave string
	}{
		{"healthy", Input{Primary: primary(e), Secondary: up(w), FailureThreshold: 3, AutoFailover: true}, None, "", "healthy"},
		{"first failure waits", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 1, FailureThreshold: 3, AutoFailover: true}, Wait, "", "1 of 3"},
		{"threshold reached fails over", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 3, FailureThreshold: 3, AutoFailover: true}, Failover, w, "data loss allowed"},
		{"monitor only never promotes", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 9, FailureThreshold: 3}, Wait, "", "would not recover"},
		{"partial data is not a failure", Input{Primary: unknown(e), Secondary: up(w), PrimaryFailStreak: 3, FailureThreshold: 3, AutoFailover: true}, Wait, "", "no health data"},
		{"both down waits", Input{Primary: down(e), Secondary: down(w), PrimaryFailStreak: 5, FailureThreshold: 3, AutoFailover: true}, Wait, "", "nothing to promote"},
		{"secondary unknown waits", Input{Primary: down(e), Secondary: unknown(w), PrimaryFailStreak: 5, FailureThreshold: 3, AutoFailover: true}, Wait, "", "nothing to promote"},
		{"in progress is idempotent", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 5, FailureThreshold: 3, AutoFailover: true, InProgress: true}, Wait, "", "in progress"},
		{"returning writable old primary is fenced", Input{Primary: primary(w), Secondary: primary(e), FailureThreshold: 3, AutoFailover: true}, Fence, e, "split-brain"},
		{"returning read-only old primary is left alone, no failback", Input{Primary: primary(w), Secondary: up(e), FailureThreshold: 3, AutoFailover: true}, None, "", "healthy"},
		{"switchover when both reachable", Input{Primary: primary(e), Secondary: up(w), SwitchoverRequested: true}, Switchover, w, "requested"},
		{"switchover refused when secondary down", Input{Primary: primary(e), Secondary: down(w), SwitchoverRequested: true}, Wait, "", "not reachable"},
		{"a primary that vouches for itself is not failed over", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 3, FailureThreshold: 3, AutoFailover: true, PrimaryOwnView: OwnViewHealthy}, Wait, "", "reports itself healthy"},
		{"an unreadable own view is no evidence", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 3, FailureThreshold: 3, AutoFailover: true, PrimaryOwnView: OwnViewUnreadable}, Wait, "", "cannot be read"},
		{"a primary that says it is down is failed over", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 3, FailureThreshold: 3, AutoFailover: true, PrimaryOwnView: OwnViewUnhealthy}, Failover, w, "own view agrees (unhealthy)"},
		{"a silent primary region is failed over", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 3, FailureThreshold: 3, AutoFailover: true, PrimaryOwnView: OwnViewSilent}, Failover, w, "own view agrees (silent)"},
		{"zero threshold treated as one", Input{Primary: down(e), Secondary: up(w), PrimaryFailStreak: 1, AutoFailover: true}, Failover, w, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Decide(c.in)
			if got.Action != c.want || (c.target != "" && got.Target != c.target) {
				t.Fatalf("Decide = %v, want %s %s", got, c.want, c.target)
			}
			if c.reasonHave != "" && !strings.Contains(strings.Join(got.Reasons, "; "), c.reasonHave) {
				t.Fatalf("reasons %q lack %q", got.Reasons, c.reasonHave)
			}
		})
	}
}

// Flapping health must never accumulate to a failover: each success resets.
func TestStreakFlapping(t *testing.T) {
	var s Streak
	seq := []Health{down("e"), down("e"), up("e"), down("e"), down("e"), unknown("e"), up("e"), down("e")}
	want := []int{1, 2, 0, 1, 2, 2, 0, 1}
	for i, h := range seq {
		n := s.Observe(h)
		if n != want[i] {
			t.Fatalf("step %d: streak %d, want %d", i, n, want[i])
		}
		if d := Decide(Input{Primary: h, Secondary: up("w"), PrimaryFailStreak: n, FailureThreshold: 3, AutoFailover: true}); d.Action == Failover {
			t.Fatalf("step %d: flapping primary triggered failover", i)
		}
	}
	s.Observe(down("e"))
	if n := s.Observe(down("e")); n != 3 {
		t.Fatalf("streak %d after three failures, want 3", n)
	}
}
