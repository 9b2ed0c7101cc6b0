package check

import (
	"math"

	"github.com/drdrill/drdrill/internal/history"
)

// reads judges what the readers saw: visibility, vanished and stale reads,
// and writes no reader saw. They apply only to a history with reads.
func reads(a *analysis) {
	rd := &a.r.Reads
	if len(a.h.Reads) == 0 {
		return
	}
	rd.Judged = true
	for i := range a.h.Reads {
		rd.Total++
		if a.h.Reads[i].Outcome != history.OK {
			rd.Failed++
		}
	}
	if a.trafficWhy != "" {
		for _, k := range []string{"read_visibility_p99_ms", "vanished_reads", "stale_reads_after_promotion", "never_seen_writes"} {
			a.notJudged(k, a.trafficWhy)
		}
		return
	}
	a.indexReads()
	rd.ResolutionMs = map[string]float64{}
	for _, region := range a.regions {
		list := a.byRegion[region]
		if len(list) < 2 {
			continue
		}
		gaps := make([]float64, 0, len(list)-1)
		for i := 1; i < len(list); i++ {
			gaps = append(gaps, ms(list[i].Invoke-list[i-1].Invoke))
		}
		rd.ResolutionMs[region] = math.Round(PercentilesOf(gaps).P50*100) / 100
	}
	visibility(a)
	vanished(a)
	staleReads(a)
	neverSeen(a)
}
