package refcheck_test

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/refcheck"
)

// fast reads the fast checker's result as the reference's figures: every
// measure through the measure list (so the list's readers are held to the
// reference too), and every other figure docs/measures.md defines.
func fast(r check.Result) refcheck.Figures {
	f := refcheck.Figures{}
	for _, m := range check.Measures {
		v := m.Read(&r)
		switch {
		case !v.Applies:
			f[m.Key] = refcheck.Figure{NotApplicable: true}
		case !v.Judged:
			f[m.Key] = refcheck.Figure{NotJudged: v.Why}
		default:
			f[m.Key] = refcheck.Figure{Value: v.V}
		}
	}
	set := func(name string, v float64) { f[name] = refcheck.Figure{Value: v} }
	flag := func(name string, b bool) { set(name, map[bool]float64{true: 1}[b]) }
	if r.RPO.Judged {
		set("rpo_resolution_ms", r.RPO.ResolutionMs)
		set("info_applied", float64(r.InfoApplied))
		set("info_not_applied", float64(r.InfoNotApplied))
	}
	set("rpo_scheduled_resolution_ms", r.RPO.ScheduledResolutionMs)
	set("duplicate_ops", float64(r.DuplicateOps))
	set("duplicate_rows", float64(r.DuplicateRows))
	set("unexpected_rows", float64(r.UnexpectedCount))
	for region, n := range r.Divergent {
		set("divergent/"+region, float64(n))
	}
	for region, n := range r.Missing {
		set("missing/"+region, float64(n))
	}
	if r.RTO.Judged {
		set("rto_failed_writes", float64(r.RTO.FailedWrites))
		flag("rto_affected", r.RTO.Affected)
		flag("rto_recovered", r.RTO.Recovered)
		if r.RTO.FirstFail != nil {
			set("rto_first_fail_invoke_ms", r.RTO.FirstFail.InvokeMs)
			set("rto_last_fail_invoke_ms", r.RTO.LastFail.InvokeMs)
		}
	}
	percentiles := func(prefix string, p check.Percentiles) {
		set(prefix+"/n", float64(p.N))
		for name, v := range map[string]float64{"p50": p.P50, "p95": p.P95, "p99": p.P99, "max": p.Max,
			"p50_err": p.P50Err, "p95_err": p.P95Err, "p99_err": p.P99Err, "max_err": p.MaxErr} {
			set(prefix+"/"+name, v)
		}
	}
	for series, phases := range r.Lag {
		for phase, p := range phases {
			percentiles("lag/"+series+"/"+phase, p)
		}
	}
	for series, res := range r.LagResolutionByRegion {
		set("lag_resolution/"+series, res)
	}
	if v := f["lag_p99_ms"]; v.NotJudged == "" && !v.NotApplicable {
		set("lag_p99_ms/err", measure(r, "lag_p99_ms").Resolution)
	}
	for region, phases := range r.Reads.Visibility {
		for phase, p := range phases {
			percentiles("visibility/"+region+"/"+phase, p)
		}
	}
	if v := f["read_visibility_p99_ms"]; v.NotJudged == "" && !v.NotApplicable {
		set("read_visibility_p99_ms/err", measure(r, "read_visibility_p99_ms").Resolution)
	}
	for region, res := range r.Reads.ResolutionMs {
		set("read_resolution/"+region, res)
	}
	for region, n := range r.Reads.NotSeenIn {
		set("not_seen_in/"+region, float64(n))
	}
	if r.Reads.StaleJudged {
		set("stale_max_behind_ms", r.Reads.StaleMaxBehindMs)
	}
	set("windows", float64(len(r.Windows)))
	for k, w := range r.Windows {
		p := fmt.Sprintf("window/%d/", k+1)
		set(p+"start_ms", w.StartMs)
		if w.EndMs != nil {
			set(p+"end_ms", *w.EndMs)
		}
		set(p+"source/"+w.Source, 1)
		set(p+"faults", float64(len(w.Faults)))
		if _, no := w.NotJudged["outage_start_ms"]; !no {
			set(p+"failed_writes", float64(w.FailedWrites))
			if w.RTOMs != nil {
				set(p+"rto_ms", *w.RTOMs)
			}
			if w.OutageStartMs != nil {
				set(p+"outage_start_ms", *w.OutageStartMs)
			}
		}
		for name, v := range map[string]*float64{"detect_ms": w.DetectMs, "promote_ms": w.PromoteMs, "reprotect_ms": w.ReprotectMs} {
			if v != nil {
				set(p+name, *v)
			}
		}
		if _, no := w.NotJudged["lost_writes"]; !no {
			set(p+"lost_writes", float64(w.LostWrites))
			set(p+"rpo_ms", w.RPOMs)
			set(p+"rpo_resolution_ms", w.RPOResolutionMs)
		}
	}
	for _, key := range []string{"window_rto_ms", "window_rpo_ms", "window_lost_writes", "window_reprotect_ms"} {
		if v := measure(r, key); v.Applies && v.Judged {
			set(key+"/resolution", v.Resolution)
		}
	}
	if hy := r.Hypothesis; hy != nil {
		flag("hypothesis/consistent", hy.Consistent)
		set("hypothesis/region/"+hy.Region, 1)
		set("hypothesis/series/"+hy.Series, 1)
		set("hypothesis/lost_span_ms", hy.LostSpanMs)
		if hy.NoLagReading {
			flag("hypothesis/no_lag_reading", true)
		} else {
			set("hypothesis/last_lag_ms", hy.LastLagMs)
			set("hypothesis/tolerance_ms", hy.ToleranceMs)
		}
		if !hy.Consistent && !hy.NoLagReading {
			set("hypothesis/under_by_ms", hy.UnderByMs)
		}
	}
	return f
}

