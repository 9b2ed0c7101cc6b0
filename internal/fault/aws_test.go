package fault

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	drdaws "github.com/drdrill/drdrill/internal/aws"
	"github.com/drdrill/drdrill/internal/awstest"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
)

const (
	pARN = "arn:aws:rds:us-east-1:111122223333:cluster:drdrill-t-primary"
	sARN = "arn:aws:rds:us-west-2:111122223333:cluster:drdrill-t-secondary"
)

func awsOutputs() outputs.Outputs {
	return outputs.Outputs{"TargetKind": "aws", "GlobalClusterIdentifier": "drdrill-t-global", "PrimaryRegion": "us-east-1", "SecondaryRegion": "us-west-2",
		"PrimaryClusterArn": pARN, "SecondaryClusterArn": sARN, "GlobalWriterEndpoint": "g.global.example", "PrimaryClusterEndpoint": "p.example",
		"SecondaryClusterEndpoint": "s.example", "PrimaryReaderEndpoint": "p-ro.example", "SecondaryReaderEndpoint": "s-ro.example", "DatabaseSecretArn": "arn:aws:secretsmanager:us-east-1:111122223333:secret:db",
		"PrimaryDatabaseSubnetIds": `["subnet-a","subnet-b"]`, "SecondaryDatabaseSubnetIds": `["subnet-x"]`,
		"PrimaryDatabaseNetworkAclId": "acl-orig", "SecondaryDatabaseNetworkAclId": "acl-sec",
		"PrimaryHealthMonitorFunctionName": "drdrill-t-health-monitor-primary", "SecondaryHealthMonitorFunctionName": "drdrill-t-health-monitor-secondary",
		"FailoverTriggerFunctionName": "drdrill-t-failover-trigger", "PrimaryHealthCheckId": "hc-primary", "SecondaryHealthCheckId": "hc-secondary",
		"ReplicationLagAlarmName": "drdrill-t-replication-lag-secondary", "PrimarySNSTopicArn": "arn:aws:sns:us-east-1:1:t", "SecondarySNSTopicArn": "arn:aws:sns:us-west-2:1:t"}
}

// fakeAWS is the state behind the stubbed SDK calls.
type fakeAWS struct {
	mu          sync.Mutex
	account     string
	tagged      bool
	writer      string
	alarm       string            // state of the stop alarm
	acl         map[string]string // subnet → ACL id
	assoc       map[string]string // subnet → association id
	nextAssoc   int
	concurrency *int32
	failRestore bool
	monitorNet  []string // the health monitors' subnets
	silent      bool     // the monitors publish nothing

	// alarm path
	alarmForced string
	deliver     bool
	okOnly      bool // the queue hears only the alarm's return to OK
	queues      map[string]bool
	subs        map[string]bool
}

func newFake() *fakeAWS {
	return &fakeAWS{account: "111122223333", tagged: true, writer: pARN, alarm: "OK", deliver: true, queues: map[string]bool{}, subs: map[string]bool{},
		acl:   map[string]string{"subnet-a": "acl-orig", "subnet-b": "acl-orig", "subnet-x": "acl-sec"},
		assoc: map[string]string{"subnet-a": "aclassoc-1", "subnet-b": "aclassoc-2", "subnet-x": "aclassoc-9"}, nextAssoc: 3}
}

