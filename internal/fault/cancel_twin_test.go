package fault_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #22 item 3: a switchover that Aurora cancels (FailoverState cancelling,
// back to the previous roles) fails the injection at once, saying so,
// instead of polling for the new writer until the 30-minute bound. The
// cancel is forced as AWS would cancel: the secondary cannot catch up
// (its replication is cut), so the switchover never gets past its
// synchronisation.
func TestCancelledSwitchoverFailsFastOnTheTwin(t *testing.T) {
	const scale = 0.01
	tw := twintest.Start(t, scale)
	out := tw.Target.Outputs()
	primary, secondary := out[outputs.PrimaryRegion], out[outputs.SecondaryRegion]
	cut, heal := true, false
	if err := tw.Lab.SetLink(context.Background(), "repl-"+secondary, lab.LinkFaults{Blackhole: &cut}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Lab.SetLink(context.Background(), "repl-"+secondary, lab.LinkFaults{Blackhole: &heal}) })

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	_, err := fault.Inject(ctx, tw.Target, ledger.Open(t.TempDir()), "planned-switchover", nil, "test")
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("a switchover the secondary cannot catch up for, after %v: %v; want a fast failure naming the cancelled promotion", took.Round(time.Millisecond), err)
	}
	// Pending, the synchronisation AWS gives up on, and the cancelling
	// that the rollback waits out; then a few polls.
	if bound := time.Duration(float64(twin.PendingTime+twin.SyncTimeout+twin.CancelTime)*scale) + 5*time.Second; took > bound {
		t.Fatalf("the cancelled switchover failed after %v, more than %v: it polled past the cancel", took, bound)
	}
	t.Logf("failed after %v: %v", took.Round(time.Millisecond), err)
	if w, state := writer(t, tw.Target); w != primary || state != "" {
		t.Fatalf("after the cancelled switchover the writer is %s (%s), want %s as before", w, state, primary)
	}
}
