package twin

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdsschemas "github.com/aws/aws-sdk-go-v2/service/rds/schemas"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqsschemas "github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/aws/smithy-go/transport/http/protocol/awsquery"
	"github.com/aws/smithy-go/transport/http/protocol/rpcv2"
)

// fixedPlane is a data plane whose state the test sets: these tests are
// about the wire protocols, not the lab (TestSwitchoverThroughTheSDK
// drives the real lab).
type fixedPlane struct {
	mu       sync.Mutex
	primary  string
	regions  map[string]RegionState
	isolated map[string]bool
}

func (p *fixedPlane) Primary(context.Context) (string, error) { return p.primary, nil }
func (p *fixedPlane) Regions(context.Context) (map[string]RegionState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]RegionState{}
	for k, v := range p.regions {
		out[k] = v
	}
	return out, nil
}
func (p *fixedPlane) Promote(context.Context, string, bool) error          { return nil }
func (p *fixedPlane) CatchUp(context.Context, string, time.Duration) error { return nil }
func (p *fixedPlane) Rebuild(context.Context, string) error                { return nil }
func (p *fixedPlane) InSync(context.Context, string) (bool, error)         { return true, nil }
func (p *fixedPlane) ClientPath(context.Context, string) (string, error) {
	return "", errors.New("no databases behind this plane")
}
func (p *fixedPlane) InsideSubnet(context.Context, string) (string, error) {
	return "", errors.New("no databases behind this plane")
}
func (p *fixedPlane) Isolate(_ context.Context, region string, cut bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.isolated == nil {
		p.isolated = map[string]bool{}
	}
	p.isolated[region] = cut
	return nil
}
func (p *fixedPlane) setLag(region string, ms float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.regions[region] = RegionState{Available: true, LagMs: &ms}
}

func testStack() Stack {
	return Stack{
		Global: GlobalCluster{ID: "g", EngineVersion: "8.0.mysql_aurora.3.05.2",
			Members: []Member{{Region: "us-east-1", ClusterID: "p"}, {Region: "us-west-2", ClusterID: "s"}}},
		Tags:   map[string]string{"drdrill:allowed": "true"},
		Secret: Secret{Name: "drdrill-db", Username: "admin", Password: `p"w&<d>`},
		Alarms: []MetricAlarm{{Region: "us-west-2", Name: "lag-secondary", Namespace: "AWS/RDS", Metric: "AuroraGlobalDBRPOLag",
			Dimensions: map[string]string{"DBClusterIdentifier": "s"}, Statistic: "Maximum", Period: time.Minute,
			EvaluationPeriods: 3, ToAlarm: 2, Threshold: 500, Comparison: "GreaterThanThreshold", TreatMissing: "notBreaching"}},
	}
}

func startFixed(t *testing.T, scale float64) (*Server, *fixedPlane) {
	t.Helper()
	lag := 40.0
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{
		"us-east-1": {Available: true}, "us-west-2": {Available: true, LagMs: &lag}}}
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: scale}, testStack(), plane)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, plane
}

// Secrets Manager speaks awsJson1_1: the secret's value, its replica's ARN
// in the other region, and ResourceNotFoundException as the SDK's typed
// error for an unknown secret.
func TestSecretsManagerThroughTheSDK(t *testing.T) {
	srv, _ := startFixed(t, 1)
	ctx := context.Background()
	for _, region := range []string{"us-east-1", "us-west-2"} {
		c := secretsmanager.NewFromConfig(sdkConfig(t, srv.Endpoint(), region))
		arn := "arn:aws:secretsmanager:" + region + ":123456789012:secret:drdrill-db-Tw1nAb"
		out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(arn)})
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if awssdk.ToString(out.SecretString) != `{"password":"p\"w\u0026\u003cd\u003e","username":"admin"}` || awssdk.ToString(out.ARN) != arn {
			t.Fatalf("%s: secret %q arn %q", region, awssdk.ToString(out.SecretString), awssdk.ToString(out.ARN))
		}
	}
	_, err := secretsmanager.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2")).GetSecretValue(ctx,
		&secretsmanager.GetSecretValueInput{SecretId: awssdk.String("nope")})
	var nf *smtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Fatalf("unknown secret: %v, want the SDK's ResourceNotFoundException", err)
	}
}

