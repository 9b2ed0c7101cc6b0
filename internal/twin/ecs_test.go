package twin

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/drdrill/drdrill/internal/ociimage"
)

const (
	testCluster  = "arn:aws:ecs:us-west-2:123456789012:cluster/drdrill-test-runner"
	testTaskDef  = "arn:aws:ecs:us-west-2:123456789012:task-definition/drdrill-test-runner:1"
	testTaskRole = "arn:aws:iam::123456789012:role/drdrill-test-harness"
)

// probeImage builds testdata/taskprobe for this machine as the image's
// entrypoint (in drdrill's place) and writes the runner image's layout.
func probeImage(t *testing.T) string {
	t.Helper()
	bins := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(bins, "drdrill"), "./testdata/taskprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build taskprobe: %v\n%s", err, out)
	}
	for _, b := range []string{"ginkgo", "drill.test"} {
		os.WriteFile(filepath.Join(bins, b), []byte("not run here"), 0o755)
	}
	ca := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(ca, []byte("stand-in"), 0o644)
	var imgs []v1.Image
	for _, arch := range []string{runtime.GOARCH} {
		spec, err := ociimage.RunnerSpec(v1.Platform{OS: "linux", Architecture: arch}, bins, ca, "")
		if err != nil {
			t.Fatal(err)
		}
		img, err := ociimage.Image(spec)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := ociimage.Index(imgs...)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "image")
	if _, err := ociimage.WriteLayout(dir, idx); err != nil {
		t.Fatal(err)
	}
	return dir
}

func probeRunnerStack(command []string, policy string) Stack {
	st := testStack()
	st.Buckets = []Bucket{{Name: "drdrill-test-reports", Region: "us-west-2", KMSKey: "arn:aws:kms:us-west-2:123456789012:key/reports"}}
	st.Clusters = []string{testCluster}
	p, err := ParsePolicies([]string{policy})
	if err != nil {
		panic(err)
	}
	arch := map[string]string{"amd64": "X86_64", "arm64": "ARM64"}[runtime.GOARCH]
	st.TaskDefinitions = []TaskDefinition{{Family: "drdrill-test-runner", Region: "us-west-2", ARN: testTaskDef, TaskRole: testTaskRole,
		ExecutionRole: "arn:aws:iam::123456789012:role/drdrill-test-runner-execution", Policy: p, Arch: arch,
		Container: ContainerDefinition{Name: "runner", Image: "123456789012.dkr.ecr.us-west-2.amazonaws.com/drdrill-test-runner:latest",
			Command: command, Environment: map[string]string{"DRDRILL_ALLOWED_ACCOUNTS": "123456789012"}, StopTimeout: 30 * time.Second,
			LogGroup: "/ecs/drdrill-test-runner", LogStreamPrefix: "runner"}}}
	return st
}

const probePolicy = `{"Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::drdrill-test-reports/*"]},
 {"Effect":"Allow","Action":["kms:GenerateDataKey"],"Resource":["arn:aws:kms:us-west-2:123456789012:key/reports"],"Condition":{"StringEquals":{"kms:ViaService":"s3.us-west-2.amazonaws.com"}}}]}`

func startRunnerTwin(t *testing.T, st Stack, scale float64) *Server {
	t.Helper()
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: scale, LogDir: t.TempDir(), Image: probeImage(t)}, st, &fixedPlane{primary: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func waitStopped(t *testing.T, c *ecs.Client, arn string) ecstypes.Task {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		out, err := c.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Cluster: awssdk.String(testCluster), Tasks: []string{arn}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Tasks) == 1 && awssdk.ToString(out.Tasks[0].LastStatus) == "STOPPED" {
			return out.Tasks[0]
		}
	}
	t.Fatalf("task %s did not stop within a minute", arn)
	return ecstypes.Task{}
}

