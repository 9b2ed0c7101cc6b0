package twin

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecsschemas "github.com/aws/aws-sdk-go-v2/service/ecs/schemas"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/ociimage"
)

// ecsAPI is Amazon ECS on Fargate as the twin serves it (awsJson1_1):
// RunTask, DescribeTasks, ListTasks and StopTask on the clusters and task
// definitions infra/aws declares. A task runs its container's entrypoint
// as a process on this machine, from the image's own filesystem — the
// OCI layout `make image` wrote, extracted per task as a runtime unpacks
// it — with the task role's credentials served as ECS serves them (the
// container credentials endpoint the SDK's default chain reads).
var ecsAPI = service{
	name: "ecs", protocols: []protocol{awsJSON11},
	schema: ecsschemas.AmazonEC2ContainerServiceV20141113, errors: ecs.TypeRegistry,
	throttling: APIError{Status: http.StatusBadRequest, Code: "ThrottlingException", Sender: true, Message: "Rate exceeded"},
	iam:        iamRules{prefix: "ecs", required: ecsRequired, denied: APIError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Sender: true}},
	start: func(s *Server) (handler, error) {
		e := &ecsService{srv: s, tasks: map[string]*ecsTask{}}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		e.credsLn = ln
		e.creds = &http.Server{Handler: http.HandlerFunc(e.serveCredentials), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = e.creds.Serve(ln) }()
		return e, nil
	},
}

// TaskDefinition is an aws_ecs_task_definition as declared, with its one
// container (the runner's).
type TaskDefinition struct {
	Family, Region, ARN string
	// TaskRole and ExecutionRole are role ARNs; Policy the task role's
	// policy, enforced on every call signed with the task's credentials
	// (nil: allowed nothing, as a role without a policy).
	TaskRole, ExecutionRole string
	Policy                  *Policy
	// Arch is the runtime platform's CPU architecture (X86_64, ARM64): the
	// image must have a build for it, as Fargate pulls that one.
	Arch      string
	Container ContainerDefinition
}

// ContainerDefinition is the task's container: its image reference,
// entry point and command (overriding the image's), environment, stop
// timeout (30 s when unset, 120 s at most on Fargate) and awslogs
// destination.
type ContainerDefinition struct {
	Name, Image               string
	EntryPoint, Command       []string
	Environment               map[string]string
	StopTimeout               time.Duration
	LogGroup, LogStreamPrefix string
}

// ecsRequired: DescribeTasks, ListTasks and StopTask act on tasks in a
// cluster; RunTask on the task definition, with the cluster as
// ecs:cluster (Service Authorization Reference, Amazon ECS).
func ecsRequired(s *Server, c *call) []authorization {
	if c.Action != "RunTask" {
		return nil
	}
	e := serviceOf[*ecsService](s)
	td, _ := e.taskDefinition(c.Region, str(c.Params, "taskDefinition"))
	arn := str(c.Params, "taskDefinition")
	if td != nil {
		arn = td.ARN
	}
	return []authorization{{action: "ecs:RunTask", resource: arn, keys: map[string]string{"ecs:cluster": e.clusterARN(c.Region, str(c.Params, "cluster"))}}}
}

type ecsService struct {
	srv     *Server
	mu      sync.Mutex
	tasks   map[string]*ecsTask // by id
	creds   *http.Server
	credsLn net.Listener
	wg      sync.WaitGroup
}

// ecsTask is one task and the process of its container.
type ecsTask struct {
	id, arn, cluster, region, startedBy, group string
	def                                        *TaskDefinition
	subnets                                    []string
	accessKey, secret, token, credsToken       string
	mu                                         sync.Mutex
	lastStatus, desired, stopCode, stopped     string
	exitCode                                   *int32
	createdAt, startedAt, stoppedAt            time.Time
	cmd                                        *exec.Cmd
	done                                       chan struct{}
}

// RunTaskInput is what a RunTask asks for, from the API or a schedule.
type RunTaskInput struct {
	Region, Cluster, TaskDefinition, StartedBy, Group string
	Subnets                                           []string
}

func (e *ecsService) clusterARN(region, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	if ref == "" {
		ref = "default"
	}
	return fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", region, e.srv.cfg.Account, ref)
}

