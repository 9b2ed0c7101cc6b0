// Package trigger is the failover-trigger function (lambda/failovertrigger,
// in the secondary region): from the monitors' metrics in both regions it
// decides, with the decision package the lab's controller shares, whether
// to fail the global database over, switch it over or leave it — about
// whichever member is the writer now, towards the other — acts through
// RDS and notifies SNS. It imports only the SDK clients it calls:
// RDS, CloudWatch and SNS.
package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
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
	GlobalClusterID string
	// Clusters are the global cluster's members this function may act on,
	// by region (read from their ARNs). Roles change with every switchover
	// and failover: the trigger decides about whichever is the writer now
	// (DescribeGlobalClusters) and fails over to the other. It never acts
	// on any other cluster.
	Clusters  map[string]string
	Threshold int // consecutive unhealthy checks before a failover
	TopicARN  string
	DryRun    bool
	Period    time.Duration // the monitors' schedule (1 minute)
}

// ConfigFromEnv reads DRDRILL_* settings; every missing one is named.
func ConfigFromEnv(get func(string) string) (Config, error) {
	e := lambdaenv.New(get)
	c := Config{Region: e.Req("AWS_REGION"), GlobalClusterID: e.Req("DRDRILL_GLOBAL_CLUSTER_ID"), TopicARN: e.Req("DRDRILL_SNS_TOPIC_ARN")}
	arns := e.Req("DRDRILL_CLUSTER_ARNS")
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
	if err := e.Err(); err != nil {
		return c, err
	}
	if c.Clusters, err = ParseClusters(arns); err != nil {
		return c, err
	}
	return c, nil
}

// ParseClusters reads DRDRILL_CLUSTER_ARNS: the member clusters' ARNs,
// comma-separated, one per region (at least two).
func ParseClusters(list string) (map[string]string, error) {
	out := map[string]string{}
	for _, arn := range strings.Split(list, ",") {
		arn = strings.TrimSpace(arn)
		f := strings.Split(arn, ":")
		if len(f) != 7 || f[0] != "arn" || f[2] != "rds" || f[3] == "" || f[5] != "cluster" {
			return nil, fmt.Errorf("DRDRILL_CLUSTER_ARNS: %q is not a DB cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:ID)", arn)
		}
		if _, dup := out[f[3]]; dup {
			return nil, fmt.Errorf("DRDRILL_CLUSTER_ARNS: two clusters in %s; list one member cluster per region", f[3])
		}
		out[f[3]] = arn
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("DRDRILL_CLUSTER_ARNS=%q: list the global cluster's member clusters (at least two regions)", list)
	}
	return out, nil
}

// Trigger is the failover-trigger function.
type Trigger struct {
	Cfg Config
	// RDS and CW are the clients of each member's region. The writer's
	// health is read twice: across the regions (the other region's
	// monitor's probe of it, PeerHealthy, in that region's CloudWatch) and
	// from inside (its own monitor's RegionHealthy, in its own region). The
	// trigger runs outside any VPC, so the second read goes over AWS's
	// public endpoint, not the peering that the cross-region probe uses: a
	// cut peering cannot fake both. A region without a CloudWatch client
	// has no second signal.
	RDS map[string]RDSAPI
	CW  map[string]healthmetric.CloudWatchAPI
	SNS SNSAPI
	Log *slog.Logger
}

// Result is the decision, what was done, and why.
type Result struct {
	Decision  decision.Decision `json:"decision"`
	Operation string            `json:"operation,omitempty"` // the RDS call made, if any
	DryRun    bool              `json:"dry_run"`
	// Primary is the writer's region now, Secondary the one the trigger
	// would promote.
	Primary     decision.Health `json:"primary"`
	Secondary   decision.Health `json:"secondary"`
	FailStreak  int             `json:"primary_fail_streak"`
	FailoverSet string          `json:"failover_state,omitempty"`
	// PrimaryOwnView is what the writer region's own monitor last said
	// of it, and Evidence why the trigger reads it so.
	PrimaryOwnView decision.OwnView `json:"primary_own_view,omitempty"`
	Evidence       []string         `json:"evidence,omitempty"`
	// NotifyError is a failed SNS notification of this decision. It does not
	// fail the invocation: RDS may already have acted, and a retried
	// invocation would decide again on a world that has moved on.
	NotifyError string `json:"notify_error,omitempty"`
	// Duplicate says why RDS refused the operation as one already done
	// or under way — another invocation's for the same incident (Lambda
	// runs the schedule's, the alarm rule's and the topic's invocations at
	// once, and delivers events more than once). It is not an error.
	Duplicate string `json:"duplicate,omitempty"`
}

// request is the optional explicit request an operator or runbook sends.
type request struct {
	Action string `json:"action"` // "switchover" asks for a planned role swap
}

