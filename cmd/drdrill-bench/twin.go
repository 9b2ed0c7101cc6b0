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
// the AWS target (scaled), and one switchover at AWS's own duration.
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
	twinDown(drdrill, dir)

	// Unscaled: SwitchoverGlobalCluster until the writer has moved and
	// FailoverState has cleared, polled every second as a user would.
	dir, env, _ = twinUp(drdrill, "1")
	defer twinDown(drdrill, dir)
	out, err := outputs.Read(filepath.Join(dir, "flat-outputs.json"))
	if err != nil {
		fail("%v", err)
	}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(out[outputs.SecondaryRegion]))
	if err != nil {
		fail("%v", err)
	}
	c := rds.NewFromConfig(cfg)
	id := out[outputs.GlobalClusterIdentifier]
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