// RDS answers DescribeDBClusters per region with the data plane's
// availability, and the stack's tags for the global cluster.
func TestRDSClustersAndTagsThroughTheSDK(t *testing.T) {
	srv, plane := startFixed(t, 1)
	ctx := context.Background()
	west := rds.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	out, err := west.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: awssdk.String("arn:aws:rds:us-west-2:123456789012:cluster:s")})
	if err != nil || len(out.DBClusters) != 1 || awssdk.ToString(out.DBClusters[0].Status) != "available" ||
		awssdk.ToBool(out.DBClusters[0].DBClusterMembers[0].IsClusterWriter) {
		t.Fatalf("DescribeDBClusters: %+v, %v", out, err)
	}
	plane.mu.Lock()
	plane.regions["us-west-2"] = RegionState{}
	plane.mu.Unlock()
	if out, err = west.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: awssdk.String("s")}); err != nil || awssdk.ToString(out.DBClusters[0].Status) != "unavailable" {
		t.Fatalf("a region whose servers are down: %+v, %v", out, err)
	}
	// The primary's cluster is not in us-west-2.
	if _, err := west.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: awssdk.String("p")}); !isCode(err, "DBClusterNotFoundFault") {
		t.Fatalf("another region's cluster: %v, want DBClusterNotFoundFault", err)
	}
	tags, err := west.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: awssdk.String("arn:aws:rds::123456789012:global-cluster:g")})
	if err != nil || len(tags.TagList) != 1 || awssdk.ToString(tags.TagList[0].Key) != "drdrill:allowed" || awssdk.ToString(tags.TagList[0].Value) != "true" {
		t.Fatalf("ListTagsForResource: %+v, %v", tags, err)
	}
}

