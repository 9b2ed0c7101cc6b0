package check

import (
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

const msNs = int64(time.Millisecond)

// ops returns writer 1's writes seq 1..n, invoked every `every` ms and
// acknowledged 1 ms later, with outcomes from fn.
func ops(n int, every int64, fn func(seq int64) history.Outcome) []history.Op {
	var out []history.Op
	for s := int64(1); s <= int64(n); s++ {
		out = append(out, history.Op{Writer: 1, Seq: s, Invoke: s * every * msNs, Complete: (s*every + 1) * msNs, Outcome: fn(s)})
	}
	return out
}

func allOK(int64) history.Outcome { return history.OK }

func rows(server uint32, seqs ...int64) []history.Row {
	var out []history.Row
	for _, s := range seqs {
		out = append(out, history.Row{Writer: 1, Seq: s, Origin: server, CommittedAt: s * 5 * msNs})
	}
	return out
}

func span(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func ev(at int64, source, kind string) history.Event {
	return history.Event{At: at * msNs, Source: source, Kind: kind}
}

func TestLostWritesAndRPOSpan(t *testing.T) {
	// 20 writes every 5 ms; the fault at 100 ms; the new primary has 1..13.
	h := &history.History{Meta: history.Meta{RateHz: 200}, Ops: ops(20, 5, allOK),
		Events: []history.Event{ev(100, "fault", "inject"), ev(400, "controller", "promote")},
		Rows: []history.RowSet{
			{Region: "us-east-1", Role: "fenced", ServerID: 10001, Rows: rows(10001, span(1, 20)...)},
			{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: rows(10001, span(1, 13)...)},
		}}
	r := Check(h.AssumeWhole(), Config{})
	if !r.RPO.Judged || r.RPO.LostWrites != 7 || r.FinalPrimary != "us-west-2" {
		t.Fatalf("lost %d (judged %v, primary %s), want 7 on us-west-2", r.RPO.LostWrites, r.RPO.Judged, r.FinalPrimary)
	}
	// Earliest lost ack: seq 14 at 71 ms; latest: seq 20 at 101 ms (after the fault).
	if r.RPO.SpanMs != 30 || r.RPO.ResolutionMs != 5 {
		t.Fatalf("span %.3f ms ±%.1f, want 30 ±5", r.RPO.SpanMs, r.RPO.ResolutionMs)
	}
	if r.RPO.Lost[0].Seq != 14 || r.Divergent["us-east-1"] != 7 || r.Missing["us-east-1"] != 0 {
		t.Fatalf("first lost %+v, divergent %v, missing %v", r.RPO.Lost[0], r.Divergent, r.Missing)
	}
	if r.ZombieCount != 0 {
		t.Fatalf("%d zombies: rows committed before the failover are not zombies", r.ZombieCount)
	}
}

func TestLossBeforeFaultSpansToTheFault(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200}, Ops: ops(10, 5, allOK),
		Events: []history.Event{ev(100, "fault", "inject")},
		Rows:   []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 2, Rows: rows(1, span(1, 8)...)}}}
	r := Check(h.AssumeWhole(), Config{})
	// Lost seq 9 (ack 46) and 10 (ack 51); the fault at 100 ms ends the span.
	if r.RPO.LostWrites != 2 || r.RPO.SpanMs != 54 {
		t.Fatalf("lost %d spanning %.1f, want 2 spanning 54", r.RPO.LostWrites, r.RPO.SpanMs)
	}
}

func TestInfoWritesAreResolvedNotCountedLost(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200}, Ops: ops(4, 5, func(s int64) history.Outcome {
		if s >= 3 {
			return history.Info
		}
		return history.OK
	}), Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 1, Rows: rows(1, 1, 2, 3)}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.RPO.LostWrites != 0 || r.InfoApplied != 1 || r.InfoNotApplied != 1 || r.Ops.Info != 2 {
		t.Fatalf("lost %d, info applied %d not %d", r.RPO.LostWrites, r.InfoApplied, r.InfoNotApplied)
	}
}

