package policy

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/check"
)

func TestBuiltInPoliciesParse(t *testing.T) {
	for _, kind := range []string{"lab", "aws"} {
		p := Default(kind)
		l := p.For("planned-switchover")
		if v, ok := l.Bound("rpo_lost_writes").Max(); !ok || v != 0 {
			t.Fatalf("%s: switchover limits %+v", kind, l)
		}
	}
	// Zombies are measurable on the lab only (promotions name the server).
	if z, ok := Default("lab").For("partition").Bound("zombie_writes").Max(); !ok || z != 0 {
		t.Fatal("the lab policy must require zero zombie writes")
	}
	if Default("aws").For("partition").Bound("zombie_writes") != nil {
		t.Fatal("the aws policy must not claim a zombie target it cannot measure")
	}
	aws, _ := Default("aws").For("region-outage").Bound("rto_ms").Max()
	lab, _ := Default("lab").For("region-outage").Bound("rto_ms").Max()
	iso, _ := Default("aws").For("region-isolation").Bound("rto_ms").Max()
	if aws != 300000 || lab != 5000 || iso != 300000 {
		t.Fatal("region-outage RTO targets: aws 5 min, lab 5 s")
	}
}

func TestBadPolicyFilesAreClearErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"typo":      {"version: 1\nscenarios:\n  region-outage:\n    rto_msec: 5\n", `line 4: unknown measure "rto_msec" (known: rpo_lost_writes, rpo_ms,`},
		"typo dflt": {"version: 1\ndefault:\n  reprotect: 5\n", `unknown measure "reprotect" (known: `},
		"type":      {"version: 1\ndefault:\n  rto_ms: fast\n", "fast"},
		"version":   {"version: 2\n", "version 2"},
		"negative":  {"version: 1\nscenarios:\n  x:\n    rpo_ms: -1\n", "must not be negative"},
		"not yaml":  {"version: [1\n", "policy"},
		"stat":      {"version: 1\nscenarios:\n  x:\n    rto_ms: {p96: 5}\n", `unknown statistic "p96"`},
		"stat val":  {"version: 1\nscenarios:\n  x:\n    rto_ms: {p95: soon}\n", `p95: "soon" is not a number`},
		"stat neg":  {"version: 1\nscenarios:\n  x:\n    rto_ms: {max: -3}\n", "non-negative"},
		"empty":     {"version: 1\nscenarios:\n  x:\n    rto_ms: {}\n", "empty bound"},
		"list":      {"version: 1\nscenarios:\n  x:\n    rto_ms: [1, 2]\n", "a bound is a number or a mapping"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(c.body), 0o600)
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming %s and %q", name, err, p, c.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "absent.yaml")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing: %v", err)
	}
}

func TestJudge(t *testing.T) {
	var r check.Result
	fault := 100.0
	r.FaultMs = &fault
	r.RPO = check.RPO{Judged: true, LostWrites: 7, SpanMs: 35, ResolutionMs: 5}
	r.RTO = check.RTO{Judged: true, Recovered: true, Ms: 1200, ResolutionMs: 5}
	r.Lag = map[string]map[string]check.Percentiles{"us-west-2": {"before": {N: 10, P99: 40}, "during": {N: 10, P99: 9000}}}
	zero, rto, lag := Plain(0), Plain(1000), Plain(50)
	_, bs := Limits{"rpo_lost_writes": zero, "rto_ms": rto, "lag_p99_ms": lag}.Judge("region-outage", r)
	if len(bs) != 2 || bs[0].Check != "rpo_lost_writes" || bs[1].Check != "rto_ms" {
		t.Fatalf("breaches %+v", bs)
	}
	if !strings.Contains(bs[1].Message, "1200 ms (±5) exceeds the target 1000 ms") {
		t.Fatalf("message %q", bs[1].Message)
	}
	r.RTO.Recovered = false
	r.NotJudged = map[string]string{"rto_ms": "writes never succeeded for a whole stability window"}
	_, bs = Limits{"rto_ms": rto}.Judge("x", r)
	if len(bs) != 1 || !strings.Contains(bs[0].Message, "x rto_ms: not judged (writes never succeeded for a whole stability window); target 1000 ms") {
		t.Fatalf("unrecovered RTO must breach: %+v", bs)
	}
	r.RPO.Judged = false
	r.NotJudged["rpo_lost_writes"] = "the history has no final read of the primary"
	_, bs = Limits{"rpo_lost_writes": zero}.Judge("x", r)
	if len(bs) != 1 || !strings.Contains(bs[0].Message, "not judged (the history has no final read of the primary)") {
		t.Fatalf("unjudged RPO must breach: %+v", bs)
	}
}

