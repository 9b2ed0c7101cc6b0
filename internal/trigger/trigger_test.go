package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/decision"

	"github.com/drdrill/drdrill/internal/awstest"
	"github.com/drdrill/drdrill/internal/healthmetric"
)

const (
	primaryARN   = "arn:aws:rds:us-east-1:111122223333:cluster:dr-primary-test"
	secondaryARN = "arn:aws:rds:us-west-2:111122223333:cluster:dr-secondary-test"
	topicARN     = "arn:aws:sns:us-west-2:111122223333:dr-alerts-test"
)

type world struct {
	peer          []float64     // PeerHealthy of the writer, newest first, a minute apart
	peerAge       time.Duration // how old the newest PeerHealthy datapoint is
	own           []float64     // the writer's RegionHealthy in its own region (nil: silent)
	ownErr        error         // what reading it returns instead
	failoverState string
	switched      bool // the secondary region's cluster is the writer (after a switchover)
	targetStatus  string
	targetResync  bool // the cluster to promote is pending-resync
}

// writer and other are the regions of the writer and of the other member.
func (w world) writer() (string, string) {
	if w.switched {
		return "us-west-2", "us-east-1"
	}
	return "us-east-1", "us-west-2"
}

func (w world) stub() *awstest.Stub {
	s := awstest.New()
	s.On("RDS.DescribeGlobalClusters", func(c awstest.Call) (any, error) {
		sync := func(writer bool) rdstypes.GlobalClusterMemberSynchronizationStatus {
			if !writer && w.targetResync {
				return rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync
			}
			return rdstypes.GlobalClusterMemberSynchronizationStatusConnected
		}
		g := rdstypes.GlobalCluster{GlobalClusterIdentifier: awssdk.String("dr-global-test"), EngineVersion: awssdk.String("8.0.mysql_aurora.3.05.2"),
			GlobalClusterMembers: []rdstypes.GlobalClusterMember{
				{DBClusterArn: awssdk.String(primaryARN), IsWriter: awssdk.Bool(!w.switched), SynchronizationStatus: sync(!w.switched)},
				{DBClusterArn: awssdk.String(secondaryARN), IsWriter: awssdk.Bool(w.switched), SynchronizationStatus: sync(w.switched)}}}
		if w.failoverState != "" {
			g.FailoverState = &rdstypes.FailoverState{Status: rdstypes.FailoverStatus(w.failoverState)}
		}
		return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{g}}, nil
	})
	s.On("CloudWatch.GetMetricData", func(c awstest.Call) (any, error) {
		in := c.Params.(*cloudwatch.GetMetricDataInput)
		vals, age := w.peer, w.peerAge
		writer, other := w.writer()
		m := in.MetricDataQueries[0].MetricStat.Metric
		if about := awssdk.ToString(m.Dimensions[0].Value); about != writer {
			return nil, fmt.Errorf("%s read about %s, not about the writer %s", awssdk.ToString(m.MetricName), about, writer)
		}
		if name := awssdk.ToString(m.MetricName); name == healthmetric.MetricRegionHealthy {
			if c.Region != writer {
				return nil, fmt.Errorf("RegionHealthy of the writer read in %s, not in its own region %s", c.Region, writer)
			}
			if w.ownErr != nil {
				return nil, w.ownErr
			}
			vals, age = w.own, 0
		} else if c.Region != other {
			return nil, fmt.Errorf("PeerHealthy of the writer read in %s, not in the other region %s, whose monitor probes it", c.Region, other)
		}
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{{Id: awssdk.String("m"), Values: vals, Timestamps: minutesApart(len(vals), age)}}}, nil
	})
	status := w.targetStatus
	if status == "" {
		status = "available"
	}
	s.On("RDS.DescribeDBClusters", func(c awstest.Call) (any, error) {
		if _, other := w.writer(); c.Region != other {
			return nil, fmt.Errorf("DescribeDBClusters of the cluster to promote sent to %s, not its region %s", c.Region, other)
		}
		return &rds.DescribeDBClustersOutput{DBClusters: []rdstypes.DBCluster{{Status: awssdk.String(status)}}}, nil
	})
	s.On("RDS.FailoverGlobalCluster", func(c awstest.Call) (any, error) { return &rds.FailoverGlobalClusterOutput{}, nil })
	s.On("RDS.SwitchoverGlobalCluster", func(c awstest.Call) (any, error) { return &rds.SwitchoverGlobalClusterOutput{}, nil })
	s.On("SNS.Publish", func(c awstest.Call) (any, error) { return &sns.PublishOutput{MessageId: awssdk.String("m-1")}, nil })
	s.On("CloudWatch.PutMetricData", func(c awstest.Call) (any, error) { return &cloudwatch.PutMetricDataOutput{}, nil })
	return s
}

