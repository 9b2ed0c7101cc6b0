package aws

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drdrill/drdrill/internal/awstest"
	"github.com/drdrill/drdrill/internal/outputs"
)

// Observe reads the lag metric where it lives now: after a failover the
// writer is the secondary cluster, so the metric is the primary region's.
func TestObserveFollowsTheSecondaryRole(t *testing.T) {
	out := outputs.Outputs{"GlobalClusterIdentifier": "g", "PrimaryRegion": "us-east-1", "SecondaryRegion": "us-west-2",
		"PrimaryClusterIdentifier": "c-primary", "SecondaryClusterIdentifier": "c-secondary",
		"PrimaryClusterArn": "arn:p", "SecondaryClusterArn": "arn:s", "ReplicationLagAlarmName": "lag-secondary",
		"PrimaryHealthCheckId": "hc-1", "SecondaryHealthCheckId": "hc-2"}
	s := awstest.New()
	s.On("RDS.DescribeGlobalClusters", func(awstest.Call) (any, error) {
		return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{{EngineVersion: awssdk.String("8.0.mysql_aurora.3.05.2"), GlobalClusterMembers: []rdstypes.GlobalClusterMember{
			{DBClusterArn: awssdk.String("arn:p"), IsWriter: awssdk.Bool(false)}, {DBClusterArn: awssdk.String("arn:s"), IsWriter: awssdk.Bool(true)}}}}}, nil
	})
	var lagQuery awstest.Call
	datapoint := time.Now().Add(-90 * time.Second).Truncate(time.Minute)
	s.On("CloudWatch.GetMetricData", func(c awstest.Call) (any, error) {
		lagQuery = c
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{{Values: []float64{120, 80}, Timestamps: []time.Time{datapoint, datapoint.Add(-time.Minute)}}}}, nil
	})
	s.On("CloudWatch.DescribeAlarms", func(c awstest.Call) (any, error) {
		var out cloudwatch.DescribeAlarmsOutput
		for _, n := range c.Params.(*cloudwatch.DescribeAlarmsInput).AlarmNames {
			out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{AlarmName: awssdk.String(n), StateValue: cwtypes.StateValueOk})
		}
		return &out, nil
	})
	s.On("Route 53.GetHealthCheckStatus", func(awstest.Call) (any, error) {
		return &route53.GetHealthCheckStatusOutput{HealthCheckObservations: []r53types.HealthCheckObservation{
			{StatusReport: &r53types.StatusReport{Status: awssdk.String("Success: HTTP Status Code 200")}},
			{StatusReport: &r53types.StatusReport{Status: awssdk.String("Failure: alarm")}}}}, nil
	})
	reg := func(region string) Regional {
		cfg := s.Config(t, region)
		return Regional{Region: region, RDS: rds.NewFromConfig(cfg), Alarms: cloudwatch.NewFromConfig(cfg)}
	}
	st := &Stack{Out: out, Primary: reg("us-east-1"), Secondary: reg("us-west-2"), Route53: route53Client(t, s)}
	obs := st.Observe(context.Background())
	kinds := map[string]Observation{}
	for _, o := range obs {
		kinds[o.Kind+"/"+o.Name] = o
	}
	lag, ok := kinds["lag_ms/AuroraGlobalDBRPOLag"]
	if !ok || lag.Region != "us-east-1" || lag.Value != 120 || lagQuery.Region != "us-east-1" {
		t.Fatalf("lag %+v (queried in %s); observations %+v", lag, lagQuery.Region, obs)
	}
	// Maximum over the minute (Minimum under-reports lag), stamped with the
	// datapoint's own time, not the moment it was read.
	if st := awssdk.ToString(lagQuery.Params.(*cloudwatch.GetMetricDataInput).MetricDataQueries[0].MetricStat.Stat); st != "Maximum" {
		t.Fatalf("lag read with statistic %s, want Maximum", st)
	}
	if lag.TimeNs != datapoint.UnixNano() {
		t.Fatalf("lag stamped %v, want its datapoint's time %v", time.Unix(0, lag.TimeNs), datapoint)
	}
	q := lagQuery.Params.(*cloudwatch.GetMetricDataInput).MetricDataQueries[0].MetricStat.Metric
	if awssdk.ToString(q.Dimensions[0].Value) != "c-primary" {
		t.Fatalf("lag queried for %s, want the primary region's cluster (now secondary)", awssdk.ToString(q.Dimensions[0].Value))
	}
	if hc := kinds["health_check/hc-1"]; hc.Value != 0.5 || hc.State != "Healthy" {
		t.Fatalf("health check %+v", hc)
	}
	if g := kinds["global_cluster/writer"]; g.Region != "us-west-2" || g.State != "none" {
		t.Fatalf("global cluster %+v", g)
	}
	if a := kinds["alarm/lag-secondary"]; a.State != "OK" {
		t.Fatalf("alarm %+v", a)
	}
	if obs[0].TimeNs == 0 || time.Since(time.Unix(0, obs[0].TimeNs)) > time.Minute {
		t.Fatal("observations carry no time")
	}
}

func route53Client(t *testing.T, s *awstest.Stub) *route53.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), append([]func(*config.LoadOptions) error{config.WithRegion("us-east-1")}, s.Options()...)...)
	if err != nil {
		t.Fatal(err)
	}
	return route53.NewFromConfig(cfg)
}
