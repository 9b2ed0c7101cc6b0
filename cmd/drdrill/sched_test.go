package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/drdrill/drdrill/internal/ociimage"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/runstore"
	"github.com/drdrill/drdrill/internal/twin"
)

// The scheduled runner rehearsed on the twin, as infra/aws declares it:
// EventBridge Scheduler fires the schedule (scaled), ECS runs the task from
// the image `make image` builds — its own extracted filesystem, its
// entrypoint, the task role's credentials, every call checked against the
// task role's policy from the HCL — each run drills planned-switchover
// and uploads its reports to the twin's S3, and `drdrill verdict --window
// 3 s3://…` judges them as it judges the same runs copied to a directory.

var (
	imageOnce   sync.Once
	imageLayout string
	imageErr    error
)

// runnerImage builds the runner image for this machine's platform once
// per test binary, as `make image IMAGE_PLATFORMS=linux/<arch>` does.
func runnerImage(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() {
		// Under e2eDir, which TestMain removes: a directory of its own
		// in the temporary directory outlived every test (CI's leftover
		// check named /tmp/drdrill-image-1800931907).
		dir, err := os.MkdirTemp(e2eDir, "image-")
		if err != nil {
			imageErr = err
			return
		}
		imageLayout = filepath.Join(dir, "image")
		start := time.Now()
		_, imageErr = ociimage.BuildRunner(ociimage.BuildOptions{Module: "../..", Platforms: []string{"linux/" + runtime.GOARCH},
			Layout: imageLayout, BinDir: filepath.Join(dir, "bin"), CA: "/etc/ssl/certs/ca-certificates.crt"})
		t.Logf("runner image built in %v", time.Since(start).Round(time.Second))
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageLayout
}

const schedAccount = "000000000000"

// startRunnerTwin runs `twin up` over stack with the runner's image and
// its schedule every 15 (scaled) minutes: 18 s at the time scale 0.02.
func startRunnerTwin(t *testing.T, stack string, schedule string) (dir string, env []string) {
	t.Helper()
	needMariaDB(t)
	image := runnerImage(t)
	dir = filepath.Join(t.TempDir(), "twin")
	arch := map[string]string{"amd64": "X86_64", "arm64": "ARM64"}[runtime.GOARCH]
	mustRun(t, "twin", "up", "--dir", dir, "--stack", stack, "--time-scale", "0.02", "--image", image,
		"--var", "runner_schedule="+schedule, "--var", "runner_cpu_architecture="+arch,
		"--var", "runner_labels=planned-switchover", "--var", "runner_rate=50")
	t.Cleanup(func() { run(t, nil, "twin", "down", "--dir", dir) })
	env = twinEnv(t, dir)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v) // the test's own SDK clients and run store aim at the twin too
	}
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	return dir, env
}

// ecsClient is the test's own view of the runner's tasks, as the
// account's administrator: the harness's role (twin.env's) has no ECS
// calls, and needs none.
func ecsClient(t *testing.T) *ecs.Client {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion("us-west-2"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(twin.AdministratorKey, "drdrill-twin", "")))
	if err != nil {
		t.Fatal(err)
	}
	return ecs.NewFromConfig(cfg)
}

// stoppedTasks waits until n of the runner's tasks have stopped and
// returns them.
func stoppedTasks(t *testing.T, c *ecs.Client, cluster string, n int, within time.Duration) []ecstypes.Task {
	t.Helper()
	ctx := context.Background()
	for deadline := time.Now().Add(within); ; time.Sleep(time.Second) {
		list, err := c.ListTasks(ctx, &ecs.ListTasksInput{Cluster: awssdk.String(cluster), DesiredStatus: ecstypes.DesiredStatusStopped})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.TaskArns) > 0 {
			out, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: awssdk.String(cluster), Tasks: list.TaskArns})
			if err != nil {
				t.Fatal(err)
			}
			var stopped []ecstypes.Task
			for _, task := range out.Tasks {
				if awssdk.ToString(task.LastStatus) == "STOPPED" {
					stopped = append(stopped, task)
				}
			}
			if len(stopped) >= n {
				return stopped
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d runner tasks stopped within %v", n, within)
		}
	}
}

// taskLog is a task's container log (the awslogs stream, as the twin keeps it).
func taskLog(dir string, task ecstypes.Task) string {
	arn := awssdk.ToString(task.TaskArn)
	m, _ := filepath.Glob(filepath.Join(dir, "lambda-logs", "ecs", "*", "*", "*", "*", arn[strings.LastIndex(arn, "/")+1:]+".log"))
	if len(m) == 0 {
		return "(no log)"
	}
	b, _ := os.ReadFile(m[0])
	return string(b)
}