// Both forms parse: a plain number is {max: N}; a mapping bounds the
// distribution. A single run is judged against max only, and says which
// bounds it left to a window of runs.
func TestDistributionBounds(t *testing.T) {
	p, err := Parse([]byte("version: 1\nscenarios:\n  region-outage:\n    rto_ms: {p95: 5000, max: 10000}\n    rpo_lost_writes: {max: 0}\n    rpo_ms: {p50: 20}\n    lag_p99_ms: 900\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	l := p.For("region-outage")
	if l.Bound("rto_ms").String() != "{p95: 5000, max: 10000}" || l.Bound("rpo_lost_writes").String() != "0" || l.Bound("lag_p99_ms").String() != "900" {
		t.Fatalf("parsed %v", l)
	}
	var r check.Result
	fault := 100.0
	r.FaultMs = &fault
	r.RPO = check.RPO{Judged: true, LostWrites: 0, SpanMs: 35, ResolutionMs: 5}
	r.RTO = check.RTO{Judged: true, Recovered: true, Ms: 7000, ResolutionMs: 5}
	r.Lag = map[string]map[string]check.Percentiles{"us-west-2": {"before": {N: 10, P99: 40}}}
	ms, bs := l.Judge("region-outage", r)
	if len(bs) != 0 {
		t.Fatalf("7000 ms meets max 10000 in a single run; breaches %+v", bs)
	}
	over := map[string]string{}
	for _, m := range ms {
		over[m.Check] = m.Over
	}
	if over["rto_ms"] != "{p95: 5000, max: 10000}" || over["rpo_ms"] != "{p50: 20}" || over["rpo_lost_writes"] != "" {
		t.Fatalf("distribution bounds left to a window: %v", over)
	}
	r.RTO.Ms = 12000
	if _, bs = l.Judge("region-outage", r); len(bs) != 1 || bs[0].Check != "rto_ms" {
		t.Fatalf("12000 ms breaches max 10000: %+v", bs)
	}
	// policy.json round trip keeps both forms.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := back.For("region-outage"); got.Bound("rto_ms").String() != l.Bound("rto_ms").String() || got.Bound("lag_p99_ms").String() != "900" {
		t.Fatalf("round trip: %s → %v", b, got)
	}
}

func TestStatIsNearestRank(t *testing.T) {
	if got := Stat("p95", []float64{3, 1, 2}); got != 3 {
		t.Errorf("p95 of three values is the largest: %g", got)
	}
}

// The read measures are judged when the history has reads, and do not
// apply (neither pass nor breach) to an older history without them.
func TestReadMeasuresJudgedOnlyWithReads(t *testing.T) {
	p, err := Parse([]byte("version: 1\nscenarios:\n  x:\n    vanished_reads: 0\n    read_visibility_p99_ms: 100\n    stale_reads_after_promotion: 2\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	var r check.Result
	ms, bs := p.For("x").Judge("x", r)
	for _, m := range ms {
		if strings.Contains(m.Check, "read") {
			t.Fatalf("without reads, %s was judged: %+v", m.Check, m)
		}
	}
	if len(bs) != 0 {
		t.Fatalf("without reads: breaches %+v", bs)
	}
	r.Reads = check.Reads{Judged: true, StaleJudged: true, Vanished: 3, StaleAfterPromotion: 2,
		Visibility:   map[string]map[string]check.Percentiles{"us-west-2": {"before": {N: 10, P99: 150, P99Err: 50}, "during": {N: 5, P99: 9000}}},
		ResolutionMs: map[string]float64{"us-west-2": 50}}
	_, bs = p.For("x").Judge("x", r)
	var got []string
	for _, b := range bs {
		got = append(got, fmt.Sprintf("%s=%g±%g", b.Check, b.Measured, b.Resolution))
	}
	if want := []string{"read_visibility_p99_ms=150±50", "vanished_reads=3±0"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("breaches %v, want %v (stale 2 is within its bound; 'during' visibility is not judged)", got, want)
	}
}

// `report` overrides a default target with none: the figure is measured
// and shown, never a breach, and it survives policy.json's round trip.
func TestReportFormOverridesTheDefault(t *testing.T) {
	p, err := Parse([]byte("version: 1\ndefault:\n  zombie_writes: 0\nscenarios:\n  shows-zombies:\n    zombie_writes: report\n"), "test")
	if err != nil {
		t.Fatal(err)
	}
	r := check.Result{ZombiesJudged: true, ZombieCount: 7}
	if _, bs := p.For("other").Judge("other", r); len(bs) != 1 {
		t.Fatalf("the default's target must still apply elsewhere: %+v", bs)
	}
	ms, bs := p.For("shows-zombies").Judge("shows-zombies", r)
	if len(bs) != 0 {
		t.Fatalf("report form breached: %+v", bs)
	}
	for _, m := range ms {
		if m.Check == "zombie_writes" && (m.Measured != 7 || m.Target != nil || m.Over != "") {
			t.Fatalf("measurement %+v: want 7, no target", m)
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(b, &back); err != nil || !back.Scenarios["shows-zombies"].Bound("zombie_writes").Report {
		t.Fatalf("round trip: %v %s", err, b)
	}
}

// Every measure in the checker's list is a policy key, judged through the
// list: a bound on re-protection reads the checker's figure, and a history
// not re-protected within it breaches the bound with the reason.
func TestEveryMeasureIsAPolicyKey(t *testing.T) {
	for _, m := range check.Measures {
		if _, err := Parse([]byte("version: 1\ndefault:\n  "+m.Key+": 1\n"), "test"); err != nil {
			t.Errorf("%s: %v", m.Key, err)
		}
	}
	at := 4200.0
	var r check.Result
	fault := 0.0
	r.FaultMs, r.ReprotectMs = &fault, &at
	ms, bs := Limits{"reprotect_ms": Plain(3000)}.Judge("region-outage", r)
	if len(bs) != 1 || !strings.Contains(bs[0].Message, "reprotect_ms: measured 4200 ms") {
		t.Fatalf("breaches %+v", bs)
	}
	found := false
	for _, m := range ms {
		found = found || m.Check == "reprotect_ms" && m.Measured == 4200
	}
	if !found {
		t.Fatalf("measurements %+v lack reprotect_ms", ms)
	}
	r.ReprotectMs = nil
	r.NotJudged = map[string]string{"reprotect_ms": "not re-protected within the history: no in-sync event of us-east-1 after the last promotion"}
	if _, bs := (Limits{"reprotect_ms": Plain(3000)}).Judge("region-outage", r); len(bs) != 1 || !strings.Contains(bs[0].Message, "not re-protected within the history") {
		t.Fatalf("not re-protected: breaches %+v", bs)
	}
}
