package refcheck

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// refWindow is a disruption window as docs/measures.md defines it.
type refWindow struct {
	start, end int64 // end: math.MaxInt64 when open
	hasFault   bool
	source     string
	faults     int
}

type evidence struct {
	start, end int64
	rank       int // fault 0, ledger 1, controller 2, writes 3
	pos        int // history order within its kind
	isFault    bool
	source     string
}

// windows derives the disruption windows ("Disruption windows").
func (c *checker) windows() []refWindow {
	var ev []evidence
	type opened struct{ source, id string }
	seen := map[opened]bool{}
	for i, e := range c.events {
		if e.Kind != "inject" || (e.Source != "fault" && e.Source != "ledger") {
			continue
		}
		if seen[opened{e.Source, e.ID}] {
			continue
		}
		seen[opened{e.Source, e.ID}] = true
		end := int64(math.MaxInt64)
		found := false
		for _, r := range c.events {
			if !found && r.Kind == "rollback" && r.Source == e.Source && r.ID == e.ID && r.At >= e.At {
				end, found = r.At, true
			}
		}
		rank := 0
		if e.Source == "ledger" {
			rank = 1
		}
		ev = append(ev, evidence{start: e.At, end: end, rank: rank, pos: i, isFault: true, source: e.Source})
	}
	if c.h.Meta.Observed {
		kinds := map[string]bool{"detect": true, "failover-start": true, "switchover-start": true, "promote": true, "fence": true, "failover-end": true}
		for i, e := range c.events {
			if e.Source == "controller" && kinds[e.Kind] {
				ev = append(ev, evidence{start: e.At, end: e.At, rank: 2, pos: i, source: "controller"})
			}
		}
		for i, op := range c.h.Ops {
			if op.Outcome != history.OK {
				ev = append(ev, evidence{start: op.Invoke, end: op.Complete, rank: 3, pos: i, source: "writes"})
			}
		}
	}
	sort.Slice(ev, func(i, j int) bool {
		if ev[i].start != ev[j].start {
			return ev[i].start < ev[j].start
		}
		if ev[i].rank != ev[j].rank {
			return ev[i].rank < ev[j].rank
		}
		return ev[i].pos < ev[j].pos
	})
	var out []refWindow
	for _, x := range ev {
		n := len(out)
		joins := false
		if n > 0 {
			last := out[n-1]
			joins = last.end == math.MaxInt64 || x.start <= last.end+c.window
		}
		if !joins {
			out = append(out, refWindow{start: x.start, end: x.end, hasFault: x.isFault, source: x.source})
			if x.isFault {
				out[n].faults = 1
			}
			continue
		}
		w := &out[n-1]
		if x.end > w.end {
			w.end = x.end
		}
		if x.isFault {
			w.faults++
			if !w.hasFault {
				w.start, w.source, w.hasFault = x.start, x.source, true
			}
		}
	}
	return out
}

