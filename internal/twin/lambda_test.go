package twin_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #11 item 4: the real Lambdas — the handler code that goes into the
// zips, as processes behind the Lambda Runtime API — run on their
// rate(1 minute) schedules (scaled) against the twin, their SQL probes
// through the lab's links. On a healthy stack the monitors report healthy
// and the trigger decides to do nothing; PutFunctionConcurrency 0 stops a
// function's invocations, DeleteFunctionConcurrency lets them run again.
func TestLambdasRunOnTheirScheduleOnTheTwin(t *testing.T) {
	tw := twintest.StartWithLambdas(t, 0.02) // a minute is 1.2 s
	out := tw.Target.Outputs()
	waitInvocations := func(fn string, n int, within time.Duration) {
		t.Helper()
		for deadline := time.Now().Add(within); len(tw.Server.Invocations(fn)) < n; time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s ran %d times in %v, want %d: %+v", fn, len(tw.Server.Invocations(fn)), within, n, tw.Server.Invocations(""))
			}
		}
	}
	monitorSec, trigger := out["SecondaryHealthMonitorFunctionName"], out["FailoverTriggerFunctionName"]
	for _, fn := range []string{out["PrimaryHealthMonitorFunctionName"], monitorSec, trigger} {
		waitInvocations(fn, 3, 20*time.Second)
	}
	for _, inv := range tw.Server.Invocations("") {
		// With the roles' policies from infra/aws enforced: nothing denied,
		// the trigger's notifications to its encrypted topic included.
		if inv.Error != "" || strings.Contains(string(inv.Result), "notify_error") || strings.Contains(string(inv.Result), "AccessDenied") {
			t.Fatalf("%s (%s) failed: %s %s", inv.Function, inv.Source, inv.Error, inv.Result)
		}
	}
	var mon struct {
		Healthy bool
		Role    string
	}
	last := tw.Server.Invocations(monitorSec)
	if err := json.Unmarshal(last[len(last)-1].Result, &mon); err != nil || !mon.Healthy {
		t.Fatalf("the secondary monitor's result %s (%v): want healthy", last[len(last)-1].Result, err)
	}
	var dec struct {
		Decision struct{ Action string }
	}
	last = tw.Server.Invocations(trigger)
	if err := json.Unmarshal(last[len(last)-1].Result, &dec); err != nil || dec.Decision.Action != "none" {
		t.Fatalf("the trigger's result on a healthy stack: %s (%v), want action none", last[len(last)-1].Result, err)
	}
	t.Logf("secondary monitor: %s", tw.Server.Invocations(monitorSec)[0].Result)
	t.Logf("trigger: %s", last[len(last)-1].Result)
	if w, _ := tw.Target.Topology(context.Background()); w.Primary != out[outputs.PrimaryRegion] {
		t.Fatalf("a healthy stack failed over to %s", w.Primary)
	}

	ctx := context.Background()
	cfg := tw.SDKConfig(t, out[outputs.SecondaryRegion])
	lc := lambda.NewFromConfig(cfg)
	if _, err := lc.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{FunctionName: awssdk.String(monitorSec), ReservedConcurrentExecutions: awssdk.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	got, err := lc.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: awssdk.String(monitorSec)})
	if err != nil || got.ReservedConcurrentExecutions == nil || *got.ReservedConcurrentExecutions != 0 {
		t.Fatalf("GetFunctionConcurrency after PutFunctionConcurrency 0: %+v, %v", got, err)
	}
	time.Sleep(1500 * time.Millisecond) // an invocation under way finishes
	before := len(tw.Server.Invocations(monitorSec))
	time.Sleep(4 * time.Second) // three scheduled minutes
	if after := len(tw.Server.Invocations(monitorSec)); after != before {
		t.Fatalf("%s ran %d times with reserved concurrency 0", monitorSec, after-before)
	}
	if _, err := lc.DeleteFunctionConcurrency(ctx, &lambda.DeleteFunctionConcurrencyInput{FunctionName: awssdk.String(monitorSec)}); err != nil {
		t.Fatal(err)
	}
	waitInvocations(monitorSec, before+1, 10*time.Second)
	admin := lambda.NewFromConfig(tw.AdminSDKConfig(t, out[outputs.SecondaryRegion])) // the harness may not even ask
	if _, err := admin.GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: awssdk.String("nope")}); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("an unknown function: %v, want ResourceNotFoundException", err)
	}
}
