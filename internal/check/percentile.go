package check

import (
	"math"
	"slices"
	"sort"
)

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

// bounded is a lag sample known to lie in [lo, hi], with its figure v and
// its weight (the time it stands for).
type bounded struct {
	v, lo, hi float64
	w         int64
}

// boundedPercentiles are the (weighted, nearest-rank) percentiles of the
// samples' figures, each with its error bound: the larger distance to the
// same percentile of the samples' lower and upper bounds (every true value
// lies within its bounds, so each percentile of them lies within those
// percentiles). Without any weight every sample counts once. It reorders s.
func boundedPercentiles(s []bounded) Percentiles {
	if len(s) == 0 {
		return Percentiles{}
	}
	var total int64
	for _, x := range s {
		total += x.w
	}
	if total == 0 {
		for i := range s {
			s[i].w = 1
		}
		total = int64(len(s))
	}
	p := Percentiles{N: len(s)}
	qs := [3]int64{50, 95, 99}
	var fig, low, high [3]float64
	pick := func(value func(bounded) float64, out *[3]float64) float64 {
		slices.SortFunc(s, func(a, b bounded) int {
			switch va, vb := value(a), value(b); {
			case va < vb:
				return -1
			case va > vb:
				return 1
			}
			return 0
		})
		var cum int64
		k := 0
		for _, x := range s {
			cum += x.w
			for k < len(qs) && 100*cum >= qs[k]*total {
				out[k] = value(x)
				k++
			}
		}
		for ; k < len(qs); k++ {
			out[k] = value(s[len(s)-1])
		}
		return value(s[len(s)-1])
	}
	mx := pick(func(b bounded) float64 { return b.v }, &fig)
	ml := pick(func(b bounded) float64 { return b.lo }, &low)
	mh := pick(func(b bounded) float64 { return b.hi }, &high)
	p.P50, p.P95, p.P99, p.Max = fig[0], fig[1], fig[2], mx
	p.P50Err, p.P95Err, p.P99Err = max(fig[0]-low[0], high[0]-fig[0]), max(fig[1]-low[1], high[1]-fig[1]), max(fig[2]-low[2], high[2]-fig[2])
	p.MaxErr = max(mx-ml, mh-mx)
	return p
}

// boundsOf are the nearest-rank percentiles of v with their error bounds
// from lo and hi (the samples' bounds, in any order): each is found by
// selection rather than sorting (the visibility of a million writes is
// the checker's largest set). It reorders all three.
func boundsOf(v, lo, hi []float64) Percentiles {
	n := len(v)
	if n == 0 {
		return Percentiles{}
	}
	ranks := [3]int{rank(50, n), rank(95, n), rank(99, n)}
	fig, low, high := selectRanks(v, ranks), selectRanks(lo, ranks), selectRanks(hi, ranks)
	mx, ml, mh := maxOf(v), maxOf(lo), maxOf(hi)
	return Percentiles{N: n, P50: fig[0], P95: fig[1], P99: fig[2], Max: mx,
		P50Err: max(fig[0]-low[0], high[0]-fig[0]), P95Err: max(fig[1]-low[1], high[1]-fig[1]),
		P99Err: max(fig[2]-low[2], high[2]-fig[2]), MaxErr: max(mx-ml, mh-mx)}
}

// rank is the nearest rank of percentile q among n values, 0-based: the
// smallest r with 100·(r+1) ≥ q·n.
func rank(q, n int) int { return max(0, (q*n+99)/100-1) }

func maxOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = max(m, x)
	}
	return m
}

// selectRanks returns the values of the given ascending 0-based ranks,
// partially ordering v.
func selectRanks(v []float64, ranks [3]int) [3]float64 {
	var out [3]float64
	lo := 0
	for i, k := range ranks {
		selectKth(v[lo:], k-lo)
		out[i] = v[k]
		lo = k
	}
	return out
}

// selectKth puts the k-th smallest of v at v[k], smaller ones before it
// and larger ones after (quickselect, median-of-three pivots).
func selectKth(v []float64, k int) {
	lo, hi := 0, len(v)-1
	for hi > lo {
		if hi-lo < 16 {
			slices.Sort(v[lo : hi+1])
			return
		}
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}