// CloudWatch speaks rpcv2Cbor: what a Lambda puts comes back from
// GetMetricData with its timestamps; the twin publishes
// AuroraGlobalDBRPOLag from the lab's lag every (scaled) minute; the lag
// alarm goes to ALARM after 2 of 3 breaching periods and back to OK.
func TestCloudWatchMetricsAndAlarmsThroughTheSDK(t *testing.T) {
	srv, plane := startFixed(t, 0.005) // a minute is 300 ms
	ctx := context.Background()
	cw := cloudwatch.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	at := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String("DRDrill"), MetricData: []cwtypes.MetricDatum{{
		MetricName: awssdk.String("PeerHealthy"), Dimensions: []cwtypes.Dimension{{Name: awssdk.String("Region"), Value: awssdk.String("us-west-2")}},
		Timestamp: awssdk.Time(at), Value: awssdk.Float64(1)}}}); err != nil {
		t.Fatal(err)
	}
	got, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: awssdk.Time(at.Add(-time.Second)), EndTime: awssdk.Time(time.Now()),
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: awssdk.String("m"), MetricStat: &cwtypes.MetricStat{Period: awssdk.Int32(60), Stat: awssdk.String("Minimum"),
			Metric: &cwtypes.Metric{Namespace: awssdk.String("DRDrill"), MetricName: awssdk.String("PeerHealthy"),
				Dimensions: []cwtypes.Dimension{{Name: awssdk.String("Region"), Value: awssdk.String("us-west-2")}}}}}}})
	if err != nil || len(got.MetricDataResults) != 1 || len(got.MetricDataResults[0].Values) != 1 || got.MetricDataResults[0].Values[0] != 1 {
		t.Fatalf("GetMetricData: %+v, %v", got, err)
	}
	// Another region sees nothing: metrics are regional.
	east := cloudwatch.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1"))
	if a, err := east.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"lag-secondary"}}); err != nil || len(a.MetricAlarms) != 0 {
		t.Fatalf("us-east-1 lists %d alarms (%v), want the us-west-2 alarm only there", len(a.MetricAlarms), err)
	}
	state := func() cwtypes.StateValue {
		a, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"lag-secondary"}})
		if err != nil || len(a.MetricAlarms) != 1 {
			t.Fatalf("DescribeAlarms: %+v, %v", a, err)
		}
		if m := a.MetricAlarms[0]; awssdk.ToFloat64(m.Threshold) != 500 || m.Statistic != cwtypes.StatisticMaximum || awssdk.ToInt32(m.EvaluationPeriods) != 3 {
			t.Fatalf("alarm definition %+v", m)
		}
		return a.MetricAlarms[0].StateValue
	}
	waitState := func(want cwtypes.StateValue) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for state() != want {
			if time.Now().After(deadline) {
				t.Fatalf("the lag alarm is %s, want %s", state(), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitState(cwtypes.StateValueOk)
	plane.setLag("us-west-2", 900)
	waitState(cwtypes.StateValueAlarm)
	firing, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
	if err != nil || len(firing.MetricAlarms) != 1 {
		t.Fatalf("DescribeAlarms StateValue=ALARM: %+v, %v", firing, err)
	}
	plane.setLag("us-west-2", 30)
	waitState(cwtypes.StateValueOk)
	// The published lag is there for the AWS target to read.
	lag, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: awssdk.Time(time.Now().Add(-time.Minute)), EndTime: awssdk.Time(time.Now()),
		ScanBy: cwtypes.ScanByTimestampDescending, MetricDataQueries: []cwtypes.MetricDataQuery{{Id: awssdk.String("lag"), MetricStat: &cwtypes.MetricStat{
			Period: awssdk.Int32(60), Stat: awssdk.String("Maximum"), Metric: &cwtypes.Metric{Namespace: awssdk.String("AWS/RDS"),
				MetricName: awssdk.String("AuroraGlobalDBRPOLag"), Dimensions: []cwtypes.Dimension{{Name: awssdk.String("DBClusterIdentifier"), Value: awssdk.String("s")}}}}}}})
	if err != nil || len(lag.MetricDataResults[0].Values) < 3 || lag.MetricDataResults[0].Values[0] != 30 {
		t.Fatalf("AuroraGlobalDBRPOLag: %+v, %v", lag, err)
	}
	// The modelled error, with its awsQuery code (MissingParameter), as
	// the query-compatible CloudWatch answers it.
	var missing *cwtypes.MissingRequiredParameterException
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String("x")}); !errors.As(err, &missing) || missing.ErrorCode() != "MissingParameter" {
		t.Fatalf("PutMetricData without data: %v, want the SDK's MissingRequiredParameterException with code MissingParameter", err)
	}
}

