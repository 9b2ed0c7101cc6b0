package check

import (
	"sort"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// lostWrites: acknowledged writes absent from the final primary, the time
// they span and how precisely its start is known.
func lostWrites(a *analysis) {
	r := &a.r.RPO
	r.ResolutionMs, r.ScheduledResolutionMs = a.resolution, a.resolution
	if why := firstWhy(a.trafficWhy, a.primaryWhy); why != "" {
		r.NotJudged = why
		a.notJudged("rpo_lost_writes", why)
		a.notJudged("rpo_ms", why)
		a.r.Notes = append(a.r.Notes, "lost writes not judged: "+why)
		return
	}
	r.Judged = true
	lost := a.lostOps()
	r.LostWrites = len(lost)
	r.SpanMs = a.lossSpan(lost)
	if len(lost) > 0 {
		// The loss began somewhere between the acknowledgement before the
		// first lost one and it.
		if res := gapBefore(a.acks, lost[0].Complete); res > 0 {
			r.ResolutionMs = ms(res)
		}
	} else if a.fault != none {
		if g := widestGap(a.acks, a.fault-int64(time.Second), a.fault); g > 0 {
			r.ResolutionMs = ms(g)
		}
	}
	for i := 0; i < len(lost) && i < a.cfg.Examples; i++ {
		r.Lost = append(r.Lost, toWrite(lost[i]))
	}
}

// lossSpan runs from the first lost acknowledgement (lost is sorted by
// acknowledgement) to the later of the fault and the last one: writes after
// it were never acknowledged, so they are not part of an RPO.
func (a *analysis) lossSpan(lost []history.Op) float64 {
	if len(lost) == 0 {
		return 0
	}
	end := lost[len(lost)-1].Complete
	if a.fault > end {
		end = a.fault
	}
	return ms(end - lost[0].Complete)
}

// unknownOutcomes: the unknown writes resolved against the final primary,
// and the failed writes it holds anyway.
func unknownOutcomes(a *analysis) {
	if why := firstWhy(a.trafficWhy, a.primaryWhy); why != "" {
		a.notJudged("failed_but_applied", why)
		return
	}
	for _, op := range a.h.Ops {
		present := a.onPrimary.has(op.Writer, op.Seq)
		switch {
		case op.Outcome == history.Info && present:
			a.r.InfoApplied++
		case op.Outcome == history.Info:
			a.r.InfoNotApplied++
		case op.Outcome == history.Fail && present:
			a.r.FailedButApplied++
		}
	}
	if a.r.FailedButApplied > 0 {
		a.r.Notes = append(a.r.Notes, "failed writes present in the final primary: a refusal the harness counted as certain was applied")
	}
}

// failoverLoss splits the lost writes at the first promotion after the
// fault: replication loss before it, split-brain loss at or after it.
func failoverLoss(a *analysis) {
	keys := []string{"replication_lost_writes", "replication_loss_ms", "split_brain_lost_writes"}
	if why := firstWhy(a.trafficWhy, a.primaryWhy, a.controllerWhy); why != "" {
		for _, k := range keys {
			a.notJudged(k, why)
		}
		return
	}
	if len(a.promotions) == 0 {
		return
	}
	p := a.promotions[0].At
	f := &FailoverLoss{PromotionMs: ms(p)}
	// lostOps is sorted by acknowledgement: the split is one search.
	lost := a.lostOps()
	n := sort.Search(len(lost), func(i int) bool { return lost[i].Complete >= p })
	before := lost[:n]
	f.SplitBrainLostWrites = len(lost) - n
	f.ReplicationLostWrites = len(before)
	f.ReplicationLossMs = a.lossSpan(before)
	a.r.RPO.Failover = f
}

// gapBefore is t minus the latest acknowledgement before t (0 if none).
func gapBefore(acks []int64, t int64) int64 {
	i := sort.Search(len(acks), func(i int) bool { return acks[i] >= t })
	if i == 0 {
		return 0
	}
	return t - acks[i-1]
}

// widestGap is the widest gap between consecutive acknowledgements a, a′
// with a < to and a′ ≥ from.
func widestGap(acks []int64, from, to int64) int64 {
	i := sort.Search(len(acks), func(i int) bool { return acks[i] >= from })
	var w int64
	if i > 0 {
		i--
	}
	for ; i+1 < len(acks) && acks[i] < to; i++ {
		w = max(w, acks[i+1]-acks[i])
	}
	return w
}

// ackedRate is the achieved acknowledged writes per second in each phase.
func ackedRate(a *analysis) {
	ops := a.h.Ops
	if len(ops) == 0 {
		return
	}
	first, last := ops[0].Invoke, ops[0].Complete
	var counts [4]int
	for _, op := range ops {
		first, last = min(first, op.Invoke), max(last, op.Complete)
		if op.Outcome == history.OK {
			counts[a.phase(op.Invoke)]++
		}
	}
	bounds := map[int][2]int64{phaseSteady: {first, last}}
	if a.fault != none {
		end := last
		if a.rollback != none {
			end = a.rollback
		}
		bounds = map[int][2]int64{phaseBefore: {first, a.fault}, phaseDuring: {a.fault, end}}
		if a.rollback != none {
			bounds[phaseAfter] = [2]int64{a.rollback, last}
		}
	}
	out := map[string]float64{}
	for phase, b := range bounds {
		if d := b[1] - b[0]; d > int64(10*time.Millisecond) {
			out[phaseNames[phase]] = roundTo(float64(counts[phase])/(float64(d)/1e9), 10)
		}
	}
	a.r.AckedPerSecond = out
}
