package stackspec

import (
	"strings"
	"testing"
	"time"
)

// The runner as infra/aws declares it: its schedule, its task, the roles'
// policies, the bucket; none with runner_enabled=false.
func TestRunnerAsDeclared(t *testing.T) {
	s, err := Load("../../infra/aws", "123456789012", map[string]string{"environment_suffix": "twin", "runner_schedule": "rate(15 minutes)"})
	if err != nil {
		t.Fatal(err)
	}
	r := s.Runner
	if r == nil {
		t.Fatal("no runner")
	}
	if r.Region != s.SecondaryRegion || r.Schedule.Expression != "rate(15 minutes)" || !r.Schedule.Enabled || r.Schedule.FlexibleWindow != 0 ||
		strings.Join(r.Schedule.Subnets, ",") != "functions_secondary" || len(r.Schedule.RolePolicies) != 1 {
		t.Errorf("schedule: %+v", r.Schedule)
	}
	if r.Task.ARN != "arn:aws:ecs:us-west-2:123456789012:task-definition/drdrill-twin-runner:1" || r.Task.TaskRole != "arn:aws:iam::123456789012:role/drdrill-twin-harness" ||
		len(r.Task.TaskRolePolicies) != 2 || r.Task.Container.StopTimeout != 2*time.Minute || r.Task.Container.LogGroup != "/ecs/drdrill-twin-runner" ||
		!strings.Contains(strings.Join(r.Task.Container.Command, " "), "--reports s3://drdrill-twin-reports-123456789012/runs") {
		t.Errorf("task: %+v", r.Task)
	}
	if r.Bucket != "drdrill-twin-reports-123456789012" || !r.Versioned || r.BucketKMSKey == "" || r.OutputsKey != "outputs/flat-outputs.json" || !strings.Contains(r.BucketPolicy, "aws:SecureTransport") {
		t.Errorf("bucket: %+v", r)
	}
	off, err := Load("../../infra/aws", "123456789012", map[string]string{"environment_suffix": "twin", "runner_enabled": "false"})
	if err != nil || off.Runner != nil {
		t.Fatalf("runner_enabled=false: %+v, %v", off.Runner, err)
	}
}
