package twin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #22 item 2: after FailoverGlobalCluster with data loss the old primary is
// rebuilt on a new volume before it is a secondary again. Meanwhile its
// member is pending-resync, a switchover is refused
// (InvalidGlobalClusterStateFault), a failover into it too, and its
// reader endpoint has nothing behind it; once rebuilt it is connected,
// readable and a switchover goes through. Before, the twin rejoined the
// old primary at once: SynchronizationStatus was empty and a switch-back
// was accepted the moment the FailoverState cleared.
func TestFailoverRebuildsTheOldPrimaryBeforeItIsInSync(t *testing.T) {
	const scale = 0.01
	const rebuild = 5 * time.Minute // 3 s at this scale
	tw := twintest.StartWithConfig(t, twin.Config{TimeScale: scale, RebuildTime: rebuild})
	ctx := context.Background()
	out := tw.Target.Outputs()
	gid := awssdk.String(out[outputs.GlobalClusterIdentifier])
	primaryARN, secondaryARN := out["PrimaryClusterArn"], out["SecondaryClusterArn"]
	c := rds.NewFromConfig(tw.SDKConfig(t, out[outputs.SecondaryRegion]))
	members := func() map[string]rdstypes.GlobalClusterMember {
		t.Helper()
		g, err := c.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: gid})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]rdstypes.GlobalClusterMember{}
		for _, x := range g.GlobalClusters[0].GlobalClusterMembers {
			m[awssdk.ToString(x.DBClusterArn)] = x
		}
		if g.GlobalClusters[0].FailoverState != nil {
			m["state"] = rdstypes.GlobalClusterMember{DBClusterArn: awssdk.String(string(g.GlobalClusters[0].FailoverState.Status))}
		}
		return m
	}

	if _, err := c.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: gid,
		TargetDbClusterIdentifier: awssdk.String(secondaryARN), AllowDataLoss: awssdk.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	var m map[string]rdstypes.GlobalClusterMember
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m = members(); m["state"].DBClusterArn == nil && awssdk.ToBool(m[secondaryARN].IsWriter) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failover did not complete: %+v", m)
		}
	}
	moved := time.Now()
	if got := m[primaryARN].SynchronizationStatus; got != rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync {
		t.Fatalf("after the failover the old primary's SynchronizationStatus is %q, want pending-resync (it is rebuilt, not resumed)", got)
	}
	if got := m[secondaryARN].SynchronizationStatus; got != rdstypes.GlobalClusterMemberSynchronizationStatusConnected {
		t.Fatalf("the new primary's SynchronizationStatus is %q, want connected", got)
	}

	_, err := c.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: gid, TargetDbClusterIdentifier: awssdk.String(primaryARN)})
	var gstate *rdstypes.InvalidGlobalClusterStateFault
	if !errors.As(err, &gstate) {
		t.Fatalf("a switchover while a member is pending-resync: %v, want InvalidGlobalClusterStateFault", err)
	}
	t.Logf("refused: %v", err)
	_, err = c.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: gid,
		TargetDbClusterIdentifier: awssdk.String(primaryARN), AllowDataLoss: awssdk.Bool(true)})
	var cstate *rdstypes.InvalidDBClusterStateFault
	if !errors.As(err, &cstate) {
		t.Fatalf("a failover into the cluster being rebuilt: %v, want InvalidDBClusterStateFault", err)
	}
	if err := ping(tw, out[outputs.PrimaryRegion]); err == nil {
		t.Fatal("the rebuilding cluster's reader endpoint answers: it has no volume yet")
	}

	for deadline := time.Now().Add(30 * time.Second); members()[primaryARN].SynchronizationStatus != rdstypes.GlobalClusterMemberSynchronizationStatusConnected; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the old primary never got back in sync")
		}
	}
	took := time.Since(moved)
	if want := time.Duration(float64(rebuild) * scale); took < want-200*time.Millisecond {
		t.Fatalf("the old primary was in sync %v after the failover, before the rebuild time %v", took, want)
	}
	t.Logf("rebuilt and in sync %v after the failover", took.Round(time.Millisecond))
	if err := ping(tw, out[outputs.PrimaryRegion]); err != nil {
		t.Fatalf("the rebuilt cluster's reader endpoint: %v", err)
	}
	if _, err := c.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: gid, TargetDbClusterIdentifier: awssdk.String(primaryARN)}); err != nil {
		t.Fatalf("a switchover once every member is in sync: %v", err)
	}
}

// ping reads region through its reader endpoint, briefly.
func ping(tw *twintest.Twin, region string) error {
	db, err := tw.Target.Reader(region)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}
