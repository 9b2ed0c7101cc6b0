package signoff

import (
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/drdrill/drdrill/internal/policy"
)

// Check is one bound of one measure judged over a window.
type Check struct {
	Stat     string  // p50, p90, p95, p99, max
	Measured float64 // the statistic over the window's measured samples
	Bound    float64
	Met      bool
}

// MeasureVerdict is one scenario's measure over its window.
type MeasureVerdict struct {
	Scenario, Measure, Unit string
	N                       int // measured samples in the window
	Unmeasured              int // samples the run could not measure
	Flaky                   int // samples whose spec passed only on a retry
	Stats                   map[string]float64
	Bound                   *policy.Bound
	Checks                  []Check
	Met                     bool
}

// Verdict is a window's judgement.
type Verdict struct {
	Window   int
	Policy   string
	Measures []MeasureVerdict
	Pass     bool
}

// Judge takes the last window samples of each scenario and measure and
// judges their distribution against the policy's bounds. A sample a run
// could not measure fails every bound of its measure: an unmeasured RPO must
// never pass a sign-off.
func Judge(s *Set, pol policy.Policy, window int) Verdict {
	v := Verdict{Window: window, Policy: pol.Source, Pass: true}
	for _, sc := range s.Scenarios() {
		limits := pol.For(sc)
		for _, m := range policy.Measures {
			samples := s.Samples[sc][m]
			if len(samples) == 0 {
				continue
			}
			if window > 0 && len(samples) > window {
				samples = samples[len(samples)-window:]
			}
			mv := MeasureVerdict{Scenario: sc, Measure: m, Unit: samples[0].Unit, Bound: limits.Bound(m), Stats: map[string]float64{}, Met: true, Flaky: s.Flaky[sc]}
			var vals []float64
			for _, x := range samples {
				if x.Unmeasured {
					mv.Unmeasured++
					continue
				}
				vals = append(vals, x.Value)
			}
			mv.N = len(vals)
			sort.Float64s(vals)
			for _, st := range policy.Statistics {
				mv.Stats[st] = policy.Stat(st, vals)
			}
			if mv.Bound != nil {
				for _, st := range mv.Bound.Keys() {
					c := Check{Stat: st, Measured: mv.Stats[st], Bound: mv.Bound.Stats[st]}
					c.Met = mv.Unmeasured == 0 && mv.N > 0 && c.Measured <= c.Bound
					mv.Met = mv.Met && c.Met
					mv.Checks = append(mv.Checks, c)
				}
			}
			v.Pass = v.Pass && mv.Met
			v.Measures = append(v.Measures, mv)
		}
	}
	return v
}

// Write prints the verdict, one line per measure with a bound and a line
// per failing bound, ending with "verdict: PASS" or "verdict: FAIL".
func (v Verdict) Write(w io.Writer) {
	failing := 0
	for _, m := range v.Measures {
		if m.Bound == nil {
			continue
		}
		flaky := ""
		if m.Flaky > 0 {
			flaky = fmt.Sprintf(", %d flaky", m.Flaky)
		}
		fmt.Fprintf(w, "%-4s %s %s: n=%d%s%s  p50 %s  p95 %s  p99 %s  max %s %s  bound %s\n", mark(m.Met), m.Scenario, m.Measure, m.N,
			unmeasured(m.Unmeasured), flaky, num(m.Stats["p50"]), num(m.Stats["p95"]), num(m.Stats["p99"]), num(m.Stats["max"]), m.Unit, m.Bound)
		for _, c := range m.Checks {
			if !c.Met {
				failing++
				why := fmt.Sprintf("measured %s %s exceeds %g", num(c.Measured), m.Unit, c.Bound)
				if m.Unmeasured > 0 {
					why = fmt.Sprintf("%d of %d runs could not measure it", m.Unmeasured, m.Unmeasured+m.N)
				} else if m.N == 0 {
					why = "no measured runs"
				}
				fmt.Fprintf(w, "FAIL %s %s %s: %s (bound %g %s)\n", m.Scenario, m.Measure, c.Stat, why, c.Bound, m.Unit)
			}
		}
	}
	if v.Pass {
		fmt.Fprintf(w, "verdict: PASS (every bound of policy %s met over a window of %d)\n", v.Policy, v.Window)
	} else {
		fmt.Fprintf(w, "verdict: FAIL (%d failing bounds, policy %s, window %d)\n", failing, v.Policy, v.Window)
	}
}

func mark(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

func unmeasured(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" (+%d unmeasured)", n)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4g", v)
}
