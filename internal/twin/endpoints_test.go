package twin_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #22 item 1: a cluster's writer endpoint has a writer behind it only
// while the cluster is the global writer; the secondary's is inactive (no
// server answers: on AWS its name does not resolve). Reader endpoints
// answer in either role. Before, both of a region's endpoints led to its
// server whatever the roles, so a probe of the writer endpoint could not
// tell a secondary from a primary.
func TestClusterWriterEndpointIsActiveOnlyOnTheWriter(t *testing.T) {
	tw := twintest.Start(t, 0.01)
	ctx := context.Background()
	out := tw.Target.Outputs()
	labOut, err := outputs.Read(filepath.Join(tw.LabDir, lab.OutputsFile))
	if err != nil {
		t.Fatal(err)
	}
	reach := func(addr string) error {
		c := mysql.NewConfig()
		c.User, c.Passwd, c.Net, c.Addr = labOut[outputs.LabAppUser], labOut[outputs.LabAppPassword], "tcp", addr
		c.Timeout, c.ReadTimeout = time.Second, time.Second
		db, err := sql.Open("mysql", c.FormatDSN())
		if err != nil {
			return err
		}
		defer db.Close()
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		return db.PingContext(pctx)
	}
	check := func(when string, active, inactive string) {
		t.Helper()
		if err := reach(out[active]); err != nil {
			t.Fatalf("%s: the writer's %s does not answer: %v", when, active, err)
		}
		start := time.Now()
		if err := reach(out[inactive]); err == nil {
			t.Fatalf("%s: the secondary's %s answers: it has no writer behind it", when, inactive)
		} else if took := time.Since(start); took > time.Second {
			t.Fatalf("%s: the inactive %s took %v to fail; a name that does not resolve fails at once", when, inactive, took)
		}
		for _, r := range []string{"PrimaryReaderEndpoint", "SecondaryReaderEndpoint"} {
			if err := reach(out[r]); err != nil {
				t.Fatalf("%s: %s does not answer: %v", when, r, err)
			}
		}
	}
	check("before", outputs.PrimaryClusterEndpoint, outputs.SecondaryClusterEndpoint)

	c := rds.NewFromConfig(tw.SDKConfig(t, out[outputs.SecondaryRegion]))
	gid := awssdk.String(out[outputs.GlobalClusterIdentifier])
	if _, err := c.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: gid,
		TargetDbClusterIdentifier: awssdk.String(out["SecondaryClusterArn"])}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if w, state := writer(t, tw.Target); w == out[outputs.SecondaryRegion] && state == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the switchover did not complete")
		}
	}
	check("after the switchover", outputs.SecondaryClusterEndpoint, outputs.PrimaryClusterEndpoint)
}

// writer is the target's writer region and, while it is not healthy, why.
func writer(t *testing.T, tgt target.Target) (string, string) {
	t.Helper()
	topo, err := tgt.Topology(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if topo.Healthy {
		return topo.Primary, ""
	}
	return topo.Primary, topo.Detail
}
