// Package check judges a history: which acknowledged writes were lost (RPO),
// how long until writes succeeded and kept succeeding (RTO), which rows were
// written by a primary that should no longer have been one (zombies), and
// how far replication lagged. Everything here is a pure function of the
// history, so a stored run can be re-checked by a later drdrill.
package check

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// Config tunes the checks.
type Config struct {
	// StabilityWindow is how long writes must keep succeeding before the
	// stack counts as recovered (default 2 s), as in Resilience Hub.
	StabilityWindow time.Duration
	// Examples caps the lost/zombie/unexpected rows listed (default 20).
	Examples int
	// KeepVisibility keeps every acknowledged write's visibility latency
	// per region in Result.VisibilitySamples, for plotting.
	KeepVisibility bool
}

// Write identifies an operation; times are ms since the history started.
type Write struct {
	Writer   int     `json:"writer"`
	Seq      int64   `json:"seq"`
	InvokeMs float64 `json:"invoke_ms"`
	AckMs    float64 `json:"ack_ms"`
	Outcome  string  `json:"outcome"`
	Error    string  `json:"error,omitempty"`
}

// RowRef is a row found in a region.
type RowRef struct {
	Region      string  `json:"region"`
	Writer      int     `json:"writer"`
	Seq         int64   `json:"seq"`
	Origin      uint32  `json:"origin_server_id"`
	CommittedMs float64 `json:"committed_ms"`
}

// RPO is the data-loss measurement.
type RPO struct {
	// Judged is false when the history has no final read of the primary.
	Judged     bool    `json:"judged"`
	LostWrites int     `json:"lost_writes"`
	SpanMs     float64 `json:"span_ms"`
	// ResolutionMs is how precisely the loss window's edges are known: the
	// widest gap between achieved acknowledgements at its edges (or, with
	// no loss, the widest gap in the second before the fault: a loss
	// shorter than that could hide between two acknowledgements).
	ResolutionMs float64 `json:"resolution_ms"`
	// ScheduledResolutionMs is the interval the workload scheduled
	// (1000 / rate); ResolutionMs is what it achieved.
	ScheduledResolutionMs float64 `json:"scheduled_resolution_ms,omitempty"`
	Lost                  []Write `json:"lost,omitempty"`
}

// RTO is the recovery-time measurement.
type RTO struct {
	Judged bool `json:"judged"`
	// Affected is false when no write failed after the fault.
	Affected     bool     `json:"affected"`
	Recovered    bool     `json:"recovered"`
	Ms           float64  `json:"ms"`
	ResolutionMs float64  `json:"resolution_ms"`
	WindowMs     float64  `json:"stability_window_ms"`
	FirstFail    *Write   `json:"first_fail,omitempty"`
	LastFail     *Write   `json:"last_fail,omitempty"`
	DetectMs     *float64 `json:"detect_ms,omitempty"`
	PromoteMs    *float64 `json:"promote_ms,omitempty"`
	FailedWrites int      `json:"failed_writes"`
}

