package check

import (
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// vanished: keys a region's read returned that a later read of that region
// asked for and did not return, or that the final primary lacks — each
// key once.
func vanished(a *analysis) {
	rd := &a.r.Reads
	if a.primaryWhy != "" {
		a.notJudged("vanished_reads", a.primaryWhy)
		return
	}
	gone := seqSet{}
	add := func(v VanishedRead) {
		if gone.add(v.Writer, v.Seq) {
			return
		}
		rd.Vanished++
		if len(rd.VanishedExamples) < a.cfg.Examples {
			rd.VanishedExamples = append(rd.VanishedExamples, v)
		}
	}
	acked := func(w int, s int64) bool {
		op, ok := a.idx.at(w, s)
		return ok && op.Outcome == history.OK
	}
	for _, region := range a.regions {
		fs := a.seen[region]
		highest := map[int]int64{}
		for k, r := range a.okReads[region] {
			// Only what an earlier read returned can vanish, so a range
			// is looked at up to the highest seq returned so far.
			for i := 0; i+2 < len(r.Asked); i += 3 {
				w, from, to := int(r.Asked[i]), r.Asked[i+1], r.Asked[i+2]
				if to == 0 || to > highest[w] {
					to = highest[w]
				}
				for s := max(from, 1); s <= to; s++ {
					if first, j := fs.read(w, s); first != nil && j < k && !r.Has(w, s) {
						add(VanishedRead{Region: region, Writer: w, Seq: s, Acked: acked(w, s),
							SeenMs: ms(first.Complete), GoneFrom: region, GoneMs: ms(r.Complete)})
					}
				}
			}
			for i := 0; i+2 < len(r.Saw); i += 3 {
				highest[int(r.Saw[i])] = max(highest[int(r.Saw[i])], r.Saw[i+2])
			}
		}
	}
	// Seen anywhere, gone from the final primary.
	for _, region := range a.regions {
		fs := a.seen[region]
		for wi, seqs := range fs.w {
			w := a.base + wi
			for i := range seqs {
				seq := int64(i + 1)
				if at := fs.get(w, seq); at != 0 && !a.onPrimary.has(w, seq) {
					add(VanishedRead{Region: region, Writer: w, Seq: seq, Acked: acked(w, seq),
						SeenMs: ms(at), GoneFrom: "final:" + a.primary.Region})
				}
			}
		}
	}
	sort.Slice(rd.VanishedExamples, func(i, j int) bool { return rd.VanishedExamples[i].SeenMs < rd.VanishedExamples[j].SeenMs })
}
