package twin_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/twintest"
)

// awsCLI is the AWS CLI to drive the twin with ($DRDRILL_AWS_CLI, else
// `aws` on PATH). Without one the test skips with one line on a
// developer's machine and fails under CI=true, where a skipped client
// would pass while checking less than it claims (`make test` installs it
// first: scripts/ensure-awscli.sh).
func awsCLI(t *testing.T) string {
	t.Helper()
	name := os.Getenv("DRDRILL_AWS_CLI")
	if name == "" {
		name = "aws"
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("CI=true and no AWS CLI (%s) on PATH: install it (Debian: apt-get install -y awscli; or run scripts/ensure-awscli.sh)", name)
	}
	t.Skipf("no AWS CLI (%s) on PATH: the twin is not tried with a non-Go client; install it (Debian: apt-get install -y awscli)", name)
	return ""
}

// cli runs the AWS CLI against a twin as an operator would: the endpoint
// from AWS_ENDPOINT_URL (and --endpoint-url, which CLIs older than 2.13,
// such as Debian's 2.9, need), fake credentials, the region, no pager, no
// user configuration.
type cli struct {
	t        *testing.T
	bin      string
	endpoint string
	home     string
}

func newCLI(t *testing.T, endpoint string) *cli {
	return &cli{t: t, bin: awsCLI(t), endpoint: endpoint, home: t.TempDir()}
}

// run runs one command in region and returns its stdout, stderr and error.
func (c *cli) run(region string, args ...string) (string, string, error) {
	c.t.Helper()
	cmd := exec.Command(c.bin, append(append([]string{}, args...), "--endpoint-url", c.endpoint, "--output", "json")...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+c.endpoint, "AWS_ACCESS_KEY_ID=AKIDDRDRILLCLI", "AWS_SECRET_ACCESS_KEY=drdrill-cli",
		"AWS_DEFAULT_REGION="+region, "AWS_REGION="+region, "AWS_PAGER=", "HOME="+c.home,
		"AWS_CONFIG_FILE="+c.home+"/config", "AWS_SHARED_CREDENTIALS_FILE="+c.home+"/credentials",
		"AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard", "AWS_EC2_METADATA_DISABLED=true")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), strings.TrimSpace(stderr.String()), err
}

// json runs a command that must succeed and decodes its JSON answer.
func (c *cli) json(region string, args ...string) map[string]any {
	c.t.Helper()
	out, stderr, err := c.run(region, args...)
	if err != nil {
		c.t.Fatalf("aws %s (%s): %v: %s", strings.Join(args, " "), region, err, stderr)
	}
	m := map[string]any{}
	if strings.TrimSpace(out) == "" {
		return m
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		c.t.Fatalf("aws %s (%s): the answer is not JSON: %v\n%s", strings.Join(args, " "), region, err, out)
	}
	return m
}

// fails runs a command that must fail with the AWS error code code.
func (c *cli) fails(region, code string, args ...string) {
	c.t.Helper()
	_, stderr, err := c.run(region, args...)
	if err == nil || !strings.Contains(stderr, "("+code+")") {
		c.t.Errorf("aws %s (%s): %v: %q, want the error (%s)", strings.Join(args, " "), region, err, stderr, code)
	}
}