// Percentiles summarise lag samples.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// Result is everything the checker found.
type Result struct {
	Ops struct {
		Total int `json:"total"`
		OK    int `json:"ok"`
		Fail  int `json:"fail"`
		Info  int `json:"info"`
	} `json:"ops"`
	FaultMs      *float64 `json:"fault_ms,omitempty"`
	RollbackMs   *float64 `json:"rollback_ms,omitempty"`
	FailoverMs   *float64 `json:"failover_ms,omitempty"`
	FinalPrimary string   `json:"final_primary,omitempty"`

	RPO RPO `json:"rpo"`
	RTO RTO `json:"rto"`
	// InfoApplied / InfoNotApplied resolve the unknown writes against the primary.
	InfoApplied    int `json:"info_applied"`
	InfoNotApplied int `json:"info_not_applied"`
	// Zombies are rows committed after the failover by a server other than
	// the new primary: writes a fenced old primary must never accept.
	Zombies     []RowRef `json:"zombies,omitempty"`
	ZombieCount int      `json:"zombie_count"`
	// ZombiesJudged is false when the history cannot tell which server was
	// the primary when (no primary identity or promotions without ids).
	ZombiesJudged bool `json:"zombies_judged"`
	// Divergent counts, per region, rows there that the final primary lacks.
	Divergent map[string]int `json:"divergent"`
	// Missing counts, per region, rows of the final primary that region lacks.
	Missing         map[string]int `json:"missing"`
	DuplicateOps    int            `json:"duplicate_ops"`
	DuplicateRows   int            `json:"duplicate_rows"`
	Unexpected      []RowRef       `json:"unexpected,omitempty"`
	UnexpectedCount int            `json:"unexpected_count"`
	// Lag is per region and per phase: steady (no fault), before, during, after.
	Lag map[string]map[string]Percentiles `json:"lag"`
	// LagResolutionMs is the coarsest series' sampling interval; each
	// series' own is in LagResolutionByRegion (the heartbeat readers'
	// interval on the lab, the CloudWatch period for aws:<region>).
	LagResolutionMs       float64            `json:"lag_resolution_ms"`
	LagResolutionByRegion map[string]float64 `json:"lag_resolution_by_region,omitempty"`
	// AckedPerSecond is the achieved rate of acknowledged writes per phase
	// (steady, or before, during, after the fault).
	AckedPerSecond map[string]float64 `json:"acked_per_s,omitempty"`
	// Hypothesis checks AWS's failover hypothesis on this run: the data
	// lost spans no more time than the last replication-lag reading before
	// the fault showed.
	Hypothesis *Hypothesis `json:"rpo_lag_hypothesis,omitempty"`
	// Reads is what the readers in every region saw across the event.
	Reads Reads `json:"reads"`
	// VisibilitySamples (with Config.KeepVisibility) are, per region, each
	// acknowledged write's visibility latency at its acknowledgement time.
	VisibilitySamples map[string][]history.LagSample `json:"-"`
	Notes             []string                       `json:"notes,omitempty"`
}