func (f *fakeAWS) stub() *awstest.Stub {
	s := awstest.New()
	lock := func(fn func(awstest.Call) (any, error)) func(awstest.Call) (any, error) {
		return func(c awstest.Call) (any, error) { f.mu.Lock(); defer f.mu.Unlock(); return fn(c) }
	}
	s.On("STS.GetCallerIdentity", lock(func(awstest.Call) (any, error) {
		return &sts.GetCallerIdentityOutput{Account: awssdk.String(f.account)}, nil
	}))
	s.On("RDS.DescribeGlobalClusters", lock(func(awstest.Call) (any, error) {
		return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{{GlobalClusterArn: awssdk.String("arn:aws:rds::111122223333:global-cluster:drdrill-t-global"),
			GlobalClusterMembers: []rdstypes.GlobalClusterMember{{DBClusterArn: awssdk.String(pARN), IsWriter: awssdk.Bool(f.writer == pARN)}, {DBClusterArn: awssdk.String(sARN), IsWriter: awssdk.Bool(f.writer == sARN)}}}}}, nil
	}))
	s.On("RDS.ListTagsForResource", lock(func(awstest.Call) (any, error) {
		out := &rds.ListTagsForResourceOutput{}
		if f.tagged {
			out.TagList = []rdstypes.Tag{{Key: awssdk.String("drdrill:allowed"), Value: awssdk.String("true")}}
		}
		return out, nil
	}))
	s.On("RDS.DescribeDBClusters", lock(func(awstest.Call) (any, error) {
		return &rds.DescribeDBClustersOutput{DBClusters: []rdstypes.DBCluster{{Status: awssdk.String("available")}}}, nil
	}))
	promote := func(c awstest.Call) (any, error) {
		switch in := c.Params.(type) {
		case *rds.SwitchoverGlobalClusterInput:
			f.writer = awssdk.ToString(in.TargetDbClusterIdentifier)
			return &rds.SwitchoverGlobalClusterOutput{}, nil
		case *rds.FailoverGlobalClusterInput:
			f.writer = awssdk.ToString(in.TargetDbClusterIdentifier)
			return &rds.FailoverGlobalClusterOutput{}, nil
		}
		return nil, errors.New("bad input")
	}
	s.On("RDS.SwitchoverGlobalCluster", lock(promote))
	s.On("RDS.FailoverGlobalCluster", lock(promote))
	s.On("CloudWatch.DescribeAlarms", lock(func(c awstest.Call) (any, error) {
		in := c.Params.(*cloudwatch.DescribeAlarmsInput)
		out := &cloudwatch.DescribeAlarmsOutput{}
		if in.StateValue == "" || string(in.StateValue) == f.alarm {
			for _, n := range in.AlarmNames {
				out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: awssdk.String(n), StateValue: cwtypes.StateValue(f.alarm),
					AlarmActions: []string{"arn:aws:sns:us-west-2:1:t"}})
			}
		}
		return out, nil
	}))
	s.On("CloudWatch.SetAlarmState", lock(func(c awstest.Call) (any, error) {
		f.alarmForced = string(c.Params.(*cloudwatch.SetAlarmStateInput).StateValue)
		return &cloudwatch.SetAlarmStateOutput{}, nil
	}))
	s.On("SQS.CreateQueue", lock(func(c awstest.Call) (any, error) {
		url := "https://sqs.us-west-2.amazonaws.com/1/" + awssdk.ToString(c.Params.(*sqs.CreateQueueInput).QueueName)
		f.queues[url] = true
		return &sqs.CreateQueueOutput{QueueUrl: awssdk.String(url)}, nil
	}))
	s.On("SQS.GetQueueAttributes", lock(func(awstest.Call) (any, error) {
		return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{"QueueArn": "arn:aws:sqs:us-west-2:1:proof"}}, nil
	}))
	s.On("SQS.SetQueueAttributes", lock(func(awstest.Call) (any, error) { return &sqs.SetQueueAttributesOutput{}, nil }))
	s.On("SQS.ReceiveMessage", lock(func(awstest.Call) (any, error) {
		out := &sqs.ReceiveMessageOutput{}
		switch {
		case f.okOnly:
			out.Messages = []sqstypes.Message{{Body: awssdk.String(`{"Type":"Notification","Subject":"OK: \"drdrill-t-replication-lag-secondary\"","Message":"{\"AlarmName\":\"drdrill-t-replication-lag-secondary\",\"NewStateValue\":\"OK\",\"OldStateValue\":\"ALARM\"}"}`)}}
		case f.deliver && f.alarmForced == "ALARM":
			out.Messages = []sqstypes.Message{{Body: awssdk.String(`{"Type":"Notification","Message":"{\"AlarmName\":\"drdrill-t-replication-lag-secondary\",\"NewStateValue\":\"ALARM\"}"}`)}}
		}
		return out, nil
	}))
	s.On("SQS.DeleteQueue", lock(func(c awstest.Call) (any, error) {
		delete(f.queues, awssdk.ToString(c.Params.(*sqs.DeleteQueueInput).QueueUrl))
		return &sqs.DeleteQueueOutput{}, nil
	}))
	s.On("SNS.Subscribe", lock(func(awstest.Call) (any, error) {
		f.subs["arn:aws:sns:us-west-2:1:t:sub-1"] = true
		return &sns.SubscribeOutput{SubscriptionArn: awssdk.String("arn:aws:sns:us-west-2:1:t:sub-1")}, nil
	}))
	s.On("SNS.Unsubscribe", lock(func(c awstest.Call) (any, error) {
		delete(f.subs, awssdk.ToString(c.Params.(*sns.UnsubscribeInput).SubscriptionArn))
		return &sns.UnsubscribeOutput{}, nil
	}))
	s.On("EC2.DescribeNetworkAcls", lock(func(awstest.Call) (any, error) {
		byACL := map[string][]ec2types.NetworkAclAssociation{}
		for sn, acl := range f.acl {
			byACL[acl] = append(byACL[acl], ec2types.NetworkAclAssociation{SubnetId: awssdk.String(sn), NetworkAclId: awssdk.String(acl), NetworkAclAssociationId: awssdk.String(f.assoc[sn])})
		}
		out := &ec2.DescribeNetworkAclsOutput{}
		for acl, as := range byACL {
			out.NetworkAcls = append(out.NetworkAcls, ec2types.NetworkAcl{NetworkAclId: awssdk.String(acl), VpcId: awssdk.String("vpc-1"), Associations: as})
		}
		return out, nil
	}))
	s.On("EC2.CreateNetworkAcl", lock(func(awstest.Call) (any, error) {
		return &ec2.CreateNetworkAclOutput{NetworkAcl: &ec2types.NetworkAcl{NetworkAclId: awssdk.String("acl-deny")}}, nil
	}))
	s.On("EC2.ReplaceNetworkAclAssociation", lock(func(c awstest.Call) (any, error) {
		in := c.Params.(*ec2.ReplaceNetworkAclAssociationInput)
		if f.failRestore && awssdk.ToString(in.NetworkAclId) == "acl-orig" {
			return nil, errors.New("UnauthorizedOperation")
		}
		for sn, id := range f.assoc {
			if id == awssdk.ToString(in.AssociationId) {
				f.acl[sn] = awssdk.ToString(in.NetworkAclId)
				f.assoc[sn] = "aclassoc-" + string(rune('0'+f.nextAssoc))
				f.nextAssoc++
				return &ec2.ReplaceNetworkAclAssociationOutput{NewAssociationId: awssdk.String(f.assoc[sn])}, nil
			}
		}
		return nil, errors.New("InvalidAssociationID.NotFound")
	}))
	s.On("EC2.DeleteNetworkAcl", lock(func(awstest.Call) (any, error) { return &ec2.DeleteNetworkAclOutput{}, nil }))
	s.On("Lambda.GetFunctionConcurrency", lock(func(awstest.Call) (any, error) {
		return &lambda.GetFunctionConcurrencyOutput{ReservedConcurrentExecutions: f.concurrency}, nil
	}))
	s.On("Lambda.PutFunctionConcurrency", lock(func(c awstest.Call) (any, error) {
		f.concurrency = c.Params.(*lambda.PutFunctionConcurrencyInput).ReservedConcurrentExecutions
		return &lambda.PutFunctionConcurrencyOutput{}, nil
	}))
	s.On("Lambda.GetFunctionConfiguration", lock(func(awstest.Call) (any, error) {
		subnets := f.monitorNet
		if subnets == nil {
			subnets = []string{"subnet-fn-a", "subnet-fn-b"}
		}
		return &lambda.GetFunctionConfigurationOutput{VpcConfig: &lambdatypes.VpcConfigResponse{SubnetIds: subnets}}, nil
	}))
	s.On("Lambda.DeleteFunctionConcurrency", lock(func(awstest.Call) (any, error) {
		f.concurrency = nil
		return &lambda.DeleteFunctionConcurrencyOutput{}, nil
	}))
	// A running monitor reports its region's health: a datapoint now.
	s.On("CloudWatch.GetMetricData", lock(func(awstest.Call) (any, error) {
		res := cwtypes.MetricDataResult{Id: awssdk.String("m"), StatusCode: cwtypes.StatusCodeComplete}
		if !f.silent && (f.concurrency == nil || *f.concurrency > 0) {
			res.Values, res.Timestamps = []float64{1}, []time.Time{time.Now()}
		}
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{res}}, nil
	}))
	s.On("Route 53.GetHealthCheck", lock(func(awstest.Call) (any, error) {
		return &route53.GetHealthCheckOutput{HealthCheck: &r53types.HealthCheck{HealthCheckVersion: awssdk.Int64(3),
			HealthCheckConfig: &r53types.HealthCheckConfig{Type: r53types.HealthCheckTypeCloudwatchMetric}}}, nil
	}))
	return s
}

