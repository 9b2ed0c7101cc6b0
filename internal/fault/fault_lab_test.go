package fault

import (
	"context"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/labtest"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/target"
)

func waitHealthy(t *testing.T, tgt target.Target, within time.Duration) target.Topology {
	t.Helper()
	deadline := time.Now().Add(within)
	var topo target.Topology
	var err error
	for time.Now().Before(deadline) {
		if topo, err = tgt.Topology(context.Background()); err == nil && topo.Healthy {
			return topo
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("not healthy within %v: %+v %v", within, topo, err)
	return topo
}

// Each fault's own rollback — no `recover` — must leave the lab healthy,
// and the ledger must show nothing injected.
func TestEveryFaultRollsBackToHealthy(t *testing.T) {
	dir, tgt := labtest.Start(t)
	l := ledger.Open(dir)
	ctx := context.Background()
	for _, f := range Catalogue() {
		if _, ok := awsOnly[f.Name()]; ok {
			if err := f.Available(tgt); err == nil {
				t.Errorf("%s claims to be available on the lab, which has no %s", f.Name(), awsOnly[f.Name()])
			}
			continue // aws_test.go and twin_test.go drive it through the SDK
		}
		t.Run(f.Name(), func(t *testing.T) {
			waitHealthy(t, tgt, 30*time.Second)
			if err := f.Available(tgt); err != nil {
				t.Fatalf("not available on the lab: %v", err)
			}
			h, err := Inject(ctx, tgt, l, f.Name(), nil, "test")
			if err != nil {
				t.Fatal(err)
			}
			if a, _ := l.Active(); len(a) != 1 || a[0].State != ledger.Injected {
				t.Fatalf("ledger after inject: %+v", a)
			}
			time.Sleep(time.Second)
			if err := h.Rollback(ctx); err != nil {
				t.Fatal(err)
			}
			topo := waitHealthy(t, tgt, 30*time.Second)
			if a, _ := l.Active(); len(a) != 0 {
				t.Fatalf("ledger after rollback: %+v", a)
			}
			t.Logf("healthy again, primary %s", topo.Primary)
		})
	}
}

// awsOnly are the faults whose capability the lab does not offer.
var awsOnly = map[string]string{"region-isolation": "network ACLs", "alarm-path": "SNS alarm notifications"}

type notLab struct{ target.Target }

func (notLab) Kind() string { return "not-lab" }

func TestLabFaultsAreUnavailableElsewhere(t *testing.T) {
	for _, f := range Catalogue() {
		if err := f.Available(notLab{}); err == nil {
			t.Errorf("%s claims to be available on a target without lab control", f.Name())
		}
	}
	if _, err := Lookup("nosuch"); err == nil {
		t.Error("Lookup of an unknown fault succeeded")
	}
}