// taskDefinition finds a task definition by ARN (with or without its
// revision) or family[:revision].
func (e *ecsService) taskDefinition(region, ref string) (*TaskDefinition, *APIError) {
	for i := range e.srv.stack.TaskDefinitions {
		td := &e.srv.stack.TaskDefinitions[i]
		if td.Region != region {
			continue
		}
		family, rev, _ := strings.Cut(td.ARN[strings.LastIndex(td.ARN, "/")+1:], ":")
		if ref == td.ARN || ref == strings.TrimSuffix(td.ARN, ":"+rev) || ref == family || ref == family+":"+rev {
			return td, nil
		}
	}
	return nil, &APIError{Status: http.StatusBadRequest, Code: "ClientException", Sender: true, Message: "Unable to find task definition " + ref}
}

// RunTask starts a task as ECS does on Fargate: PROVISIONING and PENDING
// for the launch (the image pulled: here extracted), then RUNNING with its
// container's process, then STOPPED when the essential container exits.
func (e *ecsService) RunTask(in RunTaskInput) (*ecsTask, *APIError) {
	td, apiErr := e.taskDefinition(in.Region, in.TaskDefinition)
	if apiErr != nil {
		return nil, apiErr
	}
	cluster := e.clusterARN(in.Region, in.Cluster)
	if !slices.Contains(e.srv.stack.Clusters, cluster) {
		return nil, &APIError{Status: http.StatusBadRequest, Code: "ClusterNotFoundException", Sender: true, Message: "Cluster not found."}
	}
	e.mu.Lock()
	id := randomHex(16) // ECS task ids are 32 hexadecimal digits
	t := &ecsTask{id: id, arn: fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", in.Region, e.srv.cfg.Account, cluster[strings.LastIndex(cluster, "/")+1:], id),
		cluster: cluster, region: in.Region, startedBy: in.StartedBy, group: in.Group, def: td, subnets: in.Subnets,
		accessKey: "ASIATASK" + strings.ToUpper(id[16:]), secret: randomHex(20), token: randomHex(32), credsToken: randomHex(16),
		lastStatus: "PROVISIONING", desired: "RUNNING", createdAt: time.Now(), done: make(chan struct{})}
	if t.group == "" {
		t.group = "family:" + td.Family
	}
	e.tasks[id] = t
	e.mu.Unlock()
	e.wg.Add(1)
	go e.run(t)
	return t, nil
}

// FargateLaunch is how long a Fargate task takes from RunTask to RUNNING:
// the ECS Developer Guide gives no figure; tasks commonly take tens of
// seconds to provision an ENI and pull an image, and the twin takes the
// harsher minute (scaled).
const FargateLaunch = time.Minute

func (e *ecsService) run(t *ecsTask) {
	defer e.wg.Done()
	defer close(t.done)
	launch := e.srv.cfg.scaled(FargateLaunch)
	select {
	case <-time.After(launch / 2):
	case <-e.srv.stop:
		t.finish("TaskFailedToStart", "the twin stopped", nil)
		return
	}
	t.set("PENDING")
	root := filepath.Join(e.dir(), t.id, "rootfs")
	cfg, err := e.pull(t.def, root)
	if err != nil {
		t.finish("TaskFailedToStart", "CannotPullContainerError: "+err.Error(), nil)
		return
	}
	time.Sleep(launch / 2)
	if t.desiredStatus() == "STOPPED" {
		t.finish("UserInitiated", "Task stopped before it ran", nil)
		return
	}
	cmd, logf, err := e.command(t, root, cfg)
	if err != nil {
		t.finish("TaskFailedToStart", "CannotStartContainerError: "+err.Error(), nil)
		return
	}
	defer logf.Close()
	t.mu.Lock()
	t.cmd, t.lastStatus, t.startedAt = cmd, "RUNNING", time.Now()
	t.mu.Unlock()
	err = cmd.Wait()
	// A container's processes die with it: whatever its entrypoint
	// started (ginkgo in its own process group, the suite) is killed too.
	killDescendants(cmd.Process.Pid)
	code := int32(0)
	if ee, ok := err.(*exec.ExitError); ok {
		code = int32(ee.ExitCode())
	}
	reason, stopCode := "Essential container in task exited", "EssentialContainerExited"
	if t.desiredStatus() == "STOPPED" {
		reason, stopCode = "Task stopped by user", "UserInitiated"
	}
	t.finish(stopCode, reason, &code)
	_ = os.RemoveAll(root) // the task's ephemeral storage goes with it
}