func (t *Trigger) describe(ctx context.Context) (*rds.DescribeGlobalClustersOutput, error) {
	c := t.Cfg
	var errs []error
	// Its own region first; the global cluster answers in every member's.
	for _, r := range append([]string{c.Region}, t.regions()...) {
		api := t.RDS[r]
		if api == nil {
			continue
		}
		out, err := api.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &c.GlobalClusterID})
		if err == nil {
			return out, nil
		}
		errs = append(errs, fmt.Errorf("in %s: %w", r, err))
	}
	return nil, fmt.Errorf("DescribeGlobalClusters %s: %w", c.GlobalClusterID, errors.Join(errs...))
}

// regions are the members' regions in order.
func (t *Trigger) regions() []string {
	var out []string
	for r := range t.Cfg.Clusters {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Run evaluates one invocation: from the schedule, the alarm path (SNS or
// an EventBridge alarm-state rule) or an operator request.
func (t *Trigger) Run(ctx context.Context, event []byte) (Result, error) {
	c := t.Cfg
	var req request
	_ = json.Unmarshal(event, &req) // schedule and alarm events carry no action

	gc, err := t.describe(ctx)
	if err != nil {
		return Result{}, err
	}
	if len(gc.GlobalClusters) == 0 {
		return Result{}, fmt.Errorf("global cluster %s not found", c.GlobalClusterID)
	}
	g := gc.GlobalClusters[0]
	res := Result{DryRun: c.DryRun}
	members := map[string]rdstypes.GlobalClusterMember{}
	for _, m := range g.GlobalClusterMembers {
		members[awssdk.ToString(m.DBClusterArn)] = m
	}
	writer, target := "", ""
	for _, r := range t.regions() {
		m, ok := members[c.Clusters[r]]
		if !ok {
			return res, fmt.Errorf("cluster %s is not a member of global cluster %s: refusing to act", c.Clusters[r], c.GlobalClusterID)
		}
		if awssdk.ToBool(m.IsWriter) {
			writer = r
		} else if target == "" {
			target = r
		}
	}
	if writer == "" || target == "" {
		return res, fmt.Errorf("global cluster %s: no writer among the clusters this function may act on (%v): refusing to act", c.GlobalClusterID, c.Clusters)
	}
	inProgress := false
	if g.FailoverState != nil && g.FailoverState.Status != "" {
		inProgress = true
		res.FailoverSet = string(g.FailoverState.Status)
	}
	// The writer as the other region sees it: that region's monitor's
	// probe of the writer across the peering (PeerHealthy), newest first,
	// by the datapoints' own timestamps. Missing data is unknown, never
	// unhealthy: a broken monitor must not fail over.
	now := time.Now()
	res.Primary = decision.Health{Region: writer}
	if cw := t.CW[target]; cw == nil {
		res.Evidence = append(res.Evidence, "PeerHealthy: no CloudWatch client for "+target)
	} else if peer, err := healthmetric.Query(ctx, cw, healthmetric.Namespace, healthmetric.MetricPeerHealthy, "Region", writer, time.Duration(2*(c.Threshold+1))*c.Period, c.Period, "Minimum"); err != nil {
		res.Evidence = append(res.Evidence, "PeerHealthy: "+err.Error())
	} else {
		var why string
		res.Primary.Known, res.Primary.Reachable, res.FailStreak, why = FailStreak(peer.Values, peer.Timestamps, now, c.Period)
		res.Evidence = append(res.Evidence, "PeerHealthy of "+writer+" seen from "+target+": "+why)
	}
	res.PrimaryOwnView = decision.OwnViewUnchecked
	if cw := t.CW[writer]; cw != nil {
		var why string
		res.PrimaryOwnView, why = t.ownView(ctx, cw, writer, now)
		res.Evidence = append(res.Evidence, "RegionHealthy in "+writer+": "+why)
	}
	// The target: available, and synchronised with the writer (after a
	// failover Aurora rebuilds the old primary on a new volume; until then
	// it is pending-resync and has nothing to promote).
	res.Secondary = decision.Health{Region: target}
	if api := t.RDS[target]; api != nil {
		dc, err := api.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: awssdk.String(c.Clusters[target])})
		if err == nil && len(dc.DBClusters) > 0 {
			res.Secondary.Known = true
			res.Secondary.Reachable = awssdk.ToString(dc.DBClusters[0].Status) == "available"
		}
	}
	if members[c.Clusters[target]].SynchronizationStatus == rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync {
		res.Secondary.Reachable = false
		res.Evidence = append(res.Evidence, target+" is pending-resync (being rebuilt after a failover): nothing to promote there yet")
	}
	res.Decision = decision.Decide(decision.Input{Primary: res.Primary, Secondary: res.Secondary, PrimaryFailStreak: res.FailStreak,
		FailureThreshold: c.Threshold, AutoFailover: true, InProgress: inProgress, SwitchoverRequested: req.Action == "switchover",
		PrimaryOwnView: res.PrimaryOwnView})
	decidedAt := time.Now()
	defer func() { t.recordDecision(ctx, res, decidedAt) }() // as act leaves res
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

// act makes the decision's RDS call, sent to the target's region (the CLI's
// "--region <secondary>"), naming the target by ARN. It is idempotent per
// incident: Lambda may run several invocations of the trigger at once (the
// schedule, the alarm rule and the SNS subscription) and delivers an event
// more than once, so two of them can decide the same failover; RDS takes
// the first and refuses the others (InvalidGlobalClusterStateFault while
// it runs, InvalidDBClusterStateFault once the target is the writer). A
// refusal is a duplicate, not an error — no error, no retry, nothing for
// the error alarm — when the global cluster then shows the same move under
// way or done; any other refusal is an error.
func (t *Trigger) act(ctx context.Context, res *Result) error {
	c := t.Cfg
	target := res.Decision.Target
	arn := c.Clusters[target]
	switch res.Decision.Action {
	case decision.Failover, decision.Switchover:
		if arn == "" || t.RDS[target] == nil {
			return fmt.Errorf("decided to promote %s, which is not one of the clusters this function may act on (%v)", target, c.Clusters)
		}
	}
	var err error
	switch res.Decision.Action {
	case decision.Failover:
		res.Operation = "FailoverGlobalCluster"
		if c.DryRun {
			return nil
		}
		_, err = t.RDS[target].FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: &c.GlobalClusterID,
			TargetDbClusterIdentifier: &arn, AllowDataLoss: awssdk.Bool(true)})
	case decision.Switchover:
		res.Operation = "SwitchoverGlobalCluster"
		if c.DryRun {
			return nil
		}
		_, err = t.RDS[target].SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: &c.GlobalClusterID,
			TargetDbClusterIdentifier: &arn})
	default:
		// Fence: Aurora fences the old primary itself (best effort) during a
		// managed failover; the trigger reports it. Wait and None: nothing.
		return nil
	}
	if err != nil {
		if why := t.duplicate(ctx, err, arn); why != "" {
			res.Duplicate = why
			return nil
		}
	}
	return err
}

