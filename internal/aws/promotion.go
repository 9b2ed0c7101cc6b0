package aws

import (
	"context"
	"fmt"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/drdrill/drdrill/internal/outputs"
)

// GlobalState is the global cluster as DescribeGlobalClusters shows it,
// by region.
type GlobalState struct {
	// Writer is the region whose cluster is the global writer.
	Writer string
	// FailoverState is FailoverState.Status ("" when no promotion is
	// scheduled or running): pending, switching-over, failing-over or
	// cancelling (RDS API reference, FailoverState).
	FailoverState string
	// FailoverTo is the region the promotion in FailoverState promotes.
	FailoverTo string
	// Resyncing are the regions whose cluster is not synchronised with the
	// writer (SynchronizationStatus pending-resync): after a failover,
	// Aurora rebuilds the old primary on a new volume before it is a
	// secondary again.
	Resyncing []string
}

// State reads the global cluster's roles, promotion and members' sync.
func (s *Stack) State(ctx context.Context) (GlobalState, error) {
	g, err := s.globalCluster(ctx)
	if err != nil {
		return GlobalState{}, err
	}
	w, state, err := s.writerOf(g)
	out := GlobalState{Writer: w, FailoverState: state, FailoverTo: s.regionOfARN(g.failoverTo)}
	for _, arn := range g.resyncing {
		out.Resyncing = append(out.Resyncing, s.regionOfARN(arn))
	}
	return out, err
}

func (s *Stack) regionOfARN(arn string) string {
	switch arn {
	case "":
		return ""
	case s.Out["PrimaryClusterArn"]:
		return s.Out[outputs.PrimaryRegion]
	case s.Out["SecondaryClusterArn"]:
		return s.Out[outputs.SecondaryRegion]
	}
	return arn
}

// PromoteWatching is Promote for a fault being injected: the stop
// conditions are checked at every poll while it waits for the writer, and
// a firing one ends the wait with an error (the caller's rollback then
// runs, as FIS stops an experiment).
func (s *Stack) PromoteWatching(ctx context.Context, region string, allowDataLoss bool, timeout time.Duration) error {
	return s.promote(ctx, region, allowDataLoss, timeout, s.CheckStopConditions)
}

// Promote makes region's cluster the global writer: SwitchoverGlobalCluster
// (no data loss) or FailoverGlobalCluster with AllowDataLoss, sent to the
// target's region, then waits until FailoverState clears and the roles swapped.
// A promotion that Aurora cancels ends the wait at once, with the reason.
func (s *Stack) Promote(ctx context.Context, region string, allowDataLoss bool, timeout time.Duration) error {
	return s.promote(ctx, region, allowDataLoss, timeout, nil)
}

func (s *Stack) promote(ctx context.Context, region string, allowDataLoss bool, timeout time.Duration, stop func(context.Context) error) error {
	arn, err := s.clusterARN(region)
	if err != nil {
		return err
	}
	r, err := s.regional(region)
	if err != nil {
		return err
	}
	// Never start one while another runs: AWS refuses it
	// (InvalidGlobalClusterStateFault), and the one running may be moving
	// the writer somewhere else.
	if _, err := s.WaitIdle(ctx, timeout); err != nil {
		return fmt.Errorf("promote %s: %w", region, err)
	}
	// Nor while a member is being rebuilt: a switchover needs every member
	// synchronised, and a cluster without its volume cannot be promoted.
	// The caller waits for that first (WaitInSync), within its own bound.
	g, err := s.State(ctx)
	if err != nil {
		return fmt.Errorf("promote %s: %w", region, err)
	}
	for _, rs := range g.Resyncing {
		if !allowDataLoss || rs == region {
			return fmt.Errorf("not promoting %s: %s's cluster is pending-resync (rebuilt after a failover; a %s needs it in sync): wait for it first",
				region, rs, map[bool]string{false: "switchover", true: "failover into it"}[allowDataLoss])
		}
	}
	id := s.Out[outputs.GlobalClusterIdentifier]
	if allowDataLoss {
		_, err = r.RDS.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: &id, TargetDbClusterIdentifier: &arn, AllowDataLoss: awssdk.Bool(true)})
	} else {
		_, err = r.RDS.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: &id, TargetDbClusterIdentifier: &arn})
	}
	if err != nil {
		return fmt.Errorf("promote %s: %w", region, err)
	}
	return s.waitWriter(ctx, region, timeout, stop)
}

