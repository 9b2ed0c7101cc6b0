package check

import (
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

// #23 item 6: writes every 5 ms to 200 ms; fault at 100, promotion of
// us-west-2 at 110; the new primary lacks seqs 19..40 (acknowledged 96 to
// 201 ms). 19–21 (96–106 ms) were acknowledged before the promotion: the
// replication loss, 10 ms to compare with the 10 ms lag. 22–40 were
// acknowledged by the old primary after it: split brain, not replication.
// Before, the whole 105 ms went against the lag ("under-reported by 95").
func TestFailoverLossSplitsAtThePromotion(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200, LagResolutionMs: map[string]float64{"us-west-2": 5}}, Ops: ops(40, 5, allOK),
		Events: []history.Event{ev(100, "fault", "inject"), {At: 110 * msNs, Source: "controller", Kind: "promote", Region: "us-west-2"}},
		Lag:    []history.LagSample{{Region: "us-west-2", At: 90 * msNs, Ms: 10}},
		Rows:   []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: rows(10001, span(1, 18)...)}}}
	r := Check(h.AssumeWhole(), Config{})
	f := r.RPO.Failover
	if r.RPO.LostWrites != 22 || f == nil || f.ReplicationLostWrites != 3 || f.ReplicationLossMs != 10 || f.SplitBrainLostWrites != 19 {
		t.Fatalf("lost %d, failover %+v: want 3 lost before the promotion spanning 10 ms, 19 after", r.RPO.LostWrites, f)
	}
	if r.Hypothesis == nil || !r.Hypothesis.Consistent || r.Hypothesis.LostSpanMs != 10 {
		t.Fatalf("the loss before the promotion spans 10 ms, within the 10 ms lag: %+v", r.Hypothesis)
	}
	for key, want := range map[string]float64{"replication_lost_writes": 3, "replication_loss_ms": 10, "split_brain_lost_writes": 19} {
		if v := measure(r, key); !v.Judged || v.V != want {
			t.Errorf("%s %+v, want %g", key, v, want)
		}
	}
}

// The hypothesis reads the lag of the region the failover promoted, not
// the final primary's: after a failback they differ.
func TestHypothesisReadsThePromotedRegion(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200}, Ops: ops(20, 5, allOK),
		Events: []history.Event{ev(100, "fault", "inject"),
			{At: 110 * msNs, Source: "controller", Kind: "promote", Region: "us-west-2"},
			{At: 300 * msNs, Source: "controller", Kind: "promote", Region: "us-east-1"}},
		Lag:  []history.LagSample{{Region: "us-west-2", At: 90 * msNs, Ms: 40}, {Region: "us-east-1", At: 90 * msNs, Ms: 1}},
		Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 3, Rows: rows(10001, span(1, 16)...)}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.Hypothesis == nil || r.Hypothesis.Region != "us-west-2" || r.Hypothesis.LastLagMs != 40 {
		t.Fatalf("hypothesis %+v: want us-west-2's 40 ms lag", r.Hypothesis)
	}
}

// #23 item 5: a failed write the final primary holds is reported.
func TestFailedWritesAppliedAreReported(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200}, Ops: ops(6, 5, func(s int64) history.Outcome {
		if s >= 4 {
			return history.Fail
		}
		return history.OK
	}), Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 1, Rows: rows(1, 1, 2, 3, 4)}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.FailedButApplied != 1 {
		t.Fatalf("failed but applied %d, want 1 (seq 4)", r.FailedButApplied)
	}
	if v := measure(r, "failed_but_applied"); !v.Judged || v.V != 1 {
		t.Fatalf("failed_but_applied %+v", v)
	}
}