// Hypothesis is the RPO-vs-lag check of one failover.
type Hypothesis struct {
	// Region is the promoted region, whose lag is read.
	Region string `json:"region"`
	// Series is the lag series used (the region's heartbeat, or
	// aws:<region> for AuroraGlobalDBRPOLag where the history has it).
	Series       string  `json:"series"`
	LostSpanMs   float64 `json:"lost_span_ms"`
	LastLagMs    float64 `json:"last_lag_ms"`
	LagAgeMs     float64 `json:"lag_age_ms"`
	ToleranceMs  float64 `json:"tolerance_ms"`
	Consistent   bool    `json:"consistent"`
	UnderByMs    float64 `json:"under_reported_by_ms,omitempty"`
	Verdict      string  `json:"verdict"`
	NoLagReading bool    `json:"no_lag_reading,omitempty"`
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func msp(ns int64) *float64 { v := ms(ns); return &v }

func toWrite(op history.Op) Write {
	return Write{Writer: op.Writer, Seq: op.Seq, InvokeMs: ms(op.Invoke), AckMs: ms(op.Complete), Outcome: op.Outcome.String(), Error: op.Err}
}

// seqSet is a bitset of sequence numbers per writer: compact and fast for
// the dense (writer, 1..n) keys the workload produces.
type seqSet map[int][]uint64

func (s seqSet) add(w int, seq int64) (dup bool) {
	if seq < 0 || seq > 1<<34 {
		return false
	}
	b := s[w]
	i := int(seq >> 6)
	if i >= len(b) {
		nb := make([]uint64, max(i+1, 2*len(b)))
		copy(nb, b)
		b = nb
		s[w] = b
	}
	bit := uint64(1) << (seq & 63)
	dup = b[i]&bit != 0
	b[i] |= bit
	return dup
}

func (s seqSet) has(w int, seq int64) bool {
	b := s[w]
	if seq < 0 || int(seq>>6) >= len(b) {
		return false
	}
	return b[seq>>6]&(1<<(seq&63)) != 0
}

// Check runs every check over h.
func Check(h *history.History, cfg Config) Result {
	if cfg.StabilityWindow <= 0 {
		cfg.StabilityWindow = 2 * time.Second
	}
	if cfg.Examples <= 0 {
		cfg.Examples = 20
	}
	var r Result
	r.Divergent, r.Missing = map[string]int{}, map[string]int{}
	if h.Torn {
		r.Notes = append(r.Notes, "history: "+h.TornNote)
	}
	resolution := 0.0
	if h.Meta.RateHz > 0 {
		resolution = 1000 / h.Meta.RateHz
	}
	r.RPO.ResolutionMs, r.RTO.ResolutionMs = resolution, resolution
	r.RPO.ScheduledResolutionMs = resolution
	r.RTO.WindowMs = ms(int64(cfg.StabilityWindow))

	// Fault timeline: the first injection, its rollback, the first promotion after it.
	var faultAt, rollbackAt, promoteAt, detectAt int64 = -1, -1, -1, -1
	events := append([]history.Event(nil), h.Events...)
	sort.SliceStable(events, func(i, j int) bool { return events[i].At < events[j].At })
	for _, e := range events {
		switch {
		case e.Source == "fault" && e.Kind == "inject" && faultAt < 0:
			faultAt = e.At
		case e.Source == "fault" && e.Kind == "rollback" && faultAt >= 0 && rollbackAt < 0:
			rollbackAt = e.At
		case e.Source == "controller" && e.Kind == "promote" && faultAt >= 0 && e.At >= faultAt && promoteAt < 0:
			promoteAt = e.At
		case e.Source == "controller" && e.Kind == "detect" && faultAt >= 0 && e.At >= faultAt && detectAt < 0:
			detectAt = e.At
		}
	}
	if faultAt >= 0 {
		r.FaultMs = msp(faultAt)
	}
	if rollbackAt >= 0 {
		r.RollbackMs = msp(rollbackAt)
	}
	if promoteAt >= 0 {
		r.FailoverMs = msp(promoteAt)
	}

	// Index the operations.
	written := seqSet{}
	for _, op := range h.Ops {
		r.Ops.Total++
		switch op.Outcome {
		case history.OK:
			r.Ops.OK++
		case history.Fail:
			r.Ops.Fail++
		default:
			r.Ops.Info++
		}
		if written.add(op.Writer, op.Seq) {
			r.DuplicateOps++
		}
	}

	// The final reads: the last read of each region, and which one is primary.
	final := map[string]*history.RowSet{}
	var order []string
	for i := range h.Rows {
		rs := &h.Rows[i]
		if _, seen := final[rs.Region]; !seen {
			order = append(order, rs.Region)
		}
		final[rs.Region] = rs
	}
	var primary *history.RowSet
	present := map[string]seqSet{}
	for _, region := range order {
		rs := final[region]
		if rs.Role == "primary" {
			primary = rs
		}
		set := seqSet{}
		for _, row := range rs.Rows {
			if set.add(row.Writer, row.Seq) {
				r.DuplicateRows++
			}
			if !written.has(row.Writer, row.Seq) {
				r.UnexpectedCount++
				if len(r.Unexpected) < cfg.Examples {
					r.Unexpected = append(r.Unexpected, rowRef(region, row))
				}
			}
		}
		present[region] = set
	}

	if primary == nil {
		r.Notes = append(r.Notes, "no final read of the primary: lost writes and zombies cannot be judged")
	} else {
		r.FinalPrimary = primary.Region
		r.RPO.Judged = true
		onPrimary := present[primary.Region]
		var lost []history.Op
		for _, op := range h.Ops {
			switch op.Outcome {
			case history.OK:
				if !onPrimary.has(op.Writer, op.Seq) {
					lost = append(lost, op)
				}
			case history.Info:
				if onPrimary.has(op.Writer, op.Seq) {
					r.InfoApplied++
				} else {
					r.InfoNotApplied++
				}
			}
		}
		sort.Slice(lost, func(i, j int) bool { return lost[i].Complete < lost[j].Complete })
		r.RPO.LostWrites = len(lost)
		acks := ackTimes(h.Ops)
		if len(lost) > 0 {
			end := lost[len(lost)-1].Complete
			if faultAt > end {
				end = faultAt
			}
			r.RPO.SpanMs = ms(end - lost[0].Complete)
			// The loss began somewhere between the acknowledgement before
			// the first lost one and it. Its end is the last lost
			// acknowledgement (or the fault): writes after it were never
			// acknowledged, so they are not part of an RPO.
			if res := gapBefore(acks, lost[0].Complete); res > 0 {
				r.RPO.ResolutionMs = ms(res)
			}
		} else if faultAt >= 0 {
			if g := widestGap(acks, faultAt-int64(time.Second), faultAt); g > 0 {
				r.RPO.ResolutionMs = ms(g)
			}
		}
		for i := 0; i < len(lost) && i < cfg.Examples; i++ {
			r.RPO.Lost = append(r.RPO.Lost, toWrite(lost[i]))
		}
		for _, region := range order {
			if region == primary.Region {
				continue
			}
			rs := final[region]
			for _, row := range rs.Rows {
				if !onPrimary.has(row.Writer, row.Seq) {
					r.Divergent[region]++
				}
			}
			for _, row := range primary.Rows {
				if !present[region].has(row.Writer, row.Seq) {
					r.Missing[region]++
				}
			}
		}
		if tl, ok := primaryTimeline(h.Meta, events); ok {
			r.ZombiesJudged = true
			for _, region := range order {
				for _, row := range final[region].Rows {
					if row.Origin != tl.at(row.CommittedAt) {
						r.ZombieCount++
						if len(r.Zombies) < cfg.Examples {
							r.Zombies = append(r.Zombies, rowRef(region, row))
						}
					}
				}
			}
		} else if promoteAt >= 0 && promotions(events, faultAt) == 1 {
			// With one promotion and no server ids, every row committed
			// after it belongs to the final primary. With two (a failback),
			// rows written on the interim primary are legitimate and
			// cannot be told from zombies: not judged.
			r.ZombiesJudged = true
			r.Notes = append(r.Notes, "promotions carry no server ids: zombies judged as rows committed after the first promotion by a server other than the final primary")
			for _, region := range order {
				for _, row := range final[region].Rows {
					if row.CommittedAt > promoteAt && row.Origin != primary.ServerID {
						r.ZombieCount++
						if len(r.Zombies) < cfg.Examples {
							r.Zombies = append(r.Zombies, rowRef(region, row))
						}
					}
				}
			}
		}
	}

	if r.RPO.Judged && !r.ZombiesJudged {
		r.Notes = append(r.Notes, "zombie writes not judged: the target does not report which server was the primary when")
	}
	r.RTO = rto(h.Ops, faultAt, cfg.StabilityWindow, r.RTO)
	if faultAt >= 0 {
		if detectAt >= 0 {
			r.RTO.DetectMs = msp(detectAt - faultAt)
		}
		if promoteAt >= 0 {
			r.RTO.PromoteMs = msp(promoteAt - faultAt)
		}
	}
	r.Lag, r.LagResolutionByRegion = lag(h, faultAt, rollbackAt)
	for _, v := range r.LagResolutionByRegion {
		r.LagResolutionMs = max(r.LagResolutionMs, v)
	}
	r.AckedPerSecond = ackedRate(h.Ops, faultAt, rollbackAt)
	if promoteAt >= 0 && faultAt >= 0 && r.RPO.Judged {
		r.Hypothesis = hypothesis(h, r, faultAt)
	}
	var onPrimary seqSet
	if primary != nil {
		onPrimary = present[primary.Region]
	}
	r.Reads = checkReads(h, events, onPrimary, r.FinalPrimary, faultAt, rollbackAt, cfg.Examples, cfg.KeepVisibility)
	if cfg.KeepVisibility {
		r.VisibilitySamples = r.Reads.samples
	}
	r.Reads.samples = nil
	if r.Reads.Judged && !r.Reads.StaleJudged {
		r.Notes = append(r.Notes, "stale reads after promotion not judged: the history does not name the first primary region")
	}
	return r
}

// ackTimes are the acknowledgement times of the acknowledged writes, sorted.
func ackTimes(ops []history.Op) []int64 {
	out := make([]int64, 0, len(ops))
	for _, op := range ops {
		if op.Outcome == history.OK {
			out = append(out, op.Complete)
		}
	}
	slices.Sort(out)
	return out
}

// gapBefore is t minus the latest acknowledgement before t (0 if none).
func gapBefore(acks []int64, t int64) int64 {
	i := sort.Search(len(acks), func(i int) bool { return acks[i] >= t })
	if i == 0 {
		return 0
	}
	return t - acks[i-1]
}

// widestGap is the widest gap between consecutive acknowledgements that
// meets [from, to], counting the gaps at its edges.
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
func ackedRate(ops []history.Op, faultAt, rollbackAt int64) map[string]float64 {
	if len(ops) == 0 {
		return nil
	}
	first, last := int64(math.MaxInt64), int64(math.MinInt64)
	counts := map[string]int{}
	for _, op := range ops {
		first, last = min(first, op.Invoke), max(last, op.Complete)
		if op.Outcome == history.OK {
			counts[phaseAt(op.Invoke, faultAt, rollbackAt)]++
		}
	}
	bounds := map[string][2]int64{"steady": {first, last}}
	if faultAt >= 0 {
		end := last
		if rollbackAt >= 0 {
			end = rollbackAt
		}
		bounds = map[string][2]int64{"before": {first, faultAt}, "during": {faultAt, end}}
		if rollbackAt >= 0 {
			bounds["after"] = [2]int64{rollbackAt, last}
		}
	}
	out := map[string]float64{}
	for phase, b := range bounds {
		if d := b[1] - b[0]; d > int64(10*time.Millisecond) {
			out[phase] = math.Round(float64(counts[phase])/(float64(d)/1e9)*10) / 10
		}
	}
	return out
}

func phaseAt(t, faultAt, rollbackAt int64) string {
	switch {
	case faultAt < 0:
		return "steady"
	case t < faultAt:
		return "before"
	case rollbackAt < 0 || t < rollbackAt:
		return "during"
	}
	return "after"
}

// hypothesis compares the lost-write span with the promoted region's last
// lag reading before the fault: AWS's failover template states that the
// data lost spans no more time than that reading. The tolerance is the two
// measurements' resolutions added.
func hypothesis(h *history.History, r Result, faultAt int64) *Hypothesis {
	region := r.FinalPrimary
	hy := &Hypothesis{Region: region, Series: region, LostSpanMs: r.RPO.SpanMs}
	pick := func(series string) (history.LagSample, bool) {
		var last history.LagSample
		found := false
		for _, s := range h.Lag {
			if s.Region == series && s.At < faultAt && (!found || s.At >= last.At) {
				last, found = s, true
			}
		}
		return last, found
	}
	last, ok := pick("aws:" + region)
	if ok {
		hy.Series = "aws:" + region
	} else {
		last, ok = pick(region)
	}
	hy.ToleranceMs = r.RPO.ResolutionMs + r.LagResolutionByRegion[hy.Series]
	if !ok {
		hy.NoLagReading = true
		hy.Consistent = r.RPO.LostWrites == 0
		hy.Verdict = fmt.Sprintf("not checked: no lag reading of %s before the fault", region)
		if r.RPO.LostWrites == 0 {
			hy.Verdict = "consistent (no write lost; no lag reading before the fault)"
		}
		return hy
	}
	hy.LastLagMs, hy.LagAgeMs = last.Ms, ms(faultAt-last.At)
	if hy.LostSpanMs <= hy.LastLagMs+hy.ToleranceMs {
		hy.Consistent = true
		hy.Verdict = fmt.Sprintf("consistent: %.1f ms of writes lost, the last lag reading was %.1f ms", hy.LostSpanMs, hy.LastLagMs)
	} else {
		hy.UnderByMs = math.Round((hy.LostSpanMs-hy.LastLagMs)*10) / 10
		hy.Verdict = fmt.Sprintf("lag under-reported the loss by %.1f ms (lost %.1f ms, last lag reading %.1f ms, %.0f ms before the fault)", hy.UnderByMs, hy.LostSpanMs, hy.LastLagMs, hy.LagAgeMs)
	}
	return hy
}

// timeline is which server was the primary from when on.
type timeline struct {
	from []int64
	sid  []uint32
}

func (t timeline) at(ns int64) uint32 {
	i := sort.Search(len(t.from), func(i int) bool { return t.from[i] > ns }) - 1
	return t.sid[max(i, 0)]
}

// primaryTimeline builds the primary's server id over time from the
// starting primary and every promotion. A row whose origin is not the
// primary at its commit time was accepted by a server that should no longer
// (or not yet) take writes: a zombie, the split-brain evidence.
func primaryTimeline(m history.Meta, events []history.Event) (timeline, bool) {
	if m.PrimaryServerID == 0 {
		return timeline{}, false
	}
	t := timeline{from: []int64{math.MinInt64}, sid: []uint32{m.PrimaryServerID}}
	for _, e := range events {
		// A promotion moves the primary; a primary that restarts under a
		// new server id (nobody failed over) keeps the role under that id.
		if e.Source == "controller" && (e.Kind == "promote" || e.Kind == "primary-restart") {
			if e.ServerID == 0 {
				return timeline{}, false
			}
			t.from, t.sid = append(t.from, e.At), append(t.sid, e.ServerID)
		}
	}
	return t, true
}

// promotions counts the promote events at or after the fault.
func promotions(events []history.Event, faultAt int64) int {
	n := 0
	for _, e := range events {
		if e.Source == "controller" && e.Kind == "promote" && e.At >= faultAt {
			n++
		}
	}
	return n
}

func rowRef(region string, row history.Row) RowRef {
	return RowRef{Region: region, Writer: row.Writer, Seq: row.Seq, Origin: row.Origin, CommittedMs: ms(row.CommittedAt)}
}

// rto finds the first acknowledged write after the fault from which every
// write invoked within the stability window also succeeded. A recovery that
// flaps (ok, fail, ok) restarts the window; a window the history does not
// cover means not (yet) recovered.
func rto(all []history.Op, faultAt int64, window time.Duration, r RTO) RTO {
	if faultAt < 0 {
		return r
	}
	r.Judged = true
	// The operations invoked after the fault, in invoke order, as indexes:
	// copying a million operations would double the checker's memory.
	n := 0
	for i := range all {
		if all[i].Invoke >= faultAt {
			n++
		}
	}
	idx := make([]int32, 0, n)
	for i := range all {
		if all[i].Invoke >= faultAt {
			idx = append(idx, int32(i))
		}
	}
	slices.SortStableFunc(idx, func(a, b int32) int { return cmp.Compare(all[a].Invoke, all[b].Invoke) })
	if len(idx) == 0 {
		return r
	}
	// Backwards: nextFail is the invoke time of the first non-ok operation
	// at or after the current one; the earliest ok operation whose
	// stability window holds no failure, and which the history covers, is
	// the recovery.
	lastInvoke := all[idx[len(idx)-1]].Invoke
	nextFail := int64(math.MaxInt64)
	recovered := -1
	for k := len(idx) - 1; k >= 0; k-- {
		op := &all[idx[k]]
		if op.Outcome != history.OK {
			nextFail = op.Invoke
			r.FailedWrites++
			w := toWrite(*op)
			r.FirstFail = &w
			if r.LastFail == nil {
				lw := toWrite(*op)
				r.LastFail = &lw
			}
			continue
		}
		end := op.Complete + int64(window)
		if nextFail > end && lastInvoke >= end {
			recovered = k
		}
	}
	if r.FailedWrites == 0 {
		r.Recovered = true
		return r
	}
	r.Affected = true
	if recovered >= 0 {
		r.Recovered = true
		r.Ms = ms(all[idx[recovered]].Complete - faultAt)
	}
	return r
}

// PercentilesOf computes nearest-rank percentiles (it sorts v).
func PercentilesOf(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	sort.Float64s(v)
	return Percentiles{N: len(v), P50: Percentile(v, 50), P95: Percentile(v, 95), P99: Percentile(v, 99), Max: v[len(v)-1]}
}

// Percentile is the nearest-rank percentile of sorted values (q in 0..100):
// the smallest value with at least q% of the values at or below it, so every
// figure it gives is a value that was measured.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(q / 100 * float64(len(sorted))))
	return sorted[min(len(sorted), max(1, rank))-1]
}

