package refcheck

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// nearestRank is the smallest value with at least q % of them at or below.
func nearestRank(values []float64, q float64) float64 {
	v := append([]float64(nil), values...)
	sort.Float64s(v)
	rank := int(math.Ceil(q / 100 * float64(len(v))))
	return v[min(len(v), max(1, rank))-1]
}

// weightedRank is the smallest value whose samples at or below it weigh at
// least q % of all (equal weights when they all weigh nothing).
func weightedRank(values []float64, weights []int64, q int64) float64 {
	idx := make([]int, len(values))
	var total int64
	for i := range idx {
		idx[i] = i
		total += weights[i]
	}
	w := func(i int) int64 {
		if total == 0 {
			return 1
		}
		return weights[i]
	}
	if total == 0 {
		total = int64(len(values))
	}
	sort.SliceStable(idx, func(a, b int) bool { return values[idx[a]] < values[idx[b]] })
	var cum int64
	for _, i := range idx {
		cum += w(i)
		if 100*cum >= q*total {
			return values[i]
		}
	}
	return values[idx[len(idx)-1]]
}

var stats = []struct {
	name string
	q    int64
}{{"p50", 50}, {"p95", 95}, {"p99", 99}}

// percentiles sets prefix/{n,p50,p95,p99,max} and their error bounds: the
// larger distance to the same percentile of the lower and upper bounds.
func (c *checker) percentiles(prefix string, v, lo, hi []float64, weights []int64) {
	c.f.set(prefix+"/n", float64(len(v)))
	for _, s := range stats {
		var p, pl, ph float64
		if weights == nil {
			p, pl, ph = nearestRank(v, float64(s.q)), nearestRank(lo, float64(s.q)), nearestRank(hi, float64(s.q))
		} else {
			p, pl, ph = weightedRank(v, weights, s.q), weightedRank(lo, weights, s.q), weightedRank(hi, weights, s.q)
		}
		c.f.set(prefix+"/"+s.name, p)
		c.f.set(prefix+"/"+s.name+"_err", max(p-pl, ph-p))
	}
	mx, ml, mh := math.Inf(-1), math.Inf(-1), math.Inf(-1)
	for i := range v {
		mx, ml, mh = max(mx, v[i]), max(ml, lo[i]), max(mh, hi[i])
	}
	c.f.set(prefix+"/max", mx)
	c.f.set(prefix+"/max_err", max(mx-ml, mh-mx))
}

// lagResolution is a series' declared resolution, or its median spacing.
func (c *checker) lagResolution(series string) (float64, bool) {
	if v, ok := c.h.Meta.LagResolutionMs[series]; ok {
		return v, true
	}
	var at []int64
	for _, s := range c.h.Lag {
		if s.Region == series {
			at = append(at, s.At)
		}
	}
	if len(at) < 2 {
		return 0, false
	}
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	var gaps []float64
	for i := 1; i < len(at); i++ {
		gaps = append(gaps, ms(at[i]-at[i-1]))
	}
	return math.Round(nearestRank(gaps, 50)*100) / 100, true
}

// phaseEnd is when the phase holding t ends (MaxInt64: never).
func (c *checker) phaseEnd(t int64) int64 {
	switch c.phase(t) {
	case "before":
		return c.fault
	case "during":
		if c.hasRollback {
			return c.rollback
		}
	}
	return math.MaxInt64
}

func (c *checker) lag() {
	const measure = "lag_p99_ms"
	if c.trafficWhy != "" {
		c.f.notJudged(measure, c.trafficWhy)
		return
	}
	bySeries := map[string][]history.LagSample{}
	for _, s := range c.h.Lag {
		bySeries[s.Region] = append(bySeries[s.Region], s)
	}
	var worst worstBeforeFault
	for series, samples := range bySeries {
		sort.SliceStable(samples, func(i, j int) bool { return samples[i].At < samples[j].At })
		res, ok := c.lagResolution(series)
		if ok {
			c.f.set("lag_resolution/"+series, res)
		}
		resNs := int64(res * 1e6)
		limit := max(int64(time.Second), 2*resNs)
		type phaseSamples struct {
			v, lo, hi []float64
			w         []int64
		}
		phases := map[string]*phaseSamples{}
		for i, s := range samples {
			next := s.At + resNs
			if i+1 < len(samples) {
				next = samples[i+1].At
			}
			weight := min(next, c.phaseEnd(s.At)) - s.At
			weight = min(max(weight, 0), limit)
			e := s.Err
			if e <= 0 {
				e = res
			}
			p := c.phase(s.At)
			if phases[p] == nil {
				phases[p] = &phaseSamples{}
			}
			ps := phases[p]
			ps.v, ps.lo, ps.hi, ps.w = append(ps.v, s.Ms), append(ps.lo, s.Ms-e), append(ps.hi, s.Ms+e), append(ps.w, weight)
		}
		for p, ps := range phases {
			prefix := "lag/" + series + "/" + p
			c.percentiles(prefix, ps.v, ps.lo, ps.hi, ps.w)
			worst.take(c.f, p, prefix)
		}
	}
	worst.record(c.f, measure, "no lag samples before the fault")
}

func isAWSSeries(s string) bool { return strings.HasPrefix(s, "aws:") }
