package fault_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	drdaws "github.com/drdrill/drdrill/internal/aws"
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
	cfg := tw.SDKConfig(t, out[outputs.SecondaryRegion])
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
	// The same for a failback (the restore after every scenario), which
	// said "nothing to do" while the writer had not moved yet.
	if _, err := rds.NewFromConfig(cfg).SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{
		GlobalClusterIdentifier: awssdk.String(out[outputs.GlobalClusterIdentifier]), TargetDbClusterIdentifier: awssdk.String(out["SecondaryClusterArn"])}); err != nil {
		t.Fatal(err)
	}
	did, err := tw.Target.Failback(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * twin.PromotionTimeScaled(0.01))
	if w, state := writer(t, tw.Target); w != out[outputs.PrimaryRegion] || state != "" {
		t.Fatalf("after the failback (%q) the writer is %s (%s): it returned before the switchover in progress had landed", did, w, state)
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

// #12 item 5, on the twin: a failback is a switchover and passes the same
// guard as an injection — an account that is not allow-listed switches
// nothing back.
func TestFailbackIsGuardedOnTheTwin(t *testing.T) {
	tw := twintest.Start(t, 0.01)
	ctx := context.Background()
	out := tw.Target.Outputs()
	if _, err := rds.NewFromConfig(tw.SDKConfig(t, out[outputs.SecondaryRegion])).SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{
		GlobalClusterIdentifier: awssdk.String(out[outputs.GlobalClusterIdentifier]), TargetDbClusterIdentifier: awssdk.String(out["SecondaryClusterArn"])}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if w, state := writer(t, tw.Target); w == out[outputs.SecondaryRegion] && state == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the switchover did not land")
		}
	}
	t.Setenv("DRDRILL_ALLOWED_ACCOUNTS", "111111111111")
	other, err := target.Open(tw.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Failback(ctx); err == nil || !strings.Contains(err.Error(), "not in DRDRILL_ALLOWED_ACCOUNTS") {
		t.Fatalf("failback from an account not allow-listed: %v, want the guard's refusal", err)
	}
	time.Sleep(2 * twin.PromotionTimeScaled(0.01))
	if w, _ := writer(t, tw.Target); w != out[outputs.SecondaryRegion] {
		t.Fatalf("a refused failback moved the writer to %s", w)
	}
}

// #12 item 6, on the twin: stop conditions fail closed and are watched
// while a promotion is awaited. A stop alarm that does not exist refuses
// the injection; one that goes to ALARM while the switchover runs ends
// the wait with the stop condition, and the injection is rolled back.
func TestStopConditionsFailClosedAndAreWatchedOnTheTwin(t *testing.T) {
	tw := twintest.Start(t, 0.05) // a promotion takes 7.5 s
	ctx := context.Background()
	out := tw.Target.Outputs()
	t.Setenv("DRDRILL_STOP_ALARMS", "no-such-alarm")
	typo, err := target.Open(tw.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fault.Inject(ctx, typo, ledger.Open(t.TempDir()), "planned-switchover", nil, "test"); err == nil || !strings.Contains(err.Error(), "no-such-alarm") {
		t.Fatalf("inject with a stop alarm that does not exist: %v, want a refusal naming it", err)
	}
	if w, state := writer(t, tw.Target); w != out[outputs.PrimaryRegion] || state != "" {
		t.Fatalf("a refused injection left the writer in %s (%s)", w, state)
	}

	stop := out[outputs.ReplicationLagAlarmName]
	t.Setenv("DRDRILL_STOP_ALARMS", stop)
	watched, err := target.Open(tw.Outputs)
	if err != nil {
		t.Fatal(err)
	}
	cw := cloudwatch.NewFromConfig(tw.SDKConfig(t, out[outputs.SecondaryRegion]))
	go func() {
		// Fire the stop alarm once the switchover is under way.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if _, state := writer(t, tw.Target); state != "" {
				_, _ = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: awssdk.String(stop), StateValue: cwtypes.StateValueAlarm,
					StateReason: awssdk.String("drdrill test: the stop condition fires mid-promotion")})
				return
			}
		}
	}()
	start := time.Now()
	_, err = fault.Inject(ctx, watched, ledger.Open(t.TempDir()), "planned-switchover", nil, "test")
	if err == nil || !strings.Contains(err.Error(), "stop condition") {
		t.Fatalf("inject while the stop alarm fired: %v, want the stop condition", err)
	}
	if took := time.Since(start); took < twin.PromotionTimeScaled(0.05) {
		// The rollback (a switch-back) must have waited out the promotion.
		t.Fatalf("inject and its rollback returned after %v, before the promotion (%v) could land", took, twin.PromotionTimeScaled(0.05))
	}
	if w, state := writer(t, tw.Target); w != out[outputs.PrimaryRegion] || state != "" {
		t.Fatalf("after the aborted injection the writer is %s (%s), want it rolled back to %s", w, state, out[outputs.PrimaryRegion])
	}
}

