package check

import (
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

// read is an ok read of writer 1 in region, over [from, ∞), returning seqs.
func read(region string, sid uint32, invokeMs, completeMs, from int64, seqs ...int64) history.ReadOp {
	rd := history.ReadOp{Region: region, ServerID: sid, Invoke: invokeMs * msNs, Complete: completeMs * msNs,
		Outcome: history.OK, Asked: []int64{1, from, 0}}
	for j := 0; j < len(seqs); {
		k := j
		for k+1 < len(seqs) && seqs[k+1] == seqs[k]+1 {
			k++
		}
		rd.Saw = append(rd.Saw, 1, seqs[j], seqs[k])
		j = k + 1
	}
	return rd
}

// Writes every 5 ms (acknowledged at 5s+1 ms). us-east-1 is the primary
// and sees each write at once; us-west-2 lags 20 ms. At 100 ms us-west-2 is
// promoted without seqs 17..20, which us-east-1 had shown: they vanish.
// us-east-1 keeps serving (fenced) reads until it rejoins at 160 ms: the
// reads after the promotion that lack writes the new primary acknowledged
// are stale.
func TestReadsVisibilityVanishedAndStale(t *testing.T) {
	h := &history.History{
		Meta: history.Meta{RateHz: 200, PrimaryRegion: "us-east-1", PrimaryServerID: 10001},
		Ops:  ops(30, 5, allOK),
		Events: []history.Event{ev(90, "fault", "inject"),
			{At: 100 * msNs, Source: "controller", Kind: "promote", Region: "us-west-2", ServerID: 20001},
			{At: 160 * msNs, Source: "controller", Kind: "rejoin", Region: "us-east-1"}},
		Reads: []history.ReadOp{
			read("us-east-1", 10001, 30, 31, 1, span(1, 6)...),    // acks up to 31 ms
			read("us-west-2", 20001, 30, 31, 1, span(1, 2)...),    // lags 20 ms
			read("us-east-1", 10001, 101, 102, 1, span(1, 20)...), // after the promotion: the new primary acked 21 (106 ms) later
			read("us-east-1", 10001, 120, 121, 1, span(1, 20)...), // lacks 21, 22, 23 acked at 106, 111, 116: stale
			read("us-west-2", 20001, 121, 122, 1, append(span(1, 16), span(21, 23)...)...),
			read("us-east-1", 10001, 200, 201, 1, append(span(1, 16), span(21, 30)...)...), // rejoined (re-seeded): not stale; 17..20 gone
		},
		Rows: []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 20001, At: 300 * msNs,
			Rows: append(rows(10001, span(1, 16)...), rows(20001, span(21, 30)...)...)}},
	}
	r := Check(h.AssumeWhole(), Config{})
	rd := r.Reads
	if !rd.Judged || rd.Total != 6 {
		t.Fatalf("reads %+v", rd)
	}
	if rd.Vanished != 4 {
		t.Fatalf("vanished %d, want 4 (17..20): %+v", rd.Vanished, rd.VanishedExamples)
	}
	if ex := rd.VanishedExamples[0]; ex.Region != "us-east-1" || ex.GoneFrom != "us-east-1" || ex.Seq != 17 || !ex.Acked {
		t.Fatalf("first vanished %+v: want seq 17 seen in us-east-1, gone from its later read", ex)
	}
	if !rd.StaleJudged || rd.StaleAfterPromotion != 1 {
		t.Fatalf("stale %d (judged %v), want 1: %+v", rd.StaleAfterPromotion, rd.StaleJudged, rd.StaleExamples)
	}
	if ex := rd.StaleExamples[0]; ex.Missing != 3 || ex.BehindMs != 14 {
		t.Fatalf("stale read %+v: want 3 missing, the oldest acknowledged 14 ms before it", ex)
	}
	// Acknowledged before the fault (90 ms): seqs 1..17. us-west-2 first
	// returns 1, 2 at 31 ms (seq 1 acked at 6 ms: at most 25 ms, and no
	// read before: at least 0, so 12.5 ± 12.5), and 3..16 only at 122 ms,
	// after the fault: those count with the fault. The worst, seq 3
	// (acked at 16 ms), is at most 106 ms; the read at 30 ms asked for it
	// and lacked it, so at least 14 ms: 60 ± 46. Seq 17 it never returns.
	before, during := rd.Visibility["us-west-2"]["before"], rd.Visibility["us-west-2"]["during"]
	if before.N != 2 || before.Max != 12.5 || before.MaxErr != 12.5 || during.Max != 60 || during.MaxErr != 46 {
		t.Fatalf("us-west-2 visibility before the fault %+v, during %+v: want 2 writes, max 12.5 ± 12.5 ms before; max 60 ± 46 ms during", before, during)
	}
	// us-east-1 returned 1..6 at 31 ms, 7..17 at 102 ms (after the fault).
	if e := rd.Visibility["us-east-1"]["before"]; e.N != 6 || e.Max != 12.5 {
		t.Fatalf("us-east-1 visibility before the fault %+v: want 6 writes, max 12.5 ms", e)
	}
	// 24..30 were never read by us-west-2 after their acknowledgement (its
	// last read began at 121 ms), and its final read holds them: they do
	// not count as unseen there.
	if rd.NotSeenIn["us-west-2"] != 4 {
		t.Fatalf("not seen in us-west-2: %d, want 4 (17..20)", rd.NotSeenIn["us-west-2"])
	}
	if rd.NeverSeen != 0 {
		t.Fatalf("never seen %d, want 0", rd.NeverSeen)
	}
}

