// Package trigger is the failover-trigger function (lambda/failovertrigger,
// in the secondary region): from the monitors' metrics in both regions it
// decides, with the decision package the lab's controller shares, whether
// to fail the global database over, switch it over or leave it, acts
// through RDS and notifies SNS. It imports only the SDK clients it calls:
// RDS, CloudWatch and SNS.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/decision"
	"github.com/drdrill/drdrill/internal/healthmetric"
	"github.com/drdrill/drdrill/internal/lambdaenv"
)

// Config configures the failover trigger, which runs in the
// secondary region so that it survives the loss of the primary.
type Config struct {
	Region          string // where the trigger runs (the secondary region)
	PrimaryRegion   string
	GlobalClusterID string
	// TargetClusterARN is the secondary cluster: the only cluster this
	// function will ever promote.
	TargetClusterARN string
	Threshold        int // consecutive unhealthy checks before a failover
	TopicARN         string
	DryRun           bool
	Period           time.Duration // the monitors' schedule (1 minute)
}

// ConfigFromEnv reads DRDRILL_* settings; every missing one is named.
func ConfigFromEnv(get func(string) string) (Config, error) {
	e := lambdaenv.New(get)
	c := Config{Region: e.Req("AWS_REGION"), PrimaryRegion: e.Req("DRDRILL_PRIMARY_REGION"),
		GlobalClusterID: e.Req("DRDRILL_GLOBAL_CLUSTER_ID"), TargetClusterARN: e.Req("DRDRILL_TARGET_CLUSTER_ARN"),
		TopicARN: e.Req("DRDRILL_SNS_TOPIC_ARN")}
	var err error
	if c.Threshold, err = e.Int("DRDRILL_FAILURE_THRESHOLD", 3); err != nil {
		return c, err
	}
	if c.Period, err = e.Duration("DRDRILL_CHECK_PERIOD", time.Minute); err != nil {
		return c, err
	}
	switch v := e.Opt("DRDRILL_DRY_RUN", "false"); v {
	case "true", "1":
		c.DryRun = true
	case "false", "0":
	default:
		return c, fmt.Errorf("DRDRILL_DRY_RUN=%q: want true or false", v)
	}
	return c, e.Err()
}

// Trigger is the failover-trigger function.
type Trigger struct {
	Cfg Config
	RDS RDSAPI
	CW  healthmetric.CloudWatchAPI // the trigger's own region: the secondary monitor's view of the primary
	// PrimaryCW is CloudWatch in the primary region, where the primary's
	// own monitor reports on it. The trigger runs outside any VPC, so this
	// read goes over AWS's public endpoint, not the peering that the
	// cross-region probe uses: a cut peering cannot fake both. Nil: the
	// second signal is not checked.
	PrimaryCW healthmetric.CloudWatchAPI
	SNS       SNSAPI
	Log       *slog.Logger
}

// Result is the decision, what was done, and why.
type Result struct {
	Decision    decision.Decision `json:"decision"`
	Operation   string            `json:"operation,omitempty"` // the RDS call made, if any
	DryRun      bool              `json:"dry_run"`
	Primary     decision.Health   `json:"primary"`
	Secondary   decision.Health   `json:"secondary"`
	FailStreak  int               `json:"primary_fail_streak"`
	FailoverSet string            `json:"failover_state,omitempty"`
	// PrimaryOwnView is what the primary region's own monitor last said
	// of it, and Evidence why the trigger reads it so.
	PrimaryOwnView decision.OwnView `json:"primary_own_view,omitempty"`
	Evidence       []string         `json:"evidence,omitempty"`
	// NotifyError is a failed SNS notification of this decision. It does not
	// fail the invocation: RDS may already have acted, and a retried
	// invocation would decide again on a world that has moved on.
	NotifyError string `json:"notify_error,omitempty"`
}

// request is the optional explicit request an operator or runbook sends.
type request struct {
	Action string `json:"action"` // "switchover" asks for a planned role swap
}