// windowFigures measures each window and the worst-window measures.
func (c *checker) windowFigures(ws []refWindow) {
	c.f.set("windows", float64(len(ws)))
	var lost []history.Op
	lossWhy := first(c.trafficWhy, c.primaryWhy)
	if lossWhy == "" {
		for _, op := range c.h.Ops {
			if op.Outcome == history.OK && !c.onPrim[key{op.Writer, op.Seq}] {
				lost = append(lost, op)
			}
		}
	}
	var acks []int64
	for _, op := range c.h.Ops {
		if op.Outcome == history.OK {
			acks = append(acks, op.Complete)
		}
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] < acks[j] })
	scheduled := 0.0
	if c.h.Meta.RateHz > 0 {
		scheduled = 1000 / c.h.Meta.RateHz
	}
	type worst struct {
		v, res  float64
		any     bool
		why     string
		applies bool
	}
	measures := map[string]*worst{"window_rto_ms": {}, "window_rpo_ms": {}, "window_lost_writes": {}, "window_reprotect_ms": {}}
	take := func(m string, v, res float64) {
		w := measures[m]
		if !w.any || v > w.v {
			w.v, w.res = v, res
		}
		w.any = true
	}
	refuse := func(m string, k int, why string) {
		if measures[m].why == "" {
			measures[m].why = fmt.Sprintf("window %d: %s", k+1, why)
		}
	}
	for k, w := range ws {
		p := fmt.Sprintf("window/%d/", k+1)
		c.f.set(p+"start_ms", ms(w.start))
		if w.end != math.MaxInt64 {
			c.f.set(p+"end_ms", ms(w.end))
		}
		c.f.set(p+"source/"+w.source, 1)
		c.f.set(p+"faults", float64(w.faults))
		to := int64(math.MaxInt64)
		if k+1 < len(ws) {
			to = ws[k+1].start
		}
		inRange := func(t int64) bool { return t >= w.start && t < to }

		// RTO over the writes invoked in the range.
		if c.trafficWhy != "" {
			c.f.notJudged(p+"rto_ms", c.trafficWhy)
			refuse("window_rto_ms", k, c.trafficWhy)
		} else {
			var rng []history.Op
			var lastInvoke int64 = math.MinInt64
			for _, op := range c.h.Ops {
				lastInvoke = max(lastInvoke, op.Invoke)
				if inRange(op.Invoke) {
					rng = append(rng, op)
				}
			}
			failed := 0
			outage := int64(math.MaxInt64)
			for _, op := range rng {
				if op.Outcome != history.OK {
					failed++
					outage = min(outage, op.Invoke)
				}
			}
			c.f.set(p+"failed_writes", float64(failed))
			if failed == 0 {
				c.f.set(p+"rto_ms", 0)
				take("window_rto_ms", 0, scheduled)
			} else {
				c.f.set(p+"outage_start_ms", ms(outage-w.start))
				best, found := int64(math.MaxInt64), false
				for _, x := range rng {
					if x.Outcome != history.OK || x.Complete <= outage {
						continue
					}
					end := x.Complete + c.window
					if lastInvoke < end {
						continue
					}
					clean := true
					for _, y := range rng {
						if y.Outcome != history.OK && y.Invoke >= x.Invoke && y.Invoke <= end {
							clean = false
						}
					}
					if clean && x.Complete < best {
						best, found = x.Complete, true
					}
				}
				if found {
					c.f.set(p+"rto_ms", ms(best-w.start))
					take("window_rto_ms", ms(best-w.start), scheduled)
				} else {
					c.f.notJudged(p+"rto_ms", "not recovered within its range")
					refuse("window_rto_ms", k, "not recovered")
				}
			}
		}

		// Detection, promotion and re-protection within the range.
		if c.controllerWhy != "" {
			c.f.notJudged(p+"reprotect_ms", c.controllerWhy)
			refuse("window_reprotect_ms", k, c.controllerWhy)
		} else {
			var detect, promote *history.Event
			var lastPromote *history.Event
			for i := range c.events {
				e := &c.events[i]
				if e.Source != "controller" || !inRange(e.At) {
					continue
				}
				if e.Kind == "detect" && detect == nil {
					detect = e
				}
				if e.Kind == "promote" {
					if promote == nil {
						promote = e
					}
					lastPromote = e
				}
			}
			if detect != nil {
				c.f.set(p+"detect_ms", ms(detect.At-w.start))
			}
			if promote != nil {
				c.f.set(p+"promote_ms", ms(promote.At-w.start))
			}
			if lastPromote != nil {
				measures["window_reprotect_ms"].applies = true
				switch {
				case c.h.Meta.Version == 1:
					c.f.notJudged(p+"reprotect_ms", "version 1")
					refuse("window_reprotect_ms", k, "version 1")
				case lastPromote.Region == "":
					c.f.notJudged(p+"reprotect_ms", "no region")
					refuse("window_reprotect_ms", k, "no region")
				default:
					instant, ok := lastPromote.At, true
					for region := range c.regions() {
						if region == lastPromote.Region {
							continue
						}
						found := false
						for _, e := range c.events {
							if !found && e.Source == "controller" && e.Kind == "in-sync" && e.Region == region && e.At >= lastPromote.At && e.At < to {
								found = true
								instant = max(instant, e.At)
							}
						}
						ok = ok && found
					}
					if ok {
						c.f.set(p+"reprotect_ms", ms(instant-w.start))
						take("window_reprotect_ms", ms(instant-w.start), 0)
					} else {
						c.f.notJudged(p+"reprotect_ms", "not re-protected")
						refuse("window_reprotect_ms", k, "not re-protected")
					}
				}
			}
		}

		// The lost writes the window owns.
		if lossWhy != "" {
			c.f.notJudged(p+"lost_writes", lossWhy)
			c.f.notJudged(p+"rpo_ms", lossWhy)
			refuse("window_rpo_ms", k, lossWhy)
			refuse("window_lost_writes", k, lossWhy)
			continue
		}
		var mine []history.Op
		for _, op := range lost {
			afterPrev := k == 0 || op.Complete > ws[k-1].end
			upToMine := k == len(ws)-1 || op.Complete <= w.end
			if afterPrev && upToMine {
				mine = append(mine, op)
			}
		}
		span := 0.0
		res := scheduled
		if len(mine) > 0 {
			lo, hi := mine[0].Complete, mine[0].Complete
			for _, op := range mine {
				lo, hi = min(lo, op.Complete), max(hi, op.Complete)
			}
			span = ms(max(hi, w.start) - lo)
			var before int64
			found := false
			for _, a := range acks {
				if a < lo {
					before, found = a, true
				}
			}
			if found {
				res = ms(lo - before)
			}
		} else {
			var widest int64
			for i := 0; i+1 < len(acks); i++ {
				if acks[i] < w.start && acks[i+1] >= w.start-int64(time.Second) {
					widest = max(widest, acks[i+1]-acks[i])
				}
			}
			if widest > 0 {
				res = ms(widest)
			}
		}
		c.f.set(p+"lost_writes", float64(len(mine)))
		c.f.set(p+"rpo_ms", span)
		c.f.set(p+"rpo_resolution_ms", res)
		take("window_rpo_ms", span, res)
		take("window_lost_writes", float64(len(mine)), 0)
	}
	for name, w := range measures {
		switch {
		case !c.h.Meta.Observed || len(ws) == 0:
			c.f.notApplicable(name)
		case w.why != "":
			c.f.notJudged(name, w.why)
		case name == "window_reprotect_ms" && !w.applies:
			c.f.notApplicable(name)
		default:
			c.f.set(name, w.v)
			c.f.set(name+"/resolution", w.res)
		}
	}
}
