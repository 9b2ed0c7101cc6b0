package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/drdrill/drdrill/internal/outputs"
)

// twinUp starts a twin at scale and returns its directory, environment and
// supervisor pid; stop with twinDown.
func twinUp(drdrill string, scale string) (string, []string, int) {
	dir, err := os.MkdirTemp("", "drdrill-bench-twin-")
	if err != nil {
		fail("%v", err)
	}
	if out, err := exec.Command(drdrill, "twin", "up", "--dir", dir, "--time-scale", scale).CombinedOutput(); err != nil {
		fail("twin up: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "twin.env"))
	if err != nil {
		fail("%v", err)
	}
	var env []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		env = append(env, strings.TrimPrefix(l, "export "))
	}
	var info struct{ PID int }
	if b, err := os.ReadFile(filepath.Join(dir, "twin.json")); err == nil {
		_ = json.Unmarshal(b, &info)
	}
	return dir, env, info.PID
}

func twinDown(drdrill, dir string) {
	_ = exec.Command(drdrill, "twin", "down", "--dir", dir).Run()
	os.RemoveAll(dir)
}

// benchTwin: the twin's idle memory, the AWS scenarios it models through
// the AWS target (scaled), the time to re-protection after a failover
// (scaled), and one switchover at AWS's own duration.
func benchTwin(drdrill string) {
	dir, env, pid := twinUp(drdrill, "0.02")
	time.Sleep(5 * time.Second) // the Lambdas cold-started, a few minutes of metrics
	figure("twin_idle_rss_mb", math.Round(rssMB(pid)*10)/10, "MB")
	reports, _ := os.MkdirTemp("", "drdrill-bench-twin-reports-")
	defer os.RemoveAll(reports)
	cmd := exec.Command(drdrill, "drill", "--outputs", filepath.Join(dir, "flat-outputs.json"), "--reports", reports,
		"--labels", "steady-state || planned-switchover || failback || region-isolation")
	cmd.Env = append(os.Environ(), env...)
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		twinDown(drdrill, dir)
		fail("twin drill: %v\n%s", err, out)
	}
	figure("twin_drill_s", math.Round(time.Since(start).Seconds()*10)/10, "s")
	figure("twin_reprotect_s", math.Round(reprotect(dir, env).Seconds()*10)/10, "s")
	twinDown(drdrill, dir)

	// Unscaled: SwitchoverGlobalCluster until the writer has moved and
	// FailoverState has cleared, polled every second as a user would.
	dir, env, _ = twinUp(drdrill, "1")
	defer twinDown(drdrill, dir)
	out, err := outputs.Read(filepath.Join(dir, "flat-outputs.json"))
	if err != nil {
		fail("%v", err)
	}
	c, id := rdsOf(out, env)
	ctx := context.Background()
	start = time.Now()
	if _, err := c.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: &id, TargetDbClusterIdentifier: awssdk.String(out["SecondaryClusterArn"])}); err != nil {
		fail("switchover: %v", err)
	}
	for {
		g, err := c.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &id})
		if err == nil && len(g.GlobalClusters) == 1 && g.GlobalClusters[0].FailoverState == nil {
			for _, m := range g.GlobalClusters[0].GlobalClusterMembers {
				if awssdk.ToBool(m.IsWriter) && awssdk.ToString(m.DBClusterArn) == out["SecondaryClusterArn"] {
					figure("twin_switchover_s", math.Round(time.Since(start).Seconds()*10)/10, "s")
					return
				}
			}
		}
		if time.Since(start) > 10*time.Minute {
			fail("the unscaled switchover did not finish in 10 minutes")
		}
		time.Sleep(time.Second)
	}
}

// rdsOf is an RDS client of the twin whose environment is env, in the
// secondary region, and the global cluster's id.
func rdsOf(out outputs.Outputs, env []string) (*rds.Client, string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(out[outputs.SecondaryRegion]))
	if err != nil {
		fail("%v", err)
	}
	return rds.NewFromConfig(cfg), out[outputs.GlobalClusterIdentifier]
}

// reprotect is the time to re-protection on the twin in dir (scaled): from
// FailoverGlobalCluster with data loss to the secondary until the global
// cluster is idle and every member is in sync again — the old primary
// rebuilt after the failover — polled every 100 ms. It leaves the writer
// in the secondary region.
func reprotect(dir string, env []string) time.Duration {
	out, err := outputs.Read(filepath.Join(dir, "flat-outputs.json"))
	if err != nil {
		fail("%v", err)
	}
	c, id := rdsOf(out, env)
	ctx := context.Background()
	start := time.Now()
	if _, err := c.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: &id,
		TargetDbClusterIdentifier: awssdk.String(out["SecondaryClusterArn"]), AllowDataLoss: awssdk.Bool(true)}); err != nil {
		fail("failover: %v", err)
	}
	for time.Since(start) < 5*time.Minute {
		g, err := c.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &id})
		if err == nil && len(g.GlobalClusters) == 1 && g.GlobalClusters[0].FailoverState == nil {
			moved, synced := false, true
			for _, m := range g.GlobalClusters[0].GlobalClusterMembers {
				moved = moved || (awssdk.ToBool(m.IsWriter) && awssdk.ToString(m.DBClusterArn) == out["SecondaryClusterArn"])
				synced = synced && m.SynchronizationStatus != rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync
			}
			if moved && synced {
				return time.Since(start)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	fail("the twin did not re-protect the global cluster within 5 minutes of a failover")
	return 0
}