// Run evaluates one invocation: from the schedule, the alarm path (SNS or
// an EventBridge alarm-state rule) or an operator request.
func (t *Trigger) Run(ctx context.Context, event []byte) (Result, error) {
	c := t.Cfg
	var req request
	_ = json.Unmarshal(event, &req) // schedule and alarm events carry no action

	gc, err := t.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &c.GlobalClusterID})
	if err != nil {
		return Result{}, fmt.Errorf("DescribeGlobalClusters %s: %w", c.GlobalClusterID, err)
	}
	if len(gc.GlobalClusters) == 0 {
		return Result{}, fmt.Errorf("global cluster %s not found", c.GlobalClusterID)
	}
	g := gc.GlobalClusters[0]
	res := Result{DryRun: c.DryRun}
	member, targetIsWriter := false, false
	for _, m := range g.GlobalClusterMembers {
		if awssdk.ToString(m.DBClusterArn) == c.TargetClusterARN {
			member, targetIsWriter = true, awssdk.ToBool(m.IsWriter)
		}
	}
	if !member {
		return res, fmt.Errorf("target cluster %s is not a member of global cluster %s: refusing to act", c.TargetClusterARN, c.GlobalClusterID)
	}
	inProgress := false
	if g.FailoverState != nil && g.FailoverState.Status != "" {
		inProgress = true
		res.FailoverSet = string(g.FailoverState.Status)
	}
	// The primary as the secondary region sees it: its monitor's probe of
	// the primary across the peering (PeerHealthy), newest first, by the
	// datapoints' own timestamps. Missing data is unknown, never
	// unhealthy: a broken monitor must not fail over.
	now := time.Now()
	res.Primary = decision.Health{Region: c.PrimaryRegion}
	peer, err := healthmetric.Query(ctx, t.CW, healthmetric.Namespace, healthmetric.MetricPeerHealthy, "Region", c.PrimaryRegion, time.Duration(2*(c.Threshold+1))*c.Period, c.Period, "Minimum")
	if err != nil {
		res.Evidence = append(res.Evidence, "PeerHealthy: "+err.Error())
	} else {
		var why string
		res.Primary.Known, res.Primary.Reachable, res.FailStreak, why = FailStreak(peer.Values, peer.Timestamps, now, c.Period)
		res.Evidence = append(res.Evidence, "PeerHealthy: "+why)
	}
	res.PrimaryOwnView = decision.OwnViewUnchecked
	if t.PrimaryCW != nil {
		var why string
		res.PrimaryOwnView, why = t.ownView(ctx, now)
		res.Evidence = append(res.Evidence, "RegionHealthy in "+c.PrimaryRegion+": "+why)
	}
	res.Secondary = decision.Health{Region: c.Region}
	dc, err := t.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: &c.TargetClusterARN})
	if err == nil && len(dc.DBClusters) > 0 {
		res.Secondary.Known = true
		res.Secondary.Reachable = awssdk.ToString(dc.DBClusters[0].Status) == "available"
	}
	if targetIsWriter {
		res.Decision = decision.Decision{Action: decision.None, Reasons: []string{"the target cluster is already the primary; drdrill never fails back automatically"}}
	} else {
		res.Decision = decision.Decide(decision.Input{Primary: res.Primary, Secondary: res.Secondary, PrimaryFailStreak: res.FailStreak,
			FailureThreshold: c.Threshold, AutoFailover: true, InProgress: inProgress, SwitchoverRequested: req.Action == "switchover",
			PrimaryOwnView: res.PrimaryOwnView})
	}
	decidedAt := time.Now()
	defer t.recordDecision(ctx, res, decidedAt)
	if err := t.act(ctx, &res); err != nil {
		if perr := t.publish(ctx, res, err); perr != nil {
			res.NotifyError = perr.Error()
		}
		return res, err
	}
	if err := t.publish(ctx, res, nil); err != nil {
		res.NotifyError = err.Error()
		if t.Log != nil {
			t.Log.Error("failover decision taken but not notified", "operation", res.Operation, "error", err.Error())
		}
	}
	return res, nil
}

