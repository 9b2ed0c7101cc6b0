package check

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/history"
)

// Disruption windows (docs/measures.md, "Disruption windows"): the spans
// in which the stack was disrupted, derived from the history alone. A
// drill's history has the faults its harness injected; an observed one
// (`drdrill observe`, which injects nothing) also the faults others
// injected through drdrill (the fault ledger), the control plane's own
// transitions and the writes that failed, so that a disruption nobody
// told drdrill about — an AWS FIS experiment, an ARC switch — is still a
// window, measured like a fault.

// Window sources, in the order equal starts are taken.
const (
	SourceFault      = "fault"
	SourceLedger     = "ledger"
	SourceController = "controller"
	SourceWrites     = "writes"
)

var sourceRank = map[string]int{SourceFault: 0, SourceLedger: 1, SourceController: 2, SourceWrites: 3}

// evidenceKinds are the controller events that are evidence of a
// disruption in an observed history: the disruption itself, not the
// re-protection after it (rejoin, re-seed, in-sync).
var evidenceKinds = []string{"detect", "failover-start", "switchover-start", "promote", "fence", "failover-end"}

// IsEvidence says whether a controller event of this kind is evidence of a
// disruption in an observed history.
func IsEvidence(kind string) bool { return slices.Contains(evidenceKinds, kind) }

// WindowFault is a fault a window holds.
type WindowFault struct {
	Source string  `json:"source"` // fault or ledger
	Fault  string  `json:"fault"`
	ID     string  `json:"id,omitempty"`
	Region string  `json:"region,omitempty"`
	AtMs   float64 `json:"at_ms"`
}

// Window is one disruption window and its figures (ms are on the
// history's clock, or from the window's start).
type Window struct {
	// Source is where its start came from: a fault the harness injected,
	// one the ledger showed, a control-plane event, a failed write.
	Source  string        `json:"source"`
	Faults  []WindowFault `json:"faults,omitempty"`
	StartMs float64       `json:"start_ms"`
	// EndMs is nil for a window still open when the history ends (a fault
	// never rolled back).
	EndMs *float64 `json:"end_ms,omitempty"`
	// Evidence counts the controller events and failed writes in it.
	ControllerEvents int `json:"controller_events"`
	FailedWrites     int `json:"failed_writes"`

	Affected        bool     `json:"affected"`
	Recovered       bool     `json:"recovered"`
	RTOMs           *float64 `json:"rto_ms,omitempty"`
	OutageStartMs   *float64 `json:"outage_start_ms,omitempty"`
	DetectMs        *float64 `json:"detect_ms,omitempty"`
	PromoteMs       *float64 `json:"promote_ms,omitempty"`
	ReprotectMs     *float64 `json:"reprotect_ms,omitempty"`
	LostWrites      int      `json:"lost_writes"`
	RPOMs           float64  `json:"rpo_ms"`
	RPOResolutionMs float64  `json:"rpo_resolution_ms"`
	// NotJudged says, per figure (rto_ms, outage_start_ms, detect_ms,
	// promote_ms, reprotect_ms, lost_writes, rpo_ms), why the history
	// cannot give it.
	NotJudged map[string]string `json:"not_judged,omitempty"`
}

// Label names the window in one line: "2 (ledger: region-crash)".
func (w Window) Label(i int) string {
	var names []string
	for _, f := range w.Faults {
		names = append(names, f.Fault)
	}
	if len(names) == 0 {
		return fmt.Sprintf("%d (%s)", i+1, w.Source)
	}
	return fmt.Sprintf("%d (%s: %s)", i+1, w.Source, strings.Join(names, ", "))
}

func (w *Window) notJudged(figure, why string) {
	if w.NotJudged == nil {
		w.NotJudged = map[string]string{}
	}
	w.NotJudged[figure] = why
}

// window is a window while the checker works on it.
type window struct {
	start, end int64 // end: MaxInt64 when open
	source     string
	faults     []WindowFault
	controller int
}

// interval is one piece of evidence.
type interval struct {
	start, end int64
	source     string
	order      int // history order within its source
	fault      *WindowFault
}