func TestScheduledDrillsOnTheTwin(t *testing.T) {
	start := time.Now()
	dir, env := startRunnerTwin(t, "../../infra/aws", "rate(15 minutes)")
	bucket := "s3://drdrill-twin-reports-" + schedAccount
	cluster := "arn:aws:ecs:us-west-2:" + schedAccount + ":cluster/drdrill-twin-runner"
	tasks := stoppedTasks(t, ecsClient(t), cluster, 3, 4*time.Minute)
	for _, task := range tasks {
		log := taskLog(dir, task)
		if code := awssdk.ToInt32(task.Containers[0].ExitCode); code != 0 || task.StopCode != ecstypes.TaskStopCodeEssentialContainerExited {
			t.Fatalf("task %s: %s, exit %d; its log:\n%s", awssdk.ToString(task.TaskArn), task.StopCode, code, log)
		}
		// The suites ran from the image's own filesystem.
		if !strings.Contains(log, "/rootfs/usr/local/bin/ginkgo run") || !strings.Contains(log, "uploaded") || strings.Contains(log, "not authorized") {
			t.Fatalf("task %s did not drill from the image and upload:\n%s", awssdk.ToString(task.TaskArn), log)
		}
	}
	ctx := context.Background()
	st, err := runstore.Open(ctx, bucket+"/runs")
	if err != nil {
		t.Fatal(err)
	}
	runs, err := runstore.Runs(ctx, st)
	if err != nil || len(runs) < 3 {
		t.Fatalf("runs in %s/runs: %d, %v", bucket, len(runs), err)
	}
	for _, r := range runs {
		rep, err := report.Parse(r.Report, r.ID, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Run.Target != "aws" || len(rep.Scenarios) != 1 || rep.Scenarios[0].Name != "planned-switchover" || rep.Verdict != "pass" {
			b, _ := json.Marshal(rep.Scenarios)
			t.Fatalf("run %s: target %s, verdict %s, scenarios %s", r.ID, rep.Run.Target, rep.Verdict, b)
		}
	}
	// The same verdict from S3 and from the runs copied to a directory.
	local := t.TempDir()
	for _, r := range runs {
		if _, err := runstore.Download(ctx, st, r.Dir, filepath.Join(local, r.ID)); err != nil {
			t.Fatal(err)
		}
	}
	remote := run(t, env, "verdict", "--window", "3", bucket+"/runs")
	copied := run(t, env, "verdict", "--window", "3", local)
	if remote.code != 0 || !strings.Contains(remote.out, "verdict: PASS") || remote.out != copied.out || copied.code != 0 {
		t.Fatalf("verdict --window 3: S3 exit %d, local copy exit %d\n--- s3\n%s\n--- local\n%s", remote.code, copied.code, remote.out, copied.out)
	}
	if page, err := st.Read(ctx, report.HTMLFile); err != nil || !strings.Contains(string(page), runs[0].ID+"/index.html") {
		t.Fatalf("the runs index in the bucket: %v", err)
	}
	t.Logf("%d scheduled runs drilled, uploaded and judged in %v", len(runs), time.Since(start).Round(time.Second))
}

// A task role missing one call the harness makes — here
// rds:SwitchoverGlobalCluster, as a mistaken edit of infra/aws would
// leave it — fails the scheduled run: the twin denies the call, the drill
// fails and says so, and the run that reaches the bucket is a failure.
func TestScheduledDrillWithARoleMissingACallFails(t *testing.T) {
	stack := filepath.Join(t.TempDir(), "aws")
	os.MkdirAll(stack, 0o755)
	files, _ := filepath.Glob("../../infra/aws/*.tf")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if filepath.Base(f) == "harness.tf" { // the task role is the harness's
			old := `Action = ["rds:SwitchoverGlobalCluster", "rds:FailoverGlobalCluster"]`
			if !strings.Contains(string(b), old) {
				t.Fatalf("harness.tf no longer grants %s: the mutation does not apply", old)
			}
			b = []byte(strings.Replace(string(b), old, `Action = ["rds:FailoverGlobalCluster"]`, 1))
		}
		os.WriteFile(filepath.Join(stack, filepath.Base(f)), b, 0o644)
	}
	// One firing is enough: rate(15 minutes) fires after 18 s.
	dir, _ := startRunnerTwin(t, stack, "rate(15 minutes)")
	tasks := stoppedTasks(t, ecsClient(t), "arn:aws:ecs:us-west-2:"+schedAccount+":cluster/drdrill-twin-runner", 1, 2*time.Minute)
	log := taskLog(dir, tasks[0])
	if code := awssdk.ToInt32(tasks[0].Containers[0].ExitCode); code == 0 || !strings.Contains(log, "not authorized to perform: rds:SwitchoverGlobalCluster") {
		t.Fatalf("a task role without rds:SwitchoverGlobalCluster: exit %d; its log:\n%s", code, log)
	}
}