func (t *Trigger) act(ctx context.Context, res *Result) error {
	c := t.Cfg
	switch res.Decision.Action {
	case decision.Failover:
		res.Operation = "FailoverGlobalCluster"
		if c.DryRun {
			return nil
		}
		_, err := t.RDS.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: &c.GlobalClusterID,
			TargetDbClusterIdentifier: &c.TargetClusterARN, AllowDataLoss: awssdk.Bool(true)})
		return err
	case decision.Switchover:
		res.Operation = "SwitchoverGlobalCluster"
		if c.DryRun {
			return nil
		}
		_, err := t.RDS.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: &c.GlobalClusterID,
			TargetDbClusterIdentifier: &c.TargetClusterARN})
		return err
	}
	// Fence: Aurora fences the old primary itself (best effort) during a
	// managed failover; the trigger reports it. Wait and None: nothing.
	return nil
}

// recordDecision puts a failover decision's moment into CloudWatch, to the
// second (StorageResolution 1), after the decision has been acted on: the
// drill reads it as the time the stack detected the outage, which splits
// its RTO into detection and promotion as the lab's controller events do.
// A failed put is logged, never an invocation error.
func (t *Trigger) recordDecision(ctx context.Context, res Result, at time.Time) {
	if res.Decision.Action != decision.Failover {
		return
	}
	_, err := t.CW.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String(healthmetric.Namespace), MetricData: []cwtypes.MetricDatum{{
		MetricName: awssdk.String(healthmetric.MetricFailoverDecisions), Dimensions: healthmetric.Dimension(t.Cfg.Region), Value: awssdk.Float64(1),
		Unit: cwtypes.StandardUnitCount, Timestamp: &at, StorageResolution: awssdk.Int32(1)}}})
	if err != nil && t.Log != nil {
		t.Log.Error("failover decision not recorded in CloudWatch", "error", err.Error())
	}
}

// publish sends every decision, with its reasons, to SNS and the log.
func (t *Trigger) publish(ctx context.Context, res Result, actErr error) error {
	body := map[string]any{"result": res}
	if actErr != nil {
		body["error"] = actErr.Error()
	}
	b, _ := json.Marshal(body)
	if t.Log != nil {
		t.Log.Info("failover decision", "action", res.Decision.Action, "target", res.Decision.Target, "reasons", res.Decision.Reasons,
			"operation", res.Operation, "dry_run", res.DryRun, "error", actErr)
	}
	subject := fmt.Sprintf("drdrill failover trigger: %s", res.Decision.Action)
	if res.DryRun && res.Operation != "" {
		subject += " (dry run: " + res.Operation + " not called)"
	}
	_, err := t.SNS.Publish(ctx, &sns.PublishInput{TopicArn: &t.Cfg.TopicARN, Subject: awssdk.String(subject), Message: awssdk.String(string(b))})
	if err != nil {
		return fmt.Errorf("SNS Publish: %w", err)
	}
	return nil
}

// FailStreak reads a health metric's datapoints (newest first, with their
// timestamps) as a run of failed checks. Only datapoints count, never the
// periods between them: a gap is a monitor that did not report, not a
// failure. The newest datapoint must be fresh, or the series says nothing
// about the present: within three periods of now, since a datapoint is
// stamped with its period's start and a check that runs with this one has
// not reported yet; and the run stops at a
// healthy datapoint or at a gap longer than two periods, beyond which
// older failures belong to another incident.
func FailStreak(vals []float64, ts []time.Time, now time.Time, period time.Duration) (known, reachable bool, streak int, why string) {
	if len(vals) == 0 {
		return false, false, 0, "no datapoints"
	}
	if len(ts) != len(vals) {
		return false, false, 0, "datapoints without timestamps"
	}
	if age := now.Sub(ts[0]); age > 3*period {
		return false, false, 0, fmt.Sprintf("the newest datapoint is %s old (stale: more than three periods)", age.Round(time.Millisecond))
	}
	for i, v := range vals {
		if i > 0 && ts[i-1].Sub(ts[i]) > 2*period {
			return true, vals[0] >= 1, streak, fmt.Sprintf("%d failed, then a gap of %s", streak, ts[i-1].Sub(ts[i]).Round(time.Millisecond))
		}
		if v >= 1 {
			break
		}
		streak++
	}
	return true, vals[0] >= 1, streak, fmt.Sprintf("%d failed in a row, newest at %s", streak, ts[0].UTC().Format(time.RFC3339Nano))
}