// path reads a nested value of a decoded answer: "GlobalClusters.0.FailoverState".
func path(v any, p string) any {
	for _, k := range strings.Split(p, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			var i int
			if _, err := fmt.Sscan(k, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// #22 item 7: a client nobody here wrote. The AWS CLI (botocore, Python)
// reads and drives the stack on the twin as a game-day operator would:
// every service the twin models, in the protocol the CLI's botocore
// speaks to it (CloudWatch: awsJson1_0 with x-amzn-query-mode in botocore
// 1.43, awsQuery in older ones; SQS awsJson1_0 or awsQuery), errors
// included, and a switchover driven from the CLI. Costs ~30 s: each `aws`
// is a Python start.
func TestTheAWSCLIDrivesTheTwin(t *testing.T) {
	bin := awsCLI(t)
	version, _ := exec.Command(bin, "--version").CombinedOutput()
	t.Logf("client: %s", bytes.TrimSpace(version))
	tw := twintest.Start(t, 0.02) // a promotion is 3 s
	out := tw.Target.Outputs()
	pri, sec := out[outputs.PrimaryRegion], out[outputs.SecondaryRegion]
	aws := newCLI(t, tw.Server.Endpoint())

	// STS
	if id := aws.json(pri, "sts", "get-caller-identity"); id["Account"] != twintest.Account {
		t.Errorf("sts get-caller-identity: %v, want account %s", id, twintest.Account)
	}

	// RDS: the global cluster, an unknown one, a switchover and back.
	gid := out[outputs.GlobalClusterIdentifier]
	writer := func() (string, any) {
		g := aws.json(sec, "rds", "describe-global-clusters", "--global-cluster-identifier", gid)
		members, _ := path(g, "GlobalClusters.0.GlobalClusterMembers").([]any)
		for _, m := range members {
			if path(m, "IsWriter") == true {
				return path(m, "DBClusterArn").(string), path(g, "GlobalClusters.0.FailoverState")
			}
		}
		t.Fatalf("rds describe-global-clusters: no writer in %v", g)
		return "", nil
	}
	if w, state := writer(); w != out["PrimaryClusterArn"] || state != nil {
		t.Fatalf("before the switchover the writer is %s (state %v), want %s", w, state, out["PrimaryClusterArn"])
	}
	aws.fails(sec, "GlobalClusterNotFoundFault", "rds", "describe-global-clusters", "--global-cluster-identifier", "nope")
	// Debian's CLI 2.9 predates SwitchoverGlobalCluster (July 2023): its
	// planned promotion is failover-global-cluster without data loss.
	verb, status := "switchover-global-cluster", "switching-over"
	promote := []string{"--global-cluster-identifier", gid, "--target-db-cluster-identifier", out["SecondaryClusterArn"]}
	if _, stderr, err := aws.run(sec, append([]string{"rds", verb, "--generate-cli-skeleton"}, promote...)...); err != nil && strings.Contains(stderr, "Invalid choice") {
		verb, status = "failover-global-cluster", "failing-over"
	}
	// AWS answers a promotion with FailoverState pending (the request is
	// verified before it starts), then the operation's own status.
	sw := aws.json(sec, append([]string{"rds", verb}, promote...)...)
	if st := path(sw, "GlobalCluster.FailoverState.Status"); (st != "pending" && st != status) || path(sw, "GlobalCluster.FailoverState.IsDataLossAllowed") == true {
		t.Errorf("rds %s: %v, want FailoverState pending or %s without data loss", verb, sw, status)
	}
	aws.fails(sec, "InvalidGlobalClusterStateFault", append([]string{"rds", verb}, promote...)...)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		w, state := writer()
		if w == out["SecondaryClusterArn"] && state == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the CLI's switchover the writer is %s (state %v), want %s", w, state, out["SecondaryClusterArn"])
		}
	}
	aws.json(pri, "rds", "describe-db-clusters", "--db-cluster-identifier", out["PrimaryClusterArn"])

	// EC2: the primary's database subnets on their network ACL.
	var subnets []string
	_ = json.Unmarshal([]byte(out["PrimaryDatabaseSubnetIds"]), &subnets)
	acls := aws.json(pri, "ec2", "describe-network-acls", "--filters", "Name=association.subnet-id,Values="+strings.Join(subnets, ","))
	if path(acls, "NetworkAcls.0.NetworkAclId") != out["PrimaryDatabaseNetworkAclId"] {
		t.Errorf("ec2 describe-network-acls: %v, want %s", acls, out["PrimaryDatabaseNetworkAclId"])
	}
	aws.fails(pri, "InvalidNetworkAclID.NotFound", "ec2", "delete-network-acl", "--network-acl-id", "acl-0000000000000dead")

	// SQS: a queue's life, and a queue that is not there.
	q := aws.json(pri, "sqs", "create-queue", "--queue-name", "drdrill-cli", "--attributes", `{"Policy":"{}"}`)
	url, _ := q["QueueUrl"].(string)
	if !strings.HasSuffix(url, "/drdrill-cli") {
		t.Fatalf("sqs create-queue: %v", q)
	}
	time.Sleep(twin.QueueSettle) // SQS: a new queue cannot be used for a second
	aws.json(pri, "sqs", "set-queue-attributes", "--queue-url", url, "--attributes", `{"VisibilityTimeout":"7"}`)
	if a := aws.json(pri, "sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "All"); path(a, "Attributes.VisibilityTimeout") != "7" ||
		!strings.HasSuffix(fmt.Sprint(path(a, "Attributes.QueueArn")), ":drdrill-cli") {
		t.Errorf("sqs get-queue-attributes: %v", a)
	}
	if l := aws.json(pri, "sqs", "list-queues", "--queue-name-prefix", "drdrill-"); path(l, "QueueUrls.0") != url {
		t.Errorf("sqs list-queues: %v", l)
	}
	if m := aws.json(pri, "sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "0"); len(m) != 0 && m["Messages"] != nil {
		t.Errorf("sqs receive-message on an empty queue: %v", m)
	}
	aws.json(pri, "sqs", "delete-queue", "--queue-url", url)
	aws.fails(pri, "AWS.SimpleQueueService.NonExistentQueue", "sqs", "get-queue-attributes", "--queue-url", url)

	// Secrets Manager
	if s := aws.json(pri, "secretsmanager", "get-secret-value", "--secret-id", out["DatabaseSecretArn"]); !strings.Contains(fmt.Sprint(s["SecretString"]), `"username"`) {
		t.Errorf("secretsmanager get-secret-value: %v", s)
	}
	aws.fails(sec, "ResourceNotFoundException", "secretsmanager", "get-secret-value", "--secret-id", "nope")

	// Lambda: no function runs in this twin, so the answer is AWS's for
	// a function that is not there.
	aws.fails(pri, "ResourceNotFoundException", "lambda", "get-function-concurrency", "--function-name", out["PrimaryHealthMonitorFunctionName"])

	// Route 53
	if h := aws.json(pri, "route53", "get-health-check-status", "--health-check-id", out["PrimaryHealthCheckId"]); path(h, "HealthCheckObservations.0.StatusReport.Status") == nil {
		t.Errorf("route53 get-health-check-status: %v", h)
	}
	aws.fails(pri, "NoSuchHealthCheck", "route53", "get-health-check-status", "--health-check-id", "nope")

	// CloudWatch: what an operator reads and does in a game day.
	alarm := out[outputs.ReplicationLagAlarmName]
	if a := aws.json(sec, "cloudwatch", "describe-alarms", "--alarm-names", alarm); path(a, "MetricAlarms.0.AlarmName") != alarm ||
		path(a, "MetricAlarms.0.Threshold") == nil {
		t.Errorf("cloudwatch describe-alarms: %v", a)
	}
	at := time.Now().Add(-2 * time.Second).UTC()
	aws.json(pri, "cloudwatch", "put-metric-data", "--namespace", "DRDrill/CLI", "--metric-data",
		fmt.Sprintf(`[{"MetricName":"Probe","Dimensions":[{"Name":"Region","Value":"%s"}],"Timestamp":"%s","Value":42}]`, pri, at.Format(time.RFC3339)))
	q2 := fmt.Sprintf(`[{"Id":"m","MetricStat":{"Metric":{"Namespace":"DRDrill/CLI","MetricName":"Probe","Dimensions":[{"Name":"Region","Value":"%s"}]},"Period":60,"Stat":"Maximum"}}]`, pri)
	got := aws.json(pri, "cloudwatch", "get-metric-data", "--metric-data-queries", q2,
		"--start-time", at.Add(-5*time.Minute).Format(time.RFC3339), "--end-time", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	if v, _ := path(got, "MetricDataResults.0.Values.0").(float64); v != 42 {
		t.Errorf("cloudwatch get-metric-data: %v, want the 42 put", got)
	}
	// SetAlarmState on an alarm whose metric nothing publishes (it stays
	// in INSUFFICIENT_DATA between evaluations): ALARM runs its action.
	var cpu string
	all := aws.json(pri, "cloudwatch", "describe-alarms", "--state-value", "INSUFFICIENT_DATA")
	for _, a := range path(all, "MetricAlarms").([]any) {
		if path(a, "MetricName") == "CPUUtilization" {
			cpu, _ = path(a, "AlarmName").(string)
		}
	}
	if cpu == "" {
		t.Fatalf("cloudwatch describe-alarms --state-value INSUFFICIENT_DATA: no CPUUtilization alarm in %v", all)
	}
	topic := out["PrimarySNSTopicArn"]
	before := len(tw.Server.Messages(topic))
	aws.json(pri, "cloudwatch", "set-alarm-state", "--alarm-name", cpu, "--state-value", "ALARM", "--state-reason", "set from the AWS CLI")
	if msgs := tw.Server.Messages(topic); len(msgs) <= before || !strings.Contains(msgs[len(msgs)-1].Message, "set from the AWS CLI") {
		t.Errorf("cloudwatch set-alarm-state: no notification of the new state on %s", topic)
	}
	aws.fails(sec, "ResourceNotFound", "cloudwatch", "set-alarm-state", "--alarm-name", "nope", "--state-value", "OK", "--state-reason", "x")
}

// Without an AWS CLI the CLI test skips with one line on a developer's
// machine and fails under CI=true, naming what to install. The test
// binary runs itself with a PATH that has no aws.
func TestCIRefusesToSkipTheAWSCLITest(t *testing.T) {
	if os.Getenv("DRDRILL_CHILD") != "" {
		t.Skip("the child run")
	}
	empty := t.TempDir()
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTheAWSCLIDrivesTheTwin$", "-test.v")
		cmd.Env = append(os.Environ(), "PATH="+empty, "CI="+ci, "DRDRILL_CHILD=1", "DRDRILL_AWS_CLI=")
		out, err := cmd.CombinedOutput()
		switch {
		case ci != "" && (err == nil || !strings.Contains(string(out), "CI=true and no AWS CLI (aws) on PATH: install it")):
			t.Fatalf("CI=true without the AWS CLI: want a failure naming what to install, got %v:\n%s", err, out)
		case ci == "" && (err != nil || !strings.Contains(string(out), "SKIP") || !strings.Contains(string(out), "install it (Debian: apt-get install -y awscli)")):
			t.Fatalf("without CI and without the AWS CLI: want a skip saying what to install, got %v:\n%s", err, out)
		}
	}
}