func lag(h *history.History, faultAt, rollbackAt int64) (map[string]map[string]Percentiles, map[string]float64) {
	series := map[string]map[string][]float64{}
	times := map[string][]int64{}
	for _, s := range h.Lag {
		times[s.Region] = append(times[s.Region], s.At)
		phase := phaseAt(s.At, faultAt, rollbackAt)
		if series[s.Region] == nil {
			series[s.Region] = map[string][]float64{}
		}
		series[s.Region][phase] = append(series[s.Region][phase], s.Ms)
	}
	out := map[string]map[string]Percentiles{}
	for region, phases := range series {
		out[region] = map[string]Percentiles{}
		for phase, v := range phases {
			out[region][phase] = PercentilesOf(v)
		}
	}
	// Each series' resolution is its own sampling interval: the median gap
	// between consecutive samples (heartbeat readers on the lab, the
	// CloudWatch period on AWS).
	res := map[string]float64{}
	for region, ts := range times {
		if v, ok := h.Meta.LagResolutionMs[region]; ok {
			res[region] = v
			continue
		}
		if len(ts) < 2 {
			continue
		}
		slices.Sort(ts)
		gaps := make([]float64, 0, len(ts)-1)
		for i := 1; i < len(ts); i++ {
			gaps = append(gaps, ms(ts[i]-ts[i-1]))
		}
		res[region] = math.Round(PercentilesOf(gaps).P50*100) / 100
	}
	return out, res
}

// Summary is a one-line account, for logs.
func (r Result) Summary() string {
	s := fmt.Sprintf("ops %d (ok %d, fail %d, info %d)", r.Ops.Total, r.Ops.OK, r.Ops.Fail, r.Ops.Info)
	if r.RPO.Judged {
		s += fmt.Sprintf("; lost %d acknowledged writes spanning %.1f ms (±%.1f)", r.RPO.LostWrites, r.RPO.SpanMs, r.RPO.ResolutionMs)
	}
	if r.RTO.Judged {
		if r.RTO.Recovered {
			s += fmt.Sprintf("; RTO %.0f ms (±%.1f)", r.RTO.Ms, r.RTO.ResolutionMs)
		} else {
			s += "; NOT recovered"
		}
	}
	if r.ZombieCount > 0 {
		s += fmt.Sprintf("; %d zombie writes", r.ZombieCount)
	}
	return s
}