// EC2 network ACLs over ec2Query, through the SDK's EC2 client: what a
// region isolation calls, with the data plane's client path cut exactly
// while every database subnet of the region is on a deny-all ACL.
func TestNetworkACLsThroughTheSDK(t *testing.T) {
	lag := 40.0
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{"us-east-1": {Available: true}, "us-west-2": {Available: true, LagMs: &lag}}}
	st := testStack()
	st.Networks = []Network{{Region: "us-east-1", VPC: "vpc-1", Subnets: []string{"subnet-a", "subnet-b"}, DefaultACL: "acl-1"},
		{Region: "us-west-2", VPC: "vpc-2", Subnets: []string{"subnet-c"}, DefaultACL: "acl-2"}}
	// Kind: this test reads the answers' shapes and the per-subnet cut;
	// EC2's eventual consistency is TestEC2IsEventuallyConsistent's.
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", Worst: Kind}, st, plane)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	c := ec2.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1"))
	filter := []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: []string{"subnet-a", "subnet-b"}}}
	acls, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: filter})
	if err != nil || len(acls.NetworkAcls) != 1 || awssdk.ToString(acls.NetworkAcls[0].NetworkAclId) != "acl-1" ||
		len(acls.NetworkAcls[0].Associations) != 2 || awssdk.ToString(acls.NetworkAcls[0].VpcId) != "vpc-1" || !awssdk.ToBool(acls.NetworkAcls[0].IsDefault) {
		t.Fatalf("DescribeNetworkAcls: %+v, %v", acls, err)
	}
	deny, err := c.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: awssdk.String("vpc-1"), TagSpecifications: []ec2types.TagSpecification{{
		ResourceType: ec2types.ResourceTypeNetworkAcl, Tags: []ec2types.Tag{{Key: awssdk.String("managedByDrdrill"), Value: awssdk.String("true")}}}}})
	if err != nil || deny.NetworkAcl == nil || len(deny.NetworkAcl.Tags) != 1 || awssdk.ToBool(deny.NetworkAcl.IsDefault) {
		t.Fatalf("CreateNetworkAcl: %+v, %v", deny, err)
	}
	denyID := awssdk.ToString(deny.NetworkAcl.NetworkAclId)
	isolated := func() bool {
		plane.mu.Lock()
		defer plane.mu.Unlock()
		return plane.isolated["us-east-1"]
	}
	move := func(to string) {
		t.Helper()
		acls, err := c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: filter})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acls.NetworkAcls {
			for _, as := range a.Associations {
				if awssdk.ToString(as.NetworkAclId) == to {
					continue
				}
				if _, err := c.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: as.NetworkAclAssociationId, NetworkAclId: awssdk.String(to)}); err != nil {
					t.Fatal(err)
				}
				// #22 item 5: a subnet is cut as it is moved, not when the
				// last one is (VPC User Guide: an ACL applies to the
				// subnets associated with it). Before, the region stayed
				// reachable until every subnet was on the deny-all ACL.
				if to == denyID && !isolated() {
					t.Fatalf("subnet %s is on the deny-all ACL, yet the region's client path is not cut", awssdk.ToString(as.SubnetId))
				}
			}
		}
	}
	move(denyID)
	if !isolated() || len(srv.IsolatedRegions()) != 1 {
		t.Fatalf("every subnet on the deny-all ACL, yet the region's client path is not cut (%v)", srv.IsolatedRegions())
	}
	if _, err := c.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: awssdk.String(denyID)}); !isCode(err, "DependencyViolation") {
		t.Fatalf("deleting an ACL in use: %v, want DependencyViolation", err)
	}
	move("acl-1")
	if isolated() {
		t.Fatal("the subnets are back on their ACL, yet the region is still cut off")
	}
	if _, err := c.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: awssdk.String(denyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: awssdk.String(denyID)}); !isCode(err, "InvalidNetworkAclID.NotFound") {
		t.Fatalf("deleting it again: %v, want InvalidNetworkAclID.NotFound", err)
	}
	if len(srv.DenyACLs()) != 0 {
		t.Fatalf("ACLs left: %v", srv.DenyACLs())
	}
}

