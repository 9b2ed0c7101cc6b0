// Package refcheck is the reference checker: every measure of
// docs/measures.md computed the plainest way, from that page alone, with
// maps and loops and no index, arena or shortcut. It shares nothing with
// internal/check but the history types. It is slow on purpose: its job is
// to be obviously right, so that the differential tests can hold the fast
// checker to it on thousands of generated histories, and the golden report
// to it.
package refcheck

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// Figure is one figure of a history: a value, or why there is none.
type Figure struct {
	Value float64
	// NotApplicable: the figure does not apply to this history (an RTO
	// without a fault, re-protection without a promotion).
	NotApplicable bool
	// NotJudged says why the history cannot give the figure.
	NotJudged string
}

// Figures are a history's figures by name: the measure keys of
// docs/measures.md, and the other figures it defines under names such as
// "lag/<series>/<phase>/p99".
type Figures map[string]Figure

func (f Figures) set(name string, v float64) { f[name] = Figure{Value: v} }
func (f Figures) notJudged(name, why string) { f[name] = Figure{NotJudged: why} }
func (f Figures) notApplicable(name string)  { f[name] = Figure{NotApplicable: true} }
func (f Figures) flag(name string, b bool)   { f.set(name, map[bool]float64{false: 0, true: 1}[b]) }

// Check computes every figure of h with the given stability window (0:
// the default 2 s).
func Check(h *history.History, window time.Duration) Figures {
	if window <= 0 {
		window = 2 * time.Second
	}
	c := &checker{h: h, f: Figures{}, window: int64(window)}
	c.timeline()
	c.finalReads()
	c.rpo()
	c.zombies()
	c.divergence()
	c.rto()
	c.reprotect()
	c.windowFigures(c.disruptions)
	c.lag()
	c.reads()
	c.hypothesis()
	c.timelineUnknown()
	return c.f
}

// timelineUnknown: an observed history's windows draw on its controller
// events; without them whole, what rests on the windows is not judged.
func (c *checker) timelineUnknown() {
	if !c.h.Meta.Observed || c.controllerWhy == "" {
		return
	}
	for _, name := range []string{"rpo_ms", "rto_ms", "outage_start_ms", "lag_p99_ms", "read_visibility_p99_ms",
		"window_rto_ms", "window_rpo_ms", "window_lost_writes", "window_reprotect_ms"} {
		if f, ok := c.f[name]; ok && !f.NotApplicable {
			c.f.notJudged(name, "windows unknown")
			delete(c.f, name+"/err")
			delete(c.f, name+"/resolution")
		}
	}
}

type key struct {
	w int
	s int64
}