// ECS RunTask through the unmodified SDK: the task goes through its
// launch, its container runs the image's entrypoint from the image's own
// filesystem with the definition's command, and the SDK inside it takes
// the task role's credentials from the container credentials endpoint;
// the container's exit code stops the task.
func TestECSRunsATaskFromTheImage(t *testing.T) {
	srv := startRunnerTwin(t, probeRunnerStack([]string{"drdrill-test-reports", "probe.json", "exit", "3"}, probePolicy), 0.01)
	ctx := context.Background()
	c := ecs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: awssdk.String(testCluster), TaskDefinition: awssdk.String("drdrill-test-runner"),
		LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-0b0000000000000fa"}}}})
	if err != nil || len(out.Tasks) != 1 || awssdk.ToString(out.Tasks[0].LastStatus) != "PROVISIONING" {
		t.Fatalf("RunTask: %+v, %v", out, err)
	}
	task := waitStopped(t, c, awssdk.ToString(out.Tasks[0].TaskArn))
	if task.StopCode != ecstypes.TaskStopCodeEssentialContainerExited || awssdk.ToInt32(task.Containers[0].ExitCode) != 3 {
		b, _ := os.ReadFile(filepath.Join(srv.cfg.LogDir, serviceOf[*ecsService](srv).Tasks()[0].LogPath))
		t.Fatalf("task: stop code %s, exit %v; log:\n%s", task.StopCode, task.Containers[0].ExitCode, b)
	}
	s3svc := serviceOf[*s3Service](srv)
	s3svc.mu.Lock()
	o := s3svc.buckets["drdrill-test-reports"].objects["probe.json"]
	s3svc.mu.Unlock()
	if o == nil {
		t.Fatal("the task wrote nothing to S3")
	}
	var seen struct {
		Args      []string
		WD        string
		Env       []string
		AccessKey string `json:"access_key"`
		Source    string
	}
	json.Unmarshal(o.body, &seen)
	env := strings.Join(seen.Env, "\n")
	if !strings.HasPrefix(seen.AccessKey, "ASIATASK") || seen.Source != "CredentialsEndpointProvider" ||
		!strings.HasSuffix(seen.WD, "/rootfs/home/drdrill") || !strings.Contains(env, "AWS_REGION=us-west-2") ||
		!strings.Contains(env, "DRDRILL_ALLOWED_ACCOUNTS=123456789012") || !strings.Contains(env, "/rootfs/usr/local/bin") {
		t.Fatalf("what the container saw: %+v", seen)
	}
	var api smithy.APIError
	if _, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: awssdk.String("nope"), TaskDefinition: awssdk.String("drdrill-test-runner")}); !errors.As(err, &api) || api.ErrorCode() != "ClusterNotFoundException" {
		t.Fatalf("RunTask on a missing cluster: %v", err)
	}
}

// StopTask sends SIGTERM and the container stops on it.
func TestECSStopTaskSignalsTheContainer(t *testing.T) {
	srv := startRunnerTwin(t, probeRunnerStack([]string{"drdrill-test-reports", "probe.json", "wait"}, probePolicy), 0.01)
	ctx := context.Background()
	c := ecs.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	out, err := c.RunTask(ctx, &ecs.RunTaskInput{Cluster: awssdk.String(testCluster), TaskDefinition: awssdk.String(testTaskDef)})
	if err != nil {
		t.Fatal(err)
	}
	arn := awssdk.ToString(out.Tasks[0].TaskArn)
	for deadline := time.Now().Add(30 * time.Second); len(serviceOf[*s3Service](srv).Keys("drdrill-test-reports", "probe.json")) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task never started")
		}
	}
	if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Cluster: awssdk.String(testCluster), Task: awssdk.String(arn)}); err != nil {
		t.Fatal(err)
	}
	task := waitStopped(t, c, arn)
	if task.StopCode != ecstypes.TaskStopCodeUserInitiated || awssdk.ToInt32(task.Containers[0].ExitCode) != 0 ||
		len(serviceOf[*s3Service](srv).Keys("drdrill-test-reports", "probe.json.terminated")) != 1 {
		t.Fatalf("stopped task: %s, exit %v", task.StopCode, task.Containers[0].ExitCode)
	}
}

// A task's calls are its task role's: with kms:GenerateDataKey taken from
// the role, its PutObject into the SSE-KMS bucket is denied and the probe
// exits 9, saying so in its log.
func TestECSTaskCallsAreCheckedAgainstItsRole(t *testing.T) {
	noKMS := `{"Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::drdrill-test-reports/*"]}]}`
	srv := startRunnerTwin(t, probeRunnerStack([]string{"drdrill-test-reports", "probe.json", "exit", "0"}, noKMS), 0.01)
	e := serviceOf[*ecsService](srv)
	task, apiErr := e.RunTask(RunTaskInput{Region: "us-west-2", Cluster: testCluster, TaskDefinition: testTaskDef})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	<-task.done
	st := task.state()
	log, _ := os.ReadFile(filepath.Join(srv.cfg.LogDir, st.LogPath))
	if st.ExitCode == nil || *st.ExitCode != 9 || !strings.Contains(string(log), "assumed-role/drdrill-test-harness/") ||
		!strings.Contains(string(log), "kms:GenerateDataKey") {
		t.Fatalf("exit %v; log:\n%s", st.ExitCode, log)
	}
}
