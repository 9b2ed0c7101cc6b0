package refcheck

import (
	"fmt"
	"math"

	"github.com/drdrill/drdrill/internal/history"
)

func (c *checker) rto() {
	names := []string{"rto_ms", "outage_start_ms", "rto_failed_writes", "rto_first_fail_invoke_ms", "rto_last_fail_invoke_ms", "rto_affected", "rto_recovered"}
	if !c.hasFault {
		for _, n := range append(names, "detect_ms", "promote_ms") {
			c.f.notApplicable(n)
		}
		return
	}
	c.controllerTimes()
	if c.trafficWhy != "" {
		for _, n := range names {
			c.f.notJudged(n, c.trafficWhy)
		}
		return
	}
	var after []history.Op
	for _, op := range c.h.Ops {
		if op.Invoke >= c.fault {
			after = append(after, op)
		}
	}
	failed := 0
	var outage, lastFail int64 = math.MaxInt64, math.MinInt64
	var lastInvoke int64 = math.MinInt64
	for _, op := range after {
		lastInvoke = max(lastInvoke, op.Invoke)
		if op.Outcome != history.OK {
			failed++
			outage = min(outage, op.Invoke)
			lastFail = max(lastFail, op.Invoke)
		}
	}
	c.f.set("rto_failed_writes", float64(failed))
	if failed == 0 {
		c.f.set("rto_ms", 0)
		c.f.flag("rto_affected", false)
		c.f.flag("rto_recovered", true)
		c.f.notApplicable("outage_start_ms")
		c.f.notApplicable("rto_first_fail_invoke_ms")
		c.f.notApplicable("rto_last_fail_invoke_ms")
		return
	}
	c.f.flag("rto_affected", true)
	c.f.set("outage_start_ms", ms(outage-c.fault))
	c.f.set("rto_first_fail_invoke_ms", ms(outage))
	c.f.set("rto_last_fail_invoke_ms", ms(lastFail))
	best, found := int64(math.MaxInt64), false
	for _, w := range after {
		if w.Outcome != history.OK || w.Complete <= outage {
			continue
		}
		end := w.Complete + c.window
		if lastInvoke < end {
			continue
		}
		clean := true
		for _, x := range after {
			if x.Outcome != history.OK && x.Invoke >= w.Invoke && x.Invoke <= end {
				clean = false
				break
			}
		}
		if clean && w.Complete < best {
			best, found = w.Complete, true
		}
	}
	c.f.flag("rto_recovered", found)
	if found {
		c.f.set("rto_ms", ms(best-c.fault))
	} else {
		c.f.notJudged("rto_ms", "writes never succeeded for a whole stability window")
	}
}

// controllerTimes are the detection and promotion times after the fault.
func (c *checker) controllerTimes() {
	for _, kind := range []string{"detect", "promote"} {
		name := kind + "_ms"
		if c.controllerWhy != "" {
			c.f.notJudged(name, c.controllerWhy)
			continue
		}
		c.f.notApplicable(name)
		for _, e := range c.events {
			if e.Source == "controller" && e.Kind == kind && e.At >= c.fault {
				c.f.set(name, ms(e.At-c.fault))
				break
			}
		}
	}
}

// regions are the history's regions: its meta line's, or else those of
// its final reads, reads and heartbeat series.
func (c *checker) regions() map[string]bool {
	out := map[string]bool{}
	for _, r := range c.h.Meta.Regions {
		out[r] = true
	}
	if len(out) > 0 {
		return out
	}
	for _, rs := range c.h.Rows {
		out[rs.Region] = true
	}
	for _, rd := range c.h.Reads {
		out[rd.Region] = true
	}
	for _, s := range c.h.Lag {
		if !isAWSSeries(s.Region) {
			out[s.Region] = true
		}
	}
	return out
}

func (c *checker) reprotect() {
	const name = "reprotect_ms"
	switch {
	case !c.hasFault:
		c.f.notApplicable(name)
		return
	case c.controllerWhy != "":
		c.f.notJudged(name, c.controllerWhy)
		return
	case len(c.promotions) == 0:
		c.f.notApplicable(name)
		return
	case c.h.Meta.Version == 1:
		c.f.notJudged(name, "a version 1 history predates in-sync events")
		return
	}
	last := c.promotions[len(c.promotions)-1]
	if last.Region == "" {
		c.f.notJudged(name, "the last promotion does not name its region")
		return
	}
	instant := last.At
	for region := range c.regions() {
		if region == last.Region {
			continue
		}
		at, found := int64(0), false
		for _, e := range c.events {
			if e.Source == "controller" && e.Kind == "in-sync" && e.Region == region && e.At >= last.At {
				at, found = e.At, true
				break
			}
		}
		if !found {
			c.f.notJudged(name, fmt.Sprintf("not re-protected within the history: %s has no in-sync event after the last promotion", region))
			return
		}
		instant = max(instant, at)
	}
	c.f.set(name, ms(instant-c.fault))
}
