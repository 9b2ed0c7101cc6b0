package twin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// waitFor polls until ok or within passes, then fails saying what.
func waitFor(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
	}
}

// from are the invocations of fn whose source is source.
func from(tw *twintest.Twin, fn, source string) []twin.Invocation {
	var out []twin.Invocation
	for _, inv := range tw.Server.Invocations(fn) {
		if inv.Source == source {
			out = append(out, inv)
		}
	}
	return out
}

func overlap(a, b twin.Invocation) bool {
	return a.At.Before(b.At.Add(b.Took)) && b.At.Before(a.At.Add(a.Took))
}

// #22 item 4: without reserved concurrency Lambda runs a function's
// invocations side by side, each in an execution environment of its own
// ("Lambda function scaling"): the schedule's, the alarm rule's and the
// topic's invocations of the trigger can run at the same time. With
// reserved concurrency 1 they run one at a time, the others waiting in
// the queue, none lost. Before, the twin ran every invocation of a
// function one after the other.
func TestLambdaRunsInvocationsSideBySide(t *testing.T) {
	tw := twintest.StartWith(t, twintest.Options{Scale: 0.02, Lambdas: true, Worst: twin.Worst{LambdaDuplicates: -1}})
	out := tw.Target.Outputs()
	monitor := out["SecondaryHealthMonitorFunctionName"]
	waitFor(t, 20*time.Second, monitor+" runs on its schedule", func() bool { return len(tw.Server.Invocations(monitor)) > 0 })
	// With the peering cut, the secondary monitor's probe of the primary
	// waits out its timeout: each invocation takes that long.
	tw.Server.CutPeering(true)
	defer tw.Server.CutPeering(false)
	event := []byte(`{"source":"drdrill.test"}`)
	for range 3 {
		tw.Server.InvokeAsync(monitor, "side-by-side", event)
	}
	waitFor(t, 20*time.Second, "three invocations", func() bool { return len(from(tw, monitor, "side-by-side")) == 3 })
	runs := from(tw, monitor, "side-by-side")
	if !overlap(runs[0], runs[1]) && !overlap(runs[1], runs[2]) && !overlap(runs[0], runs[2]) {
		t.Fatalf("three invocations queued at once ran one after the other: %v+%v, %v+%v, %v+%v",
			runs[0].At.Format(time.StampMilli), runs[0].Took, runs[1].At.Format(time.StampMilli), runs[1].Took, runs[2].At.Format(time.StampMilli), runs[2].Took)
	}

	ctx := context.Background()
	lc := lambda.NewFromConfig(tw.SDKConfig(t, out[outputs.SecondaryRegion]))
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: &monitor, ReservedConcurrentExecutions: awssdk.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tw.Server.InvokeAsync(monitor, "one-at-a-time", event)
	}
	waitFor(t, 30*time.Second, "three invocations at reserved concurrency 1", func() bool { return len(from(tw, monitor, "one-at-a-time")) == 3 })
	runs = from(tw, monitor, "one-at-a-time")
	for i := range runs {
		for j := i + 1; j < len(runs); j++ {
			if overlap(runs[i], runs[j]) {
				t.Errorf("at reserved concurrency 1 two invocations overlapped: %v+%v and %v+%v", runs[i].At, runs[i].Took, runs[j].At, runs[j].Took)
			}
		}
	}
}

