package twin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// Why infra/aws gives the functions subnets of their own. A network ACL does
// not filter traffic inside a subnet (FIS aws:network:disrupt-connectivity:
// scope "all" still allows intra-subnet traffic). With the primary's health
// monitor in the primary's database subnets, as infra/aws had it, a region
// isolation cuts the clients and the secondary monitor's probe, but the
// primary monitor keeps reaching its database and reports the region
// healthy: the trigger, which waits while the primary says so, never fails
// over. (As written, the same isolation is failed over by the trigger:
// TestTriggerDecisionIsTheDetectionTimeOnTheTwin in internal/fault.)
func TestIsolationLeavesAMonitorInItsDatabaseSubnetSeeingIt(t *testing.T) {
	var monitorPri string
	tw := twintest.StartWithLambdasEdited(t, 0.02, func(st *twin.Stack) { // a minute is 1.2 s
		for i, f := range st.Functions {
			if strings.HasSuffix(f.Name, "-health-monitor-primary") {
				st.Functions[i].Subnets = st.Networks[0].Subnets
				monitorPri = f.Name
			}
		}
	})
	out := tw.Target.Outputs()
	trigger := out["FailoverTriggerFunctionName"]
	for deadline := time.Now().Add(20 * time.Second); len(tw.Server.Invocations(trigger)) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the trigger did not run: %+v", tw.Server.Invocations(""))
		}
	}
	ctx := context.Background()
	l := ledger.Open(t.TempDir())
	h, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Rollback(context.Background()) })
	cutAt := time.Now()
	// The writer endpoint is cut: the clients see the outage.
	if db, err := tw.Target.Writer(); err == nil {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := db.PingContext(pctx); err == nil {
			t.Fatal("the writer endpoint still answers through the isolation")
		}
		cancel()
		db.Close()
	}

	// Twice the trigger's threshold of three failed checks, and more.
	time.Sleep(8 * 1200 * time.Millisecond)

	healthy := 0
	for _, inv := range tw.Server.Invocations(monitorPri) {
		var r struct{ Healthy bool }
		if inv.At.After(cutAt) && json.Unmarshal(inv.Result, &r) == nil && r.Healthy {
			healthy++
		}
	}
	if healthy < 3 {
		t.Fatalf("the primary monitor in the database subnets saw its database healthy %d times through the isolation, want at least 3", healthy)
	}
	var waited []string
	for _, inv := range tw.Server.Invocations(trigger) {
		var r struct {
			Decision   struct{ Reasons []string }
			Operation  string
			FailStreak int `json:"primary_fail_streak"`
		}
		if err := json.Unmarshal(inv.Result, &r); err != nil || !inv.At.After(cutAt) {
			continue
		}
		if r.Operation == "FailoverGlobalCluster" {
			t.Fatalf("the trigger failed over: the twin cut the monitor's path inside its subnet: %s", inv.Result)
		}
		if r.FailStreak >= 3 {
			waited = append(waited, strings.Join(r.Decision.Reasons, "; "))
		}
	}
	if len(waited) == 0 || !strings.Contains(waited[len(waited)-1], "reports itself healthy") {
		t.Fatalf("the trigger never reached its threshold and waited for the primary's own view: %q", waited)
	}
	topo, err := tw.Target.Topology(ctx)
	if err != nil || topo.Primary != out[outputs.PrimaryRegion] {
		t.Fatalf("the writer is in %s (%v), want still %s", topo.Primary, err, out[outputs.PrimaryRegion])
	}
	t.Logf("an isolated primary, not failed over: the monitor in its database subnet saw it healthy %d times; the trigger: %s", healthy, waited[len(waited)-1])
}