func measure(r check.Result, key string) check.Value {
	m, _ := check.MeasureByKey(key)
	return m.Read(&r)
}

// disagreements lists, one line each, the figures on which the two
// checkers differ. A figure one gives that the other lacks, or that one
// judges and the other does not, is a disagreement; so is a value off by
// more than a rounding error. The reasons for not judging are prose and
// need not match.
func disagreements(ref, got refcheck.Figures) []string {
	var out []string
	names := map[string]bool{}
	for n := range ref {
		names[n] = true
	}
	for n := range got {
		names[n] = true
	}
	for n := range names {
		r, inRef := ref[n]
		g, inGot := got[n]
		// Figures the reference marks not applicable may be absent from
		// the fast checker's result, and a count of 0 for a region the
		// fast checker keeps no entry for is the same figure.
		// Beyond the measures, the fast checker leaves out a figure it
		// cannot judge rather than saying why.
		if !inGot && (r.NotApplicable || (r.NotJudged != "" && !isMeasure(n)) || (r.NotJudged == "" && r.Value == 0 && (strings.HasPrefix(n, "divergent/") || strings.HasPrefix(n, "missing/")))) {
			continue
		}
		if !inRef && g.NotApplicable {
			continue
		}
		switch {
		case !inRef || !inGot:
			out = append(out, fmt.Sprintf("%s: reference %s, fast %s", n, describe(r, inRef), describe(g, inGot)))
		case r.NotApplicable != g.NotApplicable || (r.NotJudged == "") != (g.NotJudged == ""):
			out = append(out, fmt.Sprintf("%s: reference %s, fast %s", n, describe(r, true), describe(g, true)))
		case r.NotJudged == "" && !r.NotApplicable && math.Abs(r.Value-g.Value) > 1e-9*max(1, math.Abs(r.Value)):
			out = append(out, fmt.Sprintf("%s: reference %v, fast %v", n, r.Value, g.Value))
		}
	}
	sort.Strings(out)
	return out
}

func isMeasure(name string) bool {
	_, ok := check.MeasureByKey(name)
	return ok
}

func describe(f refcheck.Figure, present bool) string {
	switch {
	case !present:
		return "absent"
	case f.NotApplicable:
		return "not applicable"
	case f.NotJudged != "":
		return "not judged (" + f.NotJudged + ")"
	}
	return fmt.Sprint(f.Value)
}

// windowFor is the stability window a seed's history is judged with:
// generated histories last a second or less.
func windowFor(seed uint64) time.Duration { return time.Duration(20+seed%5*20) * time.Millisecond }

// compare checks one generated history with both checkers.
func compare(t *testing.T, seed uint64) {
	t.Helper()
	b, shape := generate(seed)
	h, err := history.Read(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("seed %d: the generated history does not read back: %v\n%s", seed, err, b)
	}
	window := windowFor(seed)
	ref := refcheck.Check(h, window)
	got := fast(check.Check(h, check.Config{StabilityWindow: window}))
	if d := disagreements(ref, got); len(d) > 0 {
		t.Fatalf("seed %d (%s): the checkers disagree on %d figures:\n  %s\nminimal history (%s):\n%s",
			seed, shape, len(d), strings.Join(d, "\n  "), window, shrink(b, window, d))
	}
}

// The fast checker and the reference agree on every figure of 5,000
// generated histories.
func TestCheckersAgreeOnGeneratedHistories(t *testing.T) {
	for seed := uint64(1); seed <= 5000; seed++ {
		compare(t, seed)
	}
}

// FuzzCheckersAgree: the same, on seeds the fuzzer picks (its corpus is
// checked in under testdata/fuzz and runs in every go test).
func FuzzCheckersAgree(f *testing.F) {
	for _, seed := range []uint64{1, 12, 16, 20, 77, 4242} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { compare(t, seed) })
}
