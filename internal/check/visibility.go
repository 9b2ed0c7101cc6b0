package check

import (
	"github.com/drdrill/drdrill/internal/history"
)

// MaxVisibilityPoints bounds each region's VisibilitySamples: the worst
// visibility of the writes acknowledged in each of that many equal slices
// of the history, which is all a plot draws.
const MaxVisibilityPoints = 600

// visibility: per region and phase, the time from each acknowledged
// write's acknowledgement to the first read there that returned it. The
// reads bound it: at most the completion of that read, at least the invoke
// of the region's read before it when that one asked for the write. The
// figure is the midpoint, its error bound the half-width, and each
// percentile's bound the same percentile of the bounds.
func visibility(a *analysis) {
	rd := &a.r.Reads
	rd.Visibility = map[string]map[string]Percentiles{}
	nAcked := len(a.acks)
	// One buffer per quantity, reused region after region and phase
	// after phase: the visibility of a million writes is the checker's
	// largest set.
	v, lo, hi := make([]float64, nAcked), make([]float64, nAcked), make([]float64, nAcked)
	var end int64
	if a.cfg.KeepVisibility {
		end = a.historyEnd()
	}
	for _, region := range a.regions {
		fs := a.seen[region]
		ok := a.okReads[region]
		var count, next [4]int
		for _, op := range a.h.Ops {
			if op.Outcome != history.OK {
				continue
			}
			if k, _ := fs.read(op.Writer, op.Seq); k != nil {
				count[a.visPhase(op, k.Complete)]++
			}
		}
		for i := 1; i < 4; i++ {
			next[i] = next[i-1] + count[i-1]
		}
		start := next
		var plot *visibilityPlot
		if a.cfg.KeepVisibility {
			plot = newVisibilityPlot(end)
		}
		for _, op := range a.h.Ops {
			if op.Outcome != history.OK {
				continue
			}
			k, j := fs.read(op.Writer, op.Seq)
			if k == nil {
				continue
			}
			upper := max(0, k.Complete-op.Complete)
			var lower int64
			if j > 0 && ok[j-1].Covers(op.Writer, op.Seq) {
				lower = max(0, ok[j-1].Invoke-op.Complete)
			}
			p := a.visPhase(op, k.Complete)
			x := next[p]
			v[x], lo[x], hi[x] = ms(lower+upper)/2, ms(lower), ms(upper)
			next[p]++
			if plot != nil {
				plot.add(op.Complete, v[x])
			}
		}
		for p, phase := range phaseNames {
			if count[p] == 0 {
				continue
			}
			if rd.Visibility[region] == nil {
				rd.Visibility[region] = map[string]Percentiles{}
			}
			rd.Visibility[region][phase] = boundsOf(v[start[p]:next[p]], lo[start[p]:next[p]], hi[start[p]:next[p]])
		}
		if samples := plot.samples(region); len(samples) > 0 {
			if a.r.VisibilitySamples == nil {
				a.r.VisibilitySamples = map[string][]history.LagSample{}
			}
			a.r.VisibilitySamples[region] = samples
		}
	}
	if _, _, ok := worstP99(rd.Visibility); !ok {
		a.notJudged("read_visibility_p99_ms", "no write was read back before the fault")
	}
}

// visPhase is the phase of a write's visibility: that of its
// acknowledgement, except that a write acknowledged before the fault but
// first returned at or after it counts with the fault, which delayed it.
func (a *analysis) visPhase(op history.Op, seenAt int64) int {
	switch {
	case a.fault == none:
		return phaseSteady
	case op.Complete < a.fault && seenAt < a.fault:
		return phaseBefore
	case op.Complete < a.fault || a.rollback == none || op.Complete < a.rollback:
		return phaseDuring
	}
	return phaseAfter
}

// visibilityPlot keeps, per slice of the history, the worst visibility of
// the writes acknowledged in it: all a plot draws, in constant memory.
type visibilityPlot struct {
	width int64
	worst [MaxVisibilityPoints]float64
	set   [MaxVisibilityPoints]bool
}

func newVisibilityPlot(end int64) *visibilityPlot {
	return &visibilityPlot{width: end/MaxVisibilityPoints + 1}
}

func (p *visibilityPlot) add(at int64, v float64) {
	i := min(MaxVisibilityPoints-1, int(max(at, 0)/p.width))
	if !p.set[i] || v > p.worst[i] {
		p.worst[i], p.set[i] = v, true
	}
}

// samples are the slices' worst values, at each slice's start.
func (p *visibilityPlot) samples(region string) []history.LagSample {
	if p == nil {
		return nil
	}
	var out []history.LagSample
	for i, ok := range p.set {
		if ok {
			out = append(out, history.LagSample{Region: region, At: int64(i) * p.width, Ms: p.worst[i]})
		}
	}
	return out
}

// historyEnd is the last time the history records anything.
func (a *analysis) historyEnd() int64 {
	var end int64
	for _, op := range a.h.Ops {
		end = max(end, op.Complete)
	}
	for _, l := range a.h.Lag {
		end = max(end, l.At)
	}
	for _, e := range a.h.Events {
		end = max(end, e.At)
	}
	return end
}
