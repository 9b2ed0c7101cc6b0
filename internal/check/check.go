// Package check judges a history: which acknowledged writes were lost (RPO),
// how long until writes succeeded and kept succeeding (RTO), which rows were
// written by a primary that should no longer have been one (zombies), and
// how far replication lagged. Everything here is a pure function of the
// history, so a stored run can be re-checked by a later drdrill.
package check

import (
	"fmt"
	"math"
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
	// ResolutionMs is the interval between scheduled writes: loss shorter
	// than this cannot be seen.
	ResolutionMs float64 `json:"resolution_ms"`
	Lost         []Write `json:"lost,omitempty"`
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
	Lag             map[string]map[string]Percentiles `json:"lag"`
	LagResolutionMs float64                           `json:"lag_resolution_ms"`
	Notes           []string                          `json:"notes,omitempty"`
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
		if len(lost) > 0 {
			end := lost[len(lost)-1].Complete
			if faultAt > end {
				end = faultAt
			}
			r.RPO.SpanMs = ms(end - lost[0].Complete)
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
		} else if promoteAt >= 0 {
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
	r.Lag, r.LagResolutionMs = lag(h, faultAt, rollbackAt)
	return r
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
	var ops []history.Op
	for _, op := range all {
		if op.Invoke >= faultAt {
			ops = append(ops, op)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].Invoke < ops[j].Invoke })
	// nextFail[i]: invoke time of the first non-ok op at or after i.
	nextFail := make([]int64, len(ops)+1)
	nextFail[len(ops)] = math.MaxInt64
	for i := len(ops) - 1; i >= 0; i-- {
		nextFail[i] = nextFail[i+1]
		if ops[i].Outcome != history.OK {
			nextFail[i] = ops[i].Invoke
			r.FailedWrites++
			w := toWrite(ops[i])
			r.FirstFail = &w
			if r.LastFail == nil {
				lw := toWrite(ops[i])
				r.LastFail = &lw
			}
		}
	}
	if r.FailedWrites == 0 {
		r.Recovered = len(ops) > 0
		return r
	}
	r.Affected = true
	lastInvoke := ops[len(ops)-1].Invoke
	for i, op := range ops {
		if op.Outcome != history.OK {
			continue
		}
		end := op.Complete + int64(window)
		if nextFail[i] > end && lastInvoke >= end {
			r.Recovered = true
			r.Ms = ms(op.Complete - faultAt)
			return r
		}
	}
	return r
}

// PercentilesOf computes nearest-rank percentiles (it sorts v).
func PercentilesOf(v []float64) Percentiles {
	if len(v) == 0 {
		return Percentiles{}
	}
	sort.Float64s(v)
	at := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(v)))) - 1
		return v[max(0, min(i, len(v)-1))]
	}
	return Percentiles{N: len(v), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: v[len(v)-1]}
}

func lag(h *history.History, faultAt, rollbackAt int64) (map[string]map[string]Percentiles, float64) {
	series := map[string]map[string][]float64{}
	for _, s := range h.Lag {
		phase := "steady"
		if faultAt >= 0 {
			switch {
			case s.At < faultAt:
				phase = "before"
			case rollbackAt < 0 || s.At < rollbackAt:
				phase = "during"
			default:
				phase = "after"
			}
		}
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
	// Readers sample every ~5 ms on average (see package heartbeat).
	return out, 5
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
