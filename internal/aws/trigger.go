package aws

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/drdrill/drdrill/internal/decision"
)

// TriggerConfig configures the failover trigger, which runs in the
// secondary region so that it survives the loss of the primary.
type TriggerConfig struct {
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

// TriggerConfigFromEnv reads DRDRILL_* settings; every missing one is named.
func TriggerConfigFromEnv(get func(string) string) (TriggerConfig, error) {
	e := newEnv(get)
	c := TriggerConfig{Region: e.req("AWS_REGION"), PrimaryRegion: e.req("DRDRILL_PRIMARY_REGION"),
		GlobalClusterID: e.req("DRDRILL_GLOBAL_CLUSTER_ID"), TargetClusterARN: e.req("DRDRILL_TARGET_CLUSTER_ARN"),
		TopicARN: e.req("DRDRILL_SNS_TOPIC_ARN")}
	var err error
	if c.Threshold, err = e.int("DRDRILL_FAILURE_THRESHOLD", 3); err != nil {
		return c, err
	}
	if c.Period, err = e.duration("DRDRILL_CHECK_PERIOD", time.Minute); err != nil {
		return c, err
	}
	switch v := e.opt("DRDRILL_DRY_RUN", "false"); v {
	case "true", "1":
		c.DryRun = true
	case "false", "0":
	default:
		return c, fmt.Errorf("DRDRILL_DRY_RUN=%q: want true or false", v)
	}
	return c, e.err()
}

// Trigger is the failover-trigger function.
type Trigger struct {
	Cfg TriggerConfig
	RDS RDSAPI
	CW  CloudWatchAPI
	SNS SNSAPI
	Log *slog.Logger
}

// TriggerResult is the decision, what was done, and why.
type TriggerResult struct {
	Decision    decision.Decision `json:"decision"`
	Operation   string            `json:"operation,omitempty"` // the RDS call made, if any
	DryRun      bool              `json:"dry_run"`
	Primary     decision.Health   `json:"primary"`
	Secondary   decision.Health   `json:"secondary"`
	FailStreak  int               `json:"primary_fail_streak"`
	FailoverSet string            `json:"failover_state,omitempty"`
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
func (t *Trigger) Run(ctx context.Context, event []byte) (TriggerResult, error) {
	c := t.Cfg
	var req request
	_ = json.Unmarshal(event, &req) // schedule and alarm events carry no action

	gc, err := t.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &c.GlobalClusterID})
	if err != nil {
		return TriggerResult{}, fmt.Errorf("DescribeGlobalClusters %s: %w", c.GlobalClusterID, err)
	}
	if len(gc.GlobalClusters) == 0 {
		return TriggerResult{}, fmt.Errorf("global cluster %s not found", c.GlobalClusterID)
	}
	g := gc.GlobalClusters[0]
	res := TriggerResult{DryRun: c.DryRun}
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
	// the primary across the peering (PeerHealthy), newest first. Missing
	// data is unknown, never unhealthy: a broken monitor must not fail over.
	res.Primary = decision.Health{Region: c.PrimaryRegion}
	vals, err := metricValues(ctx, t.CW, Namespace, MetricPeerHealthy, "Region", c.PrimaryRegion, time.Duration(c.Threshold+2)*c.Period, c.Period)
	if err == nil && len(vals) > 0 {
		res.Primary.Known = true
		res.Primary.Reachable = vals[0] >= 1
		for _, v := range vals {
			if v >= 1 {
				break
			}
			res.FailStreak++
		}
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
			FailureThreshold: c.Threshold, AutoFailover: true, InProgress: inProgress, SwitchoverRequested: req.Action == "switchover"})
	}
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

func (t *Trigger) act(ctx context.Context, res *TriggerResult) error {
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

// publish sends every decision, with its reasons, to SNS and the log.
func (t *Trigger) publish(ctx context.Context, res TriggerResult, actErr error) error {
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