func TestZombiesDuplicatesAndUnexpectedRows(t *testing.T) {
	o := ops(5, 100, allOK)
	o = append(o, history.Op{Writer: 1, Seq: 2, Invoke: 900 * msNs, Complete: 901 * msNs, Outcome: history.OK}) // same key twice
	old := []history.Row{
		{Writer: 1, Seq: 1, Origin: 10001, CommittedAt: 100 * msNs},
		{Writer: 1, Seq: 4, Origin: 10001, CommittedAt: 401 * msNs}, // after the promotion at 350: zombie
		{Writer: 1, Seq: 5, Origin: 10001, CommittedAt: 501 * msNs}, // zombie
		{Writer: 9, Seq: 1, Origin: 10001, CommittedAt: 50 * msNs},  // nobody wrote it
	}
	newp := []history.Row{
		{Writer: 1, Seq: 1, Origin: 10001, CommittedAt: 100 * msNs},
		{Writer: 1, Seq: 2, Origin: 10001, CommittedAt: 200 * msNs},
		{Writer: 1, Seq: 2, Origin: 10001, CommittedAt: 200 * msNs}, // duplicate row
		{Writer: 1, Seq: 3, Origin: 20001, CommittedAt: 360 * msNs}, // the new primary's own: fine
	}
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: o,
		Events: []history.Event{ev(250, "fault", "inject"), ev(300, "controller", "detect"), ev(350, "controller", "promote")},
		Rows: []history.RowSet{{Region: "us-east-1", Role: "fenced", ServerID: 10001, Rows: old},
			{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: newp}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.ZombieCount != 2 || r.Zombies[0].Seq != 4 || r.Zombies[1].Seq != 5 {
		t.Fatalf("zombies %d %+v, want seq 4 and 5", r.ZombieCount, r.Zombies)
	}
	if r.DuplicateOps != 1 || r.DuplicateRows != 1 || r.UnexpectedCount != 1 || r.Unexpected[0].Writer != 9 {
		t.Fatalf("dup ops %d, dup rows %d, unexpected %d %+v", r.DuplicateOps, r.DuplicateRows, r.UnexpectedCount, r.Unexpected)
	}
	// Acknowledged 4 and 5 are on the old primary only: lost (and zombies).
	if r.RPO.LostWrites != 2 {
		t.Fatalf("lost %d, want 2", r.RPO.LostWrites)
	}
	if r.RTO.DetectMs == nil || *r.RTO.DetectMs != 50 || *r.RTO.PromoteMs != 100 {
		t.Fatalf("detect %v promote %v, want 50 and 100 ms after the fault", r.RTO.DetectMs, r.RTO.PromoteMs)
	}
}

// Writes every 100 ms; fault at 1000 ms. Failures 1000–1900, one success at
// 2000, a failure at 2100, then success: the 2000 ms success is a flap and
// must not count; recovery is the 2200 ms write, acknowledged at 2201 ms.
func TestRTOIgnoresFlappingRecovery(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: ops(60, 100, func(s int64) history.Outcome {
		switch {
		case s >= 10 && s <= 19, s == 21:
			return history.Info
		}
		return history.OK
	}), Events: []history.Event{ev(1000, "fault", "inject"), ev(5000, "fault", "rollback")}}
	r := Check(h.AssumeWhole(), Config{StabilityWindow: 2 * time.Second})
	if !r.RTO.Judged || !r.RTO.Affected || !r.RTO.Recovered || r.RTO.Ms != 1201 {
		t.Fatalf("RTO %+v, want recovered at 1201 ms", r.RTO)
	}
	if r.RTO.FirstFail.Seq != 10 || r.RTO.LastFail.Seq != 21 || r.RTO.FailedWrites != 11 {
		t.Fatalf("first fail %d, last fail %d, failed %d", r.RTO.FirstFail.Seq, r.RTO.LastFail.Seq, r.RTO.FailedWrites)
	}
	if r.RPO.Judged {
		t.Fatal("no final read, yet RPO judged")
	}
}

func TestRTONotRecoveredWhenWindowNotObserved(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: ops(30, 100, func(s int64) history.Outcome {
		if s >= 10 && s < 25 {
			return history.Fail
		}
		return history.OK
	}), Events: []history.Event{ev(1000, "fault", "inject")}}
	r := Check(h.AssumeWhole(), Config{StabilityWindow: 2 * time.Second})
	if r.RTO.Recovered || !r.RTO.Affected {
		t.Fatalf("RTO %+v: the last 500 ms of success cannot prove a 2 s window", r.RTO)
	}
}

func TestUnaffectedFaultHasZeroRTO(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: ops(30, 100, allOK), Events: []history.Event{ev(1000, "fault", "inject")}}
	r := Check(h.AssumeWhole(), Config{})
	if !r.RTO.Recovered || r.RTO.Affected || r.RTO.Ms != 0 {
		t.Fatalf("RTO %+v, want unaffected", r.RTO)
	}
}