func (e *ecsService) dir() string { return filepath.Join(e.srv.cfg.LogDir, "ecs") }

// pull extracts the image's build for the task's platform into root and
// returns its configuration. The twin has no registry: the image a task
// definition names is the OCI layout the twin was given (Config.Image),
// as `make push` would have pushed it to the stack's repository. Fargate
// pulls the build for the task's runtime platform, so the layout must
// have it; the process runs this machine's build.
func (e *ecsService) pull(td *TaskDefinition, root string) (*ociimageConfig, error) {
	if e.srv.cfg.Image == "" {
		return nil, fmt.Errorf("%s: the twin was given no image (drdrill twin up --image build/image, after `make image`)", td.Container.Image)
	}
	idx, err := ociimage.ReadLayout(e.srv.cfg.Image)
	if err != nil {
		return nil, err
	}
	want := map[string]string{"ARM64": "linux/arm64", "X86_64": "linux/amd64", "": "linux/amd64"}[td.Arch]
	if _, err := ociimage.ForPlatform(idx, want); err != nil {
		return nil, fmt.Errorf("%s: image manifest does not contain descriptor matching platform '%s' (the task definition's runtime platform is %s): %v", td.Container.Image, want, td.Arch, err)
	}
	img, err := ociimage.ForPlatform(idx, "linux/"+runtime.GOARCH)
	if err != nil {
		return nil, err
	}
	cf, err := ociimage.Extract(img, root)
	if err != nil {
		return nil, err
	}
	return &ociimageConfig{Entrypoint: cf.Config.Entrypoint, Cmd: cf.Config.Cmd, Env: cf.Config.Env, WorkingDir: cf.Config.WorkingDir, User: cf.Config.User}, nil
}

type ociimageConfig struct {
	Entrypoint, Cmd, Env []string
	WorkingDir, User     string
}

// command is the container's process: the image's entrypoint (or the
// container definition's) with the definition's command (else the
// image's), the image's environment, then the definition's, then what ECS
// adds — the region, the credentials endpoint of the task role — and the
// twin's endpoint for the SDK. The process runs without a mount
// namespace, so the absolute paths the image's configuration names (PATH,
// HOME, the CA bundle, the working directory, /tmp) are taken under the
// extracted root; the binaries' own lookups (drdrill finding ginkgo and
// drill.test beside itself) resolve there too.
func (e *ecsService) command(t *ecsTask, root string, cfg *ociimageConfig) (*exec.Cmd, *os.File, error) {
	c := t.def.Container
	argv := cfg.Entrypoint
	if len(c.EntryPoint) > 0 {
		argv = c.EntryPoint
	}
	args := cfg.Cmd
	if len(c.Command) > 0 {
		args = c.Command
	}
	argv = append(append([]string(nil), argv...), args...)
	if len(argv) == 0 {
		return nil, nil, fmt.Errorf("the image and the container definition give no command")
	}
	env := []string{}
	for _, kv := range cfg.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, k+"="+rebase(root, v))
	}
	env = append(env, "TMPDIR="+filepath.Join(root, "tmp"))
	keys := make([]string, 0, len(c.Environment))
	for k := range c.Environment {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		env = append(env, k+"="+c.Environment[k])
	}
	env = append(env, "AWS_REGION="+t.region, "AWS_DEFAULT_REGION="+t.region, "AWS_EXECUTION_ENV=AWS_ECS_FARGATE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=http://"+e.credsLn.Addr().String()+"/v2/credentials/"+t.id,
		"AWS_CONTAINER_AUTHORIZATION_TOKEN="+t.credsToken, "AWS_ENDPOINT_URL="+e.srv.Endpoint())
	if sc := e.srv.cfg.TimeScale; sc > 0 && sc != 1 {
		// The drill polls AWS and reads the functions' period at the
		// twin's scale, as twin.env tells a drill run by hand.
		env = append(env, "DRDRILL_AWS_POLL="+pollFor(sc), "DRDRILL_CHECK_PERIOD="+e.srv.CheckPeriod().String())
	}
	exe := argv[0]
	if filepath.IsAbs(exe) {
		exe = filepath.Join(root, exe)
	}
	logPath := filepath.Join(e.srv.cfg.LogDir, "ecs", c.LogGroup, c.LogStreamPrefix, c.Name, t.id+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(exe, argv[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	cmd.Dir = filepath.Join(root, cfg.WorkingDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, err
	}
	return cmd, logf, nil
}

// rebase takes an image environment value's absolute paths under root:
// "/usr/local/bin" and "/a:/b" lists alike.
func rebase(root, v string) string {
	parts := strings.Split(v, ":")
	for i, p := range parts {
		if !filepath.IsAbs(p) {
			return v
		}
		parts[i] = filepath.Join(root, p)
	}
	return strings.Join(parts, ":")
}

func (t *ecsTask) set(status string) {
	t.mu.Lock()
	t.lastStatus = status
	t.mu.Unlock()
}

func (t *ecsTask) desiredStatus() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.desired
}

func (t *ecsTask) finish(stopCode, reason string, code *int32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lastStatus, t.desired, t.stopCode, t.stopped, t.exitCode, t.stoppedAt = "STOPPED", "STOPPED", stopCode, reason, code, time.Now()
}

// stop is StopTask: SIGTERM to the container, then SIGKILL to it and
// everything it started after the container's stop timeout (30 s by
// default, scaled), as ECS stops a task.
func (e *ecsService) stopTask(t *ecsTask) {
	t.mu.Lock()
	t.desired = "STOPPED"
	cmd := t.cmd
	timeout := t.def.Container.StopTimeout
	t.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		select {
		case <-t.done:
		case <-time.After(e.srv.cfg.scaled(timeout)):
			killDescendants(cmd.Process.Pid)
			_ = cmd.Process.Kill()
		}
	}()
}