// findWindows derives the disruption windows from the history's events
// (sorted) and, in an observed history, its failed writes.
func (a *analysis) findWindows() {
	var ivs []interval
	type faultKey struct{ source, id string }
	opened := map[faultKey]bool{}
	for i, e := range a.events {
		if e.Kind != "inject" || (e.Source != SourceFault && e.Source != SourceLedger) {
			continue
		}
		k := faultKey{e.Source, e.ID}
		if opened[k] {
			continue
		}
		opened[k] = true
		end := int64(math.MaxInt64)
		for _, r := range a.events {
			if r.Kind == "rollback" && r.Source == e.Source && r.ID == e.ID && r.At >= e.At {
				end = r.At
				break
			}
		}
		wf := WindowFault{Source: e.Source, Fault: e.Fault, ID: e.ID, Region: e.Region, AtMs: ms(e.At)}
		ivs = append(ivs, interval{start: e.At, end: end, source: e.Source, order: i, fault: &wf})
	}
	if a.h.Meta.Observed {
		for i, e := range a.events {
			if e.Source == SourceController && IsEvidence(e.Kind) {
				ivs = append(ivs, interval{start: e.At, end: e.At, source: SourceController, order: i})
			}
		}
		for i, op := range a.h.Ops {
			if op.Outcome != history.OK {
				ivs = append(ivs, interval{start: op.Invoke, end: op.Complete, source: SourceWrites, order: i})
			}
		}
	}
	sort.SliceStable(ivs, func(i, j int) bool {
		x, y := ivs[i], ivs[j]
		if x.start != y.start {
			return x.start < y.start
		}
		if x.source != y.source {
			return sourceRank[x.source] < sourceRank[y.source]
		}
		return x.order < y.order
	})
	gap := int64(a.cfg.StabilityWindow)
	var cur *window
	injected := false // cur's start is a fault's inject
	for _, iv := range ivs {
		if cur == nil || iv.start > satAdd(cur.end, gap) {
			a.windows = append(a.windows, window{start: iv.start, end: iv.end, source: iv.source})
			cur = &a.windows[len(a.windows)-1]
			injected = iv.fault != nil
		} else {
			cur.end = max(cur.end, iv.end)
			if iv.fault != nil && !injected {
				// The first fault in a window starts it, whatever
				// evidence came a moment before.
				cur.start, cur.source, injected = iv.start, iv.source, true
			}
		}
		if iv.fault != nil {
			cur.faults = append(cur.faults, *iv.fault)
		}
		if iv.source == SourceController {
			cur.controller++
		}
	}
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// windows measures each disruption window over its range: from its start
// to the next window's, for the writes invoked and the events; its lost
// writes are those acknowledged after the previous window's end and up to
// its own (the last window: every later one).
func windows(a *analysis) {
	if len(a.windows) == 0 {
		return
	}
	lost := a.lostOps()
	for k, w := range a.windows {
		to := int64(math.MaxInt64)
		if k+1 < len(a.windows) {
			to = a.windows[k+1].start
		}
		out := Window{Source: w.source, Faults: w.faults, StartMs: ms(w.start), ControllerEvents: w.controller}
		if w.end != math.MaxInt64 {
			out.EndMs = msp(w.end)
		}
		a.windowRTO(&out, w.start, to)
		a.windowControl(&out, w.start, to)
		a.windowLoss(&out, k, lost)
		a.r.Windows = append(a.r.Windows, out)
	}
}

func (a *analysis) windowRTO(out *Window, from, to int64) {
	if a.trafficWhy != "" {
		out.notJudged("rto_ms", a.trafficWhy)
		out.notJudged("outage_start_ms", a.trafficWhy)
		return
	}
	rec := a.recovery(from, to)
	out.FailedWrites = rec.failed
	if rec.failed == 0 {
		out.Recovered, out.RTOMs = true, msp(0)
		return
	}
	out.Affected = true
	out.OutageStartMs = msp(rec.outage - from)
	if !rec.recovered {
		why := "writes never succeeded for a whole stability window"
		if to != math.MaxInt64 {
			why += " before the next disruption"
		}
		out.notJudged("rto_ms", why)
		return
	}
	out.Recovered, out.RTOMs = true, msp(rec.at-from)
}

// windowControl: detection, promotion and re-protection within the range.
func (a *analysis) windowControl(out *Window, from, to int64) {
	if a.controllerWhy != "" {
		for _, f := range []string{"detect_ms", "promote_ms", "reprotect_ms"} {
			out.notJudged(f, a.controllerWhy)
		}
		return
	}
	var last *history.Event
	for i := range a.events {
		e := &a.events[i]
		if e.Source != SourceController || e.At < from || e.At >= to {
			continue
		}
		switch e.Kind {
		case "detect":
			if out.DetectMs == nil {
				out.DetectMs = msp(e.At - from)
			}
		case "promote":
			if out.PromoteMs == nil {
				out.PromoteMs = msp(e.At - from)
			}
			last = e
		}
	}
	if last == nil {
		return
	}
	instant, behind, why := a.reprotectedAt(*last, to)
	if why != "" {
		out.notJudged("reprotect_ms", why)
		return
	}
	if len(behind) > 0 {
		where := "within the history"
		if to != math.MaxInt64 {
			where = "before the next disruption"
		}
		out.notJudged("reprotect_ms", fmt.Sprintf("not re-protected %s: no in-sync event of %s after the window's last promotion", where, strings.Join(behind, ", ")))
		return
	}
	out.ReprotectMs = msp(instant - from)
}

// windowLoss: the lost writes window k owns, their span and resolution.
func (a *analysis) windowLoss(out *Window, k int, lost []history.Op) {
	if why := firstWhy(a.trafficWhy, a.primaryWhy); why != "" {
		out.notJudged("lost_writes", why)
		out.notJudged("rpo_ms", why)
		return
	}
	after := int64(math.MinInt64)
	if k > 0 {
		after = a.windows[k-1].end
	}
	upTo := int64(math.MaxInt64)
	if k+1 < len(a.windows) {
		upTo = a.windows[k].end
	}
	var mine []history.Op
	for _, op := range lost {
		if op.Complete > after && op.Complete <= upTo {
			mine = append(mine, op)
		}
	}
	start := a.windows[k].start
	out.LostWrites = len(mine)
	out.RPOResolutionMs = a.resolution
	if len(mine) == 0 {
		if g := widestGap(a.acks, start-int64(1e9), start); g > 0 {
			out.RPOResolutionMs = ms(g)
		}
		return
	}
	end := max(mine[len(mine)-1].Complete, start)
	out.RPOMs = ms(end - mine[0].Complete)
	if res := gapBefore(a.acks, mine[0].Complete); res > 0 {
		out.RPOResolutionMs = ms(res)
	}
}

// lostOps are the acknowledged writes absent from the final primary, by
// acknowledgement (nil when that cannot be judged).
func (a *analysis) lostOps() []history.Op {
	if a.lostDone {
		return a.lost
	}
	a.lostDone = true
	if firstWhy(a.trafficWhy, a.primaryWhy) != "" {
		return nil
	}
	for _, op := range a.h.Ops {
		if op.Outcome == history.OK && !a.onPrimary.has(op.Writer, op.Seq) {
			a.lost = append(a.lost, op)
		}
	}
	sort.SliceStable(a.lost, func(i, j int) bool { return a.lost[i].Complete < a.lost[j].Complete })
	return a.lost
}

// worstWindow reads a window measure: the largest figure over the
// windows that have it (has), judged only when every window that should
// have it does.
func (r *Result) worstWindow(key, figure string, get func(w Window) (float64, float64, bool)) Value {
	if !r.Observed || len(r.Windows) == 0 {
		return Value{}
	}
	if why, ok := r.NotJudged[key]; ok {
		return Value{Applies: true, Why: why}
	}
	v := Value{Applies: true, Judged: true, V: math.Inf(-1)}
	some := false
	for i, w := range r.Windows {
		if why, ok := w.NotJudged[figure]; ok {
			return Value{Applies: true, Why: fmt.Sprintf("window %s: %s", w.Label(i), why)}
		}
		x, res, ok := get(w)
		if !ok {
			continue
		}
		some = true
		if x > v.V {
			v.V, v.Resolution = x, res
		}
	}
	if !some {
		return Value{}
	}
	return v
}

// TimelineMeasures are the measures that rest on the fault timeline (F, B
// and the phases) or on the disruption windows: in an observed history,
// whose windows draw on the controller events, they are not judged
// without those events whole.
var TimelineMeasures = []string{"rpo_ms", "rto_ms", "outage_start_ms", "lag_p99_ms", "read_visibility_p99_ms",
	"window_rto_ms", "window_rpo_ms", "window_lost_writes", "window_reprotect_ms"}

// timelineUnknown marks the timeline measures not judged in an observed
// history without its controller events whole.
func (a *analysis) timelineUnknown() {
	if !a.h.Meta.Observed || a.controllerWhy == "" {
		return
	}
	why := "the disruption windows are not known whole: " + a.controllerWhy
	a.r.Notes = append(a.r.Notes, why)
	for _, k := range TimelineMeasures {
		if m, ok := MeasureByKey(k); ok && m.Read(a.r).Applies {
			a.notJudged(k, why)
		}
	}
}

// Summary is the window's figures in one line, for reports:
// "window 1 (ledger: region-crash) at 12.30 s–20.10 s: RTO 640.2 ms ±1.0 …".
func (w Window) Summary(i int, rtoResolutionMs float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "window %s at %.2f s–", w.Label(i), w.StartMs/1000)
	if w.EndMs != nil {
		fmt.Fprintf(&b, "%.2f s", *w.EndMs/1000)
	} else {
		b.WriteString("(open)")
	}
	b.WriteString(": ")
	fig := func(figure string, p *float64, format string, args ...any) string {
		if why, ok := w.NotJudged[figure]; ok {
			return figure + " not judged (" + why + ")"
		}
		if p == nil {
			return ""
		}
		return fmt.Sprintf(format, append([]any{*p}, args...)...)
	}
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	add(fig("rto_ms", w.RTOMs, "RTO %.1f ms ±%.1f", rtoResolutionMs))
	if w.OutageStartMs != nil {
		add(fmt.Sprintf("outage began %.1f ms after its start, %d writes failed", *w.OutageStartMs, w.FailedWrites))
	}
	add(fig("detect_ms", w.DetectMs, "detect %.0f ms"))
	add(fig("promote_ms", w.PromoteMs, "promote %.0f ms"))
	add(fig("reprotect_ms", w.ReprotectMs, "re-protected after %.0f ms"))
	if why, ok := w.NotJudged["lost_writes"]; ok {
		add("lost writes not judged (" + why + ")")
	} else {
		add(fmt.Sprintf("%d writes lost spanning %.1f ms (±%.1f)", w.LostWrites, w.RPOMs, w.RPOResolutionMs))
	}
	b.WriteString(strings.Join(parts, "; "))
	return b.String()
}