// #12 item 7, on the twin: the deny ACL a region isolation creates is in
// the ledger before any subnet moves onto it. The ledger is cut back to
// that entry — what a kill -9 right after CreateNetworkAcl leaves on disk —
// and recover then removes the ACL and puts every subnet back, as the
// twin's own state shows. Before, the ledger learned the ACL only after
// Inject returned, and recover left it behind.
func TestIsolationIsInTheLedgerBeforeItIsApplied(t *testing.T) {
	tw := twintest.Start(t, 0.02)
	ctx := context.Background()
	dir := t.TempDir()
	l := ledger.Open(dir)
	if _, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test"); err != nil {
		t.Fatal(err)
	}
	if len(tw.Server.IsolatedRegions()) != 1 {
		t.Fatalf("isolated regions %v after the injection", tw.Server.IsolatedRegions())
	}
	crashed, raw := ledgerCutAt(t, l, func(e ledger.Entry) bool {
		return e.State == ledger.Injecting && strings.Contains(e.Params["isolation"], `"deny_acl":"acl-`)
	})
	if crashed == nil {
		t.Fatalf("no ledger entry records the deny ACL while the isolation is being injected:\n%s", raw)
	}
	if _, err := fault.Recover(ctx, tw.Target, crashed); err != nil {
		t.Fatal(err)
	}
	if acls, isolated := tw.Server.DenyACLs(), tw.Server.IsolatedRegions(); len(acls) != 0 || len(isolated) != 0 {
		t.Fatalf("after recover from the cut ledger: ACLs %v left, regions %v still isolated", acls, isolated)
	}
}

