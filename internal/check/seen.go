package check

import (
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// neverSeen: acknowledged writes a region's reads never returned though
// one asked for them after the acknowledgement, and that the region's final
// read lacks too (a write that arrived after the readers stopped was not
// missed); and those no region's read returned at all.
func neverSeen(a *analysis) {
	rd := &a.r.Reads
	if a.finalReadWhy != "" {
		a.notJudged("never_seen_writes", a.finalReadWhy)
		return
	}
	rd.NotSeenIn = map[string]int{}
	for _, region := range a.regions {
		rd.NotSeenIn[region] = 0
	}
	for _, op := range a.h.Ops {
		if op.Outcome != history.OK {
			continue
		}
		anywhere, missed := false, false
		for _, region := range a.regions {
			if a.seen[region].get(op.Writer, op.Seq) != 0 {
				anywhere = true
				continue
			}
			if set, ok := a.present[region]; ok && set.has(op.Writer, op.Seq) {
				continue
			}
			list := a.okReads[region]
			after := sort.Search(len(list), func(i int) bool { return list[i].Invoke > op.Complete })
			for _, r := range list[after:] {
				if r.Covers(op.Writer, op.Seq) {
					rd.NotSeenIn[region]++
					missed = true
					break
				}
			}
		}
		if !anywhere && missed {
			rd.NeverSeen++
		}
	}
}