// minutesApart are n datapoint timestamps a minute apart, newest first,
// the newest age old (CloudWatch stamps a datapoint with its period's start).
func minutesApart(n int, age time.Duration) []time.Time {
	newest := time.Now().Add(-age).Truncate(time.Minute)
	var ts []time.Time
	for i := range n {
		ts = append(ts, newest.Add(-time.Duration(i)*time.Minute))
	}
	return ts
}

func trigger(t *testing.T, s *awstest.Stub, dry bool) *Trigger {
	tr := &Trigger{Cfg: Config{Region: "us-west-2", GlobalClusterID: "dr-global-test",
		Clusters: map[string]string{"us-east-1": primaryARN, "us-west-2": secondaryARN}, Threshold: 3, TopicARN: topicARN, DryRun: dry, Period: time.Minute},
		RDS: map[string]RDSAPI{}, CW: map[string]healthmetric.CloudWatchAPI{}, SNS: sns.NewFromConfig(s.Config(t, "us-west-2"))}
	for _, r := range []string{"us-east-1", "us-west-2"} {
		c := s.Config(t, r)
		tr.RDS[r], tr.CW[r] = rds.NewFromConfig(c), cloudwatch.NewFromConfig(c)
	}
	return tr
}

func TestTriggerBranches(t *testing.T) {
	cases := []struct {
		name   string
		w      world
		event  string
		dry    bool
		action decision.Action
		op     string // the RDS action that must (only) be called
	}{
		{"healthy primary: nothing", world{peer: []float64{1, 1, 1}}, `{}`, false, decision.None, ""},
		{"two failed checks: wait", world{peer: []float64{0, 0, 1}}, `{}`, false, decision.Wait, ""},
		{"three failed checks: failover with data loss", world{peer: []float64{0, 0, 0, 1}}, `{}`, false, decision.Failover, "RDS.FailoverGlobalCluster"},
		{"flapping: wait", world{peer: []float64{0, 1, 0, 0}}, `{}`, false, decision.Wait, ""},
		{"no data (broken monitor): wait", world{peer: nil}, `{}`, false, decision.Wait, ""},
		{"failover already in progress: wait", world{peer: []float64{0, 0, 0}, failoverState: "failing-over"}, `{}`, false, decision.Wait, ""},
		{"switchover in progress: wait", world{peer: []float64{0, 0, 0}, failoverState: "switching-over"}, `{}`, false, decision.Wait, ""},
		{"secondary unavailable: wait", world{peer: []float64{0, 0, 0}, targetStatus: "failing-over"}, `{}`, false, decision.Wait, ""},
		{"after a switchover, the new writer healthy: nothing (no failback)", world{peer: []float64{1, 1, 1}, switched: true}, `{}`, false, decision.None, ""},
		{"after a switchover, the new writer down: failover to the other", world{peer: []float64{0, 0, 0}, own: []float64{0}, switched: true}, `{}`, false, decision.Failover, "RDS.FailoverGlobalCluster"},
		{"the other member is being rebuilt: wait", world{peer: []float64{0, 0, 0}, targetResync: true}, `{}`, false, decision.Wait, ""},
		{"switchover requested with primary reachable", world{peer: []float64{1}}, `{"action":"switchover"}`, false, decision.Switchover, "RDS.SwitchoverGlobalCluster"},
		{"dry run decides but does not call", world{peer: []float64{0, 0, 0}}, `{}`, true, decision.Failover, ""},
		{"stale failures say nothing about now: wait", world{peer: []float64{0, 0, 0}, peerAge: 5 * time.Minute}, `{}`, false, decision.Wait, ""},
		{"the primary vouches for itself (the peering is cut): wait", world{peer: []float64{0, 0, 0}, own: []float64{1}}, `{}`, false, decision.Wait, ""},
		{"the primary says it is down: failover", world{peer: []float64{0, 0, 0}, own: []float64{0}}, `{}`, false, decision.Failover, "RDS.FailoverGlobalCluster"},
		{"the primary region's API is down: failover", world{peer: []float64{0, 0, 0}, ownErr: &smithy.GenericAPIError{Code: "ServiceUnavailable", Fault: smithy.FaultServer}}, `{}`, false, decision.Failover, "RDS.FailoverGlobalCluster"},
		{"the trigger may not read the primary's view: wait", world{peer: []float64{0, 0, 0}, ownErr: &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}}, `{}`, false, decision.Wait, ""},
		{"alarm event via SNS evaluates like the schedule", world{peer: []float64{0, 0, 0}}, `{"Records":[{"EventSource":"aws:sns","Sns":{"Message":"{\"NewStateValue\":\"ALARM\"}"}}]}`, false, decision.Failover, "RDS.FailoverGlobalCluster"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.w.stub()
			res, err := trigger(t, s, c.dry).Run(context.Background(), []byte(c.event))
			if err != nil {
				t.Fatal(err)
			}
			if res.Decision.Action != c.action {
				t.Fatalf("decision %v, want %s", res.Decision, c.action)
			}
			put, recorded := s.Find("CloudWatch.PutMetricData")
			if recorded != (c.action == decision.Failover) {
				t.Fatalf("decision %s: the failover decision recorded in CloudWatch = %v", c.action, recorded)
			}
			if recorded {
				d := put.Params.(*cloudwatch.PutMetricDataInput).MetricData[0]
				if awssdk.ToString(d.MetricName) != healthmetric.MetricFailoverDecisions || awssdk.ToInt32(d.StorageResolution) != 1 || d.Timestamp == nil {
					t.Fatalf("the decision's datapoint %+v: want %s at one-second resolution with the decision's time", d, healthmetric.MetricFailoverDecisions)
				}
			}
			for _, op := range []string{"RDS.FailoverGlobalCluster", "RDS.SwitchoverGlobalCluster"} {
				_, called := s.Find(op)
				if called != (op == c.op) {
					t.Fatalf("%s called=%v; calls %v", op, called, s.Ops())
				}
			}
			pub, ok := s.Find("SNS.Publish")
			if !ok || pub.Form.Get("TopicArn") != topicARN || !strings.Contains(pub.Form.Get("Message"), string(c.action)) {
				t.Fatalf("decision not published to SNS: %+v", pub)
			}
			if c.dry && !strings.Contains(pub.Form.Get("Subject"), "dry run") {
				t.Fatalf("dry-run subject %q", pub.Form.Get("Subject"))
			}
		})
	}
}