// The alarm path on the twin (#11; #12 item 7): the proof queue and its
// subscription are in the ledger as each is created, the forced ALARM's
// notification travels CloudWatch → SNS → SQS (only because the queue's
// policy lets the topic send), and the rollback leaves no queue and no
// subscription, as the twin's own state shows.
func TestAlarmPathOnTheTwin(t *testing.T) {
	tw := twintest.Start(t, 0.02)
	ctx := context.Background()
	l := ledger.Open(t.TempDir())
	h, err := fault.Inject(ctx, tw.Target, l, "alarm-path", fault.Params{"wait": "30s"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(tw.Server.Queues()) != 1 || len(tw.Server.QueueSubscriptions()) != 1 {
		t.Fatalf("during the alarm path: queues %v, subscriptions %v", tw.Server.Queues(), tw.Server.QueueSubscriptions())
	}
	raw, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	var queued, subscribed bool
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var e ledger.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if e.State == ledger.Injecting {
			queued = queued || strings.Contains(e.Params["proof"], `"queue_url":"https://sqs.`)
			subscribed = subscribed || strings.Contains(e.Params["proof"], `"subscription":"arn:aws:sns:`)
		}
	}
	if !queued || !subscribed {
		t.Fatalf("the ledger did not record the queue (%v) and the subscription (%v) while injecting:\n%s", queued, subscribed, raw)
	}
	// #22 item 5: the proof queue's policy takes up to a minute to be
	// enforced, so the first ALARM notification was refused and lost; the
	// proof is a later one, from the alarm forced again. Before, the
	// alarm was forced once, and the alarm's return to OK was taken for
	// the proof.
	alarms := 0
	for _, m := range tw.Server.Messages(tw.Target.Outputs()["SecondarySNSTopicArn"]) {
		if strings.HasPrefix(m.Subject, `ALARM: "`+tw.Target.Outputs()[outputs.ReplicationLagAlarmName]+`"`) {
			alarms++
		}
	}
	if refused := tw.Server.RefusedDeliveries(); len(refused) == 0 || alarms < 2 {
		t.Fatalf("%d ALARM notifications, refused deliveries %v: want the first refused while the queue policy propagates, and the alarm forced again", alarms, refused)
	}
	if err := h.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if len(tw.Server.Queues()) != 0 || len(tw.Server.QueueSubscriptions()) != 0 {
		t.Fatalf("after the rollback: queues %v, subscriptions %v", tw.Server.Queues(), tw.Server.QueueSubscriptions())
	}
}

// #12 item 3, on the twin: a switch-back into a region that is still cut
// off is refused (writes would stop there, and the failover trigger would
// fail over again); once the isolation is rolled back it goes through.
// `recover` after a kill -9 with both faults held finds that order itself.
// Before, the switch-back moved the writer into the isolated region.
func TestSwitchBackRefusesARegionStillCutOff(t *testing.T) {
	tw := twintest.Start(t, 0.01)
	ctx := context.Background()
	out := tw.Target.Outputs()
	primary, secondary := out[outputs.PrimaryRegion], out[outputs.SecondaryRegion]
	l := ledger.Open(t.TempDir())
	iso, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	fo, err := fault.Inject(ctx, tw.Target, l, "unplanned-failover", fault.Params{"region": secondary}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := fo.Rollback(ctx); err == nil || !strings.Contains(err.Error(), "still cut off") {
		t.Fatalf("switch-back into the isolated %s: %v, want a refusal", primary, err)
	}
	if w, _ := writer(t, tw.Target); w != secondary {
		t.Fatalf("a refused switch-back moved the writer to %s", w)
	}
	if err := iso.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := fo.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if w, state := writer(t, tw.Target); w != primary || state != "" {
		t.Fatalf("after both rollbacks the writer is %s (%s)", w, state)
	}

	// The same two faults left behind by a killed harness: recover alone.
	l2 := ledger.Open(t.TempDir())
	if _, err := fault.Inject(ctx, tw.Target, l2, "region-isolation", nil, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := fault.Inject(ctx, tw.Target, l2, "unplanned-failover", fault.Params{"region": secondary}, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := fault.Recover(ctx, tw.Target, l2); err != nil {
		t.Fatalf("recover with an isolation and a failover held: %v", err)
	}
	if w, state := writer(t, tw.Target); w != primary || state != "" || len(tw.Server.IsolatedRegions()) != 0 || len(tw.Server.DenyACLs()) != 0 {
		t.Fatalf("after recover: writer %s (%s), isolated %v, ACLs %v", w, state, tw.Server.IsolatedRegions(), tw.Server.DenyACLs())
	}
}

// #12 items 7 and 8, on the twin with its Lambdas running. Item 8: the
// monitor-failure fault stops the monitor the failover trigger decides on
// (the secondary region's, whose probe of the primary it reads), so a
// primary outage during it is never failed over; stopping the primary's
// own monitor left the trigger free to fail over. Item 7: the function's
// previous reserved concurrency is in the ledger before it is set to 0,
// so recover from a ledger cut right there restores it exactly.
func TestMonitorFailureStopsWhatTheTriggerDecidesOn(t *testing.T) {
	tw := twintest.StartWithLambdas(t, 0.02) // a minute is 1.2 s
	ctx := context.Background()
	out := tw.Target.Outputs()
	monitorSec, trigger := out["SecondaryHealthMonitorFunctionName"], out["FailoverTriggerFunctionName"]
	cfg := tw.SDKConfig(t, out[outputs.SecondaryRegion])
	lc := lambda.NewFromConfig(cfg)
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: &monitorSec, ReservedConcurrentExecutions: awssdk.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	pcfg := cfg.Copy()
	pcfg.Region = out[outputs.PrimaryRegion]
	if _, err := lambda.NewFromConfig(pcfg).PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: awssdk.String(out["PrimaryHealthMonitorFunctionName"]), ReservedConcurrentExecutions: awssdk.Int32(5)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(tw.Server.Invocations(trigger)) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the trigger did not run: %+v", tw.Server.Invocations(""))
		}
	}

	l := ledger.Open(t.TempDir())
	paused, err := fault.Inject(ctx, tw.Target, l, "monitor-failure", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if paused.Params["function"] != monitorSec {
		t.Errorf("monitor-failure stopped %q; the trigger decides on %s's probe of the primary", paused.Params["function"], monitorSec)
	}
	crashed, raw := ledgerCutAt(t, l, func(e ledger.Entry) bool {
		return e.State == ledger.Injecting && e.Params["prev_concurrency"] == "5"
	})
	if crashed == nil {
		t.Fatalf("no ledger entry holds the previous reserved concurrency while monitor-failure is being injected:\n%s", raw)
	}

	primary, _ := writer(t, tw.Target)
	isolated, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	isolatedAt := time.Now()
	time.Sleep(target.BoundsOf(tw.Target).Detection + 2*time.Second)
	for _, inv := range tw.Server.Invocations(trigger) {
		if inv.At.After(isolatedAt) && strings.Contains(string(inv.Result), `"operation":"FailoverGlobalCluster"`) {
			t.Errorf("the trigger failed over while the monitor it decides on was stopped: %s", inv.Result)
		}
	}
	if w, _ := writer(t, tw.Target); w != primary {
		t.Errorf("the writer moved to %s during a primary outage with the monitor stopped", w)
	}
	t.Logf("held %v with the monitor stopped and the primary isolated", time.Since(isolatedAt).Round(time.Millisecond))
	if err := isolated.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("isolation healed after %v", time.Since(isolatedAt).Round(time.Millisecond))

	if _, err := fault.Recover(ctx, tw.Target, crashed); err != nil {
		t.Fatal(err)
	}
	got, err := lc.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: &monitorSec})
	if err != nil || got.ReservedConcurrentExecutions == nil || *got.ReservedConcurrentExecutions != 5 {
		t.Fatalf("after recover from the cut ledger %s has reserved concurrency %v (%v), want 5 as before", monitorSec, got, err)
	}
}

// #12 item 13: on AWS the target's events carry the detection time — the
// moment the stack's own failover trigger decided to fail over — before
// the global cluster's FailoverState and the writer's move, so the RTO is
// split into detection and promotion as on the lab. Here the trigger
// itself fails a cut-off primary over, as it would on AWS.
func TestTriggerDecisionIsTheDetectionTimeOnTheTwin(t *testing.T) {
	tw := twintest.StartWithLambdas(t, 0.02) // a minute is 1.2 s
	ctx := context.Background()
	out := tw.Target.Outputs()
	if _, err := tw.Target.Events(ctx, 0); err != nil { // the watch starts here
		t.Fatal(err)
	}
	l := ledger.Open(t.TempDir())
	isolatedAt := time.Now()
	h, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if w, state := writer(t, tw.Target); w == out[outputs.SecondaryRegion] && state == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the trigger did not fail the isolated primary over within a minute: %+v", tw.Server.Invocations(out["FailoverTriggerFunctionName"]))
		}
	}
	time.Sleep(time.Second) // a few of the watch's polls
	events, err := tw.Target.Events(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	at := map[string]int64{}
	for _, e := range events {
		if _, seen := at[e.Kind]; !seen {
			at[e.Kind] = e.TimeNs
		}
	}
	detect, start, promote := at["detect"], at["failover-start"], at["promote"]
	if detect == 0 || start == 0 || promote == 0 {
		t.Fatalf("events %+v: want detect, failover-start and promote", events)
	}
	if detect < isolatedAt.UnixNano() || detect > start || start > promote {
		t.Fatalf("out of order: isolated at %d, detect %d, failover-start %d, promote %d", isolatedAt.UnixNano(), detect, start, promote)
	}
	t.Logf("detected %v after the isolation, FailoverState %v after that, writer moved %v later",
		time.Duration(detect-isolatedAt.UnixNano()).Round(time.Millisecond), time.Duration(start-detect).Round(time.Millisecond), time.Duration(promote-start).Round(time.Millisecond))
	if err := h.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
}

