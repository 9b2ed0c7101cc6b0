package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
)

// twinConfig is an SDK configuration for the twin in env, in a region.
func twinConfig(t *testing.T, env []string, region string) awssdk.Config {
	t.Helper()
	// The account administrator's keys: the test reads the twin's whole
	// state back (every queue, every subscription), beyond what the
	// harness's role may read.
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region), config.WithBaseEndpoint(envValue(env, "AWS_ENDPOINT_URL")),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(twin.AdministratorKey, "drdrill-twin", "")))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// #11 item 6: kill -9 of the harness while every AWS fault is in place —
// the primary region cut off by a deny-all network ACL, the monitor the
// trigger decides on stopped, the secondary promoted with data loss, the
// lag alarm forced with its proof queue subscribed — then `drdrill recover
// --outputs` leaves nothing behind. Checked against the twin's own state
// through the AWS APIs (the ACL on every database subnet, the queues, the
// topic's subscriptions, the function's concurrency, the alarm, the global
// cluster), not against the ledger's claims.
func TestRecoverAfterKillDashNineWithEveryAWSFaultOnTheTwin(t *testing.T) {
	dir := startTwinCLI(t, "0.02")
	env := twinEnv(t, dir)
	outputsFile := filepath.Join(dir, "flat-outputs.json")
	out, err := outputs.Read(outputsFile)
	if err != nil {
		t.Fatal(err)
	}
	faults := []string{"region-isolation", "monitor-failure", "unplanned-failover", "alarm-path"}
	cmd := exec.Command(suiteBin, "--ginkgo.label-filter=hold-faults", "--ginkgo.v")
	cmd.Env = append(append(os.Environ(), env...), "DRDRILL_OUTPUTS="+outputsFile, "DRDRILL_RUN_DIR="+t.TempDir(), "DRDRILL_HOLD_FAULTS="+strings.Join(faults, ","))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := ledger.Open(dir)
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if strings.Contains(log.String(), "faults held") {
			break
		}
		if time.Now().After(deadline) || strings.Contains(log.String(), "[FAIL]") {
			_ = cmd.Process.Kill()
			t.Fatalf("the faults were not all held within 90 s:\n%s", log.String())
		}
	}
	if active, _ := l.Active(); len(active) != len(faults) {
		t.Fatalf("ledger shows %d active faults, want %d: %+v", len(active), len(faults), active)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	rec := run(t, env, "recover", "--outputs", outputsFile)
	if rec.code != 0 {
		t.Fatalf("recover: exit %d\n%s", rec.code, rec.out)
	}
	for _, f := range faults {
		if !strings.Contains(rec.out, "rolled back "+f) {
			t.Errorf("recover did not roll back %s:\n%s", f, rec.out)
		}
	}
	if active, err := l.Active(); err != nil || len(active) != 0 {
		t.Fatalf("ledger still shows %v (%v)", active, err)
	}

	for _, problem := range twinFaultsLeft(t, env, out) {
		t.Error(problem)
	}
	pre := run(t, env, "aws", "preflight", "--outputs", outputsFile)
	if !strings.Contains(pre.out, "in us-east-1, failover state \"\"") || !strings.Contains(pre.out, "verdict: READY") {
		t.Fatalf("after recover the twin's global cluster is not back on us-east-1 and idle, or the stack is not ready for the next drill:\n%s", pre.out)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		s := run(t, env, "twin", "status", "--dir", dir).out
		if strings.Contains(s, "primary us-east-1, healthy true") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab under the twin after recover:\n%s", s)
		}
	}
}

// twinFaultsLeft reads the twin's own state through its AWS APIs — the
// network ACL on every database subnet, the queues, the topic's
// subscriptions, the secondary monitor's reserved concurrency, the lag
// alarm, the global cluster's writer — and the lab under it, and returns
// one line per fault still in place.
func twinFaultsLeft(t *testing.T, env []string, out outputs.Outputs) []string {
	t.Helper()
	var left []string
	ctx := context.Background()
	pri, sec := twinConfig(t, env, out[outputs.PrimaryRegion]), twinConfig(t, env, out[outputs.SecondaryRegion])
	for _, r := range []struct {
		cfg          awssdk.Config
		subnets, acl string
	}{{pri, "PrimaryDatabaseSubnetIds", "PrimaryDatabaseNetworkAclId"}, {sec, "SecondaryDatabaseSubnetIds", "SecondaryDatabaseNetworkAclId"}} {
		var subnets []string
		if err := json.Unmarshal([]byte(out[r.subnets]), &subnets); err != nil || len(subnets) == 0 {
			t.Fatalf("%s in the twin's outputs: %q (%v)", r.subnets, out[r.subnets], err)
		}
		for _, subnet := range subnets {
			acls, err := ec2.NewFromConfig(r.cfg).DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{
				Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: []string{subnet}}}})
			if err != nil || len(acls.NetworkAcls) != 1 || awssdk.ToString(acls.NetworkAcls[0].NetworkAclId) != out[r.acl] {
				left = append(left, fmt.Sprintf("subnet %s: %+v (%v), want its original ACL %s", subnet, acls, err, out[r.acl]))
			}
		}
		queues, err := sqs.NewFromConfig(r.cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
		if err != nil || len(queues.QueueUrls) != 0 {
			left = append(left, fmt.Sprintf("queues in %s: %v (%v), want none", r.cfg.Region, queues.QueueUrls, err))
		}
	}
	subs, err := sns.NewFromConfig(sec).ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: awssdk.String(out["SecondarySNSTopicArn"])})
	if err != nil {
		left = append(left, fmt.Sprintf("subscriptions of %s: %v", out["SecondarySNSTopicArn"], err))
	} else {
		for _, s := range subs.Subscriptions {
			if awssdk.ToString(s.Protocol) != "lambda" {
				left = append(left, fmt.Sprintf("a %s subscription to %s: %s", awssdk.ToString(s.Protocol), out["SecondarySNSTopicArn"], awssdk.ToString(s.Endpoint)))
			}
		}
	}
	conc, err := lambda.NewFromConfig(sec).GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: awssdk.String(out["SecondaryHealthMonitorFunctionName"])})
	if err != nil || conc.ReservedConcurrentExecutions != nil {
		left = append(left, fmt.Sprintf("the secondary monitor's reserved concurrency: %+v (%v), want none as before", conc, err))
	}
	alarms, err := cloudwatch.NewFromConfig(sec).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{out[outputs.ReplicationLagAlarmName]}})
	if err != nil || len(alarms.MetricAlarms) != 1 || alarms.MetricAlarms[0].StateValue == "ALARM" {
		left = append(left, fmt.Sprintf("the lag alarm: %+v (%v), want it out of ALARM", alarms, err))
	}
	g, err := rds.NewFromConfig(pri).DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: awssdk.String(out[outputs.GlobalClusterIdentifier])})
	if err != nil || len(g.GlobalClusters) != 1 {
		left = append(left, fmt.Sprintf("the global cluster: %v", err))
	} else {
		gc := g.GlobalClusters[0]
		writer := ""
		for _, m := range gc.GlobalClusterMembers {
			if awssdk.ToBool(m.IsWriter) {
				writer = awssdk.ToString(m.DBClusterArn)
			}
		}
		if writer != out["PrimaryClusterArn"] || gc.FailoverState != nil {
			left = append(left, fmt.Sprintf("the global cluster's writer %s (failover state %+v), want %s and none", writer, gc.FailoverState, out["PrimaryClusterArn"]))
		}
	}
	return left
}