func TestLagPercentilesPerPhase(t *testing.T) {
	h := &history.History{Events: []history.Event{ev(100, "fault", "inject"), ev(200, "fault", "rollback")}}
	for i := 1; i <= 100; i++ {
		h.Lag = append(h.Lag, history.LagSample{Region: "us-west-2", At: int64(i) * msNs, Ms: float64(i)})            // before: 1..99
		h.Lag = append(h.Lag, history.LagSample{Region: "us-west-2", At: int64(100+i) * msNs, Ms: float64(1000 + i)}) // during (with the 100 ms sample of the first series) / after
	}
	r := Check(h.AssumeWhole(), Config{})
	before, during, after := r.Lag["us-west-2"]["before"], r.Lag["us-west-2"]["during"], r.Lag["us-west-2"]["after"]
	if before.N != 99 || before.P50 != 50 || before.P99 != 99 || before.Max != 99 {
		t.Fatalf("before %+v", before)
	}
	if during.N != 100 || during.P50 != 1049 || during.Max != 1099 || after.N != 1 || after.Max != 1100 {
		t.Fatalf("during %+v after %+v", during, after)
	}
}

// Two promotions (10001 → 20001 → 10002, the failback path): each server's
// writes are legitimate while it is the primary and zombies outside that.
// Without the primary's identity (AWS), zombies are not judged — never
// reported as zero by default, and never as every post-failover write.
func TestZombiesNotJudgedWithoutIdentities(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: ops(3, 100, allOK),
		Events: []history.Event{ev(100, "fault", "inject")},
		Rows:   []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 2, Rows: rows(2, 1, 2, 3)}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.ZombiesJudged || r.ZombieCount != 0 || !strings.Contains(strings.Join(r.Notes, " "), "zombie writes not judged") {
		t.Fatalf("judged %v count %d notes %v", r.ZombiesJudged, r.ZombieCount, r.Notes)
	}
}

func TestZombiesFollowThePrimaryTimeline(t *testing.T) {
	o := ops(6, 100, allOK)
	rowsAt := func(sid uint32, seq, at int64) history.Row {
		return history.Row{Writer: 1, Seq: seq, Origin: sid, CommittedAt: at * msNs}
	}
	all := []history.Row{
		rowsAt(10001, 1, 100), // primary at the start
		rowsAt(20001, 2, 400), // promoted at 300
		rowsAt(10001, 3, 450), // old primary after losing the role: zombie
		rowsAt(20001, 4, 650), // after the failback at 600: zombie
		rowsAt(10002, 5, 700), // re-seeded us-east-1, primary again
		rowsAt(10003, 6, 900), // the same region restarted as primary at 800 under a new id
	}
	promote := func(at int64, sid uint32) history.Event {
		return history.Event{At: at * msNs, Source: "controller", Kind: "promote", ServerID: sid}
	}
	h := &history.History{Meta: history.Meta{RateHz: 10, PrimaryServerID: 10001}, Ops: o,
		Events: []history.Event{ev(250, "fault", "inject"), promote(300, 20001), promote(600, 10002),
			{At: 800 * msNs, Source: "controller", Kind: "primary-restart", ServerID: 10003}},
		Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 10003, At: 1000 * msNs, Rows: all}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.ZombieCount != 2 || r.Zombies[0].Seq != 3 || r.Zombies[1].Seq != 4 {
		t.Fatalf("zombies %d %+v, want seq 3 and 4", r.ZombieCount, r.Zombies)
	}
	if len(r.Notes) != 0 {
		t.Fatalf("notes %v", r.Notes)
	}
}

// The RPO resolution is what the workload achieved at the loss window's
// edge, not what it scheduled: a 40 ms stall of acknowledgements before
// the first lost write widens it to 40 ms although 200 writes/s were asked.
func TestRPOResolutionIsTheAchievedGap(t *testing.T) {
	// Seqs 7–13 failed: the last acknowledgement before seq 14's (71 ms)
	// is seq 6's (31 ms).
	o := ops(20, 5, func(s int64) history.Outcome {
		if s >= 7 && s <= 13 {
			return history.Fail
		}
		return history.OK
	})
	h := &history.History{Meta: history.Meta{RateHz: 200}, Ops: o,
		Events: []history.Event{ev(100, "fault", "inject"), ev(400, "controller", "promote")},
		Rows:   []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: rows(10001, span(1, 13)...)}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.RPO.LostWrites != 7 || r.RPO.ResolutionMs != 40 || r.RPO.ScheduledResolutionMs != 5 {
		t.Fatalf("lost %d ±%.1f (scheduled ±%.1f), want 7 ±40 (scheduled ±5)", r.RPO.LostWrites, r.RPO.ResolutionMs, r.RPO.ScheduledResolutionMs)
	}
	// No loss: the widest gap in the second before the fault.
	h.Rows[0].Rows = rows(10001, span(1, 20)...)
	if r = Check(h.AssumeWhole(), Config{}); r.RPO.LostWrites != 0 || r.RPO.ResolutionMs != 40 {
		t.Fatalf("no loss: ±%.1f, want ±40 (the widest gap before the fault)", r.RPO.ResolutionMs)
	}
}

