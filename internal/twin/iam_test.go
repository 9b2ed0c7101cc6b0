package twin_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #11 item 5: the twin enforces the roles' policies from infra/aws on the
// functions' calls, with the KMS permissions an encrypted topic or secret
// needs. With a permission taken away, as a mistaken edit of infra/aws
// would, the call fails as on AWS: the trigger's notification to its
// KMS-encrypted topic without kms:GenerateDataKey* (KMSAccessDenied, which
// the trigger reports without failing its invocation), the monitor's read
// of the secret without kms:Decrypt (AccessDeniedException: the monitor
// cannot run). The unedited stack is TestLambdasRunOnTheirScheduleOnTheTwin.
func TestRolePoliciesAreEnforcedOnTheFunctions(t *testing.T) {
	var trigger, monitor string
	take := func(f *twin.Function, action string) {
		t.Helper()
		n := 0
		for i := range f.Policy.Statements {
			st := &f.Policy.Statements[i]
			before := len(st.Action)
			st.Action = slices.DeleteFunc(st.Action, func(a string) bool { return a == action })
			n += before - len(st.Action)
		}
		if n == 0 {
			t.Fatalf("%s's policy does not grant %s: the test no longer takes anything away", f.Name, action)
		}
	}
	tw := twintest.StartWithLambdasEdited(t, 0.02, func(st *twin.Stack) {
		for i := range st.Functions {
			f := &st.Functions[i]
			switch {
			case strings.HasSuffix(f.Name, "-failover-trigger"):
				trigger = f.Name
				take(f, "kms:GenerateDataKey*")
			case strings.HasSuffix(f.Name, "-health-monitor-secondary"):
				monitor = f.Name
				take(f, "kms:Decrypt")
			}
		}
	})
	for deadline := time.Now().Add(20 * time.Second); len(tw.Server.Invocations(trigger)) < 2 || len(tw.Server.Invocations(monitor)) < 2; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the functions did not run: %+v", tw.Server.Invocations(""))
		}
	}
	inv := tw.Server.Invocations(trigger)
	var res struct {
		NotifyError string `json:"notify_error"`
	}
	if err := json.Unmarshal(inv[len(inv)-1].Result, &res); err != nil || !strings.Contains(res.NotifyError, "KMSAccessDenied") || inv[len(inv)-1].Error != "" {
		t.Errorf("the trigger without kms:GenerateDataKey* on its topic's key: result %s, error %q; want a KMSAccessDenied notify_error and no invocation error", inv[len(inv)-1].Result, inv[len(inv)-1].Error)
	}
	inv = tw.Server.Invocations(monitor)
	if last := inv[len(inv)-1]; !strings.Contains(last.Error, "AccessDeniedException") || !strings.Contains(last.Error, "kms:Decrypt") {
		t.Errorf("the monitor without kms:Decrypt on the secret's key: error %q (result %s), want AccessDeniedException naming kms:Decrypt", last.Error, last.Result)
	}
	for _, i := range tw.Server.Invocations(tw.Target.Outputs()["PrimaryHealthMonitorFunctionName"]) {
		if i.Error != "" {
			t.Errorf("the primary monitor, whose policy is untouched, failed: %s", i.Error)
		}
	}
}