// duplicate says why RDS's refusal err is of a move to arn already under
// way or done ("" when it is not, or cannot be told).
func (t *Trigger) duplicate(ctx context.Context, err error, arn string) string {
	var ae smithy.APIError
	if !errors.As(err, &ae) || (ae.ErrorCode() != "InvalidGlobalClusterStateFault" && ae.ErrorCode() != "InvalidDBClusterStateFault") {
		return ""
	}
	gc, derr := t.describe(ctx)
	if derr != nil || len(gc.GlobalClusters) == 0 {
		return ""
	}
	g := gc.GlobalClusters[0]
	if fs := g.FailoverState; fs != nil && awssdk.ToString(fs.ToDbClusterArn) == arn && fs.Status != "cancelling" {
		return fmt.Sprintf("refused (%s): the global cluster is already %s to %s", ae.ErrorCode(), fs.Status, arn)
	}
	for _, m := range g.GlobalClusterMembers {
		if awssdk.ToString(m.DBClusterArn) == arn && awssdk.ToBool(m.IsWriter) {
			return fmt.Sprintf("refused (%s): %s is already the writer", ae.ErrorCode(), arn)
		}
	}
	return ""
}

// recordDecision puts a failover decision's moment into CloudWatch, to the
// second (StorageResolution 1), after the decision has been acted on: the
// drill reads it as the time the stack detected the outage, which splits
// its RTO into detection and promotion as the lab's controller events do.
// A failed put is logged, never an invocation error.
func (t *Trigger) recordDecision(ctx context.Context, res Result, at time.Time) {
	if res.Decision.Action != decision.Failover || res.Duplicate != "" {
		return // a duplicate's decision is the first invocation's, recorded by it
	}
	cw := t.CW[t.Cfg.Region]
	if cw == nil {
		return
	}
	_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String(healthmetric.Namespace), MetricData: []cwtypes.MetricDatum{{
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

// ownView reads the writer region's own report on itself: its monitor's
// RegionHealthy, from CloudWatch in that region.
func (t *Trigger) ownView(ctx context.Context, cw healthmetric.CloudWatchAPI, region string, now time.Time) (decision.OwnView, string) {
	c := t.Cfg
	res, err := healthmetric.Query(ctx, cw, healthmetric.Namespace, healthmetric.MetricRegionHealthy, "Region", region, 4*c.Period, c.Period, "Minimum")
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
// environment and SDK clients for its region and each member's; opts let
// tests add middleware. It makes no network call.
func NewFromEnv(ctx context.Context, get func(string) string, log *slog.Logger, opts ...func(*config.LoadOptions) error) (*Trigger, error) {
	cfg, err := ConfigFromEnv(get)
	if err != nil {
		return nil, err
	}
	own, err := lambdaenv.AWSConfig(ctx, cfg.Region, opts...)
	if err != nil {
		return nil, err
	}
	t := &Trigger{Cfg: cfg, RDS: map[string]RDSAPI{}, CW: map[string]healthmetric.CloudWatchAPI{}, SNS: sns.NewFromConfig(own), Log: log}
	regions := []string{cfg.Region}
	for r := range cfg.Clusters {
		regions = append(regions, r)
	}
	for _, r := range regions {
		// The same credentials and settings, loaded once, for each region.
		rc := own.Copy()
		rc.Region = r
		t.RDS[r], t.CW[r] = rds.NewFromConfig(rc), cloudwatch.NewFromConfig(rc)
	}
	return t, nil
}