// ownView reads the primary region's own report on itself: its monitor's
// RegionHealthy, from CloudWatch in that region.
func (t *Trigger) ownView(ctx context.Context, now time.Time) (decision.OwnView, string) {
	c := t.Cfg
	res, err := healthmetric.Query(ctx, t.PrimaryCW, healthmetric.Namespace, healthmetric.MetricRegionHealthy, "Region", c.PrimaryRegion, 4*c.Period, c.Period, "Minimum")
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorFault() != smithy.FaultServer {
			// Denied, throttled or malformed: the trigger's own problem,
			// which says nothing about the region.
			return decision.OwnViewUnreadable, err.Error()
		}
		return decision.OwnViewSilent, "the region's CloudWatch does not answer: " + err.Error()
	}
	if len(res.Values) == 0 || len(res.Timestamps) != len(res.Values) {
		return decision.OwnViewSilent, "no report in the last periods"
	}
	if age := now.Sub(res.Timestamps[0]); age > 3*c.Period {
		return decision.OwnViewSilent, fmt.Sprintf("the newest report is %s old", age.Round(time.Millisecond))
	}
	if res.Values[0] >= 1 {
		return decision.OwnViewHealthy, "healthy at " + res.Timestamps[0].UTC().Format(time.RFC3339Nano)
	}
	return decision.OwnViewUnhealthy, "unhealthy at " + res.Timestamps[0].UTC().Format(time.RFC3339Nano)
}

// RDSAPI is the part of the RDS client the trigger calls.
type RDSAPI interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeGlobalClusters(context.Context, *rds.DescribeGlobalClustersInput, ...func(*rds.Options)) (*rds.DescribeGlobalClustersOutput, error)
	FailoverGlobalCluster(context.Context, *rds.FailoverGlobalClusterInput, ...func(*rds.Options)) (*rds.FailoverGlobalClusterOutput, error)
	SwitchoverGlobalCluster(context.Context, *rds.SwitchoverGlobalClusterInput, ...func(*rds.Options)) (*rds.SwitchoverGlobalClusterOutput, error)
}

// SNSAPI publishes the trigger's decisions.
type SNSAPI interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// NewFromEnv is the trigger's cold-start path: configuration from the
// environment and SDK clients for its region and (CloudWatch) the primary
// region; opts let tests add middleware. It makes no network call.
func NewFromEnv(ctx context.Context, get func(string) string, log *slog.Logger, opts ...func(*config.LoadOptions) error) (*Trigger, error) {
	cfg, err := ConfigFromEnv(get)
	if err != nil {
		return nil, err
	}
	own, err := lambdaenv.AWSConfig(ctx, cfg.Region, opts...)
	if err != nil {
		return nil, err
	}
	// The same credentials and settings, loaded once, for the primary
	// region's CloudWatch.
	primary := own.Copy()
	primary.Region = cfg.PrimaryRegion
	return &Trigger{Cfg: cfg, RDS: rds.NewFromConfig(own), CW: cloudwatch.NewFromConfig(own), PrimaryCW: cloudwatch.NewFromConfig(primary),
		SNS: sns.NewFromConfig(own), Log: log}, nil
}