// #22 item 7: AWS answers each client in the protocol it sent. The SDK's
// own CloudWatch and SQS clients, each set to one protocol its service
// accepts (CloudWatch: rpcv2Cbor, awsJson1_0, awsQuery; SQS: awsJson1_0,
// awsQuery), write and read through the twin, the modelled errors
// arriving typed with their awsQuery codes. Before, the twin answered
// CloudWatch in CBOR and SQS in JSON whatever the request was.
func TestCloudWatchAndSQSAnswerEachProtocolTheyAccept(t *testing.T) {
	lag := 40.0
	plane := &fixedPlane{primary: "us-east-1", regions: map[string]RegionState{"us-east-1": {Available: true}, "us-west-2": {Available: true, LagMs: &lag}}}
	st := testStack()
	topic := "arn:aws:sns:us-west-2:123456789012:alerts"
	st.Topics = []string{topic}
	// Kind: the queue's policy is enforced at once here, for the
	// round trip; its propagation is TestSQSPolicyTakesUpToAMinute's.
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", Worst: Kind}, st, plane)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	cfg := sdkConfig(t, srv.Endpoint(), "us-west-2")
	region := []cwtypes.Dimension{{Name: awssdk.String("Region"), Value: awssdk.String("us-west-2")}}

	for _, p := range []smithyhttp.ClientProtocol{awsquery.New(cwschemas.GraniteServiceVersion20100801),
		awsjson.New10(cwschemas.GraniteServiceVersion20100801), rpcv2.NewCBOR(cwschemas.GraniteServiceVersion20100801)} {
		proto := p.ID().Name
		t.Run("CloudWatch/"+proto, func(t *testing.T) {
			cw := cloudwatch.NewFromConfig(cfg, func(o *cloudwatch.Options) { o.Protocol = p })
			ns := "DRDrill/" + proto
			at := time.Now().Add(-time.Second).Truncate(time.Millisecond)
			if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String(ns), MetricData: []cwtypes.MetricDatum{
				{MetricName: awssdk.String("Probe"), Dimensions: region, Timestamp: awssdk.Time(at), Value: awssdk.Float64(7.5)}}}); err != nil {
				t.Fatalf("%s: PutMetricData: %v", proto, err)
			}
			start := at.Add(-time.Second)
			got, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: awssdk.Time(start), EndTime: awssdk.Time(time.Now().Add(time.Second)),
				MetricDataQueries: []cwtypes.MetricDataQuery{{Id: awssdk.String("m"), MetricStat: &cwtypes.MetricStat{Period: awssdk.Int32(60), Stat: awssdk.String("Maximum"),
					Metric: &cwtypes.Metric{Namespace: awssdk.String(ns), MetricName: awssdk.String("Probe"), Dimensions: region}}}}})
			if err != nil || len(got.MetricDataResults) != 1 || len(got.MetricDataResults[0].Values) != 1 || got.MetricDataResults[0].Values[0] != 7.5 ||
				!got.MetricDataResults[0].Timestamps[0].Equal(start.Truncate(time.Minute)) || awssdk.ToString(got.MetricDataResults[0].Id) != "m" {
				t.Fatalf("%s: GetMetricData: %+v, %v", proto, got, err)
			}
			alarms, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"lag-secondary"}})
			if err != nil || len(alarms.MetricAlarms) != 1 {
				t.Fatalf("%s: DescribeAlarms: %+v, %v", proto, alarms, err)
			}
			if a := alarms.MetricAlarms[0]; awssdk.ToFloat64(a.Threshold) != 500 || len(a.Dimensions) != 1 || awssdk.ToString(a.Dimensions[0].Value) != "s" ||
				a.StateValue == "" || a.StateUpdatedTimestamp == nil || a.StateUpdatedTimestamp.IsZero() {
				t.Fatalf("%s: the alarm as read: %+v", proto, a)
			}
			if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: awssdk.String("lag-secondary"), StateValue: cwtypes.StateValueOk,
				StateReason: awssdk.String(proto)}); err != nil {
				t.Fatalf("%s: SetAlarmState: %v", proto, err)
			}
			var nf *cwtypes.ResourceNotFound
			_, err = cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: awssdk.String("nope"), StateValue: cwtypes.StateValueOk, StateReason: awssdk.String("x")})
			if !errors.As(err, &nf) || nf.ErrorCode() != "ResourceNotFound" {
				t.Fatalf("%s: SetAlarmState of no alarm: %v, want the SDK's ResourceNotFound", proto, err)
			}
			// The modelled error from its awsQuery code (MissingParameter): in
			// awsQuery the code itself, in JSON and CBOR the error type with
			// the code in X-Amzn-Query-Error, which the SDK reports.
			var missing *cwtypes.MissingRequiredParameterException
			_, err = cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String(ns)})
			if !errors.As(err, &missing) || (proto != "awsQuery" && missing.ErrorCode() != "MissingParameter") {
				t.Fatalf("%s: PutMetricData without data: %v, want the SDK's MissingRequiredParameterException (MissingParameter)", proto, err)
			}
		})
	}

	for _, p := range []smithyhttp.ClientProtocol{awsquery.New(sqsschemas.AmazonSQS), awsjson.New10(sqsschemas.AmazonSQS)} {
		proto := p.ID().Name
		t.Run("SQS/"+proto, func(t *testing.T) {
			q := sqs.NewFromConfig(cfg, func(o *sqs.Options) { o.Protocol = p })
			name := "proof-" + strings.ToLower(strings.ReplaceAll(proto, "_", "-"))
			arn := "arn:aws:sqs:us-west-2:123456789012:" + name
			policy := `{"Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"sqs:SendMessage","Resource":"` + arn +
				`","Condition":{"ArnEquals":{"aws:SourceArn":"` + topic + `"}}}]}`
			created, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: awssdk.String(name), Attributes: map[string]string{"Policy": policy}})
			if err != nil {
				t.Fatalf("%s: CreateQueue: %v", proto, err)
			}
			time.Sleep(QueueSettle) // SQS: a new queue cannot be used for a second
			url := awssdk.ToString(created.QueueUrl)
			if _, err := q.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: created.QueueUrl, Attributes: map[string]string{"VisibilityTimeout": "7"}}); err != nil {
				t.Fatalf("%s: SetQueueAttributes: %v", proto, err)
			}
			attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
			if err != nil || attrs.Attributes["QueueArn"] != arn || attrs.Attributes["Policy"] != policy || attrs.Attributes["VisibilityTimeout"] != "7" {
				t.Fatalf("%s: GetQueueAttributes: %+v, %v", proto, attrs, err)
			}
			if l, err := q.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: awssdk.String(name)}); err != nil || len(l.QueueUrls) != 1 || l.QueueUrls[0] != url {
				t.Fatalf("%s: ListQueues: %+v, %v", proto, l, err)
			}
			notify := sns.NewFromConfig(cfg)
			if _, err := notify.Subscribe(ctx, &sns.SubscribeInput{TopicArn: awssdk.String(topic), Protocol: awssdk.String("sqs"), Endpoint: awssdk.String(arn)}); err != nil {
				t.Fatal(err)
			}
			if _, err := notify.Publish(ctx, &sns.PublishInput{TopicArn: awssdk.String(topic), Subject: awssdk.String("ALARM"), Message: awssdk.String(`{"AlarmName":"lag-secondary"} & <more>`)}); err != nil {
				t.Fatal(err)
			}
			got, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: created.QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
			if err != nil || len(got.Messages) != 1 || !strings.Contains(awssdk.ToString(got.Messages[0].Body), `lag-secondary`) || awssdk.ToString(got.Messages[0].ReceiptHandle) == "" {
				t.Fatalf("%s: ReceiveMessage: %+v, %v", proto, got, err)
			}
			if _, err := q.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: created.QueueUrl}); err != nil {
				t.Fatalf("%s: DeleteQueue: %v", proto, err)
			}
			var gone *sqstypes.QueueDoesNotExist
			_, err = q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: created.QueueUrl})
			if !errors.As(err, &gone) || (proto != "awsQuery" && gone.ErrorCode() != "AWS.SimpleQueueService.NonExistentQueue") {
				t.Fatalf("%s: a deleted queue: %v, want the SDK's QueueDoesNotExist (AWS.SimpleQueueService.NonExistentQueue)", proto, err)
			}
		})
	}
}

// A request in a protocol its service does not accept is refused in that
// protocol, naming what the service accepts; one the twin cannot place is
// refused in the protocol it came in too.
func TestAProtocolTheServiceDoesNotAcceptIsRefused(t *testing.T) {
	srv, _ := startFixed(t, 1)
	ctx := context.Background()
	cfg := sdkConfig(t, srv.Endpoint(), "us-east-1")
	// RDS is awsQuery only: a client speaking CBOR to it is told so in CBOR.
	_, err := rds.NewFromConfig(cfg, func(o *rds.Options) { o.Protocol = rpcv2.NewCBOR(rdsschemas.AmazonRDSv19) }).
		DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "UnknownOperationException" || !strings.Contains(api.ErrorMessage(), "rds does not accept rpcv2Cbor requests (it accepts [awsQuery])") {
		t.Fatalf("CBOR to RDS: %v, want UnknownOperationException naming the protocols RDS accepts", err)
	}
}
