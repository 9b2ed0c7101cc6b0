package check

import (
	"math"
	"slices"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// lag: per series and phase, percentiles of the lag samples weighted by
// the time each stands for (until the series' next sample, clipped to its
// phase and a cap), each with its error bound from the samples' own.
func lag(a *analysis) {
	a.r.Lag = map[string]map[string]Percentiles{}
	a.r.LagResolutionByRegion = map[string]float64{}
	if a.trafficWhy != "" {
		a.notJudged("lag_p99_ms", a.trafficWhy)
		return
	}
	// One pass over the samples in series, then time order, as indexes.
	idx := make([]int32, len(a.h.Lag))
	for i := range idx {
		idx[i] = int32(i)
	}
	samples := a.h.Lag
	slices.SortStableFunc(idx, func(x, y int32) int {
		if samples[x].Region != samples[y].Region {
			if samples[x].Region < samples[y].Region {
				return -1
			}
			return 1
		}
		switch {
		case samples[x].At < samples[y].At:
			return -1
		case samples[x].At > samples[y].At:
			return 1
		}
		return 0
	})
	var buf [4][]bounded
	for start := 0; start < len(idx); {
		end := start
		series := samples[idx[start]].Region
		for end < len(idx) && samples[idx[end]].Region == series {
			end++
		}
		one := idx[start:end]
		start = end
		res, ok := seriesResolution(a.h.Meta, series, samples, one)
		if ok {
			a.r.LagResolutionByRegion[series] = res
			a.r.LagResolutionMs = max(a.r.LagResolutionMs, res)
		}
		resNs := int64(res * 1e6)
		limit := max(int64(time.Second), 2*resNs)
		for p := range buf {
			buf[p] = buf[p][:0]
		}
		for k, i := range one {
			s := samples[i]
			next := s.At + resNs
			if k+1 < len(one) {
				next = samples[one[k+1]].At
			}
			w := min(max(min(next, a.phaseEnd(s.At))-s.At, 0), limit)
			e := s.Err
			if e <= 0 {
				e = res
			}
			p := a.phase(s.At)
			buf[p] = append(buf[p], bounded{v: s.Ms, lo: s.Ms - e, hi: s.Ms + e, w: w})
		}
		for p, b := range buf {
			if len(b) == 0 {
				continue
			}
			if a.r.Lag[series] == nil {
				a.r.Lag[series] = map[string]Percentiles{}
			}
			a.r.Lag[series][phaseNames[p]] = boundedPercentiles(b)
		}
	}
	if _, _, ok := worstP99(a.r.Lag); !ok {
		a.notJudged("lag_p99_ms", "no lag samples before the fault")
	}
}

// seriesResolution is a series' declared resolution, or its median
// sample spacing (to 0.01 ms); false without either.
func seriesResolution(m history.Meta, series string, samples []history.LagSample, sorted []int32) (float64, bool) {
	if v, ok := m.LagResolutionMs[series]; ok {
		return v, true
	}
	if len(sorted) < 2 {
		return 0, false
	}
	gaps := make([]float64, 0, len(sorted)-1)
	for i := 1; i < len(sorted); i++ {
		gaps = append(gaps, ms(samples[sorted[i]].At-samples[sorted[i-1]].At))
	}
	return math.Round(PercentilesOf(gaps).P50*100) / 100, true
}

// worstP99 is the highest p99 over the steady and before phases, with its
// error bound (the largest among equal p99s); false when there is none.
func worstP99(byKey map[string]map[string]Percentiles) (worst, err float64, ok bool) {
	for _, phases := range byKey {
		for _, phase := range []string{"steady", "before"} {
			p, has := phases[phase]
			if !has || p.N == 0 {
				continue
			}
			switch {
			case !ok || p.P99 > worst:
				worst, err, ok = p.P99, p.P99Err, true
			case p.P99 == worst:
				err = max(err, p.P99Err)
			}
		}
	}
	return worst, err, ok
}
