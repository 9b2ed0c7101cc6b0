package aws

import (
	"context"
	"fmt"
	"github.com/drdrill/drdrill/internal/healthmetric"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"

	"github.com/drdrill/drdrill/internal/outputs"
)

// HealthStatusAPI reads what Route 53's checkers report.
type HealthStatusAPI interface {
	GetHealthCheckStatus(context.Context, *route53.GetHealthCheckStatusInput, ...func(*route53.Options)) (*route53.GetHealthCheckStatusOutput, error)
}

// Observation is one AWS-side measurement taken during a drill.
type Observation struct {
	Kind   string // lag_ms, alarm, health_check, global_cluster
	Region string
	Name   string
	Value  float64 // lag in ms; health: fraction of checkers reporting success
	State  string  // alarm state, or the health summary
	TimeNs int64
}

// Observe samples what AWS itself says about the stack: the replication-lag
// metric of whichever region is secondary now (it moves with the role), the lag alarms, and the Route 53 health checks. Failures
// to read are skipped, not fatal: a region may be the one that is down.
func (s *Stack) Observe(ctx context.Context) []Observation {
	now := time.Now().UnixNano()
	var obs []Observation
	g, err := s.globalCluster(ctx)
	writer, failoverState := "", ""
	if err == nil {
		writer, failoverState, err = s.writerOf(g)
	}
	if err == nil {
		// Roles and failover state, so promotions on AWS show in the history.
		state := failoverState
		if state == "" {
			state = "none"
		}
		obs = append(obs, Observation{Kind: "global_cluster", Region: writer, Name: "writer", State: state, TimeNs: now})
		sec, cluster := s.Secondary, s.Out[outputs.SecondaryClusterIdentifier]
		if writer == s.Secondary.Region {
			sec, cluster = s.Primary, s.Out[outputs.PrimaryClusterIdentifier]
		}
		if cw, ok := sec.Alarms.(CloudWatchAPI); ok && cluster != "" {
			// The metric the engine version publishes (AuroraGlobalDBRPOLag
			// from Aurora MySQL 3.04 and 2.12 on), its one-minute Maximum.
			metric := healthmetric.LagMetricFor(g.engineVersion)
			if v, at, ok, err := healthmetric.LatestLag(ctx, cw, metric, "DBClusterIdentifier", cluster, 5*time.Minute); err == nil && ok {
				// The sample is stamped with its datapoint's time, not the read.
				ts := now
				if !at.IsZero() {
					ts = at.UnixNano()
				}
				obs = append(obs, Observation{Kind: "lag_ms", Region: sec.Region, Name: metric, Value: v, TimeNs: ts})
			}
		}
	}
	name := s.Out[outputs.ReplicationLagAlarmName]
	if states, err := s.AlarmStates(ctx, []string{name, strings.TrimSuffix(name, "-secondary") + "-primary"}); err == nil {
		for n, st := range states {
			obs = append(obs, Observation{Kind: "alarm", Name: n, State: st, TimeNs: now})
		}
	}
	if hs, ok := s.Route53.(HealthStatusAPI); ok {
		for _, id := range []string{s.Out["PrimaryHealthCheckId"], s.Out["SecondaryHealthCheckId"]} {
			out, err := hs.GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: awssdk.String(id)})
			if err != nil || len(out.HealthCheckObservations) == 0 {
				continue
			}
			good := 0
			for _, o := range out.HealthCheckObservations {
				if o.StatusReport != nil && strings.HasPrefix(awssdk.ToString(o.StatusReport.Status), "Success") {
					good++
				}
			}
			frac := float64(good) / float64(len(out.HealthCheckObservations))
			state := "Unhealthy"
			if frac > 0.18 { // Route 53: healthy when more than 18 % of checkers say so
				state = "Healthy"
			}
			obs = append(obs, Observation{Kind: "health_check", Name: id, Value: frac, State: state, TimeNs: now})
		}
	}
	return obs
}

// FailoverDecisions are the moments since a time at which the failover
// trigger decided to fail over, from the FailoverDecisions metric it puts
// in its own region (the stack's secondary) at one-second resolution.
func (s *Stack) FailoverDecisions(ctx context.Context, since time.Time) ([]time.Time, error) {
	cw, ok := s.Secondary.Alarms.(CloudWatchAPI)
	if !ok {
		return nil, fmt.Errorf("no CloudWatch client for %s", s.Secondary.Region)
	}
	out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: awssdk.Time(since.Truncate(time.Second)), EndTime: awssdk.Time(time.Now().Add(time.Second)), ScanBy: cwtypes.ScanByTimestampAscending,
		MetricDataQueries: []cwtypes.MetricDataQuery{{Id: awssdk.String("d"), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: awssdk.String(healthmetric.Namespace), MetricName: awssdk.String(healthmetric.MetricFailoverDecisions),
				Dimensions: []cwtypes.Dimension{{Name: awssdk.String("Region"), Value: awssdk.String(s.Secondary.Region)}}},
			Period: awssdk.Int32(1), Stat: awssdk.String("Sum")}}},
	})
	if err != nil {
		return nil, fmt.Errorf("GetMetricData %s in %s: %w", healthmetric.MetricFailoverDecisions, s.Secondary.Region, err)
	}
	var at []time.Time
	for _, r := range out.MetricDataResults {
		at = append(at, r.Timestamps...)
	}
	return at, nil
}
