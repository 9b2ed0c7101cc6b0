package fault_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #22 item 6: the KMS key policies of infra/aws are enforced. CloudWatch
// publishes an alarm's notification to its encrypted topic as itself, so
// the key's policy must let cloudwatch.amazonaws.com use the key (SNS
// Developer Guide, "Enable compatibility between event sources from AWS
// services and encrypted topics"); without it the action fails and no
// subscriber hears. With the service taken out of database.tf's key
// policy, the alarm-path fault proves the path broken. Before, the twin
// did not read key policies: the notification arrived.
func TestAKeyPolicyWithoutCloudWatchBreaksTheAlarmPath(t *testing.T) {
	stack := twintest.CopyStack(t, func(name, text string) string {
		if name != "database.tf" {
			return text
		}
		edited := strings.Replace(text, `Service = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]`, `Service = ["events.amazonaws.com"]`, 1)
		if edited == text {
			t.Fatal("database.tf's key policy no longer names cloudwatch.amazonaws.com as written: the test takes nothing away")
		}
		return edited
	})
	tw := twintest.StartWith(t, twintest.Options{Scale: 0.02, Stack: stack})
	ctx := context.Background()
	l := ledger.Open(t.TempDir())
	_, err := fault.Inject(ctx, tw.Target, l, "alarm-path", fault.Params{"wait": "10s"}, "test")
	if err == nil || !strings.Contains(err.Error(), "the alarm path is broken") {
		t.Fatalf("alarm-path with a key policy that does not admit CloudWatch: %v, want the alarm path broken", err)
	}
	failures := strings.Join(tw.Server.AlarmActionFailures(), "\n")
	if !strings.Contains(failures, "does not allow cloudwatch.amazonaws.com kms:") {
		t.Fatalf("the alarm's history records no failed action for the key policy: %q", failures)
	}
	if q, s := tw.Server.Queues(), tw.Server.QueueSubscriptions(); len(q) != 0 || len(s) != 0 {
		t.Fatalf("the failed proof left queues %v and subscriptions %v", q, s)
	}
	t.Logf("%v", err)
}

// #22 item 6: the harness signs with its own role (infra/aws harness.tf),
// and the twin checks every call it makes against that role's policy: a
// call the code makes and the role does not grant fails, naming the
// action, as it would on AWS. Here ec2:ReplaceNetworkAclAssociation, then
// sqs:SetQueueAttributes, is taken out of a copy of harness.tf:
// region-isolation (alarm-path) fails with UnauthorizedOperation
// (AccessDenied) naming it, and leaves nothing behind. Before, the
// harness's calls were not checked at all.
func TestTheHarnessRoleIsEnforcedOnTheHarnessCalls(t *testing.T) {
	for _, c := range []struct {
		action, fault string
		params        fault.Params
	}{
		{"ec2:ReplaceNetworkAclAssociation", "region-isolation", nil},
		{"sqs:SetQueueAttributes", "alarm-path", fault.Params{"wait": "5s"}},
	} {
		t.Run(c.action, func(t *testing.T) {
			stack := twintest.CopyStack(t, func(name, text string) string {
				if name != "harness.tf" {
					return text
				}
				// Every grant of the action goes: from a list of several, or
				// a list of one (then the statement allows nothing).
				re := regexp.MustCompile(`"` + regexp.QuoteMeta(c.action) + `",? ?`)
				edited := re.ReplaceAllString(text, "")
				if edited == text {
					t.Fatalf("harness.tf does not grant %s: the test takes nothing away", c.action)
				}
				return strings.ReplaceAll(edited, "Action = []", `Action = ["sts:GetCallerIdentity"]`)
			})
			tw := twintest.StartWith(t, twintest.Options{Scale: 0.02, Stack: stack})
			ctx := context.Background()
			l := ledger.Open(t.TempDir())
			_, err := fault.Inject(ctx, tw.Target, l, c.fault, c.params, "test")
			if err == nil || !strings.Contains(err.Error(), "not authorized to perform: "+c.action) || !strings.Contains(err.Error(), "assumed-role/drdrill-twin-harness/") {
				t.Fatalf("%s without %s in the harness's role: %v, want it refused naming the action and the role", c.fault, c.action, err)
			}
			if acls, isolated, queues := tw.Server.DenyACLs(), tw.Server.IsolatedRegions(), tw.Server.Queues(); len(acls) != 0 || len(isolated) != 0 || len(queues) != 0 {
				t.Fatalf("the refused injection left ACLs %v, isolated %v, queues %v", acls, isolated, queues)
			}
			if a, _ := l.Active(); len(a) != 0 {
				t.Fatalf("the refused injection is still in the ledger: %+v", a)
			}
			t.Logf("%v", err)
		})
	}
}

// #22 item 5: region-isolation rides out EC2's eventual consistency (the
// deny ACL InvalidNetworkAclID.NotFound just after it is created, stale
// associations after each move: "Eventual consistency in the Amazon EC2
// API"), retrying with backoff as AWS advises; the fault is in effect from
// the first subnet moved, not from the calls that prepare it; and the
// rollback returns only once DescribeNetworkAcls shows every subnet back,
// so the switch-back's check that follows sees the region restored.
// Before, the injection failed at its first ReplaceNetworkAclAssociation.
func TestIsolationRidesOutEC2EventualConsistency(t *testing.T) {
	tw := twintest.Start(t, 0.02) // EC2 propagation: 1.2 to 2.4 s
	ctx := context.Background()
	l := ledger.Open(t.TempDir())
	h, err := fault.Inject(ctx, tw.Target, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	created := tw.Server.Calls("ec2", "CreateNetworkAcl")
	var moves []time.Time
	notFound := 0
	for _, c := range tw.Server.Calls("ec2", "ReplaceNetworkAclAssociation") {
		switch c.Code {
		case "":
			moves = append(moves, c.At)
		case "InvalidNetworkAclID.NotFound", "InvalidAssociationID.NotFound":
			notFound++
		}
	}
	if len(created) != 1 || len(moves) != 2 || notFound == 0 {
		t.Fatalf("CreateNetworkAcl %d, moves %d, NotFound answers %d: want 1, 2 and some", len(created), len(moves), notFound)
	}
	if h.Effective.IsZero() || !h.Effective.After(created[0].At) || h.Effective.After(moves[0]) {
		t.Fatalf("the isolation took effect at %v; want after the deny ACL was created (%v) and by the first subnet moved (%v)",
			h.Effective.Format(time.StampMicro), created[0].At.Format(time.StampMicro), moves[0].Format(time.StampMicro))
	}
	t.Logf("in effect %v after injection began (the first subnet moved), %d NotFound answers retried",
		h.Effective.Sub(h.Injected).Round(time.Millisecond), notFound)
	if err := h.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if acls, isolated := tw.Server.DenyACLs(), tw.Server.IsolatedRegions(); len(acls) != 0 || len(isolated) != 0 {
		t.Fatalf("after the rollback: ACLs %v, isolated %v", acls, isolated)
	}
	// What the next step of a drill reads: the region restored, at once.
	si, ok := tw.Target.(target.SubnetIsolation)
	if !ok {
		t.Fatal("the AWS target offers no SubnetIsolation")
	}
	if _, err := si.ResolveIsolation(ctx, tw.Target.Outputs()[outputs.PrimaryRegion]); err != nil {
		t.Fatalf("right after the rollback the subnets do not read as restored: %v", err)
	}
}