// killDescendants SIGKILLs every live process descended from pid.
func killDescendants(pid int) {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, en := range ents {
		p, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", en.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var kill func(int)
	kill = func(p int) {
		for c, pp := range parent {
			if pp == p {
				kill(c)
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
		}
	}
	kill(pid)
}

// serveCredentials is the container credentials endpoint: the task role's
// temporary credentials for the task whose token the request carries
// (ECS Developer Guide, "Amazon ECS task IAM role").
func (e *ecsService) serveCredentials(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/v2/credentials/")
	e.mu.Lock()
	t := e.tasks[id]
	e.mu.Unlock()
	if t == nil || r.Header.Get("Authorization") != t.credsToken {
		http.Error(w, `{"code":"InvalidIdentityToken","message":"no task for these credentials"}`, http.StatusBadRequest)
		return
	}
	t.mu.Lock()
	stopped := t.lastStatus == "STOPPED"
	t.mu.Unlock()
	if stopped {
		http.Error(w, `{"code":"InvalidIdentityToken","message":"the task has stopped"}`, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"AccessKeyId": t.accessKey, "SecretAccessKey": t.secret, "Token": t.token,
		"Expiration": time.Now().Add(6 * time.Hour).UTC().Format(time.RFC3339), "RoleArn": t.def.TaskRole})
}

// byAccessKey is the task role (ARN and policy) whose credentials sign
// with key: a running task's.
func (e *ecsService) byAccessKey(key string) (string, *Policy, bool) {
	if !strings.HasPrefix(key, "ASIATASK") {
		return "", nil, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tasks {
		if t.accessKey == key {
			p := t.def.Policy
			if p == nil {
				p = &Policy{}
			}
			return t.def.TaskRole, p, true
		}
	}
	return "", nil, false
}

// Tasks are the tasks the twin ran or runs, oldest first.
func (e *ecsService) Tasks() []TaskState {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []TaskState
	for _, t := range e.tasks {
		out = append(out, t.state())
	}
	slices.SortFunc(out, func(a, b TaskState) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return out
}

// TaskState is a task as DescribeTasks shows it.
type TaskState struct {
	ID, ARN, LastStatus, StopCode, StoppedReason, StartedBy, LogPath string
	ExitCode                                                         *int32
	CreatedAt, StartedAt, StoppedAt                                  time.Time
}

func (t *ecsTask) state() TaskState {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.def.Container
	return TaskState{ID: t.id, ARN: t.arn, LastStatus: t.lastStatus, StopCode: t.stopCode, StoppedReason: t.stopped, StartedBy: t.startedBy,
		ExitCode: t.exitCode, CreatedAt: t.createdAt, StartedAt: t.startedAt, StoppedAt: t.stoppedAt,
		LogPath: filepath.Join("ecs", c.LogGroup, c.LogStreamPrefix, c.Name, t.id+".log")}
}

func (t *ecsTask) api() ecstypes.Task {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := func(v time.Time) *time.Time {
		if v.IsZero() {
			return nil
		}
		return &v
	}
	return ecstypes.Task{TaskArn: awssdk.String(t.arn), ClusterArn: awssdk.String(t.cluster), TaskDefinitionArn: awssdk.String(t.def.ARN),
		LastStatus: awssdk.String(t.lastStatus), DesiredStatus: awssdk.String(t.desired), LaunchType: ecstypes.LaunchTypeFargate,
		StartedBy: awssdk.String(t.startedBy), Group: awssdk.String(t.group), StopCode: ecstypes.TaskStopCode(t.stopCode),
		StoppedReason: nonEmpty(t.stopped), CreatedAt: ts(t.createdAt), StartedAt: ts(t.startedAt), StoppedAt: ts(t.stoppedAt),
		Containers: []ecstypes.Container{{Name: awssdk.String(t.def.Container.Name), Image: awssdk.String(t.def.Container.Image),
			LastStatus: awssdk.String(t.lastStatus), ExitCode: t.exitCode, TaskArn: awssdk.String(t.arn)}}}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// handle answers the ECS API.
func (e *ecsService) handle(c *call) (smithy.Serializable, *APIError) {
	switch c.Action {
	case "RunTask":
		var subnets []string
		if nc, ok := c.Params["networkConfiguration"].(map[string]any); ok {
			if vpc, ok := nc["awsvpcConfiguration"].(map[string]any); ok {
				subnets = strs(vpc, "subnets")
			}
		}
		if lt := str(c.Params, "launchType"); lt != "" && lt != "FARGATE" {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidParameterException", Sender: true, Message: "the twin runs Fargate tasks only"}
		}
		t, apiErr := e.RunTask(RunTaskInput{Region: c.Region, Cluster: str(c.Params, "cluster"), TaskDefinition: str(c.Params, "taskDefinition"),
			StartedBy: str(c.Params, "startedBy"), Group: str(c.Params, "group"), Subnets: subnets})
		if apiErr != nil {
			return nil, apiErr
		}
		return &ecs.RunTaskOutput{Tasks: []ecstypes.Task{t.api()}}, nil
	case "DescribeTasks":
		out := &ecs.DescribeTasksOutput{}
		for _, ref := range strs(c.Params, "tasks") {
			if t := e.lookup(ref); t != nil {
				out.Tasks = append(out.Tasks, t.api())
			} else {
				out.Failures = append(out.Failures, ecstypes.Failure{Arn: awssdk.String(ref), Reason: awssdk.String("MISSING")})
			}
		}
		return out, nil
	case "ListTasks":
		out := &ecs.ListTasksOutput{}
		cluster, status := e.clusterARN(c.Region, str(c.Params, "cluster")), str(c.Params, "desiredStatus")
		if status == "" {
			status = "RUNNING"
		}
		for _, st := range e.Tasks() {
			t := e.lookup(st.ID)
			if t.cluster == cluster && t.desiredStatus() == status {
				out.TaskArns = append(out.TaskArns, t.arn)
			}
		}
		return out, nil
	case "StopTask":
		t := e.lookup(str(c.Params, "task"))
		if t == nil {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidParameterException", Sender: true, Message: "The referenced task was not found."}
		}
		e.stopTask(t)
		task := t.api()
		return &ecs.StopTaskOutput{Task: &task}, nil
	}
	return nil, unmodelled(c)
}

func (e *ecsService) lookup(ref string) *ecsTask {
	e.mu.Lock()
	defer e.mu.Unlock()
	id := ref[strings.LastIndex(ref, "/")+1:]
	return e.tasks[id]
}

// close stops every task as its cluster would be torn down, and the
// credentials endpoint.
func (e *ecsService) close() {
	e.mu.Lock()
	var running []*ecsTask
	for _, t := range e.tasks {
		running = append(running, t)
	}
	e.mu.Unlock()
	for _, t := range running {
		t.mu.Lock()
		cmd := t.cmd
		t.desired = "STOPPED"
		t.mu.Unlock()
		if cmd != nil && cmd.Process != nil {
			killDescendants(cmd.Process.Pid)
			_ = cmd.Process.Kill()
		}
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
	}
	_ = e.creds.Close()
}