// WaitIdle polls until no switchover or failover of the global cluster is
// in progress (FailoverState cleared) and returns the writer region then.
func (s *Stack) WaitIdle(ctx context.Context, timeout time.Duration) (string, error) {
	var w, state string
	var err error
	if err := s.pollUntil(ctx, timeout, func() bool {
		w, state, err = s.WriterRegion(ctx)
		return err == nil && state == ""
	}, func() error {
		return fmt.Errorf("the global cluster is still %q after %v (writer %s, %v)", state, timeout, w, err)
	}); err != nil {
		return "", err
	}
	return w, nil
}

// WaitInSync polls until no member of the global cluster is pending-resync
// and returns how long it waited. After a failover Aurora rebuilds the old
// primary on a new storage volume before it is a secondary again, which
// takes "from a few minutes to several hours" with the data size (Aurora
// User Guide, "Using switchover or failover in Amazon Aurora Global
// Database"); a switchover is refused meanwhile. doing says what waits
// (e.g. "switching back to us-east-1"), for the error at timeout.
func (s *Stack) WaitInSync(ctx context.Context, timeout time.Duration, doing string) (time.Duration, error) {
	start := time.Now()
	var g GlobalState
	var err error
	werr := s.pollUntil(ctx, timeout, func() bool {
		g, err = s.State(ctx)
		return err == nil && len(g.Resyncing) == 0
	}, func() error {
		if err != nil {
			return fmt.Errorf("%s: waiting %v for every member of the global cluster to be in sync: %w", doing, timeout, err)
		}
		return fmt.Errorf("%s: %s still pending-resync after %v: Aurora rebuilds an old primary on a new volume after a failover, which can take hours with the data size; run drdrill recover again once DescribeGlobalClusters shows it connected",
			doing, strings.Join(g.Resyncing, ", "), timeout)
	})
	return time.Since(start), werr
}

// pollUntil asks done every poll until it says yes (nil), ctx ends, or
// timeout has passed (expired's error); done is always asked once more
// after the deadline before giving up.
func (s *Stack) pollUntil(ctx context.Context, timeout time.Duration, done func() bool, expired func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if done() {
			return nil
		}
		if time.Now().After(deadline) {
			return expired()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.poll()):
		}
	}
}

// PollInterval is how often waits poll AWS (DRDRILL_AWS_POLL, default 10 s).
func (s *Stack) PollInterval() time.Duration { return s.poll() }

func (s *Stack) poll() time.Duration {
	if s.Poll > 0 {
		return s.Poll
	}
	return 10 * time.Second
}

// waitWriter polls until region is the writer and the FailoverState has
// cleared. A promotion to region that Aurora cancels (FailoverState
// cancelling: "returning to their previous states", RDS API reference)
// or that ends without moving the writer fails at once, with the roles as
// they are, instead of polling until the bound: nothing more will happen.
func (s *Stack) waitWriter(ctx context.Context, region string, timeout time.Duration, stop func(context.Context) error) error {
	poll := s.poll()
	deadline := time.Now().Add(timeout)
	seen := false // the promotion to region showed in FailoverState
	for {
		g, err := s.State(ctx)
		if err == nil {
			if g.Writer == region && g.FailoverState == "" {
				return nil
			}
			ours := g.FailoverTo == region
			if ours && g.FailoverState == "cancelling" {
				return fmt.Errorf("the promotion of %s was cancelled by Aurora (FailoverState cancelling): the global cluster returns to its previous roles, writer %s; %s did not take over (e.g. it could not catch up with the writer): see the cluster's RDS events before retrying",
					region, g.Writer, region)
			}
			seen = seen || (ours && g.FailoverState != "")
			if seen && g.FailoverState == "" && g.Writer != region {
				return fmt.Errorf("the promotion of %s ended without moving the writer (it is still %s): Aurora cancelled it; see the cluster's RDS events before retrying", region, g.Writer)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s is not the writer after %v (writer %s, failover state %q, %v)", region, timeout, g.Writer, g.FailoverState, err)
		}
		if stop != nil {
			if err := stop(ctx); err != nil {
				return fmt.Errorf("waiting for %s to become the writer: %w", region, err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}
