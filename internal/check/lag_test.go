package check

import (
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

// #23 item 7: a stall's dense samples do not dominate the percentiles. 10 s
// at 10 ms lag, one sample every 50 ms (200 samples); then 300 ms at 500 ms
// sampled every 5 ms (60 samples): 3 % of the time, 23 % of the samples.
// By time, p95 is 10 ms and p99 500; by sample (before) p95 read 500.
func TestLagPercentilesAreWeightedByTime(t *testing.T) {
	h := &history.History{}
	for i := int64(0); i < 200; i++ {
		h.Lag = append(h.Lag, history.LagSample{Region: "us-west-2", At: i * 50 * msNs, Ms: 10})
	}
	for i := int64(0); i < 60; i++ {
		h.Lag = append(h.Lag, history.LagSample{Region: "us-west-2", At: (10000 + i*5) * msNs, Ms: 500})
	}
	p := Check(h.AssumeWhole(), Config{}).Lag["us-west-2"]["steady"]
	if p.N != 260 || p.P95 != 10 || p.P99 != 500 || p.Max != 500 {
		t.Fatalf("10 s at 10 ms then 300 ms at 500 ms: %+v; by time, p95 is 10 and p99 500", p)
	}
}

// A sample's own error bound makes each percentile's; a sample without
// one takes its series' resolution.
func TestLagPercentilesCarryTheSamplesErrorBounds(t *testing.T) {
	h := &history.History{Meta: history.Meta{LagResolutionMs: map[string]float64{"old": 5}}}
	for i := int64(0); i < 100; i++ {
		h.Lag = append(h.Lag, history.LagSample{Region: "new", At: i * 50 * msNs, Ms: 20, Err: 1.5})
		h.Lag = append(h.Lag, history.LagSample{Region: "old", At: i * 50 * msNs, Ms: 20})
	}
	r := Check(h.AssumeWhole(), Config{})
	if p := r.Lag["new"]["steady"]; p.P99 != 20 || p.P99Err != 1.5 || p.MaxErr != 1.5 {
		t.Fatalf("new series %+v, want p99 20 ± 1.5", p)
	}
	if p := r.Lag["old"]["steady"]; p.P99Err != 5 {
		t.Fatalf("old series %+v, want p99 ± 5 (its resolution)", p)
	}
	if v := measure(r, "lag_p99_ms"); !v.Judged || v.V != 20 || v.Resolution != 5 {
		t.Fatalf("lag_p99_ms %+v, want 20 ± 5 (the worse bound of the equal p99s)", v)
	}
}

// #23 item 7: writes acknowledged an instant before the last reads, which
// every region's final read holds, are not "never seen".
func TestWritesAcknowledgedAtTheEndAreNotNeverSeen(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200, PrimaryRegion: "us-east-1"}, Ops: ops(10, 5, allOK),
		Reads: []history.ReadOp{read("us-east-1", 10001, 45, 46, 1, span(1, 8)...), read("us-west-2", 20001, 51, 52, 1, span(1, 8)...)},
		Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 10001, Rows: rows(10001, span(1, 10)...)},
			{Region: "us-west-2", Role: "replica", ServerID: 20001, Rows: rows(10001, span(1, 10)...)}}}
	// seq 9 acked at 46 ms, seq 10 at 51 ms: us-west-2's read at 51 ms lags them.
	if rd := Check(h.AssumeWhole(), Config{}).Reads; rd.NeverSeen != 0 || rd.NotSeenIn["us-west-2"] != 0 {
		t.Fatalf("writes acknowledged just before the last read, present in every region's final read, counted as never seen %d, not seen in us-west-2 %d", rd.NeverSeen, rd.NotSeenIn["us-west-2"])
	}
	// A write the region never got (absent from its final read), which a
	// later read asked for, is.
	h.Rows[1].Rows = rows(10001, span(1, 9)...)
	h.Reads = append(h.Reads, read("us-west-2", 20001, 60, 61, 1, span(1, 9)...))
	if rd := Check(h.AssumeWhole(), Config{}).Reads; rd.NotSeenIn["us-west-2"] != 1 {
		t.Fatalf("seq 10, missing from us-west-2's final read: not seen in us-west-2 %d, want 1", rd.NotSeenIn["us-west-2"])
	}
}
