package fault_test

import (
	"context"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #22 item 2, through the AWS target: after an unplanned failover the old
// primary is rebuilt before it may be switched back to. The rollback (a
// switch-back) waits for it instead of failing on the refused switchover;
// the target reports the old primary's "rejoin" and "in-sync" only once it
// is synchronised again, not when the FailoverState clears; and recover
// after another failover waits the same way. Before, the switch-back was
// sent the moment the failover finished and AWS refused it.
func TestSwitchBackWaitsForTheRebuildOnTheTwin(t *testing.T) {
	const scale = 0.01
	tw := twintest.Start(t, scale)
	rebuild := time.Duration(float64(twin.RebuildBase) * scale) // the lab's data is far below a GiB
	ctx := context.Background()
	out := tw.Target.Outputs()
	primary := out[outputs.PrimaryRegion]
	if _, err := tw.Target.Events(ctx, 0); err != nil { // the watch starts here
		t.Fatal(err)
	}
	l := ledger.Open(t.TempDir())
	fo, err := fault.Inject(ctx, tw.Target, l, "unplanned-failover", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	failedOver := time.Now()
	if err := fo.Rollback(ctx); err != nil {
		t.Fatalf("switch-back %v after the failover: %v", time.Since(failedOver).Round(time.Millisecond), err)
	}
	if took := time.Since(failedOver); took < rebuild {
		t.Fatalf("the switch-back finished %v after the failover, within the old primary's rebuild (%v)", took, rebuild)
	}
	if w, state := writer(t, tw.Target); w != primary || state != "" {
		t.Fatalf("after the switch-back the writer is %s (%s)", w, state)
	}
	time.Sleep(time.Second) // a few of the watch's polls (DRDRILL_AWS_POLL 200ms)
	events, err := tw.Target.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ended, rejoined, inSync int64
	for _, e := range events {
		switch {
		case e.Kind == "failover-end" && ended == 0:
			ended = e.TimeNs
		case e.Kind == "rejoin" && e.Region == primary && rejoined == 0:
			rejoined = e.TimeNs
		case e.Kind == "in-sync" && e.Region == primary && inSync == 0:
			inSync = e.TimeNs
		}
	}
	if ended == 0 || rejoined == 0 || inSync == 0 {
		t.Fatalf("events %+v: want failover-end, then rejoin and in-sync of %s", events, primary)
	}
	if gap := time.Duration(rejoined - ended); gap < rebuild-500*time.Millisecond || inSync < rejoined {
		t.Fatalf("%s rejoined %v after the failover ended (in-sync at %+d ns from it), before its rebuild (%v) was done: %+v", primary, gap, inSync-ended, rebuild, events)
	}
	t.Logf("the old primary rejoined, in sync, %v after the failover ended", time.Duration(rejoined-ended).Round(time.Millisecond))

	// recover with a failover held waits the same way.
	l2 := ledger.Open(t.TempDir())
	if _, err := fault.Inject(ctx, tw.Target, l2, "unplanned-failover", nil, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := fault.Recover(ctx, tw.Target, l2); err != nil {
		t.Fatalf("recover with a failover held: %v", err)
	}
	if topo, err := tw.Target.Topology(ctx); err != nil || !topo.Healthy || topo.Primary != primary {
		t.Fatalf("after recover: %+v, %v", topo, err)
	}
}