type checker struct {
	h      *history.History
	f      Figures
	window int64

	// The fault timeline (docs/measures.md, "Phases and the fault timeline").
	hasFault, hasRollback bool
	fault, rollback       int64
	events                []history.Event // by time, equal times in history order
	promotions            []history.Event // at or after the fault
	disruptions           []refWindow     // "Disruption windows"
	// The final reads: each region's last set, and the final primary's.
	final   map[string]*history.RowSet
	primary *history.RowSet
	onPrim  map[key]bool
	// Why the measures that need each part cannot be judged ("" if they can).
	trafficWhy, primaryWhy, finalReadWhy, controllerWhy string
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func (c *checker) timeline() {
	c.events = append([]history.Event(nil), c.h.Events...)
	sort.SliceStable(c.events, func(i, j int) bool { return c.events[i].At < c.events[j].At })
	c.disruptions = c.windows()
	if c.h.Meta.Observed {
		// An observed history's first disruption window is its fault.
		if len(c.disruptions) > 0 {
			w := c.disruptions[0]
			c.hasFault, c.fault = true, w.start
			if w.end != math.MaxInt64 {
				c.hasRollback, c.rollback = true, w.end
			}
		}
	} else {
		for _, e := range c.events {
			if e.Source == "fault" && e.Kind == "inject" && !c.hasFault {
				c.hasFault, c.fault = true, e.At
			}
		}
	}
	for _, e := range c.events {
		if c.hasFault && !c.h.Meta.Observed && e.Source == "fault" && e.Kind == "rollback" && e.At >= c.fault && !c.hasRollback {
			c.hasRollback, c.rollback = true, e.At
		}
		if c.hasFault && e.Source == "controller" && e.Kind == "promote" && e.At >= c.fault {
			c.promotions = append(c.promotions, e)
		}
	}
	if !c.h.Complete.Traffic.Complete {
		c.trafficWhy = c.h.Complete.Traffic.Why
	}
	if !c.h.Complete.ControllerEvents.Complete {
		c.controllerWhy = c.h.Complete.ControllerEvents.Why
	}
	if !c.h.Complete.FinalRead.Complete {
		c.finalReadWhy = c.h.Complete.FinalRead.Why
	}
}

func (c *checker) phase(t int64) string {
	switch {
	case !c.hasFault:
		return "steady"
	case t < c.fault:
		return "before"
	case !c.hasRollback || t < c.rollback:
		return "during"
	}
	return "after"
}

func (c *checker) finalReads() {
	c.final = map[string]*history.RowSet{}
	lastPos := map[string]int{}
	for i := range c.h.Rows {
		c.final[c.h.Rows[i].Region] = &c.h.Rows[i]
		lastPos[c.h.Rows[i].Region] = i
	}
	best := -1
	for region, rs := range c.final {
		if rs.Role == "primary" && lastPos[region] > best {
			best, c.primary = lastPos[region], rs
		}
	}
	c.onPrim = map[key]bool{}
	switch {
	case c.primary == nil:
		c.primaryWhy = "the history has no final read of the primary"
	case !c.primary.Whole.Complete:
		c.primaryWhy = c.primary.Whole.Why
	default:
		for _, row := range c.primary.Rows {
			c.onPrim[key{row.Writer, row.Seq}] = true
		}
	}
	for _, rs := range c.final {
		if !rs.Whole.Complete && c.finalReadWhy == "" {
			c.finalReadWhy = rs.Whole.Why
		}
	}
}

// first returns the first non-empty reason.
func first(whys ...string) string {
	for _, w := range whys {
		if w != "" {
			return w
		}
	}
	return ""
}

// lossSpan is the span of the given acknowledged writes, with the fault.
func (c *checker) lossSpan(lost []history.Op) float64 {
	if len(lost) == 0 {
		return 0
	}
	lo, hi := lost[0].Complete, lost[0].Complete
	for _, op := range lost {
		lo, hi = min(lo, op.Complete), max(hi, op.Complete)
	}
	if c.hasFault && c.fault > hi {
		hi = c.fault
	}
	return ms(hi - lo)
}

func (c *checker) rpo() {
	scheduled := 0.0
	if c.h.Meta.RateHz > 0 {
		scheduled = 1000 / c.h.Meta.RateHz
	}
	c.f.set("rpo_scheduled_resolution_ms", scheduled)
	why := first(c.trafficWhy, c.primaryWhy)
	names := []string{"rpo_lost_writes", "rpo_ms", "rpo_resolution_ms", "info_applied", "info_not_applied", "failed_but_applied"}
	if why != "" {
		for _, n := range names {
			c.f.notJudged(n, why)
		}
	} else {
		var lost []history.Op
		applied, notApplied, failedApplied := 0, 0, 0
		for _, op := range c.h.Ops {
			present := c.onPrim[key{op.Writer, op.Seq}]
			switch {
			case op.Outcome == history.OK && !present:
				lost = append(lost, op)
			case op.Outcome == history.Info && present:
				applied++
			case op.Outcome == history.Info:
				notApplied++
			case op.Outcome == history.Fail && present:
				failedApplied++
			}
		}
		c.f.set("rpo_lost_writes", float64(len(lost)))
		c.f.set("rpo_ms", c.lossSpan(lost))
		c.f.set("info_applied", float64(applied))
		c.f.set("info_not_applied", float64(notApplied))
		c.f.set("failed_but_applied", float64(failedApplied))
		c.f.set("rpo_resolution_ms", c.rpoResolution(lost, scheduled))
	}
	// The split at the first promotion after the fault.
	split := []string{"replication_lost_writes", "replication_loss_ms", "split_brain_lost_writes"}
	switch {
	case why != "" || c.controllerWhy != "":
		for _, n := range split {
			c.f.notJudged(n, first(why, c.controllerWhy))
		}
	case len(c.promotions) == 0:
		for _, n := range split {
			c.f.notApplicable(n)
		}
	default:
		p := c.promotions[0].At
		var before, after []history.Op
		for _, op := range c.h.Ops {
			if op.Outcome != history.OK || c.onPrim[key{op.Writer, op.Seq}] {
				continue
			}
			if op.Complete < p {
				before = append(before, op)
			} else {
				after = append(after, op)
			}
		}
		c.f.set("replication_lost_writes", float64(len(before)))
		c.f.set("replication_loss_ms", c.lossSpan(before))
		c.f.set("split_brain_lost_writes", float64(len(after)))
	}
}

func (c *checker) rpoResolution(lost []history.Op, scheduled float64) float64 {
	var acks []int64
	for _, op := range c.h.Ops {
		if op.Outcome == history.OK {
			acks = append(acks, op.Complete)
		}
	}
	sort.Slice(acks, func(i, j int) bool { return acks[i] < acks[j] })
	if len(lost) > 0 {
		firstLost := lost[0].Complete
		for _, op := range lost {
			firstLost = min(firstLost, op.Complete)
		}
		var before int64 = -1
		found := false
		for _, a := range acks {
			if a < firstLost {
				before, found = a, true
			}
		}
		if found && firstLost-before > 0 {
			return ms(firstLost - before)
		}
		return scheduled
	}
	if !c.hasFault {
		return scheduled
	}
	var widest int64
	for i := 0; i+1 < len(acks); i++ {
		if acks[i] < c.fault && acks[i+1] >= c.fault-int64(time.Second) {
			widest = max(widest, acks[i+1]-acks[i])
		}
	}
	if widest > 0 {
		return ms(widest)
	}
	return scheduled
}

// primaryTimeline is the primary's timeline: the server id at t, and whether
// the history can tell (a first server id, and every promotion naming one).
func (c *checker) primaryTimeline() (func(t int64) uint32, bool) {
	if c.h.Meta.PrimaryServerID == 0 {
		return nil, false
	}
	type entry struct {
		from int64
		sid  uint32
	}
	entries := []entry{{math.MinInt64, c.h.Meta.PrimaryServerID}}
	for _, e := range c.events {
		if e.Source == "controller" && (e.Kind == "promote" || e.Kind == "primary-restart") {
			if e.ServerID == 0 {
				return nil, false
			}
			entries = append(entries, entry{e.At, e.ServerID})
		}
	}
	at := func(t int64) uint32 {
		sid := entries[0].sid
		for _, en := range entries {
			if en.from <= t {
				sid = en.sid
			}
		}
		return sid
	}
	return at, true
}

// regionCrossCheck is why the promotions do not end at the final
// primary's region ("" when they do, or when the history cannot tell).
func (c *checker) regionCrossCheck() string {
	if c.primary == nil || c.h.Meta.PrimaryRegion == "" {
		return ""
	}
	region := c.h.Meta.PrimaryRegion
	for _, e := range c.events {
		if e.Source == "controller" && e.Kind == "promote" && e.Region != "" && e.At <= c.primary.At {
			region = e.Region
		}
	}
	if region != c.primary.Region {
		return fmt.Sprintf("the history's promotions up to the final read end in %s but the final primary is %s: a promotion is missing from the history", region, c.primary.Region)
	}
	return ""
}

func (c *checker) zombies() {
	why := first(c.primaryWhy, c.finalReadWhy, c.controllerWhy)
	if why != "" {
		c.f.notJudged("zombie_writes", why)
		return
	}
	isZombie := map[key]bool{}
	if at, ok := c.primaryTimeline(); ok {
		if sid := at(c.primary.At); sid != c.primary.ServerID {
			c.f.notJudged("zombie_writes", fmt.Sprintf("the primary's timeline names server %d at the final read but the final primary is server %d: a promotion is missing from the history", sid, c.primary.ServerID))
			return
		}
		for _, rs := range c.final {
			for _, row := range rs.Rows {
				if row.Origin != at(row.CommittedAt) {
					isZombie[key{row.Writer, row.Seq}] = true
				}
			}
		}
	} else if len(c.promotions) == 1 {
		p := c.promotions[0].At
		for _, rs := range c.final {
			for _, row := range rs.Rows {
				if row.CommittedAt > p && row.Origin != c.primary.ServerID {
					isZombie[key{row.Writer, row.Seq}] = true
				}
			}
		}
	} else {
		c.f.notJudged("zombie_writes", "the target does not report which server was the primary when")
		return
	}
	c.f.set("zombie_writes", float64(len(isZombie)))
}

func (c *checker) divergence() {
	written := map[key]int{}
	for _, op := range c.h.Ops {
		written[key{op.Writer, op.Seq}]++
	}
	dupOps := 0
	for _, n := range written {
		dupOps += n - 1
	}
	c.f.set("duplicate_ops", float64(dupOps))
	dupRows, unexpected := 0, 0
	for _, rs := range c.final {
		inSet := map[key]int{}
		for _, row := range rs.Rows {
			k := key{row.Writer, row.Seq}
			inSet[k]++
			if written[k] == 0 {
				unexpected++
			}
		}
		for _, n := range inSet {
			dupRows += n - 1
		}
	}
	c.f.set("duplicate_rows", float64(dupRows))
	c.f.set("unexpected_rows", float64(unexpected))
	if c.primaryWhy != "" {
		return
	}
	for region, rs := range c.final {
		if rs == c.primary {
			continue
		}
		inRegion := map[key]bool{}
		divergent := 0
		for _, row := range rs.Rows {
			inRegion[key{row.Writer, row.Seq}] = true
			if !c.onPrim[key{row.Writer, row.Seq}] {
				divergent++
			}
		}
		missing := 0
		for _, row := range c.primary.Rows {
			if !inRegion[key{row.Writer, row.Seq}] {
				missing++
			}
		}
		c.f.set("divergent/"+region, float64(divergent))
		c.f.set("missing/"+region, float64(missing))
	}
}
