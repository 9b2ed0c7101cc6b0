package check

import (
	"fmt"
	"math"
	"slices"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// Reads is what the readers saw across the DR event: Jepsen's set-full
// questions asked of every region.
type Reads struct {
	// Judged is false when the history has no reads (an older history).
	Judged bool `json:"judged"`
	Total  int  `json:"total"`
	Failed int  `json:"failed"`
	// ResolutionMs is, per region, the achieved spacing of reads (the
	// median gap): how precisely a visibility latency is known.
	ResolutionMs map[string]float64 `json:"resolution_ms,omitempty"`
	// Visibility is, per region and per phase of the acknowledgement, the
	// time from a write's acknowledgement to the completion of the first
	// read in that region that returned it (0 when a read returned it
	// before the client had its acknowledgement): an upper bound, within
	// one read interval of the truth. A write acknowledged before the fault
	// but first seen after it counts in "during": the fault delayed it.
	Visibility map[string]map[string]Percentiles `json:"visibility,omitempty"`
	// NotSeenIn counts, per region, acknowledged writes that the region's
	// reads never returned although it was read successfully after them.
	NotSeenIn map[string]int `json:"not_seen_in,omitempty"`
	// NeverSeen counts acknowledged writes no read in any region returned.
	NeverSeen int `json:"never_seen"`
	// Vanished counts writes a reader saw that a later read of the same
	// region (which asked for them) or the final read of the primary lacks.
	Vanished         int            `json:"vanished"`
	VanishedExamples []VanishedRead `json:"vanished_examples,omitempty"`
	// StaleAfterPromotion counts reads served in a region that had lost the
	// primary role — after another region's promotion and before this one
	// rejoined — that lacked a write acknowledged before the read began.
	StaleAfterPromotion int         `json:"stale_after_promotion"`
	StaleJudged         bool        `json:"stale_judged"`
	StaleMaxBehindMs    float64     `json:"stale_max_behind_ms,omitempty"`
	StaleExamples       []StaleRead `json:"stale_examples,omitempty"`

	samples map[string][]history.LagSample
}

// VanishedRead is a write a reader saw that was later gone.
type VanishedRead struct {
	Region string  `json:"region"` // where it was seen
	Writer int     `json:"writer"`
	Seq    int64   `json:"seq"`
	Acked  bool    `json:"acked"`
	SeenMs float64 `json:"seen_ms"`
	// GoneFrom is a region whose later read lacked it, or "final:<region>"
	// for the final read of the primary.
	GoneFrom string  `json:"gone_from"`
	GoneMs   float64 `json:"gone_ms"`
}

// StaleRead is a read a demoted region served without writes that were
// already acknowledged.
type StaleRead struct {
	Region   string  `json:"region"`
	ServerID uint32  `json:"server_id"`
	InvokeMs float64 `json:"invoke_ms"`
	Missing  int     `json:"missing_acked_writes"`
	// BehindMs is how long before the read the oldest write it lacked was acknowledged.
	BehindMs float64 `json:"behind_ms"`
}

// bySeq holds an int32 per (writer, seq), dense: writers are a few
// consecutive ids, seqs run from 1. Lookups are on the checker's hot path,
// so no map.
type bySeq struct {
	base int       // the lowest writer id
	w    [][]int32 // per writer - base, per seq - 1
}

// maxSeqs is, for the writers base…, the highest seq of each.
func maxSeqs(ops []history.Op) (base int, top []int64) {
	if len(ops) == 0 {
		return 0, nil
	}
	lo, hi := ops[0].Writer, ops[0].Writer
	for _, op := range ops {
		lo, hi = min(lo, op.Writer), max(hi, op.Writer)
	}
	if hi-lo > 1<<16 {
		hi = lo + 1<<16 // not a drdrill workload; the rest are ignored
	}
	top = make([]int64, hi-lo+1)
	for _, op := range ops {
		if i := op.Writer - lo; i < len(top) && op.Seq > top[i] && op.Seq <= 1<<31 {
			top[i] = op.Seq
		}
	}
	return lo, top
}

func newBySeq(base int, top []int64) bySeq {
	b := bySeq{base: base, w: make([][]int32, len(top))}
	for i, n := range top {
		b.w[i] = make([]int32, n)
	}
	return b
}

func (b bySeq) slot(w int, seq int64) *int32 {
	i := w - b.base
	if i < 0 || i >= len(b.w) || seq < 1 || seq > int64(len(b.w[i])) {
		return nil
	}
	return &b.w[i][seq-1]
}

// opIndex finds an operation by (writer, seq).
type opIndex struct {
	bySeq
	ops []history.Op
}

func indexOps(ops []history.Op, base int, top []int64) opIndex {
	x := opIndex{bySeq: newBySeq(base, top), ops: ops}
	for i, op := range ops {
		if p := x.slot(op.Writer, op.Seq); p != nil {
			*p = int32(i + 1)
		}
	}
	return x
}

func (x opIndex) at(w int, seq int64) (history.Op, bool) {
	if p := x.slot(w, seq); p != nil && *p != 0 {
		return x.ops[*p-1], true
	}
	return history.Op{}, false
}

// maxSeq is the highest seq of writer w.
func (x opIndex) maxSeq(w int) int64 {
	if i := w - x.base; i >= 0 && i < len(x.w) {
		return int64(len(x.w[i]))
	}
	return 0
}

// firstSeen is, for one region, which of its reads first returned each
// (writer, seq): an index into its reads, plus one (0: never).
type firstSeen struct {
	bySeq
	reads []*history.ReadOp
}

func (f firstSeen) mark(w int, seq int64, read int) {
	if p := f.slot(w, seq); p != nil && *p == 0 {
		*p = int32(read + 1)
	}
}

// get is when (writer, seq) was first returned: its read's completion (0: never).
func (f firstSeen) get(w int, seq int64) int64 {
	if p := f.slot(w, seq); p != nil && *p != 0 {
		return max(f.reads[*p-1].Complete, 1)
	}
	return 0
}

// checkReads judges the reads. onPrimary is the final primary's rows (nil
// when there is no final read of it).
func checkReads(h *history.History, events []history.Event, onPrimary seqSet, finalPrimary string, faultAt, rollbackAt int64, examples int, keep bool) Reads {
	var r Reads
	if len(h.Reads) == 0 {
		return r
	}
	r.Judged = true
	base, top := maxSeqs(h.Ops)
	idx := indexOps(h.Ops, base, top)
	byRegion := map[string][]*history.ReadOp{}
	var regions []string
	for i := range h.Reads {
		rd := &h.Reads[i]
		r.Total++
		if rd.Outcome != history.OK {
			r.Failed++
		}
		if _, ok := byRegion[rd.Region]; !ok {
			regions = append(regions, rd.Region)
		}
		byRegion[rd.Region] = append(byRegion[rd.Region], rd)
	}
	slices.Sort(regions)
	r.ResolutionMs = map[string]float64{}
	if keep {
		r.samples = map[string][]history.LagSample{}
	}
	seen := map[string]firstSeen{}
	lastOK := map[string]int64{}
	vanished := seqSet{}
	addVanished := func(v VanishedRead) {
		if vanished.add(v.Writer, v.Seq) {
			return
		}
		r.Vanished++
		if len(r.VanishedExamples) < examples {
			r.VanishedExamples = append(r.VanishedExamples, v)
		}
	}
	for _, region := range regions {
		list := byRegion[region]
		sort.SliceStable(list, func(i, j int) bool { return list[i].Invoke < list[j].Invoke })
		if len(list) > 1 {
			gaps := make([]float64, 0, len(list)-1)
			for i := 1; i < len(list); i++ {
				gaps = append(gaps, ms(list[i].Invoke-list[i-1].Invoke))
			}
			r.ResolutionMs[region] = math.Round(PercentilesOf(gaps).P50*100) / 100
		}
		fs := firstSeen{bySeq: newBySeq(base, top), reads: list}
		seen[region] = fs
		everMax := map[int]int64{}
		for k, rd := range list {
			if rd.Outcome != history.OK {
				continue
			}
			lastOK[region] = rd.Invoke
			// What this read lacks of what the region showed before.
			for i := 0; i+2 < len(rd.Asked); i += 3 {
				w, from, to := int(rd.Asked[i]), rd.Asked[i+1], rd.Asked[i+2]
				if to == 0 || to > everMax[w] {
					to = everMax[w]
				}
				for s := from; s <= to; s++ {
					if at := fs.get(w, s); at != 0 && !rd.Has(w, s) {
						op, ok := idx.at(w, s)
						addVanished(VanishedRead{Region: region, Writer: w, Seq: s, Acked: ok && op.Outcome == history.OK,
							SeenMs: ms(at), GoneFrom: region, GoneMs: ms(rd.Complete)})
					}
				}
			}
			for i := 0; i+2 < len(rd.Saw); i += 3 {
				w := int(rd.Saw[i])
				for s := rd.Saw[i+1]; s <= rd.Saw[i+2]; s++ {
					fs.mark(w, s, k)
				}
				everMax[w] = max(everMax[w], rd.Saw[i+2])
			}
		}
	}
	// Seen anywhere, gone from the final primary.
	if onPrimary != nil {
		for _, region := range regions {
			fs := seen[region]
			for wi, s := range fs.w {
				w := base + wi
				for i := range s {
					seq := int64(i + 1)
					if at := fs.get(w, seq); at != 0 && !onPrimary.has(w, seq) {
						op, ok := idx.at(w, seq)
						addVanished(VanishedRead{Region: region, Writer: w, Seq: seq, Acked: ok && op.Outcome == history.OK,
							SeenMs: ms(at), GoneFrom: "final:" + finalPrimary})
					}
				}
			}
		}
	}
	sort.Slice(r.VanishedExamples, func(i, j int) bool { return r.VanishedExamples[i].SeenMs < r.VanishedExamples[j].SeenMs })

	// Visibility of acknowledged writes, one region and phase at a time
	// through one buffer: a slice per region and phase would cost more
	// than the rest of the check.
	nAcked := 0
	for _, op := range h.Ops {
		if op.Outcome == history.OK {
			nAcked++
		}
	}
	phases := []string{"steady", "before", "during", "after"}
	visPhase := func(op history.Op, at int64) int {
		switch {
		case faultAt < 0:
			return 0
		case op.Complete < faultAt && at < faultAt:
			return 1
		case op.Complete < faultAt || rollbackAt < 0 || op.Complete < rollbackAt:
			// Acknowledged before the fault but not yet visible when it
			// struck: the fault delayed it, so it counts with the fault.
			return 2
		}
		return 3
	}
	r.Visibility = map[string]map[string]Percentiles{}
	buf := make([]float64, nAcked)
	for _, region := range regions {
		fs := seen[region]
		// Two passes: count per phase, then fill each phase's part of buf.
		var count, next [4]int
		for _, op := range h.Ops {
			if at := fs.get(op.Writer, op.Seq); op.Outcome == history.OK && at != 0 {
				count[visPhase(op, at)]++
			}
		}
		for i := 1; i < 4; i++ {
			next[i] = next[i-1] + count[i-1]
		}
		start := next
		for _, op := range h.Ops {
			if at := fs.get(op.Writer, op.Seq); op.Outcome == history.OK && at != 0 {
				p := visPhase(op, at)
				buf[next[p]] = ms(max(0, at-op.Complete))
				next[p]++
			}
		}
		for i, phase := range phases {
			if count[i] == 0 {
				continue
			}
			if r.Visibility[region] == nil {
				r.Visibility[region] = map[string]Percentiles{}
			}
			r.Visibility[region][phase] = PercentilesOf(buf[start[i]:next[i]])
		}
		if keep {
			for _, op := range h.Ops {
				if at := fs.get(op.Writer, op.Seq); op.Outcome == history.OK && at != 0 {
					r.samples[region] = append(r.samples[region], history.LagSample{Region: region, At: op.Complete, Ms: ms(max(0, at-op.Complete))})
				}
			}
		}
	}
	// Writes the readers never returned.
	r.NotSeenIn = map[string]int{}
	var latestRead int64 = math.MinInt64
	for _, at := range lastOK {
		latestRead = max(latestRead, at)
	}
	for _, op := range h.Ops {
		if op.Outcome != history.OK {
			continue
		}
		anywhere := false
		for _, region := range regions {
			if seen[region].get(op.Writer, op.Seq) != 0 {
				anywhere = true
			} else if last, ok := lastOK[region]; ok && op.Complete < last {
				r.NotSeenIn[region]++
			}
		}
		if !anywhere && op.Complete < latestRead {
			r.NeverSeen++
		}
	}
	staleReads(h, events, idx, byRegion, &r, examples)
	return r
}

// demotion is a window in which a region had lost the primary role and
// had not yet rejoined the new primary.
type demotion struct {
	region   string
	from, to int64
}

func demotions(h *history.History, events []history.Event) ([]demotion, bool) {
	cur := h.Meta.PrimaryRegion
	if cur == "" {
		return nil, false
	}
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
	return out, true
}

func staleReads(h *history.History, events []history.Event, idx opIndex, byRegion map[string][]*history.ReadOp, r *Reads, examples int) {
	windows, ok := demotions(h, events)
	if !ok {
		return
	}
	r.StaleJudged = true
	for _, d := range windows {
		for _, rd := range byRegion[d.region] {
			if rd.Outcome != history.OK || rd.Invoke < d.from || rd.Invoke >= d.to {
				continue
			}
			missing := 0
			oldest := int64(math.MaxInt64)
			for i := 0; i+2 < len(rd.Asked); i += 3 {
				w, from, to := int(rd.Asked[i]), rd.Asked[i+1], rd.Asked[i+2]
				if top := idx.maxSeq(w); to == 0 || to > top {
					to = top
				}
				for s := from; s <= to; s++ {
					op, ok := idx.at(w, s)
					if ok && op.Outcome == history.OK && op.Complete < rd.Invoke && !rd.Has(w, s) {
						missing++
						oldest = min(oldest, op.Complete)
					}
				}
			}
			if missing == 0 {
				continue
			}
			r.StaleAfterPromotion++
			behind := ms(rd.Invoke - oldest)
			r.StaleMaxBehindMs = max(r.StaleMaxBehindMs, math.Round(behind*10)/10)
			if len(r.StaleExamples) < examples {
				r.StaleExamples = append(r.StaleExamples, StaleRead{Region: rd.Region, ServerID: rd.ServerID, InvokeMs: ms(rd.Invoke), Missing: missing, BehindMs: behind})
			}
		}
	}
}

// ReadsSummary is a one-line account of the reads.
func (r Reads) Summary() string {
	if !r.Judged {
		return "no reads recorded"
	}
	return fmt.Sprintf("%d reads (%d failed); %d vanished, %d stale after promotion, %d acknowledged writes never seen", r.Total, r.Failed, r.Vanished, r.StaleAfterPromotion, r.NeverSeen)
}
