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
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
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
func (p *fixedPlane) Promote(context.Context, string, bool) error { return nil }
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
	var api smithy.APIError
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String("x")}); !errors.As(err, &api) || !strings.Contains(api.ErrorCode(), "MissingRequiredParameter") {
		t.Fatalf("PutMetricData without data: %v", err)
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
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012"}, st, plane)
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
				// One subnet moved is not yet the whole region.
				if to == denyID && isolated() && awssdk.ToString(as.SubnetId) == "subnet-a" {
					t.Fatal("the region was cut off with one of its subnets still on the open ACL")
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
