package check

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// analysis is what every property needs, built once per history: the
// fault timeline, what the history holds whole, the final reads, and the
// indexes the read checks share. Each property (one file each) is a small
// function over it that fills its part of the Result.
type analysis struct {
	h   *history.History
	cfg Config
	r   *Result

	// The fault timeline: times on the history's clock, none when absent.
	events                  []history.Event // by time, equal times in history order
	fault, rollback, detect int64
	promotions              []history.Event // promotions at or after the fault
	// windows are the disruption windows (windows.go); in an observed
	// history the first one is the fault timeline's.
	windows []window
	// invokeOrder is every operation's index by invoke time (byInvoke).
	invokeOrder []int32
	resolution  float64 // the scheduled interval, ms
	// Why each part of the history is incomplete ("" when it is whole).
	trafficWhy, controllerWhy, finalReadWhy, primaryWhy string

	// The writes: every key written, and the acknowledgement times sorted.
	written seqSet
	acks    []int64

	// The final reads: each region's last set in first-appearance order,
	// which one is the primary, and each set's keys.
	order     []string
	final     map[string]*history.RowSet
	primary   *history.RowSet
	present   map[string]seqSet
	onPrimary seqSet
	// lost caches lostOps: the RPO, the failover split and the windows
	// all read it.
	lost     []history.Op
	lostDone bool

	// The reads, per region in invoke order (regions sorted), with which
	// successful read first returned each key.
	base     int
	top      []int64
	idx      opIndex
	regions  []string
	byRegion map[string][]*history.ReadOp
	okReads  map[string][]*history.ReadOp
	seen     map[string]firstSeen
}

// none marks a time the history does not have: times may be negative (a
// fault in the ledger from before the history began).
const none = math.MinInt64

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func msp(ns int64) *float64 { v := ms(ns); return &v }

func toWrite(op history.Op) Write {
	return Write{Writer: op.Writer, Seq: op.Seq, InvokeMs: ms(op.Invoke), AckMs: ms(op.Complete), Outcome: op.Outcome.String(), Error: op.Err}
}

func rowRef(region string, row history.Row) RowRef {
	return RowRef{Region: region, Writer: row.Writer, Seq: row.Seq, Origin: row.Origin, CommittedMs: ms(row.CommittedAt)}
}

// notJudged records why the history cannot judge a measure.
func (a *analysis) notJudged(measure, why string) {
	if a.r.NotJudged == nil {
		a.r.NotJudged = map[string]string{}
	}
	a.r.NotJudged[measure] = why
}

// firstWhy is the first non-empty reason.
func firstWhy(whys ...string) string {
	for _, w := range whys {
		if w != "" {
			return w
		}
	}
	return ""
}

func newAnalysis(h *history.History, cfg Config, r *Result) *analysis {
	a := &analysis{h: h, cfg: cfg, r: r, fault: none, rollback: none, detect: none}
	if h.Meta.RateHz > 0 {
		a.resolution = 1000 / h.Meta.RateHz
	}
	a.timeline()
	a.completeness()
	a.writes()
	a.finalReads()
	return a
}

// timeline: the first injection, its rollback, the detection and the
// promotions after it. In an observed history the first disruption window
// stands for the injection and its end for the rollback.
func (a *analysis) timeline() {
	a.events = append([]history.Event(nil), a.h.Events...)
	sort.SliceStable(a.events, func(i, j int) bool { return a.events[i].At < a.events[j].At })
	a.findWindows()
	a.r.Observed = a.h.Meta.Observed
	if a.h.Meta.Observed {
		if len(a.windows) > 0 {
			a.fault = a.windows[0].start
			if end := a.windows[0].end; end != math.MaxInt64 {
				a.rollback = end
			}
		}
	} else {
		for _, e := range a.events {
			if e.Source == "fault" && e.Kind == "inject" {
				a.fault = e.At
				break
			}
		}
	}
	if a.fault == none {
		return
	}
	for _, e := range a.events {
		switch {
		case e.At < a.fault:
		case e.Source == "fault" && e.Kind == "rollback" && a.rollback == none && !a.h.Meta.Observed:
			a.rollback = e.At
		case e.Source == "controller" && e.Kind == "promote":
			a.promotions = append(a.promotions, e)
		case e.Source == "controller" && e.Kind == "detect" && a.detect == none:
			a.detect = e.At
		}
	}
	a.r.FaultMs = msp(a.fault)
	if a.rollback != none {
		a.r.RollbackMs = msp(a.rollback)
	}
	if len(a.promotions) > 0 {
		a.r.FailoverMs = msp(a.promotions[0].At)
	}
}

func (a *analysis) completeness() {
	c := a.h.Complete
	if !c.Traffic.Complete {
		a.trafficWhy = c.Traffic.Why
	}
	if !c.ControllerEvents.Complete {
		a.controllerWhy = c.ControllerEvents.Why
	}
	if !c.FinalRead.Complete {
		a.finalReadWhy = c.FinalRead.Why
	}
	if c.Inferred {
		a.r.Notes = append(a.r.Notes, "history version 1: written before completeness markers, so what it holds of each section is inferred from the order of its lines")
	}
	for _, p := range []history.Part{c.Traffic, c.FinalRead, c.ControllerEvents} {
		if !p.Complete {
			a.r.Notes = append(a.r.Notes, "incomplete history: "+p.Why)
		}
	}
}

