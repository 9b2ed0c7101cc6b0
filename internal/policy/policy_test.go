package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/check"
)

func TestBuiltInPoliciesParse(t *testing.T) {
	for _, kind := range []string{"lab", "aws"} {
		p := Default(kind)
		l := p.For("planned-switchover")
		if l.RPOLostWrites == nil || *l.RPOLostWrites != 0 {
			t.Fatalf("%s: switchover limits %+v", kind, l)
		}
	}
	// Zombies are measurable on the lab only (promotions name the server).
	if z := Default("lab").For("partition").ZombieWrites; z == nil || *z != 0 {
		t.Fatal("the lab policy must require zero zombie writes")
	}
	if Default("aws").For("partition").ZombieWrites != nil {
		t.Fatal("the aws policy must not claim a zombie target it cannot measure")
	}
	if *Default("aws").For("region-outage").RTOMs != 300000 || *Default("lab").For("region-outage").RTOMs != 5000 {
		t.Fatal("region-outage RTO targets: aws 5 min, lab 5 s")
	}
}

func TestBadPolicyFilesAreClearErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"typo":     {"version: 1\nscenarios:\n  region-outage:\n    rto_msec: 5\n", "rto_msec"},
		"type":     {"version: 1\ndefault:\n  rto_ms: fast\n", "fast"},
		"version":  {"version: 2\n", "version 2"},
		"negative": {"version: 1\nscenarios:\n  x:\n    rpo_ms: -1\n", "must not be negative"},
		"not yaml": {"version: [1\n", "policy"},
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
	r.RPO = check.RPO{Judged: true, LostWrites: 7, SpanMs: 35, ResolutionMs: 5}
	r.RTO = check.RTO{Judged: true, Recovered: true, Ms: 1200, ResolutionMs: 5}
	r.Lag = map[string]map[string]check.Percentiles{"us-west-2": {"before": {N: 10, P99: 40}, "during": {N: 10, P99: 9000}}}
	zero, rto, lag := 0, 1000.0, 50.0
	_, bs := Limits{RPOLostWrites: &zero, RTOMs: &rto, LagP99Ms: &lag}.Judge("region-outage", r)
	if len(bs) != 2 || bs[0].Check != "rpo_lost_writes" || bs[1].Check != "rto_ms" {
		t.Fatalf("breaches %+v", bs)
	}
	if !strings.Contains(bs[1].Message, "1200 ms (±5) exceeds the target 1000 ms") {
		t.Fatalf("message %q", bs[1].Message)
	}
	r.RTO.Recovered = false
	_, bs = Limits{RTOMs: &rto}.Judge("x", r)
	if len(bs) != 1 || !strings.Contains(bs[0].Message, "not measured") {
		t.Fatalf("unrecovered RTO must breach: %+v", bs)
	}
	r.RPO.Judged = false
	_, bs = Limits{RPOLostWrites: &zero}.Judge("x", r)
	if len(bs) != 1 || !strings.Contains(bs[0].Message, "no final read") {
		t.Fatalf("unjudged RPO must breach: %+v", bs)
	}
}