// #22 item 4: an asynchronous event throttled by reserved concurrency 0 is
// not lost: Lambda keeps it and retries it, the interval growing from 1 s
// to 5 minutes, for up to 6 hours ("How Lambda handles errors and retries
// with asynchronous invocation"). So the schedule's events during a
// monitor-failure all run once the fault is rolled back — late, in a
// burst. Before, the twin dropped them.
func TestEventsQueuedAtConcurrencyZeroRunAfterTheRollback(t *testing.T) {
	tw := twintest.StartWith(t, twintest.Options{Scale: 0.02, Lambdas: true, Worst: twin.Worst{LambdaDuplicates: -1}})
	ctx := context.Background()
	out := tw.Target.Outputs()
	monitor := out["SecondaryHealthMonitorFunctionName"]
	waitFor(t, 20*time.Second, monitor+" runs on its schedule", func() bool { return len(tw.Server.Invocations(monitor)) > 0 })
	l := ledger.Open(t.TempDir())
	h, err := fault.Inject(ctx, tw.Target, l, "monitor-failure", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	period := tw.Server.CheckPeriod()
	time.Sleep(4 * period) // four scheduled events meet concurrency 0
	for _, inv := range tw.Server.Invocations(monitor) {
		if inv.At.After(paused.Add(period)) {
			t.Fatalf("%s ran at %v with reserved concurrency 0", monitor, inv.At)
		}
	}
	resumed := time.Now()
	if err := h.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Throttled at the pause's start, an event is retried 1, 2, 4 … s
	// apart (scaled): all of them within a few periods of the resume.
	late := func() []twin.Invocation {
		var out []twin.Invocation
		for _, inv := range from(tw, monitor, "schedule") {
			if inv.Queued.After(paused.Add(period/2)) && inv.Queued.Before(resumed) && inv.At.After(resumed) {
				out = append(out, inv)
			}
		}
		return out
	}
	waitFor(t, 10*period, "the events queued during the pause run", func() bool { return len(late()) >= 3 })
	for _, inv := range late() {
		if inv.Error != "" {
			t.Errorf("a released event failed: %s", inv.Error)
		}
	}
	if d := tw.Server.DroppedEvents(); len(d) > 0 {
		t.Errorf("events dropped: %v", d)
	}
	t.Logf("%d events queued during the %v pause ran after the rollback", len(late()), resumed.Sub(paused).Round(time.Millisecond))
}

// #22 item 4: Lambda delivers an event at least once — a duplicate can run
// beside the original — so the trigger's failover decision can be taken
// twice at once. RDS takes one FailoverGlobalCluster and refuses the other;
// the trigger reports the refusal as a duplicate, not an error, so its
// error alarm stays quiet and nothing fails over twice. Before, the
// refused duplicate failed the invocation (InvalidGlobalClusterStateFault),
// Lambda retried it, and the trigger's error alarm fired.
func TestDuplicateEventsFailOverOnceWithoutErrors(t *testing.T) {
	// Every event delivered twice, at once: the harshest case, for this test.
	tw := twintest.StartWith(t, twintest.Options{Scale: 0.02, Lambdas: true, Worst: twin.Worst{LambdaDuplicates: 1, LambdaDuplicateDelay: -1}})
	ctx := context.Background()
	out := tw.Target.Outputs()
	trigger := out["FailoverTriggerFunctionName"]
	waitFor(t, 20*time.Second, trigger+" runs twice per event", func() bool { return len(tw.Server.Invocations(trigger)) >= 4 })
	l := ledger.Open(t.TempDir())
	if _, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test"); err != nil {
		t.Fatal(err)
	}
	secondary := out[outputs.SecondaryRegion]
	waitFor(t, 60*time.Second, "the trigger fails the isolated primary over", func() bool {
		topo, err := tw.Target.Topology(ctx)
		return err == nil && topo.Primary == secondary
	})
	// Two more periods: the error alarm (Errors > 0 over one period) is
	// evaluated on what the duplicates did.
	time.Sleep(3 * tw.Server.CheckPeriod())

	var accepted, refused int
	for _, c := range tw.Server.Calls("rds", "FailoverGlobalCluster") {
		if c.Code == "" {
			accepted++
		} else {
			refused++
		}
	}
	if accepted != 1 {
		t.Errorf("FailoverGlobalCluster accepted %d times, want once per incident", accepted)
	}
	if refused == 0 {
		t.Fatalf("no duplicate FailoverGlobalCluster was refused: the duplicates did not race, and this run shows nothing (calls %+v)", tw.Server.Calls("rds", "FailoverGlobalCluster"))
	}
	for _, inv := range tw.Server.Invocations(trigger) {
		if inv.Error != "" {
			t.Errorf("a trigger invocation failed (%s, attempt %d): %s", inv.Source, inv.Attempt, inv.Error)
		}
	}
	duplicates := 0
	for _, inv := range tw.Server.Invocations(trigger) {
		if strings.Contains(string(inv.Result), `"duplicate":`) {
			duplicates++
		}
	}
	if duplicates != refused {
		t.Errorf("%d refused FailoverGlobalCluster calls, %d invocations reporting a duplicate", refused, duplicates)
	}
	for _, m := range tw.Server.Messages(out["SecondarySNSTopicArn"]) {
		var alarm struct{ AlarmName, NewStateValue string }
		if json.Unmarshal([]byte(m.Message), &alarm) == nil && strings.HasSuffix(alarm.AlarmName, "-failover-trigger-errors") && alarm.NewStateValue == "ALARM" {
			t.Errorf("the trigger's error alarm fired: %s", m.Subject)
		}
	}
	t.Logf("FailoverGlobalCluster: %d accepted, %d refused as duplicates", accepted, refused)
}