func (a *analysis) writes() {
	a.written = seqSet{}
	nOK := 0
	for _, op := range a.h.Ops {
		a.r.Ops.Total++
		switch op.Outcome {
		case history.OK:
			a.r.Ops.OK++
			nOK++
		case history.Fail:
			a.r.Ops.Fail++
		default:
			a.r.Ops.Info++
		}
		if a.written.add(op.Writer, op.Seq) {
			a.r.DuplicateOps++
		}
	}
	a.acks = make([]int64, 0, nOK)
	for _, op := range a.h.Ops {
		if op.Outcome == history.OK {
			a.acks = append(a.acks, op.Complete)
		}
	}
	slices.Sort(a.acks)
}

// finalReads: the last read of each region, and which one is the primary
// (of several, the one whose read comes last in the history).
func (a *analysis) finalReads() {
	a.final = map[string]*history.RowSet{}
	last := map[string]int{}
	for i := range a.h.Rows {
		rs := &a.h.Rows[i]
		if _, seen := a.final[rs.Region]; !seen {
			a.order = append(a.order, rs.Region)
		}
		a.final[rs.Region] = rs
		last[rs.Region] = i
	}
	best := -1
	for _, region := range a.order {
		if rs := a.final[region]; rs.Role == "primary" && last[region] > best {
			best, a.primary = last[region], rs
		}
		if rs := a.final[region]; !rs.Whole.Complete && a.finalReadWhy == "" {
			a.finalReadWhy = rs.Whole.Why
		}
	}
	a.present = map[string]seqSet{}
	for _, region := range a.order {
		set := seqSet{}
		for _, row := range a.final[region].Rows {
			if set.add(row.Writer, row.Seq) {
				a.r.DuplicateRows++
			}
			if !a.written.has(row.Writer, row.Seq) {
				a.r.UnexpectedCount++
				if len(a.r.Unexpected) < a.cfg.Examples {
					a.r.Unexpected = append(a.r.Unexpected, rowRef(region, row))
				}
			}
		}
		a.present[region] = set
	}
	switch {
	case a.primary == nil:
		a.primaryWhy = "the history has no final read of the primary"
	case !a.primary.Whole.Complete:
		a.primaryWhy = a.primary.Whole.Why
	default:
		a.r.FinalPrimary = a.primary.Region
		a.onPrimary = a.present[a.primary.Region]
	}
}

// phase is the phase of t: steady without a fault, else before, during or
// after it.
func (a *analysis) phase(t int64) int {
	switch {
	case a.fault == none:
		return phaseSteady
	case t < a.fault:
		return phaseBefore
	case a.rollback == none || t < a.rollback:
		return phaseDuring
	}
	return phaseAfter
}

// phaseEnd is when the phase holding t ends (MaxInt64: never).
func (a *analysis) phaseEnd(t int64) int64 {
	switch a.phase(t) {
	case phaseBefore:
		return a.fault
	case phaseDuring:
		if a.rollback != none {
			return a.rollback
		}
	}
	return math.MaxInt64
}

const (
	phaseSteady = iota
	phaseBefore
	phaseDuring
	phaseAfter
)

var phaseNames = [4]string{"steady", "before", "during", "after"}

// regionCrossCheck is why the promotions up to the final read of the
// primary do not end at its region ("" when they do, or when the history
// cannot tell).
func (a *analysis) regionCrossCheck() string {
	if a.primary == nil || a.h.Meta.PrimaryRegion == "" {
		return ""
	}
	region := a.h.Meta.PrimaryRegion
	for _, e := range a.events {
		if e.Source == "controller" && e.Kind == "promote" && e.Region != "" && e.At <= a.primary.At {
			region = e.Region
		}
	}
	if region != a.primary.Region {
		return fmt.Sprintf("the history's promotions up to the final read end in %s but the final primary is %s: a promotion is missing from the history", region, a.primary.Region)
	}
	return ""
}

// indexReads sorts each region's reads by invoke and finds, per region,
// the successful read that first returned each key.
func (a *analysis) indexReads() {
	a.base, a.top = maxSeqs(a.h.Ops)
	a.idx = indexOps(a.h.Ops, a.base, a.top)
	a.byRegion = map[string][]*history.ReadOp{}
	a.okReads = map[string][]*history.ReadOp{}
	for i := range a.h.Reads {
		rd := &a.h.Reads[i]
		if _, ok := a.byRegion[rd.Region]; !ok {
			a.regions = append(a.regions, rd.Region)
		}
		a.byRegion[rd.Region] = append(a.byRegion[rd.Region], rd)
	}
	slices.Sort(a.regions)
	a.seen = map[string]firstSeen{}
	for _, region := range a.regions {
		list := a.byRegion[region]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Invoke < list[j].Invoke })
		var ok []*history.ReadOp
		for _, rd := range list {
			if rd.Outcome == history.OK {
				ok = append(ok, rd)
			}
		}
		a.okReads[region] = ok
		fs := firstSeen{bySeq: newBySeq(a.base, a.top), reads: ok}
		for k, rd := range ok {
			for i := 0; i+2 < len(rd.Saw); i += 3 {
				w := int(rd.Saw[i])
				for s := rd.Saw[i+1]; s <= rd.Saw[i+2]; s++ {
					fs.mark(w, s, k)
				}
			}
		}
		a.seen[region] = fs
	}
}

// roundTo rounds v to 1/per (per 10: to 0.1).
func roundTo(v, per float64) float64 { return math.Round(v*per) / per }
