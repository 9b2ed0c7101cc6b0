package twin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #12 item 9: a cut of the VPC peering alone — the cross-region path the
// secondary monitor probes the primary over — while both databases are
// healthy must not make the trigger fail over with data loss. The
// secondary monitor sees the primary unreachable check after check; the
// primary's own monitor, read in the primary region, says it is healthy;
// the trigger waits, and says why.
func TestPeeringCutAloneDoesNotFailOver(t *testing.T) {
	tw := twintest.StartWithLambdas(t, 0.02) // a minute is 1.2 s
	out := tw.Target.Outputs()
	monitorSec, trigger := out["SecondaryHealthMonitorFunctionName"], out["FailoverTriggerFunctionName"]
	for deadline := time.Now().Add(20 * time.Second); len(tw.Server.Invocations(trigger)) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the trigger did not run: %+v", tw.Server.Invocations(""))
		}
	}
	tw.Server.CutPeering(true)
	t.Cleanup(func() { tw.Server.CutPeering(false) })
	cutAt := time.Now()

	// Twice the trigger's threshold of three failed checks, and more.
	time.Sleep(8 * 1200 * time.Millisecond)

	type peerView struct {
		PeerHealthy *bool `json:"peer_healthy"`
	}
	failed := 0
	for _, inv := range tw.Server.Invocations(monitorSec) {
		var r peerView
		if inv.At.After(cutAt) && json.Unmarshal(inv.Result, &r) == nil && r.PeerHealthy != nil && !*r.PeerHealthy {
			failed++
		}
	}
	if failed < 3 {
		t.Fatalf("the secondary monitor saw the primary unreachable %d times after the cut, want at least 3: the peering cut did not cut its probe", failed)
	}
	var waited []string
	for _, inv := range tw.Server.Invocations(trigger) {
		var r struct {
			Decision struct {
				Action  string
				Reasons []string
			}
			Operation  string
			FailStreak int `json:"primary_fail_streak"`
		}
		if err := json.Unmarshal(inv.Result, &r); err != nil || !inv.At.After(cutAt) {
			continue
		}
		if r.Operation == "FailoverGlobalCluster" {
			t.Fatalf("the trigger failed over on a cut peering with both databases healthy: %s", inv.Result)
		}
		if r.FailStreak >= 3 {
			waited = append(waited, strings.Join(r.Decision.Reasons, "; "))
		}
	}
	if len(waited) == 0 || !strings.Contains(waited[len(waited)-1], "reports itself healthy") {
		t.Fatalf("the trigger never reached its threshold and waited for the primary's own view: %q", waited)
	}
	topo, err := tw.Target.Topology(context.Background())
	if err != nil || topo.Primary != out[outputs.PrimaryRegion] {
		t.Fatalf("the writer is in %s (%v), want still %s", topo.Primary, err, out[outputs.PrimaryRegion])
	}
	t.Logf("the trigger waited: %s", waited[len(waited)-1])
}
