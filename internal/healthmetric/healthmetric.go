// Package healthmetric is the stack's health metrics as the functions put
// them and everyone reads them back: their names and namespace, the
// replication-lag metric an engine version publishes, and one-statistic
// queries of CloudWatch. The health monitor, the failover trigger and the
// harness share it; it imports CloudWatch's client types and nothing else.
package healthmetric

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// CloudWatchAPI is the part of the CloudWatch client the metrics need.
type CloudWatchAPI interface {
	PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
	GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// Namespace is where the functions publish their custom metrics.
const Namespace = "DRDrill"

// Custom metric names (dimension Region).
const (
	MetricRegionHealthy = "RegionHealthy" // this region's cluster: 1 healthy, 0 not
	MetricProbeLatency  = "ProbeLatency"  // ms of the SQL probe
	MetricPeerHealthy   = "PeerHealthy"   // the other region's cluster, probed across the peering
	// MetricFailoverDecisions is 1 at each moment the trigger decided to
	// fail over (high resolution: the drill reads it as the detection time).
	MetricFailoverDecisions = "FailoverDecisions"
)

// Dimension is the Region dimension of the custom metrics.
func Dimension(region string) []cwtypes.Dimension {
	return []cwtypes.Dimension{{Name: awssdk.String("Region"), Value: awssdk.String(region)}}
}

// LagMetricFor picks the replication-lag metric AWS recommends for an
// aurora-mysql engine version: AuroraGlobalDBRPOLag from 3.04 (and 2.12),
// AuroraGlobalDBReplicationLag before.
func LagMetricFor(engineVersion string) string {
	// e.g. "8.0.mysql_aurora.3.05.2" or "5.7.mysql_aurora.2.12.1"
	_, v, ok := strings.Cut(engineVersion, "mysql_aurora.")
	if !ok {
		return "AuroraGlobalDBReplicationLag"
	}
	f := strings.Split(v, ".")
	if len(f) < 2 {
		return "AuroraGlobalDBReplicationLag"
	}
	major, _ := strconv.Atoi(f[0])
	minor, _ := strconv.Atoi(f[1])
	if (major == 3 && minor >= 4) || major > 3 || (major == 2 && minor >= 12) {
		return "AuroraGlobalDBRPOLag"
	}
	return "AuroraGlobalDBReplicationLag"
}

// PeriodSeconds is the CloudWatch period for a check period: the
// monitors' metrics are standard resolution, one datapoint a minute, so a
// period is whole minutes, at least one. (On the twin, whose scaled
// minute is shorter, the check period is shorter too; the twin scales the
// 60 s it is asked for the same way.)
func PeriodSeconds(d time.Duration) int32 {
	m := int32(math.Ceil(d.Minutes()))
	if m < 1 {
		m = 1
	}
	return 60 * m
}

// LatestLag returns the newest one-minute Maximum of a lag metric over the
// window and that datapoint's own timestamp. Maximum, because lag is a
// bound on data at risk (Minimum under-reports a spike within the
// minute); the datapoint's time, because it can be minutes older than the
// moment it is read.
func LatestLag(ctx context.Context, cw CloudWatchAPI, name, dimName, dimValue string, window time.Duration) (float64, time.Time, bool, error) {
	res, err := Query(ctx, cw, "AWS/RDS", name, dimName, dimValue, window, time.Minute, "Maximum")
	if err != nil || len(res.Values) == 0 {
		return 0, time.Time{}, false, err
	}
	var at time.Time
	if len(res.Timestamps) > 0 {
		at = res.Timestamps[0]
	}
	return res.Values[0], at, true, nil
}

// Query queries one statistic of a metric, newest datapoint first.
func Query(ctx context.Context, cw CloudWatchAPI, ns, name, dimName, dimValue string, window, period time.Duration, stat string) (cwtypes.MetricDataResult, error) {
	now := time.Now()
	out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: awssdk.Time(now.Add(-window)), EndTime: awssdk.Time(now), ScanBy: cwtypes.ScanByTimestampDescending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: awssdk.String("m"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: awssdk.String(ns), MetricName: awssdk.String(name),
				Dimensions: []cwtypes.Dimension{{Name: awssdk.String(dimName), Value: awssdk.String(dimValue)}}},
			Period: awssdk.Int32(PeriodSeconds(period)), Stat: awssdk.String(stat)}}},
	})
	if err != nil {
		return cwtypes.MetricDataResult{}, fmt.Errorf("GetMetricData %s: %w", name, err)
	}
	if len(out.MetricDataResults) == 0 {
		return cwtypes.MetricDataResult{}, errors.New("GetMetricData returned no result")
	}
	return out.MetricDataResults[0], nil
}
