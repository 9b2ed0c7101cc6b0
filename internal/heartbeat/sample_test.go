package heartbeat

import (
	"testing"
)

const ms = int64(1e6)

// A value first seen: its lag lies between the previous read's invoke
// minus the write's return, and this read's end minus the value; the
// sample is the midpoint and half the width.
func TestFirstSightIsBoundedByTheReadsAndTheWrite(t *testing.T) {
	var r reader
	written := []write{{ts: 1000 * ms, done: 1002 * ms}, {ts: 1050 * ms, done: 1051 * ms}}
	// The first read sees 1000: no earlier read, so at least 0; at most
	// its end (1040) minus 1000.
	if s, ok := r.sample(1038*ms, 1040*ms, 1000*ms, written); !ok || s.ms != 20 || s.err != 20 {
		t.Fatalf("first read: %+v %v, want 20 ± 20 ms", s, ok)
	}
	// Reads at 1080 and 1081 still see 1000: 1050 returned at 1051 and is
	// not there. The first of them records that it has waited [29, 35];
	// the second, not yet past what was recorded, nothing.
	if s, ok := r.sample(1080*ms, 1085*ms, 1000*ms, written); !ok || s.ms != 32 || s.err != 3 {
		t.Fatalf("a stall: %+v %v, want 32 ± 3 ms", s, ok)
	}
	if _, ok := r.sample(1081*ms, 1086*ms, 1000*ms, written); ok {
		t.Fatal("a stall sample that is not overdue beyond the last one was recorded")
	}
	// 1050 shows up in the read invoked at 1090, ended at 1092: it arrived
	// after 1081 (the previous read's invoke) and was committed by 1051:
	// lag in [30, 42].
	if s, ok := r.sample(1090*ms, 1092*ms, 1050*ms, written); !ok || s.ms != 36 || s.err != 6 {
		t.Fatalf("1050 first seen: %+v %v, want 36 ± 6 ms", s, ok)
	}
}

// A value whose write has not returned yet (seen on a replica before the
// primary's answer reached the writer) is committed by the read's end;
// nothing newer having returned, an unchanged value says nothing.
func TestUnknownReturnAndNoNewerWrite(t *testing.T) {
	r := reader{last: 900 * ms, lastInvoke: 995 * ms}
	s, ok := r.sample(1000*ms, 1001*ms, 990*ms, nil)
	if !ok || s.ms != 5.5 || s.err != 5.5 {
		t.Fatalf("%+v %v, want [0, 11] ms: 5.5 ± 5.5", s, ok)
	}
	if _, ok := r.sample(1010*ms, 1011*ms, 990*ms, []write{{ts: 990 * ms, done: 992 * ms}}); ok {
		t.Fatal("a sample without any newer committed write: a frozen primary is not replication lag")
	}
}

// The writes remembered are the newest keepWrites, oldest first.
func TestWrittenKeepsTheNewest(t *testing.T) {
	h := &Heartbeat{}
	for i := int64(1); i <= keepWrites+10; i++ {
		h.wrote(write{ts: i, done: i + 1})
	}
	if len(h.written) != keepWrites || h.written[0].ts != 11 || h.written[keepWrites-1].ts != keepWrites+10 {
		t.Fatalf("kept %d writes, %d … %d", len(h.written), h.written[0].ts, h.written[len(h.written)-1].ts)
	}
}
