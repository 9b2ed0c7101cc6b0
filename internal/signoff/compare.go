package signoff

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/check"
)

// Confidence is the two-sided confidence of every comparison.
const Confidence = 0.95

// bootstrapResamples is enough for stable 2.5/97.5 percentiles of the
// difference of medians (the interval moves by well under 1% between seeds).
const bootstrapResamples = 4000

// Labels a comparison can get.
const (
	Regression  = "regression"
	Improvement = "improvement"
	Noise       = "noise"
	TooFew      = "too few runs"
	// Changed: a real change of a measure with no better direction
	// (check.Measure.LowerIsBetter false, such as when the outage began).
	Changed = "changed"
)

// MinSamples per side before a comparison is labelled at all: with fewer,
// no interval at 95% can exclude zero honestly.
const MinSamples = 3

// Comparison is one scenario's measure in two sets of runs. Every measure
// drdrill reports is "lower is better" but those the measure list says have
// no better direction (check.Measure.LowerIsBetter).
type Comparison struct {
	Scenario, Measure, Unit string
	Base, New               []float64
	BaseMedian, NewMedian   float64
	// Diff is NewMedian − BaseMedian; [Low, High] its bootstrap
	// percentile interval at Confidence.
	Diff, Low, High float64
	// P is the two-sided Mann–Whitney U test's p-value (normal
	// approximation with tie correction).
	P     float64
	Label string
}

// Compare compares every scenario and measure present in both sets.
// Resampling is seeded, so the same inputs always give the same labels.
func Compare(base, next *Set) []Comparison {
	var out []Comparison
	for _, sc := range next.Scenarios() {
		for _, m := range measuresOf(next.Samples[sc]) {
			b, n := values(base.Samples[sc][m]), values(next.Samples[sc][m])
			if len(b) == 0 || len(n) == 0 {
				continue
			}
			out = append(out, compareSamples(sc, m, next.Samples[sc][m][0].Unit, b, n))
		}
	}
	return out
}

func measuresOf(m map[string][]Sample) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func values(s []Sample) []float64 {
	var out []float64
	for _, x := range s {
		if !x.Unmeasured {
			out = append(out, x.Value)
		}
	}
	return out
}

func compareSamples(scenario, measure, unit string, base, next []float64) Comparison {
	c := Comparison{Scenario: scenario, Measure: measure, Unit: unit, Base: base, New: next,
		BaseMedian: median(base), NewMedian: median(next)}
	c.Diff = c.NewMedian - c.BaseMedian
	c.Low, c.High = bootstrapDiff(base, next, seedFor(scenario+"/"+measure))
	c.P = mannWhitneyP(base, next)
	switch {
	case len(base) < MinSamples || len(next) < MinSamples:
		c.Label = TooFew
	case (c.Low > 0 || c.High < 0) && c.P < 1-Confidence && !lowerIsBetter(measure):
		c.Label = Changed
	case c.Low > 0 && c.P < 1-Confidence:
		c.Label = Regression
	case c.High < 0 && c.P < 1-Confidence:
		c.Label = Improvement
	default:
		c.Label = Noise
	}
	return c
}

// lowerIsBetter: the measure list says so (a key it does not know, from an
// older report, is taken as lower-is-better, as every measure was).
func lowerIsBetter(measure string) bool {
	m, ok := check.MeasureByKey(measure)
	return !ok || m.LowerIsBetter
}

func seedFor(s string) uint64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n == 0 {
		return math.NaN()
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// bootstrapDiff is the percentile bootstrap interval of the difference of
// medians (each side resampled with replacement on its own).
func bootstrapDiff(base, next []float64, seed uint64) (float64, float64) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	diffs := make([]float64, bootstrapResamples)
	rb, rn := make([]float64, len(base)), make([]float64, len(next))
	for i := range diffs {
		for j := range rb {
			rb[j] = base[rng.IntN(len(base))]
		}
		for j := range rn {
			rn[j] = next[rng.IntN(len(next))]
		}
		diffs[i] = median(rn) - median(rb)
	}
	sort.Float64s(diffs)
	alpha := (1 - Confidence) / 2
	lo := diffs[int(math.Floor(alpha*float64(len(diffs))))]
	hi := diffs[min(len(diffs)-1, int(math.Ceil((1-alpha)*float64(len(diffs))))-1)]
	return lo, hi
}

// mannWhitneyP is the two-sided p-value of the Mann–Whitney U test, by the
// normal approximation with continuity and tie corrections.
func mannWhitneyP(a, b []float64) float64 {
	n1, n2 := float64(len(a)), float64(len(b))
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, len(a)+len(b))
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v < all[j].v })
	var r1, tie float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		rank := float64(i+j+1) / 2 // mean of ranks i+1 … j
		t := float64(j - i)
		tie += t*t*t - t
		for k := i; k < j; k++ {
			if all[k].first {
				r1 += rank
			}
		}
		i = j
	}
	u := r1 - n1*(n1+1)/2
	mu := n1 * n2 / 2
	n := n1 + n2
	sigma := math.Sqrt(n1 * n2 / 12 * ((n + 1) - tie/(n*(n-1))))
	if sigma == 0 {
		return 1
	}
	z := (math.Abs(u-mu) - 0.5) / sigma
	if z < 0 {
		z = 0
	}
	return math.Erfc(z / math.Sqrt2)
}

// WriteMarkdown writes the comparison as a table for a PR comment.
func WriteMarkdown(w io.Writer, base, next *Set, cs []Comparison) {
	fmt.Fprintf(w, "### drdrill compare\n\nBase: %s  \nNew: %s\n\n", base.Describe(), next.Describe())
	fmt.Fprintf(w, "| scenario | measure | base median (n) | new median (n) | Δ median [%.0f%% CI] | p | verdict |\n|---|---|---|---|---|---|---|\n", Confidence*100)
	for _, c := range cs {
		fmt.Fprintf(w, "| %s | %s | %s %s (%d) | %s %s (%d) | %+.4g [%+.4g, %+.4g] | %.3g | %s |\n", c.Scenario, c.Measure,
			num(c.BaseMedian), c.Unit, len(c.Base), num(c.NewMedian), c.Unit, len(c.New), c.Diff, c.Low, c.High, c.P, strong(c.Label))
	}
	var reg []string
	for _, c := range cs {
		if c.Label == Regression {
			reg = append(reg, c.Scenario+" "+c.Measure)
		}
	}
	fmt.Fprintf(w, "\nMethod: difference of medians with a %d-resample percentile bootstrap interval, and a two-sided Mann–Whitney U test; "+
		"a change is a regression or improvement only when the interval excludes 0 and p < %.2f, with at least %d runs a side. Lower is better for every measure but when the outage began (labelled changed).\n",
		bootstrapResamples, 1-Confidence, MinSamples)
	if len(reg) > 0 {
		fmt.Fprintf(w, "\n**Regressions:** %s\n", strings.Join(reg, ", "))
	}
}

func strong(label string) string {
	if label == Regression {
		return "**regression**"
	}
	return label
}
