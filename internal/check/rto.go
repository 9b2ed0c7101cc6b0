package check

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// rto finds when the outage began — the invoke of the first write after
// the fault that did not succeed — and the recovery point: the earliest
// acknowledgement after that from which every write invoked within the
// stability window also succeeded. A recovery that flaps (ok, fail, ok)
// restarts the window; a window the history does not cover means not
// (yet) recovered. Detection and promotion split the time.
func rto(a *analysis) {
	r := &a.r.RTO
	r.ResolutionMs, r.WindowMs = a.resolution, ms(int64(a.cfg.StabilityWindow))
	if a.fault == none {
		return
	}
	controllerTimes(a)
	if a.trafficWhy != "" {
		a.notJudged("rto_ms", a.trafficWhy)
		a.notJudged("outage_start_ms", a.trafficWhy)
		a.r.Notes = append(a.r.Notes, "RTO not judged: "+a.trafficWhy)
		return
	}
	r.Judged = true
	rec := a.recovery(a.fault, math.MaxInt64)
	r.FailedWrites = rec.failed
	if rec.failed == 0 {
		r.Recovered = true
		return
	}
	w := toWrite(a.h.Ops[rec.first])
	r.FirstFail = &w
	l := toWrite(a.h.Ops[rec.last])
	r.LastFail = &l
	r.Affected = true
	r.OutageStartMs = msp(rec.outage - a.fault)
	if rec.recovered {
		r.Recovered = true
		r.Ms = ms(rec.at - a.fault)
		return
	}
	a.notJudged("rto_ms", "writes never succeeded for a whole stability window")
}

// recovered is the RTO rule applied to the writes invoked in [from, to).
type recovered struct {
	failed      int   // writes that did not succeed
	first, last int   // the first and last of them (indexes into the ops), in invoke order
	outage      int64 // the first one's invoke
	recovered   bool
	at          int64 // the recovery point: an acknowledgement time
}

// byInvoke is every operation's index sorted by invoke time (equal times
// in history order), built once: indexes, since copying a million
// operations would double the checker's memory.
func (a *analysis) byInvoke() []int32 {
	if a.invokeOrder == nil {
		all := a.h.Ops
		a.invokeOrder = make([]int32, len(all))
		for i := range all {
			a.invokeOrder[i] = int32(i)
		}
		slices.SortStableFunc(a.invokeOrder, func(x, y int32) int { return cmp.Compare(all[x].Invoke, all[y].Invoke) })
	}
	return a.invokeOrder
}

// recovery applies the RTO rule from `from` to the writes invoked in
// [from, to): the outage began at the first one that did not succeed; the
// recovery point is the earliest acknowledgement after that from which no
// write invoked within the stability window failed, the history covering
// the window (a write invoked at or after its end, whenever).
func (a *analysis) recovery(from, to int64) recovered {
	all := a.h.Ops
	order := a.byInvoke()
	lo := sort.Search(len(order), func(i int) bool { return all[order[i]].Invoke >= from })
	hi := sort.Search(len(order), func(i int) bool { return all[order[i]].Invoke >= to })
	idx := order[lo:hi]
	rec := recovered{first: -1, last: -1}
	outage := int64(math.MaxInt64)
	for _, i := range idx {
		if all[i].Outcome == history.OK {
			continue
		}
		rec.failed++
		if rec.first < 0 {
			rec.first, outage = int(i), all[i].Invoke
		}
		rec.last = int(i)
	}
	if rec.failed == 0 {
		return rec
	}
	rec.outage = outage
	// Backwards, a group of equal invoke times at a time: nextFail is the
	// invoke time of the first non-ok operation invoked at or after the
	// group's. An ok operation acknowledged after the outage began whose
	// window holds no failure, and which the history covers, is a
	// recovery point; the earliest acknowledgement among them wins.
	window := int64(a.cfg.StabilityWindow)
	lastInvoke := all[order[len(order)-1]].Invoke
	nextFail := int64(math.MaxInt64)
	best := int64(math.MaxInt64)
	for hi := len(idx); hi > 0; {
		lo := hi - 1
		for lo > 0 && all[idx[lo-1]].Invoke == all[idx[hi-1]].Invoke {
			lo--
		}
		for _, i := range idx[lo:hi] {
			if all[i].Outcome != history.OK {
				nextFail = all[i].Invoke
			}
		}
		for _, i := range idx[lo:hi] {
			op := &all[i]
			if op.Outcome != history.OK || op.Complete <= outage {
				continue
			}
			end := op.Complete + window
			if nextFail > end && lastInvoke >= end {
				best = min(best, op.Complete)
			}
		}
		hi = lo
	}
	if best != math.MaxInt64 {
		rec.recovered, rec.at = true, best
	}
	return rec
}

// controllerTimes: the time to detect and to promote, from the fault.
func controllerTimes(a *analysis) {
	if a.controllerWhy != "" {
		a.notJudged("detect_ms", a.controllerWhy)
		a.notJudged("promote_ms", a.controllerWhy)
		return
	}
	if a.detect != none {
		a.r.RTO.DetectMs = msp(a.detect - a.fault)
	}
	if len(a.promotions) > 0 {
		a.r.RTO.PromoteMs = msp(a.promotions[0].At - a.fault)
	}
}
