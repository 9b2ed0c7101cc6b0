package fault_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #22 item 1, on the twin with its Lambdas: the stack's health monitoring
// and failover logic work in either topology. On AWS a secondary cluster's
// writer endpoint is inactive (the twin answers it with no server), so a
// monitor probing its cluster's writer endpoint calls a healthy region
// unhealthy once a switchover has made it a secondary, and a trigger bound
// to one target never fails the new primary over. Here: a switchover; the
// old primary's region still healthy to both monitors; a region isolation
// of the new primary that the trigger fails over back on its own; the
// scenario's rollback (heal, monitors see the region healthy, switch back
// to it, no second failover); then back to the deployed topology.
func TestRegionIsolationFromTheSwitchedTopologyOnTheTwin(t *testing.T) {
	tw := twintest.StartWithLambdas(t, 0.02) // a minute is 1.2 s
	ctx := context.Background()
	out := tw.Target.Outputs()
	primary, secondary := out[outputs.PrimaryRegion], out[outputs.SecondaryRegion]
	mw := tw.Target.(target.MonitorWatcher)
	pr := tw.Target.(target.Promoter)
	period := tw.Server.CheckPeriod()
	// Long enough for the monitors' next checks and a rebuild (6 s here),
	// far shorter than the drill's 30-minute bound.
	within := 12*period + 10*time.Second
	l := ledger.Open(t.TempDir())

	sw, err := fault.Inject(ctx, tw.Target, l, "planned-switchover", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	switched := time.Now()
	if w, _ := writer(t, tw.Target); w != secondary {
		t.Fatalf("after the switchover the writer is %s", w)
	}
	if err := mw.WaitMonitorsHealthy(ctx, primary, switched, within); err != nil {
		t.Fatalf("after the switchover, %s (now a secondary) is not healthy to its monitors: %v", primary, err)
	}

	// A region-isolation scenario from here: the fault goes to the
	// primary of now, and the stack's own trigger must fail it over.
	iso, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if iso.Params["region"] != secondary {
		t.Fatalf("region-isolation went to %s, want the primary of now, %s", iso.Params["region"], secondary)
	}
	cut := time.Now()
	for deadline := cut.Add(target.BoundsOf(tw.Target).Detection + 20*period); ; time.Sleep(200 * time.Millisecond) {
		if w, state := writer(t, tw.Target); w == primary && state == "" {
			break
		}
		if time.Now().After(deadline) {
			var last string
			if inv := tw.Server.Invocations(out["FailoverTriggerFunctionName"]); len(inv) > 0 {
				last = string(inv[len(inv)-1].Result)
			}
			_ = iso.Rollback(ctx)
			t.Fatalf("the trigger did not fail the isolated %s over to %s within %v; its last decision: %s", secondary, primary, time.Since(cut).Round(time.Second), last)
		}
	}
	t.Logf("the trigger failed the isolated %s over to %s in %v", secondary, primary, time.Since(cut).Round(time.Millisecond))

	// The scenario's rollback, in its safe order.
	healed := time.Now()
	if err := iso.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := mw.WaitMonitorsHealthy(ctx, secondary, healed, within); err != nil {
		t.Fatalf("after the isolation healed, %s is not healthy to its monitors: %v", secondary, err)
	}
	if err := pr.SwitchBack(ctx, secondary); err != nil {
		t.Fatal(err)
	}
	switchedBack := time.Now()
	if err := mw.WaitMonitorsHealthy(ctx, secondary, switchedBack, within); err != nil {
		t.Fatal(err)
	}
	if err := mw.WaitMonitorsHealthy(ctx, primary, switchedBack, within); err != nil {
		t.Fatal(err)
	}
	if w, state := writer(t, tw.Target); w != secondary || state != "" {
		t.Fatalf("after the scenario's rollback the writer is %s (%s): the trigger failed over again", w, state)
	}

	// Back to the deployed topology.
	if err := sw.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if w, state := writer(t, tw.Target); w != primary || state != "" {
		t.Fatalf("after switching back the writer is %s (%s)", w, state)
	}
	for _, inv := range tw.Server.Invocations(out["FailoverTriggerFunctionName"]) {
		if inv.At.After(healed) && strings.Contains(string(inv.Result), `"operation":"FailoverGlobalCluster"`) {
			t.Errorf("the trigger failed over after the isolation was healed: %s", inv.Result)
		}
	}
}