func awsTarget(t *testing.T, f *fakeAWS, allowed ...string) (target.Target, *awstest.Stub, *ledger.Ledger) {
	t.Helper()
	st, s := awsStack(t, f, allowed...)
	return target.NewAWS(awsOutputs(), st), s, ledger.Open(t.TempDir())
}

func awsStack(t *testing.T, f *fakeAWS, allowed ...string) (*drdaws.Stack, *awstest.Stub) {
	t.Helper()
	s := f.stub()
	st, err := drdaws.NewStack(context.Background(), awsOutputs(), s.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	st.AllowedAccounts, st.StopAlarms, st.Poll = allowed, []string{"drdrill-t-stop"}, 1
	return st, s
}

func mutating(s *awstest.Stub) []string {
	var out []string
	for _, op := range s.Ops() {
		for _, w := range []string{"Create", "Replace", "Delete", "Put", "Update", "Switchover", "Failover", "Set", "Subscribe"} {
			if strings.Contains(op, "."+w) {
				out = append(out, op)
			}
		}
	}
	return out
}

func TestGuardsRefuseByDefault(t *testing.T) {
	cases := []struct {
		name    string
		allowed []string
		mod     func(*fakeAWS)
		want    string
	}{
		{"no allow-listed account", nil, nil, "DRDRILL_ALLOWED_ACCOUNTS"},
		{"another account", []string{"999999999999"}, nil, "111122223333 is not in DRDRILL_ALLOWED_ACCOUNTS"},
		{"untagged global cluster", []string{"111122223333"}, func(f *fakeAWS) { f.tagged = false }, "drdrill:allowed=true"},
		{"stop condition firing", []string{"111122223333"}, func(f *fakeAWS) { f.alarm = "ALARM" }, "stop condition: drdrill-t-stop"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake()
			if c.mod != nil {
				c.mod(f)
			}
			tgt, s, l := awsTarget(t, f, c.allowed...)
			for _, name := range []string{"region-isolation", "unplanned-failover", "monitor-failure", "planned-switchover", "alarm-path"} {
				_, err := Inject(context.Background(), tgt, l, name, nil, "test")
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("%s: %v, want a refusal naming %q", name, err, c.want)
				}
			}
			if m := mutating(s); len(m) > 0 {
				t.Fatalf("a refused fault still called %v", m)
			}
			if e, _ := l.Entries(); len(e) != 0 {
				t.Fatalf("a refused fault reached the ledger: %+v", e)
			}
			// Failing back is a switchover too: the same guard refuses it.
			f.mu.Lock()
			f.writer = sARN
			f.mu.Unlock()
			if did, err := tgt.Failback(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("failback: %v (did %v), want a refusal naming %q", err, did, c.want)
			}
			if m := mutating(s); len(m) > 0 {
				t.Fatalf("a refused failback still called %v", m)
			}
		})
	}
}