// A seq a region showed and that is missing from the final primary is
// vanished even when no later read of that region looked again.
func TestReadsVanishedFromTheFinalPrimary(t *testing.T) {
	h := &history.History{
		Meta: history.Meta{RateHz: 200, PrimaryRegion: "us-east-1"},
		Ops:  ops(10, 5, allOK),
		Reads: []history.ReadOp{
			read("us-east-1", 10001, 60, 61, 1, span(1, 10)...),
		},
		Rows: []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: rows(10001, span(1, 8)...)}},
	}
	r := Check(h.AssumeWhole(), Config{})
	rd := r.Reads
	if rd.Vanished != 2 || rd.VanishedExamples[0].GoneFrom != "final:us-west-2" {
		t.Fatalf("vanished %d %+v, want 9 and 10 gone from the final primary", rd.Vanished, rd.VanishedExamples)
	}
	// The primary moved from us-east-1 to us-west-2 and the history holds
	// no promotion: stale reads cannot be judged (they would read 0).
	if rd.StaleJudged || !strings.Contains(r.NotJudged["stale_reads_after_promotion"], "promotions up to the final read end in us-east-1 but the final primary is us-west-2") {
		t.Fatalf("stale %d (judged %v, %q): a promotion is missing, stale reads must not be judged", rd.StaleAfterPromotion, rd.StaleJudged, r.NotJudged["stale_reads_after_promotion"])
	}
}

// A read that did not ask for a seq says nothing about it: a narrow read
// after a wide one must not make earlier elements vanish.
func TestReadsOnlyJudgeWhatTheyAsked(t *testing.T) {
	h := &history.History{
		Meta: history.Meta{RateHz: 200, PrimaryRegion: "us-east-1"},
		Ops:  ops(10, 5, allOK),
		Reads: []history.ReadOp{
			read("us-east-1", 10001, 60, 61, 1, span(1, 10)...),
			read("us-east-1", 10001, 70, 71, 8, span(8, 10)...),
		},
		Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 10001, Rows: rows(10001, span(1, 10)...)}},
	}
	if rd := Check(h.AssumeWhole(), Config{}).Reads; rd.Vanished != 0 || rd.NeverSeen != 0 {
		t.Fatalf("vanished %d, never seen %d: want 0, 0", rd.Vanished, rd.NeverSeen)
	}
}
