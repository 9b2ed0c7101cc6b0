package check

import (
	"math"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// demotion is a window in which a region had lost the primary role and
// had not yet rejoined the new primary.
type demotion struct {
	region   string
	from, to int64
}

func demotions(first string, events []history.Event) []demotion {
	cur := first
	var out []demotion
	for i, e := range events {
		if e.Source != "controller" || e.Kind != "promote" || e.Region == cur || e.Region == "" {
			continue
		}
		d := demotion{region: cur, from: e.At, to: math.MaxInt64}
		for _, f := range events[i+1:] {
			if f.Source == "controller" && f.Region == cur && (f.Kind == "rejoin" || f.Kind == "reseed" || f.Kind == "promote") {
				d.to = f.At
				break
			}
		}
		out = append(out, d)
		cur = e.Region
	}
	return out
}

// staleReads: reads a demoted region served, before it rejoined, that
// lacked a write acknowledged before the read began.
func staleReads(a *analysis) {
	const key = "stale_reads_after_promotion"
	rd := &a.r.Reads
	why := a.controllerWhy
	if why == "" && a.h.Meta.PrimaryRegion == "" {
		why = "the history does not name the first primary region"
	}
	if why == "" {
		why = a.regionCrossCheck()
	}
	if why != "" {
		a.notJudged(key, why)
		a.r.Notes = append(a.r.Notes, "stale reads after promotion not judged: "+why)
		return
	}
	rd.StaleJudged = true
	var acked ackedBy
	for _, d := range demotions(a.h.Meta.PrimaryRegion, a.events) {
		for _, r := range a.okReads[d.region] {
			if r.Invoke < d.from || r.Invoke >= d.to {
				continue
			}
			if acked.w == nil {
				acked = ackedByIndex(a.idx)
			}
			missing := 0
			oldest := int64(math.MaxInt64)
			for i := 0; i+2 < len(r.Asked); i += 3 {
				w, from, to := int(r.Asked[i]), r.Asked[i+1], r.Asked[i+2]
				// Only a seq acknowledged before the read can be missing:
				// an open range stops at the last one.
				if top := acked.last(w, r.Invoke); to == 0 || to > top {
					to = top
				}
				for s := max(from, 1); s <= to; s++ {
					op, ok := a.idx.at(w, s)
					if ok && op.Outcome == history.OK && op.Complete < r.Invoke && !r.Has(w, s) {
						missing++
						oldest = min(oldest, op.Complete)
					}
				}
			}
			if missing == 0 {
				continue
			}
			rd.StaleAfterPromotion++
			behind := ms(r.Invoke - oldest)
			rd.StaleMaxBehindMs = max(rd.StaleMaxBehindMs, roundTo(behind, 10))
			if len(rd.StaleExamples) < a.cfg.Examples {
				rd.StaleExamples = append(rd.StaleExamples, StaleRead{Region: r.Region, ServerID: r.ServerID, InvokeMs: ms(r.Invoke), Missing: missing, BehindMs: behind})
			}
		}
	}
}

// ackedBy says, per writer, up to which seq some write was acknowledged
// before a time: for each seq the earliest acknowledgement at or above it
// (a suffix minimum, so it only grows with the seq), searched by time.
type ackedBy struct {
	base int
	w    [][]int64
}

func ackedByIndex(x opIndex) ackedBy {
	out := ackedBy{base: x.base, w: make([][]int64, len(x.w))}
	for i := range x.w {
		w := x.base + i
		n := len(x.w[i])
		m := make([]int64, n)
		earliest := int64(math.MaxInt64)
		for s := n; s >= 1; s-- {
			if op, ok := x.at(w, int64(s)); ok && op.Outcome == history.OK {
				earliest = min(earliest, op.Complete)
			}
			m[s-1] = earliest
		}
		out.w[i] = m
	}
	return out
}

// last is the highest seq of writer w acknowledged before t (0: none).
func (a ackedBy) last(w int, t int64) int64 {
	i := w - a.base
	if i < 0 || i >= len(a.w) {
		return 0
	}
	m := a.w[i]
	// The first seq from which nothing was acknowledged before t.
	k := sort.Search(len(m), func(k int) bool { return m[k] >= t })
	return int64(k)
}
