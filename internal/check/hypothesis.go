package check

import (
	"fmt"

	"github.com/drdrill/drdrill/internal/history"
)

// hypothesis compares the replication loss (writes lost that were
// acknowledged before the promotion) with the promoted region's last lag
// reading before the fault: AWS's failover template states that the data
// lost spans no more time than that reading. The tolerance is the two
// measurements' resolutions added.
func hypothesis(a *analysis) {
	if a.fault == none || a.controllerWhy != "" || !a.r.RPO.Judged || a.r.RPO.Failover == nil {
		return
	}
	region := a.promotions[0].Region
	if region == "" {
		region = a.primary.Region
	}
	loss := a.r.RPO.Failover
	hy := &Hypothesis{Region: region, Series: region, LostSpanMs: loss.ReplicationLossMs}
	pick := func(series string) (history.LagSample, bool) {
		var last history.LagSample
		found := false
		for _, s := range a.h.Lag {
			if s.Region == series && s.At < a.fault && (!found || s.At >= last.At) {
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
	a.r.Hypothesis = hy
	if !ok {
		hy.NoLagReading = true
		hy.Consistent = loss.ReplicationLostWrites == 0
		hy.Verdict = fmt.Sprintf("not checked: no lag reading of %s before the fault", region)
		if hy.Consistent {
			hy.Verdict = "consistent (no write lost before the promotion; no lag reading before the fault)"
		}
		return
	}
	hy.ToleranceMs = a.r.RPO.ResolutionMs + a.r.LagResolutionByRegion[hy.Series]
	hy.LastLagMs, hy.LagAgeMs = last.Ms, ms(a.fault-last.At)
	if hy.LostSpanMs <= hy.LastLagMs+hy.ToleranceMs {
		hy.Consistent = true
		hy.Verdict = fmt.Sprintf("consistent: %.1f ms of writes lost before the promotion, the last lag reading of %s was %.1f ms", hy.LostSpanMs, region, hy.LastLagMs)
	} else {
		hy.UnderByMs = roundTo(hy.LostSpanMs-hy.LastLagMs, 10)
		hy.Verdict = fmt.Sprintf("lag under-reported the loss by %.1f ms (lost %.1f ms before the promotion, last lag reading of %s %.1f ms, %.0f ms before the fault)", hy.UnderByMs, hy.LostSpanMs, region, hy.LastLagMs, hy.LagAgeMs)
	}
}