// The exact parameters on the wire: FailoverGlobalCluster with
// AllowDataLoss=true and the secondary cluster's ARN as the target, sent to
// the secondary region's endpoint.
func TestFailoverRequestParameters(t *testing.T) {
	s := world{peer: []float64{0, 0, 0}}.stub()
	if _, err := trigger(t, s, false).Run(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	f, _ := s.Find("RDS.FailoverGlobalCluster")
	want := map[string]string{"Action": "FailoverGlobalCluster", "GlobalClusterIdentifier": "dr-global-test",
		"TargetDbClusterIdentifier": secondaryARN, "AllowDataLoss": "true"}
	for k, v := range want {
		if got := f.Form.Get(k); got != v {
			t.Errorf("%s = %q, want %q (body %s)", k, got, v, f.Body)
		}
	}
	if f.Form.Has("Switchover") {
		t.Error("a failover must not ask for a switchover")
	}
	m, _ := s.Find("CloudWatch.GetMetricData")
	q := m.Params.(*cloudwatch.GetMetricDataInput).MetricDataQueries[0].MetricStat.Metric
	if awssdk.ToString(q.MetricName) != healthmetric.MetricPeerHealthy || awssdk.ToString(q.Namespace) != healthmetric.Namespace || awssdk.ToString(q.Dimensions[0].Value) != "us-east-1" {
		t.Errorf("health query %+v", q)
	}
	if f.Region != "us-west-2" {
		t.Errorf("FailoverGlobalCluster sent to %s, not the target's region", f.Region)
	}
	sw := world{peer: []float64{1}}.stub()
	if _, err := trigger(t, sw, false).Run(context.Background(), []byte(`{"action":"switchover"}`)); err != nil {
		t.Fatal(err)
	}
	c, _ := sw.Find("RDS.SwitchoverGlobalCluster")
	if c.Form.Get("TargetDbClusterIdentifier") != secondaryARN || c.Form.Get("GlobalClusterIdentifier") != "dr-global-test" {
		t.Fatalf("switchover body %s", c.Body)
	}
	// After a switchover the roles are the other way round: the failover
	// goes to the deployment's primary cluster, in its region.
	back := world{peer: []float64{0, 0, 0}, switched: true}.stub()
	if _, err := trigger(t, back, false).Run(context.Background(), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	b, _ := back.Find("RDS.FailoverGlobalCluster")
	if b.Form.Get("TargetDbClusterIdentifier") != primaryARN || b.Region != "us-east-1" {
		t.Fatalf("failover after a switchover: target %s in %s, want %s in us-east-1", b.Form.Get("TargetDbClusterIdentifier"), b.Region, primaryARN)
	}
}

func TestTriggerRefusesAClusterOutsideItsGlobalCluster(t *testing.T) {
	s := world{peer: []float64{0, 0, 0}}.stub()
	tr := trigger(t, s, false)
	tr.Cfg.Clusters["us-west-2"] = "arn:aws:rds:us-west-2:111122223333:cluster:someone-else"
	if _, err := tr.Run(context.Background(), []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Fatalf("got %v", err)
	}
	if _, called := s.Find("RDS.FailoverGlobalCluster"); called {
		t.Fatal("acted on a foreign cluster")
	}
}

func TestFailedFailoverIsReportedAndPublished(t *testing.T) {
	s := world{peer: []float64{0, 0, 0}}.stub()
	s.On("RDS.FailoverGlobalCluster", func(awstest.Call) (any, error) { return nil, errors.New("InvalidGlobalClusterStateFault") })
	_, err := trigger(t, s, false).Run(context.Background(), []byte(`{}`))
	if err == nil {
		t.Fatal("a failed FailoverGlobalCluster must be an error")
	}
	pub, _ := s.Find("SNS.Publish")
	var body map[string]any
	json.Unmarshal([]byte(pub.Form.Get("Message")), &body)
	if !strings.Contains(body["error"].(string), "InvalidGlobalClusterStateFault") {
		t.Fatalf("published %v", body)
	}
}

func TestConfigFromEnv(t *testing.T) {
	_, err := ConfigFromEnv(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "DRDRILL_GLOBAL_CLUSTER_ID") || !strings.Contains(err.Error(), "DRDRILL_CLUSTER_ARNS") {
		t.Fatalf("%v", err)
	}
	env := map[string]string{"AWS_REGION": "us-west-2", "DRDRILL_GLOBAL_CLUSTER_ID": "g",
		"DRDRILL_CLUSTER_ARNS": primaryARN + "," + secondaryARN, "DRDRILL_SNS_TOPIC_ARN": topicARN, "DRDRILL_DRY_RUN": "maybe"}
	if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "DRDRILL_DRY_RUN") {
		t.Fatalf("%v", err)
	}
	env["DRDRILL_DRY_RUN"] = "true"
	c, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil || !c.DryRun || c.Threshold != 3 || c.Period != time.Minute || c.Clusters["us-east-1"] != primaryARN || c.Clusters["us-west-2"] != secondaryARN {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{secondaryARN, "arn:aws:rds:us-east-1:1:db:x," + secondaryARN, primaryARN + "," + primaryARN} {
		env["DRDRILL_CLUSTER_ARNS"] = bad
		if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "DRDRILL_CLUSTER_ARNS") {
			t.Errorf("DRDRILL_CLUSTER_ARNS=%q: %v, want an error naming it", bad, err)
		}
	}
}

// A notification that fails after RDS acted (say, the role cannot use the
// topic's KMS key) must not fail the invocation: Lambda would retry it, and
// the retry would decide again on a cluster already failing over.
func TestTriggerNotificationFailureDoesNotFailTheInvocation(t *testing.T) {
	s := world{peer: []float64{0, 0, 0}}.stub()
	s.On("SNS.Publish", func(awstest.Call) (any, error) {
		return nil, errors.New("KMS.AccessDeniedException: not authorized to perform kms:GenerateDataKey")
	})
	res, err := trigger(t, s, false).Run(context.Background(), []byte(`{}`))
	if err != nil {
		t.Fatalf("the invocation failed because its notification did: %v", err)
	}
	if res.Operation != "FailoverGlobalCluster" || !strings.Contains(res.NotifyError, "kms:GenerateDataKey") {
		t.Fatalf("result %+v: want the failover made and the failed notification reported", res)
	}
	n := 0
	for _, op := range s.Ops() {
		if op == "RDS.FailoverGlobalCluster" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("FailoverGlobalCluster called %d times, want once", n)
	}
}

func TestFailStreakReadsTimestamps(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 30, 0, time.UTC)
	at := func(minAgo ...int) []time.Time {
		var ts []time.Time
		for _, m := range minAgo {
			ts = append(ts, now.Truncate(time.Minute).Add(-time.Duration(m)*time.Minute))
		}
		return ts
	}
	cases := []struct {
		name   string
		vals   []float64
		ts     []time.Time
		known  bool
		streak int
	}{
		{"three fresh failures", []float64{0, 0, 0}, at(0, 1, 2), true, 3},
		{"a healthy check ends the run", []float64{0, 1, 0}, at(0, 1, 2), true, 1},
		{"stale zeros are no evidence", []float64{0, 0, 0}, at(4, 5, 6), false, 0},
		{"one missing minute is skipped, not counted", []float64{0, 0, 0}, at(0, 2, 3), true, 3},
		{"a long gap ends the run", []float64{0, 0, 0}, at(0, 1, 5), true, 2},
		{"no timestamps, no judgement", []float64{0, 0, 0}, nil, false, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			known, _, streak, why := FailStreak(c.vals, c.ts, now, time.Minute)
			if known != c.known || streak != c.streak {
				t.Fatalf("FailStreak = known %v, streak %d (%s); want %v, %d", known, streak, why, c.known, c.streak)
			}
		})
	}
}