// The isolation rollback puts every subnet back on its original ACL (the
// association ids it replaces are the current ones) and deletes the deny ACL.
func TestRegionIsolationPair(t *testing.T) {
	f := newFake()
	tgt, s, l := awsTarget(t, f, "111122223333")
	h, err := Inject(context.Background(), tgt, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if f.acl["subnet-a"] != "acl-deny" || f.acl["subnet-b"] != "acl-deny" {
		t.Fatalf("after inject: %v", f.acl)
	}
	cr, _ := s.Find("EC2.CreateNetworkAcl")
	in := cr.Params.(*ec2.CreateNetworkAclInput)
	if awssdk.ToString(in.VpcId) != "vpc-1" || cr.Region != "us-east-1" || awssdk.ToString(in.TagSpecifications[0].Tags[0].Key) != "managedByDrdrill" {
		t.Fatalf("CreateNetworkAcl %+v in %s", in, cr.Region)
	}
	a, _ := l.Active()
	if len(a) != 1 || !strings.Contains(a[0].Params["isolation"], `"deny_acl":"acl-deny"`) {
		t.Fatalf("ledger lacks the deny ACL: %+v", a)
	}
	if err := h.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.acl["subnet-a"] != "acl-orig" || f.acl["subnet-b"] != "acl-orig" {
		t.Fatalf("after rollback: %v", f.acl)
	}
	if _, ok := s.Find("EC2.DeleteNetworkAcl"); !ok {
		t.Fatal("deny ACL not deleted")
	}
	if a, _ := l.Active(); len(a) != 0 {
		t.Fatalf("ledger after rollback: %+v", a)
	}
}

func TestFailedRollbackStaysInTheLedgerUntilRecover(t *testing.T) {
	f := newFake()
	tgt, _, l := awsTarget(t, f, "111122223333")
	h, err := Inject(context.Background(), tgt, l, "region-isolation", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	f.failRestore = true
	if err := h.Rollback(context.Background()); err == nil || !strings.Contains(err.Error(), "drdrill recover") {
		t.Fatalf("rollback error %v", err)
	}
	a, _ := l.Active()
	if len(a) != 1 || a[0].State != ledger.RollbackFailed || !strings.Contains(a[0].Error, "UnauthorizedOperation") {
		t.Fatalf("ledger %+v", a)
	}
	f.failRestore = false
	did, err := Recover(context.Background(), tgt, l)
	if err != nil || len(did) == 0 || f.acl["subnet-a"] != "acl-orig" {
		t.Fatalf("recover: %v %v, acl %v", did, err, f.acl)
	}
}

func TestMonitorFailurePairRestoresTheExactConcurrency(t *testing.T) {
	for _, prev := range []*int32{nil, awssdk.Int32(5)} {
		f := newFake()
		f.concurrency = prev
		tgt, s, l := awsTarget(t, f, "111122223333")
		h, err := Inject(context.Background(), tgt, l, "monitor-failure", nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		put, _ := s.Find("Lambda.PutFunctionConcurrency")
		in := put.Params.(*lambda.PutFunctionConcurrencyInput)
		// The secondary region's monitor: the trigger decides on its probe
		// of the primary (#12 item 8).
		if awssdk.ToString(in.FunctionName) != "drdrill-t-health-monitor-secondary" || awssdk.ToInt32(in.ReservedConcurrentExecutions) != 0 || put.Region != "us-west-2" {
			t.Fatalf("inject PutFunctionConcurrency %s %d in %s, want the secondary monitor to 0 in us-west-2", awssdk.ToString(in.FunctionName), awssdk.ToInt32(in.ReservedConcurrentExecutions), put.Region)
		}
		if err := h.Rollback(context.Background()); err != nil {
			t.Fatal(err)
		}
		if (prev == nil) != (f.concurrency == nil) || (prev != nil && *f.concurrency != *prev) {
			t.Fatalf("restored %v, want %v", f.concurrency, prev)
		}
		// The rollback returned once the monitor reported again.
		if q, ok := s.Find("CloudWatch.GetMetricData"); !ok || q.Region != "us-west-2" {
			t.Fatalf("the rollback did not wait for the secondary monitor to report (%+v)", q)
		}
	}
	// A monitor that does not report once resumed is a failed rollback,
	// kept in the ledger for recover.
	f := newFake()
	f.silent = true
	tgt, _, l := awsTarget(t, f, "111122223333")
	h, err := Inject(context.Background(), tgt, l, "monitor-failure", nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Rollback(context.Background()); err == nil || !strings.Contains(err.Error(), "does not report") {
		t.Fatalf("rollback of a monitor that never reports: %v", err)
	}
}

// The stack has no failover records any more, so a fault that inverts a
// health check would change nothing the drill measures: it is gone.
func TestNoHealthCheckFault(t *testing.T) {
	if _, err := Lookup("health-check-failure"); err == nil {
		t.Fatal("health-check-failure is still in the catalogue, but nothing routes on the health checks")
	}
}

func TestPromotionsOnAWS(t *testing.T) {
	for _, c := range []struct {
		fault string
		op    string
	}{{"planned-switchover", "RDS.SwitchoverGlobalCluster"}, {"unplanned-failover", "RDS.FailoverGlobalCluster"}} {
		f := newFake()
		tgt, s, l := awsTarget(t, f, "111122223333")
		h, err := Inject(context.Background(), tgt, l, c.fault, nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		call, _ := s.Find(c.op)
		if call.Form.Get("TargetDbClusterIdentifier") != sARN || call.Form.Get("GlobalClusterIdentifier") != "drdrill-t-global" || call.Region != "us-west-2" {
			t.Fatalf("%s: %s in %s", c.op, call.Body, call.Region)
		}
		if want := map[string]string{"RDS.FailoverGlobalCluster": "true"}[c.op]; call.Form.Get("AllowDataLoss") != want {
			t.Fatalf("%s AllowDataLoss=%q", c.op, call.Form.Get("AllowDataLoss"))
		}
		if f.writer != sARN {
			t.Fatalf("writer %s", f.writer)
		}
		if err := h.Rollback(context.Background()); err != nil || f.writer != pARN {
			t.Fatalf("rollback %v, writer %s", err, f.writer)
		}
	}
}

func TestEmptyTargetsAndIncompleteOutputsAreRefused(t *testing.T) {
	f := newFake()
	s := f.stub()
	out := awsOutputs()
	out["PrimaryDatabaseSubnetIds"] = "[]"
	st, err := drdaws.NewStack(context.Background(), out, s.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	st.AllowedAccounts = []string{"111122223333"}
	_, err = Inject(context.Background(), target.NewAWS(out, st), ledger.Open(t.TempDir()), "region-isolation", nil, "test")
	if err == nil || !strings.Contains(err.Error(), "emptyTargetResolutionMode=fail") {
		t.Fatalf("empty subnets: %v", err)
	}
	bad := awsOutputs()
	delete(bad, "SecondaryClusterArn")
	delete(bad, "PrimaryHealthCheckId")
	if _, err := drdaws.NewStack(context.Background(), bad, s.Options()...); err == nil || !strings.Contains(err.Error(), "SecondaryClusterArn, PrimaryHealthCheckId") {
		t.Fatalf("incomplete outputs: %v", err)
	}
}

func TestPreflightResolvesAndInjectsNothing(t *testing.T) {
	f := newFake()
	st, s := awsStack(t, f, "111122223333")
	var b strings.Builder
	if err := st.Preflight(context.Background(), &b); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	for _, want := range []string{"READY", "temporary SQS queue subscribed to", "SwitchoverGlobalCluster to " + sARN, "deny-all NACL on [subnet-a subnet-b]", "PutFunctionConcurrency 0 on drdrill-t-health-monitor-primary", "health check hc-primary (CLOUDWATCH_METRIC) → observed"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("preflight lacks %q:\n%s", want, b.String())
		}
	}
	if m := mutating(s); len(m) > 0 {
		t.Fatalf("preflight called %v", m)
	}
	f2 := newFake()
	st2, _ := awsStack(t, f2)
	b.Reset()
	if err := st2.Preflight(context.Background(), &b); err == nil || !strings.Contains(b.String(), "NOT READY") {
		t.Fatalf("preflight without an allow-listed account: %v\n%s", err, b.String())
	}
	// A health monitor in a database subnet would see its database
	// through an isolation: an ACL does not cut traffic inside a subnet.
	f3 := newFake()
	f3.monitorNet = []string{"subnet-fn-a", "subnet-b"}
	st3, _ := awsStack(t, f3, "111122223333")
	b.Reset()
	if err := st3.Preflight(context.Background(), &b); err == nil || !strings.Contains(err.Error(), "runs in database subnet(s) [subnet-b]") ||
		!strings.Contains(b.String(), "NOT READY") {
		t.Fatalf("preflight with a monitor in a database subnet: %v\n%s", err, b.String())
	}
}

// The alarm path: ALARM forced, the notification proven through a temporary
// queue on the alarm's topic, and everything removed on rollback — also when
// the notification never arrives.
func TestAlarmPathProvesDeliveryAndCleansUp(t *testing.T) {
	f := newFake()
	tgt, s, l := awsTarget(t, f, "111122223333")
	h, err := Inject(context.Background(), tgt, l, "alarm-path", Params{"wait": "1s"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := s.Find("SNS.Subscribe")
	in := sub.Params.(*sns.SubscribeInput)
	if awssdk.ToString(in.TopicArn) != "arn:aws:sns:us-west-2:1:t" || awssdk.ToString(in.Protocol) != "sqs" || awssdk.ToString(in.Endpoint) != "arn:aws:sqs:us-west-2:1:proof" || sub.Region != "us-west-2" {
		t.Fatalf("Subscribe %+v in %s", in, sub.Region)
	}
	pol, _ := s.Find("SQS.SetQueueAttributes")
	if p := pol.Params.(*sqs.SetQueueAttributesInput).Attributes["Policy"]; !strings.Contains(p, `"aws:SourceArn":"arn:aws:sns:us-west-2:1:t"`) {
		t.Fatalf("queue policy %s", p)
	}
	if f.alarmForced != "ALARM" || !strings.Contains(h.Params["proof"], `"delivered":true`) {
		t.Fatalf("alarm %s, proof %s", f.alarmForced, h.Params["proof"])
	}
	if err := h.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.alarmForced != "OK" || len(f.queues) != 0 || len(f.subs) != 0 {
		t.Fatalf("after rollback: alarm %s, queues %v, subscriptions %v", f.alarmForced, f.queues, f.subs)
	}

	f2 := newFake()
	f2.deliver = false
	tgt2, _, l2 := awsTarget(t, f2, "111122223333")
	if _, err := Inject(context.Background(), tgt2, l2, "alarm-path", Params{"wait": "100ms"}, "test"); err == nil || !strings.Contains(err.Error(), "alarm path is broken") {
		t.Fatalf("undelivered notification: %v", err)
	}
	if len(f2.queues) != 0 || len(f2.subs) != 0 || f2.alarmForced != "OK" {
		t.Fatalf("a failed proof left queues %v, subscriptions %v, alarm %s", f2.queues, f2.subs, f2.alarmForced)
	}
	if a, _ := l2.Active(); len(a) != 0 {
		t.Fatalf("ledger %+v", a)
	}
}

// #22 item 6: the harness's own role (infra/aws harness.tf) grants every
// call the harness makes — the preflight, each AWS fault's injection and
// rollback, the topology, alarms and observations a drill reads — with
// what those calls imply (tagging at creation, the secret's key): or the
// call is AccessDenied on AWS. The twin checks the same role call by call
// (TestTheHarnessRoleIsEnforcedOnTheHarnessCalls); this check reads the
// grants without one.
func TestHarnessRoleGrantsEveryCallTheHarnessMakes(t *testing.T) {
	ctx := context.Background()
	f := newFake()
	tgt, s, l := awsTarget(t, f, "111122223333")
	st, _ := drdaws.NewStack(ctx, awsOutputs(), s.Options()...)
	st.AllowedAccounts, st.StopAlarms, st.Poll = []string{"111122223333"}, []string{"drdrill-t-stop"}, 1
	var b strings.Builder
	_ = st.Preflight(ctx, &b)
	for _, c := range []struct {
		name string
		p    Params
	}{{"region-isolation", nil}, {"monitor-failure", nil}, {"alarm-path", Params{"wait": "1s"}}, {"planned-switchover", nil}, {"unplanned-failover", Params{"region": "us-west-2"}}} {
		h, err := Inject(ctx, tgt, l, c.name, c.p, "test")
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := h.Rollback(ctx); err != nil {
			t.Fatalf("%s rollback: %v", c.name, err)
		}
	}
	_, _ = tgt.Topology(ctx)
	_, _ = tgt.Alarms(ctx)
	if db, err := tgt.Writer(); err == nil { // reads the database secret; connects to nothing yet
		db.Close()
	}
	if o, ok := tgt.(target.Observer); ok {
		o.Observe(ctx)
	}
	granted := awstest.GrantedActionsIn(t, "harness.tf", "harness")
	called := awstest.ActionsCalled(t, s)
	for _, a := range called {
		if !awstest.Grants(granted, a) {
			t.Errorf("aws_iam_role_policy.harness does not grant %s, which the harness calls", a)
		}
	}
	t.Logf("the harness calls %v", called)
}

// The proof is a notification of the alarm entering ALARM, not any
// message naming the alarm and "ALARM": the alarm's return to OK (whose
// OldStateValue is ALARM) proves nothing about the ALARM notification,
// which SNS may have dropped (a queue policy not yet in force). Before,
// the OK notification was taken for the proof.
func TestAlarmPathTakesOnlyTheAlarmNotification(t *testing.T) {
	f := newFake()
	f.okOnly = true
	tgt, _, l := awsTarget(t, f, "111122223333")
	if _, err := Inject(context.Background(), tgt, l, "alarm-path", Params{"wait": "100ms"}, "test"); err == nil || !strings.Contains(err.Error(), "alarm path is broken") {
		t.Fatalf("only the OK notification arrived: %v, want the alarm path broken", err)
	}
}
