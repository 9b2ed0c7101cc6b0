package check

import (
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

func inSync(at int64, region string) history.Event {
	return history.Event{At: at * msNs, Source: "controller", Kind: "in-sync", Region: region}
}

func promote(at int64, region string) history.Event {
	return history.Event{At: at * msNs, Source: "controller", Kind: "promote", Region: region}
}

// Re-protection: from the fault until every region other than the last
// promotion's has an in-sync event at or after it.
func TestReprotectionAfterTheLastPromotion(t *testing.T) {
	mk := func(events ...history.Event) Result {
		h := &history.History{Meta: history.Meta{RateHz: 10, Regions: []string{"us-east-1", "us-west-2", "eu-west-1"}},
			Events: append([]history.Event{ev(100, "fault", "inject")}, events...)}
		return Check(h.AssumeWhole(), Config{})
	}
	// us-east-1 in sync before the promotion does not count; after it, at
	// 900; eu-west-1 at 700: re-protected at 900, 800 ms after the fault.
	r := mk(promote(300, "us-west-2"), inSync(250, "us-east-1"), inSync(700, "eu-west-1"), inSync(900, "us-east-1"))
	if v := measure(r, "reprotect_ms"); !v.Judged || v.V != 800 {
		t.Fatalf("reprotect_ms %+v, want 800", v)
	}
	// A second promotion (a failback) restarts it.
	r = mk(promote(300, "us-west-2"), inSync(700, "us-east-1"), inSync(700, "eu-west-1"), promote(1000, "us-east-1"), inSync(1500, "us-west-2"), inSync(1200, "eu-west-1"))
	if v := measure(r, "reprotect_ms"); !v.Judged || v.V != 1400 {
		t.Fatalf("after a failback: reprotect_ms %+v, want 1400", v)
	}
	// A region never back in sync: not re-protected within the history.
	r = mk(promote(300, "us-west-2"), inSync(700, "us-east-1"))
	if v := measure(r, "reprotect_ms"); !v.Applies || v.Judged || !strings.Contains(v.Why, "not re-protected within the history") || !strings.Contains(v.Why, "eu-west-1") {
		t.Fatalf("reprotect_ms %+v, want not re-protected naming eu-west-1", v)
	}
	// No promotion: it does not apply.
	if v := measure(mk(inSync(700, "us-east-1")), "reprotect_ms"); v.Applies {
		t.Fatalf("without a promotion reprotect_ms applies: %+v", v)
	}
}