// AWS's hypothesis, per failover: the lost span is within the promoted
// region's last lag reading before the fault, plus both resolutions.
func TestRPOLagHypothesis(t *testing.T) {
	mk := func(lastLag float64) Result {
		h := &history.History{Meta: history.Meta{RateHz: 200, LagResolutionMs: map[string]float64{"us-west-2": 5}}, Ops: ops(20, 5, allOK),
			Events: []history.Event{ev(100, "fault", "inject"), ev(400, "controller", "promote")},
			Lag: []history.LagSample{{Region: "us-west-2", At: 50 * msNs, Ms: 999}, {Region: "us-west-2", At: 90 * msNs, Ms: lastLag},
				{Region: "us-west-2", At: 150 * msNs, Ms: 5000}, {Region: "us-east-1", At: 95 * msNs, Ms: 1}},
			Rows: []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: rows(10001, span(1, 13)...)}}}
		return Check(h.AssumeWhole(), Config{})
	}
	// 30 ms lost (seq 14 at 71 ms … the fault at 100 ms... acked up to 101 ms).
	r := mk(35)
	if r.Hypothesis == nil || !r.Hypothesis.Consistent || r.Hypothesis.LastLagMs != 35 || r.Hypothesis.LagAgeMs != 10 || !strings.HasPrefix(r.Hypothesis.Verdict, "consistent") {
		t.Fatalf("lag 35 ms vs 30 ms lost: %+v", r.Hypothesis)
	}
	r = mk(5)
	if r.Hypothesis.Consistent || r.Hypothesis.UnderByMs != 25 || !strings.Contains(r.Hypothesis.Verdict, "lag under-reported the loss by 25.0 ms") {
		t.Fatalf("lag 5 ms vs 30 ms lost: %+v", r.Hypothesis)
	}
	if r.LagResolutionByRegion["us-west-2"] != 5 || r.LagResolutionByRegion["us-east-1"] != 0 {
		t.Fatalf("lag resolutions %v: us-west-2 as declared, us-east-1 has one sample", r.LagResolutionByRegion)
	}
	if r.AckedPerSecond["before"] < 190 || r.AckedPerSecond["before"] > 210 {
		t.Fatalf("acked per second %v, want about 200 before the fault", r.AckedPerSecond)
	}
}

// A lag series with no declared resolution is judged by its own spacing:
// a 60 s CloudWatch series never claims the heartbeat's 5 ms.
func TestLagResolutionFromSpacing(t *testing.T) {
	h := &history.History{}
	for i := int64(0); i < 5; i++ {
		h.Lag = append(h.Lag, history.LagSample{Region: "aws:us-west-2", At: i * 60000 * msNs, Ms: 20})
	}
	if r := Check(h.AssumeWhole(), Config{}); r.LagResolutionByRegion["aws:us-west-2"] != 60000 || r.LagResolutionMs != 60000 {
		t.Fatalf("resolution %v", r.LagResolutionByRegion)
	}
}

// A failback without server ids (AWS: promote events from the global
// cluster's transitions): the rows the interim primary wrote between the
// two promotions are legitimate. With two promotions and no identities the
// zombies cannot be judged — judging them against the final primary made
// every interim row a zombie.
func TestTwoPromotionsWithoutIdentitiesAreNotJudgedAsZombies(t *testing.T) {
	o := ops(6, 100, allOK)
	at := func(sid uint32, seq, ms int64) history.Row {
		return history.Row{Writer: 1, Seq: seq, Origin: sid, CommittedAt: ms * msNs}
	}
	promote := func(ms int64, region string) history.Event {
		return history.Event{At: ms * msNs, Source: "controller", Kind: "promote", Region: region}
	}
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: o,
		Events: []history.Event{ev(150, "fault", "inject"), promote(200, "us-west-2"), promote(450, "us-east-1")},
		Rows: []history.RowSet{{Region: "us-east-1", Role: "primary", ServerID: 1, Rows: []history.Row{
			at(1, 1, 100), at(2, 2, 250), at(2, 3, 300), at(2, 4, 400), at(1, 5, 500), at(1, 6, 600)}}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.ZombieCount != 0 || r.ZombiesJudged {
		t.Fatalf("a failback without server ids: %d zombies (judged %v), want none judged", r.ZombieCount, r.ZombiesJudged)
	}
	// One promotion: every row after it must come from the final primary.
	h.Events = h.Events[:2]
	h.Rows[0].ServerID = 2
	if r := Check(h.AssumeWhole(), Config{}); !r.ZombiesJudged || r.ZombieCount != 2 {
		t.Fatalf("one promotion: judged %v, %d zombies, want rows 5 and 6 (from server 1 after the promotion to 2)", r.ZombiesJudged, r.ZombieCount)
	}
}