// ledgerCutAt is the ledger a kill -9 would leave right after the first
// entry at matches: l's entries up to that one, in a ledger of their own.
// It returns nil (and l's text, for the failure message) when no entry
// matches.
func ledgerCutAt(t *testing.T, l *ledger.Ledger, at func(ledger.Entry) bool) (*ledger.Ledger, string) {
	t.Helper()
	raw, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	var cut []string
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		cut = append(cut, line)
		var e ledger.Entry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		if at(e) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, ledger.FileName), []byte(strings.Join(cut, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return ledger.Open(dir), string(raw)
		}
	}
	return nil, string(raw)
}

// A network ACL does not filter traffic inside a subnet, so a health
// monitor that shares a subnet with its database would see it through a
// region isolation. The preflight reads each monitor's subnets
// (GetFunctionConfiguration) and refuses such a stack; infra/aws as
// written passes.
func TestPreflightRefusesAMonitorInADatabaseSubnetOnTheTwin(t *testing.T) {
	preflight := func(tw *twintest.Twin) (string, error) {
		t.Helper()
		out, err := outputs.Read(tw.Outputs)
		if err != nil {
			t.Fatal(err)
		}
		st, err := drdaws.NewStack(context.Background(), out)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		err = st.Preflight(context.Background(), &b)
		return b.String(), err
	}
	as, err := preflight(twintest.StartWithLambdas(t, 1))
	if err != nil || !strings.Contains(as, "verdict: READY") {
		t.Fatalf("infra/aws as written: %v\n%s", err, as)
	}
	var moved string
	edited := twintest.StartWithLambdasEdited(t, 1, func(s *twin.Stack) {
		for i, f := range s.Functions {
			if strings.HasSuffix(f.Name, "-health-monitor-primary") {
				// The layout before infra/aws gave the functions subnets of their own.
				s.Functions[i].Subnets = s.Networks[0].Subnets
				moved = f.Name
			}
		}
	})
	if moved == "" {
		t.Fatal("no primary health monitor in the twin's stack")
	}
	got, err := preflight(edited)
	if err == nil || !strings.Contains(got, "NOT READY") || !strings.Contains(err.Error(), "health monitor "+moved+" runs in database subnet(s)") {
		t.Fatalf("a monitor in the database subnets: %v\n%s", err, got)
	}
	t.Logf("refused: %v", err)
}
