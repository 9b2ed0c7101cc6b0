package refcheck

import (
	"math"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

func returned(rd *history.ReadOp) []key {
	var out []key
	for i := 0; i+2 < len(rd.Saw); i += 3 {
		for s := rd.Saw[i+1]; s <= rd.Saw[i+2]; s++ {
			out = append(out, key{int(rd.Saw[i]), s})
		}
	}
	return out
}

func (c *checker) reads() {
	names := []string{"read_visibility_p99_ms", "vanished_reads", "stale_reads_after_promotion", "never_seen_writes"}
	if len(c.h.Reads) == 0 {
		for _, n := range names {
			c.f.notApplicable(n)
		}
		return
	}
	if c.trafficWhy != "" {
		for _, n := range names {
			c.f.notJudged(n, c.trafficWhy)
		}
		return
	}
	byRegion := map[string][]*history.ReadOp{}
	for i := range c.h.Reads {
		rd := &c.h.Reads[i]
		byRegion[rd.Region] = append(byRegion[rd.Region], rd)
	}
	ok := map[string][]*history.ReadOp{} // successful reads, in invoke order
	for region, list := range byRegion {
		sort.SliceStable(list, func(i, j int) bool { return list[i].Invoke < list[j].Invoke })
		if len(list) > 1 {
			var gaps []float64
			for i := 1; i < len(list); i++ {
				gaps = append(gaps, ms(list[i].Invoke-list[i-1].Invoke))
			}
			c.f.set("read_resolution/"+region, math.Round(nearestRank(gaps, 50)*100)/100)
		}
		for _, rd := range list {
			if rd.Outcome == history.OK {
				ok[region] = append(ok[region], rd)
			}
		}
	}
	// firstSeen[region][key]: the position in ok[region] of the first read returning it.
	firstSeen := map[string]map[key]int{}
	for region, list := range ok {
		firstSeen[region] = map[key]int{}
		for j, rd := range list {
			for _, k := range returned(rd) {
				if _, seen := firstSeen[region][k]; !seen {
					firstSeen[region][k] = j
				}
			}
		}
	}
	c.visibility(ok, firstSeen)
	c.vanished(ok, firstSeen)
	c.stale(ok)
	c.neverSeen(ok, firstSeen)
}

func (c *checker) visibility(ok map[string][]*history.ReadOp, firstSeen map[string]map[key]int) {
	type acc struct{ v, lo, hi []float64 }
	var worst worstBeforeFault
	for region, list := range ok {
		phases := map[string]*acc{}
		for _, op := range c.h.Ops {
			if op.Outcome != history.OK {
				continue
			}
			j, seen := firstSeen[region][key{op.Writer, op.Seq}]
			if !seen {
				continue
			}
			k := list[j]
			upper := max(0, k.Complete-op.Complete)
			var lower int64
			if j > 0 && list[j-1].Covers(op.Writer, op.Seq) {
				lower = max(0, list[j-1].Invoke-op.Complete)
			}
			var p string
			switch {
			case !c.hasFault:
				p = "steady"
			case op.Complete < c.fault && k.Complete < c.fault:
				p = "before"
			case op.Complete < c.fault || !c.hasRollback || op.Complete < c.rollback:
				p = "during"
			default:
				p = "after"
			}
			if phases[p] == nil {
				phases[p] = &acc{}
			}
			a := phases[p]
			a.v, a.lo, a.hi = append(a.v, ms(lower+upper)/2), append(a.lo, ms(lower)), append(a.hi, ms(upper))
		}
		for p, a := range phases {
			prefix := "visibility/" + region + "/" + p
			c.percentiles(prefix, a.v, a.lo, a.hi, nil)
			worst.take(c.f, p, prefix)
		}
	}
	worst.record(c.f, "read_visibility_p99_ms", "no write was read back before the fault")
}

// worstBeforeFault is what a bound on a p99 judges: the largest p99 of
// the phases before the fault (steady, before) over every series or
// region, with the largest error among those equal to it.
type worstBeforeFault struct {
	p99, err float64
	judged   bool
}

// take counts the p99 at prefix when phase p is before the fault.
func (w *worstBeforeFault) take(f Figures, p, prefix string) {
	if p != "steady" && p != "before" {
		return
	}
	p99, err := f[prefix+"/p99"].Value, f[prefix+"/p99_err"].Value
	switch {
	case !w.judged || p99 > w.p99:
		w.p99, w.err, w.judged = p99, err, true
	case p99 == w.p99:
		w.err = max(w.err, err)
	}
}

// record sets measure and its error, or says why it is not judged.
func (w *worstBeforeFault) record(f Figures, measure, why string) {
	if !w.judged {
		f.notJudged(measure, why)
		return
	}
	f.set(measure, w.p99)
	f.set(measure+"/err", w.err)
}

func (c *checker) vanished(ok map[string][]*history.ReadOp, firstSeen map[string]map[key]int) {
	if c.primaryWhy != "" {
		c.f.notJudged("vanished_reads", c.primaryWhy)
		return
	}
	gone := map[key]bool{}
	for _, list := range ok {
		// What earlier reads returned; only those keys can vanish, so a
		// range is looked at up to the highest seq returned so far.
		seenBefore, highest := map[key]bool{}, map[int]int64{}
		for _, rd := range list {
			for i := 0; i+2 < len(rd.Asked); i += 3 {
				w, from, to := int(rd.Asked[i]), rd.Asked[i+1], rd.Asked[i+2]
				if to == 0 || to > highest[w] {
					to = highest[w]
				}
				for s := from; s <= to; s++ {
					if seenBefore[key{w, s}] && !rd.Has(w, s) {
						gone[key{w, s}] = true
					}
				}
			}
			for _, k := range returned(rd) {
				seenBefore[k] = true
				highest[k.w] = max(highest[k.w], k.s)
			}
		}
	}
	for _, seen := range firstSeen {
		for k := range seen {
			if !c.onPrim[k] {
				gone[k] = true
			}
		}
	}
	c.f.set("vanished_reads", float64(len(gone)))
}

func (c *checker) stale(ok map[string][]*history.ReadOp) {
	const name = "stale_reads_after_promotion"
	why := first(c.controllerWhy)
	if why == "" && c.h.Meta.PrimaryRegion == "" {
		why = "the history does not name the first primary region"
	}
	if why == "" {
		why = c.regionCrossCheck()
	}
	if why != "" {
		c.f.notJudged(name, why)
		c.f.notJudged("stale_max_behind_ms", why)
		return
	}
	type window struct {
		region   string
		from, to int64
	}
	var windows []window
	cur := c.h.Meta.PrimaryRegion
	for i, e := range c.events {
		if e.Source != "controller" || e.Kind != "promote" || e.Region == cur || e.Region == "" {
			continue
		}
		w := window{cur, e.At, math.MaxInt64}
		for _, f := range c.events[i+1:] {
			if f.Source == "controller" && f.Region == cur && (f.Kind == "rejoin" || f.Kind == "reseed" || f.Kind == "promote") {
				w.to = f.At
				break
			}
		}
		windows = append(windows, w)
		cur = e.Region
	}
	stale := 0
	var behind int64
	for _, w := range windows {
		for _, rd := range ok[w.region] {
			if rd.Invoke < w.from || rd.Invoke >= w.to {
				continue
			}
			oldest, missing := int64(math.MaxInt64), false
			for _, op := range c.h.Ops {
				if op.Outcome == history.OK && op.Complete < rd.Invoke && rd.Covers(op.Writer, op.Seq) && !rd.Has(op.Writer, op.Seq) {
					missing = true
					oldest = min(oldest, op.Complete)
				}
			}
			if missing {
				stale++
				behind = max(behind, rd.Invoke-oldest)
			}
		}
	}
	c.f.set(name, float64(stale))
	c.f.set("stale_max_behind_ms", math.Round(ms(behind)*10)/10)
}

func (c *checker) neverSeen(ok map[string][]*history.ReadOp, firstSeen map[string]map[key]int) {
	if c.finalReadWhy != "" {
		c.f.notJudged("never_seen_writes", c.finalReadWhy)
		return
	}
	inFinal := map[string]map[key]bool{}
	for region, rs := range c.final {
		inFinal[region] = map[key]bool{}
		for _, row := range rs.Rows {
			inFinal[region][key{row.Writer, row.Seq}] = true
		}
	}
	notSeenIn := map[string]int{}
	never := 0
	for _, op := range c.h.Ops {
		if op.Outcome != history.OK {
			continue
		}
		k := key{op.Writer, op.Seq}
		anywhere, missedSomewhere := false, false
		for region, list := range ok {
			if _, seen := firstSeen[region][k]; seen {
				anywhere = true
				continue
			}
			if inFinal[region] != nil && inFinal[region][k] {
				continue
			}
			after := sort.Search(len(list), func(i int) bool { return list[i].Invoke > op.Complete })
			for _, rd := range list[after:] {
				if rd.Covers(op.Writer, op.Seq) {
					notSeenIn[region]++
					missedSomewhere = true
					break
				}
			}
		}
		if !anywhere && missedSomewhere {
			never++
		}
	}
	for region := range ok {
		c.f.set("not_seen_in/"+region, float64(notSeenIn[region]))
	}
	c.f.set("never_seen_writes", float64(never))
}
