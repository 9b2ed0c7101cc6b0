package fault_test

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

func writer(t *testing.T, tgt target.Target) (string, string) {
	t.Helper()
	topo, err := tgt.Topology(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	state := ""
	if !topo.Healthy {
		state = topo.Detail
	}
	return topo.Primary, state
}

// #12 item 2, on the twin: a switch-back while the switchover it undoes is
// still running must wait for it and then move the writer back. Before
// the fix it saw the writer still in the primary region, reported
// "rolled back" at once, and the switchover then moved the writer away.
func TestSwitchBackWaitsForTheSwitchoverInProgress(t *testing.T) {
	tw := twintest.Start(t, 0.01) // a promotion takes 1.5 s
	ctx := context.Background()
	out := tw.Target.Outputs()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(out[outputs.SecondaryRegion]))
	if err != nil {
		t.Fatal(err)
	}
	// Someone (an earlier, interrupted inject) started a switchover.
	if _, err := rds.NewFromConfig(cfg).SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{
		GlobalClusterIdentifier: awssdk.String(out[outputs.GlobalClusterIdentifier]), TargetDbClusterIdentifier: awssdk.String(out["SecondaryClusterArn"])}); err != nil {
		t.Fatal(err)
	}
	f, _ := fault.Lookup("planned-switchover")
	if err := f.Rollback(ctx, tw.Target, fault.Params{"primary": out[outputs.PrimaryRegion]}); err != nil {
		t.Fatal(err)
	}
	// Whatever the rollback says, the twin's state decides: give a
	// promotion that might still run time to land, then look.
	time.Sleep(2 * twin.PromotionTimeScaled(0.01))
	if w, state := writer(t, tw.Target); w != out[outputs.PrimaryRegion] || state != "" {
		t.Fatalf("after the switch-back the writer is %s (%s): the rollback returned before the switchover it undid had landed", w, state)
	}
}

// #12 item 1, on the twin at AWS's own, unscaled duration: a planned
// switchover and its rollback (a switch-back), each a global database
// promotion of a few minutes. Before the fix a rollback gave up after two
// minutes and left the fault rollback-failed in the ledger.
func TestSwitchoverAndSwitchBackAtAWSDuration(t *testing.T) {
	if testing.Short() {
		t.Skip("takes two unscaled global-database promotions (5 minutes)")
	}
	tw := twintest.Start(t, 1)
	l := ledger.Open(t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), target.BoundsOf(tw.Target).Inject)
	defer cancel()
	start := time.Now()
	h, err := fault.Inject(ctx, tw.Target, l, "planned-switchover", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < twin.PromotionTime {
		t.Fatalf("the switchover took %v, less than the twin's unscaled %v", took, twin.PromotionTime)
	}
	if w, _ := writer(t, tw.Target); w != tw.Target.Outputs()[outputs.SecondaryRegion] {
		t.Fatalf("after the switchover the writer is %s", w)
	}
	start = time.Now()
	if err := h.Rollback(context.Background()); err != nil {
		t.Fatalf("rollback after %v: %v", time.Since(start).Round(time.Second), err)
	}
	if w, state := writer(t, tw.Target); w != tw.Target.Outputs()[outputs.PrimaryRegion] || state != "" {
		t.Fatalf("after the rollback the writer is %s (%s)", w, state)
	}
	active, err := l.Active()
	if err != nil || len(active) != 0 {
		t.Fatalf("the ledger still shows %+v (%v)", active, err)
	}
	t.Logf("switchover and switch-back at AWS duration: rollback took %v", time.Since(start).Round(time.Second))
}