// #22 item 4: Lambda runs the trigger's invocations side by side and
// delivers events more than once, so two invocations can take the same
// failover decision; RDS takes the first FailoverGlobalCluster and refuses
// the other (InvalidGlobalClusterStateFault while it runs,
// InvalidDBClusterStateFault once the target is the writer). That refusal
// is a duplicate, not an error: no invocation error (which Lambda would
// retry and the error alarm count), no second detection datapoint. A
// refusal while the global cluster shows no such move stays an error.
// Before, every refusal failed the invocation.
func TestARefusedDuplicateFailoverIsNotAnError(t *testing.T) {
	for _, c := range []struct {
		name, code string
		after      func(*rdstypes.GlobalCluster) // the global cluster as the refusal leaves it
		duplicate  bool
	}{
		{"a failover under way", "InvalidGlobalClusterStateFault", func(g *rdstypes.GlobalCluster) {
			g.FailoverState = &rdstypes.FailoverState{Status: rdstypes.FailoverStatusFailingOver, ToDbClusterArn: awssdk.String(secondaryARN), IsDataLossAllowed: awssdk.Bool(true)}
		}, true},
		{"the writer already moved", "InvalidDBClusterStateFault", func(g *rdstypes.GlobalCluster) {
			g.GlobalClusterMembers[0].IsWriter, g.GlobalClusterMembers[1].IsWriter = awssdk.Bool(false), awssdk.Bool(true)
		}, true},
		{"a switchover elsewhere", "InvalidGlobalClusterStateFault", func(g *rdstypes.GlobalCluster) {
			g.FailoverState = &rdstypes.FailoverState{Status: "switching-over", ToDbClusterArn: awssdk.String(primaryARN)}
		}, false},
		{"nothing under way", "InvalidGlobalClusterStateFault", func(*rdstypes.GlobalCluster) {}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := world{peer: []float64{0, 0, 0}}.stub()
			refused := false
			s.On("RDS.FailoverGlobalCluster", func(awstest.Call) (any, error) {
				refused = true
				return nil, &smithy.GenericAPIError{Code: c.code, Message: "refused", Fault: smithy.FaultClient}
			})
			s.On("RDS.DescribeGlobalClusters", func(awstest.Call) (any, error) {
				g := rdstypes.GlobalCluster{GlobalClusterIdentifier: awssdk.String("dr-global-test"), EngineVersion: awssdk.String("8.0.mysql_aurora.3.05.2"),
					GlobalClusterMembers: []rdstypes.GlobalClusterMember{
						{DBClusterArn: awssdk.String(primaryARN), IsWriter: awssdk.Bool(true)},
						{DBClusterArn: awssdk.String(secondaryARN), IsWriter: awssdk.Bool(false)}}}
				if refused {
					c.after(&g)
				}
				return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{g}}, nil
			})
			res, err := trigger(t, s, false).Run(context.Background(), []byte(`{}`))
			if !c.duplicate {
				if err == nil || !strings.Contains(err.Error(), c.code) || res.Duplicate != "" {
					t.Fatalf("a refusal with %s: result %+v, error %v; want an error", c.name, res, err)
				}
				return
			}
			if err != nil || res.Duplicate == "" || res.Operation != "FailoverGlobalCluster" {
				t.Fatalf("a duplicate refused with %s (%s): result %+v, error %v; want no error and the duplicate reported", c.code, c.name, res, err)
			}
			if put, ok := s.Find("CloudWatch.PutMetricData"); ok {
				t.Fatalf("a duplicate recorded a failover decision: %+v", put)
			}
			pub, _ := s.Find("SNS.Publish")
			if msg := pub.Form.Get("Message"); !strings.Contains(msg, `"duplicate":`) || strings.Contains(msg, `"error":`) {
				t.Fatalf("published %s", msg)
			}
		})
	}
}
