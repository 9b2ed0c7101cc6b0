package main

import (
	"bytes"
	"context"
	"encoding/json"
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
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
)

// twinConfig is an SDK configuration for the twin in env, in a region.
func twinConfig(t *testing.T, env []string, region string) awssdk.Config {
	t.Helper()
	get := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region), config.WithBaseEndpoint(get("AWS_ENDPOINT_URL")),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), "")))
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
				t.Errorf("subnet %s after recover: %+v (%v), want its original ACL %s", subnet, acls, err, out[r.acl])
			}
		}
		queues, err := sqs.NewFromConfig(r.cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
		if err != nil || len(queues.QueueUrls) != 0 {
			t.Errorf("queues in %s after recover: %v (%v), want none", r.cfg.Region, queues.QueueUrls, err)
		}
	}
	subs, err := sns.NewFromConfig(sec).ListSubscriptionsByTopic(ctx, &sns.ListSubscriptionsByTopicInput{TopicArn: awssdk.String(out["SecondarySNSTopicArn"])})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range subs.Subscriptions {
		if awssdk.ToString(s.Protocol) != "lambda" {
			t.Errorf("a %s subscription to %s outlived recover: %s", awssdk.ToString(s.Protocol), out["SecondarySNSTopicArn"], awssdk.ToString(s.Endpoint))
		}
	}
	conc, err := lambda.NewFromConfig(sec).GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: awssdk.String(out["SecondaryHealthMonitorFunctionName"])})
	if err != nil || conc.ReservedConcurrentExecutions != nil {
		t.Errorf("the secondary monitor's reserved concurrency after recover: %+v (%v), want none as before", conc, err)
	}
	alarms, err := cloudwatch.NewFromConfig(sec).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{out[outputs.ReplicationLagAlarmName]}})
	if err != nil || len(alarms.MetricAlarms) != 1 || alarms.MetricAlarms[0].StateValue == "ALARM" {
		t.Errorf("the lag alarm after recover: %+v (%v), want it out of ALARM", alarms, err)
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
