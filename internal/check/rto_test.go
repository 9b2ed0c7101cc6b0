package check

import (
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// #23 item 3: the fault at 0, writes failing from 3.0 to 3.9 s and
// succeeding otherwise. The stack recovered when writes succeeded again
// after the outage — not at the first success after the injection, which
// the checker reported before (RTO 101 ms, affected).
func TestRTOStartsCountingRecoveryAtTheOutageNotTheFault(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: ops(100, 100, func(s int64) history.Outcome {
		if s >= 30 && s <= 39 {
			return history.Fail
		}
		return history.OK
	}), Events: []history.Event{ev(0, "fault", "inject")}}
	r := Check(h.AssumeWhole(), Config{StabilityWindow: 2 * time.Second})
	// The first write after the outage, seq 40, is invoked at 4000 ms and
	// acknowledged at 4001 ms.
	if !r.RTO.Affected || !r.RTO.Recovered || r.RTO.Ms != 4001 {
		t.Fatalf("late outage: RTO %.0f ms (affected %v, recovered %v); the outage ran 3000–3900 ms and the first write after it was acknowledged at 4001 ms", r.RTO.Ms, r.RTO.Affected, r.RTO.Recovered)
	}
	if r.RTO.OutageStartMs == nil || *r.RTO.OutageStartMs != 3000 {
		t.Fatalf("outage start %v, want 3000 ms after the fault", r.RTO.OutageStartMs)
	}
	if v := measure(r, "outage_start_ms"); !v.Judged || v.V != 3000 {
		t.Fatalf("outage_start_ms %+v", v)
	}
}

// The recovery point is the earliest acknowledgement among the writes that
// qualify, not the first qualifying write in invoke order: a slow write
// invoked first and acknowledged later does not set the RTO.
func TestRTOIsTheEarliestQualifyingAcknowledgement(t *testing.T) {
	o := []history.Op{
		{Writer: 1, Seq: 1, Invoke: 100 * msNs, Complete: 101 * msNs, Outcome: history.Fail},
		{Writer: 1, Seq: 2, Invoke: 200 * msNs, Complete: 290 * msNs, Outcome: history.OK}, // slow
		{Writer: 2, Seq: 1, Invoke: 210 * msNs, Complete: 211 * msNs, Outcome: history.OK}, // first acknowledged
	}
	for s := int64(3); s < 40; s++ {
		o = append(o, history.Op{Writer: 1, Seq: s, Invoke: s * 100 * msNs, Complete: (s*100 + 1) * msNs, Outcome: history.OK})
	}
	h := &history.History{Meta: history.Meta{RateHz: 10}, Ops: o, Events: []history.Event{ev(0, "fault", "inject")}}
	if r := Check(h.AssumeWhole(), Config{StabilityWindow: time.Second}); r.RTO.Ms != 211 {
		t.Fatalf("RTO %.0f ms, want 211 (the earliest acknowledgement after the outage)", r.RTO.Ms)
	}
}

func measure(r Result, key string) Value {
	m, _ := MeasureByKey(key)
	return m.Read(&r)
}
