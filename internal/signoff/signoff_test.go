package signoff

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
)

// writeRuns writes one report.json per value, as `drdrill drill` would
// leave them, with the scenario's RTO set to that value.
func writeRuns(t *testing.T, dir, target, prefix string, rto []float64) {
	t.Helper()
	for i, v := range rto {
		r := report.Report{Schema: report.Schema, Run: report.RunMeta{ID: fmt.Sprintf("%s-%03d", prefix, i), Target: target, GitCommit: "abc123"},
			Policy: policy.Default(target), Verdict: "pass",
			Scenarios: []report.Scenario{{Name: "region-outage", Verdict: "pass", Measurements: []policy.Measurement{
				{Check: "rto_ms", Measured: v, Unit: "ms"}, {Check: "rpo_lost_writes", Measured: 0, Unit: "writes"}}}}}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		run := filepath.Join(dir, r.Run.ID)
		if err := os.MkdirAll(run, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(run, report.JSONFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func normal(rng *rand.Rand, n int, mean, sd float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = mean + sd*rng.NormFloat64()
	}
	return out
}

// A real shift is labelled a regression, and two samples of one
// distribution are labelled noise, at the stated confidence: over many
// seeded pairs, the false-alarm rate stays near 1−Confidence and a shift of
// two standard deviations is caught nearly always.
func TestCompareTellsRegressionFromNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const trials = 200
	falseAlarms, caught, improvements := 0, 0, 0
	for i := 0; i < trials; i++ {
		base := normal(rng, 12, 250, 25)
		if l := compareSamples("s", "rto_ms", "ms", base, normal(rng, 12, 250, 25)).Label; l != Noise {
			falseAlarms++
		}
		if l := compareSamples("s", "rto_ms", "ms", base, normal(rng, 12, 300, 25)).Label; l == Regression {
			caught++
		}
		if l := compareSamples("s", "rto_ms", "ms", base, normal(rng, 12, 200, 25)).Label; l == Improvement {
			improvements++
		}
	}
	if rate := float64(falseAlarms) / trials; rate > 1-Confidence+0.02 {
		t.Errorf("same distribution labelled a change in %.1f%% of %d pairs; want at most about %.0f%%", 100*rate, trials, 100*(1-Confidence))
	}
	if rate := float64(caught) / trials; rate < 0.9 {
		t.Errorf("a 2-sd slowdown was labelled a regression in only %.0f%% of %d pairs", 100*rate, trials)
	}
	if rate := float64(improvements) / trials; rate < 0.9 {
		t.Errorf("a 2-sd speed-up was labelled an improvement in only %.0f%% of %d pairs", 100*rate, trials)
	}
	if c := compareSamples("s", "rto_ms", "ms", []float64{1, 2}, []float64{100, 200}); c.Label != TooFew {
		t.Errorf("two runs a side: %q, want %q", c.Label, TooFew)
	}
}

// Known values: the Mann–Whitney p-value of two fully separated samples of
// 10 is about 0.00018 (normal approximation with continuity correction).
func TestMannWhitneyKnownValues(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	b := []float64{11, 12, 13, 14, 15, 16, 17, 18, 19, 20}
	if p := mannWhitneyP(a, b); p < 0.00015 || p > 0.00022 {
		t.Errorf("separated samples: p = %g, want about 0.00018", p)
	}
	if p := mannWhitneyP(a, a); p < 0.99 {
		t.Errorf("identical samples: p = %g, want 1", p)
	}
}

func TestCompareReadsRunSetsFromDisk(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	base, next, same := t.TempDir(), t.TempDir(), t.TempDir()
	writeRuns(t, base, "lab", "a", normal(rng, 10, 250, 20))
	writeRuns(t, next, "lab", "b", normal(rng, 10, 400, 20))
	writeRuns(t, same, "lab", "c", normal(rng, 10, 250, 20))
	load := func(p string) *Set {
		s, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		return s.ForTarget("")
	}
	got := map[string]string{}
	for _, c := range Compare(load(base), load(next)) {
		got[c.Measure] = c.Label
	}
	if got["rto_ms"] != Regression || got["rpo_lost_writes"] != Noise {
		t.Fatalf("250 ms → 400 ms: %v", got)
	}
	var md strings.Builder
	cs := Compare(load(base), load(same))
	WriteMarkdown(&md, load(base), load(same), cs)
	if !strings.Contains(md.String(), "| region-outage | rto_ms |") || strings.Contains(md.String(), "**regression**") {
		t.Fatalf("same distribution:\n%s", md.String())
	}
}

// The window takes the last N samples; percentile bounds use nearest rank;
// a run that could not measure a figure fails its bounds; runs of another
// target are excluded and named.
func TestWindowVerdict(t *testing.T) {
	dir := t.TempDir()
	var rto []float64
	for i := 1; i <= 20; i++ {
		rto = append(rto, float64(i*100)) // 100 … 2000
	}
	writeRuns(t, dir, "lab", "r", rto)
	writeRuns(t, dir, "aws", "z", []float64{1})
	all, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	set := all.ForTarget("lab")
	if len(set.Runs) != 20 || len(set.Excluded) != 1 || !strings.Contains(set.Excluded[0], "target aws, not lab") {
		t.Fatalf("runs %d, excluded %v", len(set.Runs), set.Excluded)
	}
	pol := func(y string) policy.Policy {
		p, err := policy.Parse([]byte("version: 1\nscenarios:\n  region-outage:\n    rto_ms: "+y+"\n"), "test")
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		bound  string
		window int
		pass   bool
	}{
		{"{p95: 1900}", 20, true},  // nearest rank: 19th of 20
		{"{p95: 1800}", 20, false}, // …which is 1900
		{"{p50: 1000, max: 2000}", 20, true},
		{"1999", 20, false},       // a plain bound is every run's
		{"{max: 1000}", 5, false}, // the last five are 1600 … 2000
		{"{p50: 1800}", 5, true},  // their median
		{"{p50: 1000, max: 2000}", 0, true},
	}
	for _, c := range cases {
		v := Judge(set, pol(c.bound), c.window)
		if v.Pass != c.pass {
			var b strings.Builder
			v.Write(&b)
			t.Errorf("rto_ms %s over %d: pass %v, want %v\n%s", c.bound, c.window, v.Pass, c.pass, b.String())
		}
	}
	// One unmeasured run fails the bound however good the others are.
	set.Samples["region-outage"]["rto_ms"][19].Unmeasured = true
	v := Judge(set, pol("{p50: 5000}"), 20)
	var b strings.Builder
	v.Write(&b)
	if v.Pass || !strings.Contains(b.String(), "1 of 20 runs could not measure it") {
		t.Fatalf("unmeasured run:\n%s", b.String())
	}
}

// A real shift of a measure with no better direction (when the outage
// began) is "changed", never a regression that fails the gate.
func TestDirectionlessMeasureIsChangedNotRegressed(t *testing.T) {
	base := []float64{100, 101, 102, 99, 100, 101}
	next := []float64{300, 301, 299, 302, 300, 301}
	if c := compareSamples("region-outage", "outage_start_ms", "ms", base, next); c.Label != Changed {
		t.Fatalf("outage_start_ms moved from 100 to 300 ms: %s, want %s", c.Label, Changed)
	}
	if c := compareSamples("region-outage", "rto_ms", "ms", base, next); c.Label != Regression {
		t.Fatalf("rto_ms moved from 100 to 300 ms: %s, want %s", c.Label, Regression)
	}
}
