package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdaschemas "github.com/aws/aws-sdk-go-v2/service/lambda/schemas"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// lambdaAPI is Lambda as the twin serves it (restJson1): reserved
// concurrency and the functions' configuration; the functions themselves
// run behind the Runtime API.
var lambdaAPI = service{
	name:      "lambda",
	protocols: []protocol{restJSON1},
	schema:    lambdaschemas.AWSGirApiService,
	errors:    lambda.TypeRegistry,
	routes: []route{
		{method: "GET", path: "/2019-09-30/functions/{FunctionName}/concurrency", action: "GetFunctionConcurrency"},
		{method: "PUT", path: "/2017-10-31/functions/{FunctionName}/concurrency", action: "PutFunctionConcurrency"},
		{method: "DELETE", path: "/2017-10-31/functions/{FunctionName}/concurrency", action: "DeleteFunctionConcurrency"},
		{method: "POST", path: "/2015-03-31/functions/{FunctionName}/invocations", action: "Invoke", payload: "Payload"},
		{method: "GET", path: "/2015-03-31/functions/{FunctionName}/configuration", action: "GetFunctionConfiguration"},
	},
	throttling: APIError{Status: http.StatusTooManyRequests, Code: "TooManyRequestsException", Sender: true, Message: "Rate exceeded"},
	iam:        iamRules{prefix: "lambda", required: lambdaRequired, denied: APIError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Sender: true}},
	start: func(s *Server) (handler, error) {
		fns, err := s.functions(s.stack.Functions)
		if err != nil {
			return nil, err
		}
		l := newLambdaService(s.cfg, s.Endpoint, s.cfg.LogDir, fns)
		l.metrics = func(f Function, name string, v float64) {
			if cw := serviceOf[*cloudWatch](s); cw != nil {
				cw.put(f.Region, "AWS/Lambda", name, map[string]string{"FunctionName": f.Name}, time.Now(), v)
			}
		}
		l.duplicate = func() bool { return s.chance(s.cfg.Worst.LambdaDuplicates) }
		l.duplicateDelay = func() time.Duration { return s.drawUpTo(s.cfg.Worst.LambdaDuplicateDelay) }
		return l, nil
	},
}

// lambdaRequired: every call is on the function's ARN, with its tags
// (Service Authorization Reference, AWS Lambda: function, aws:ResourceTag).
func lambdaRequired(s *Server, c *call) []authorization {
	ref, _ := c.Params["FunctionName"].(string)
	arn := ref
	if !strings.HasPrefix(ref, "arn:") {
		arn = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", c.Region, s.cfg.Account, ref)
	}
	action := c.Action
	if action == "Invoke" {
		action = "InvokeFunction"
	}
	return []authorization{{action: "lambda:" + action, resource: arn, keys: resourceTags(s.stack.Tags)}}
}

// Function is a Lambda function the twin runs: the handler binary built
// from the same package as the zip (for this machine's architecture), and
// the environment infra/aws gives it.
type Function struct {
	Name, Region string
	Binary       string
	Env          map[string]string
	// Peered names the Env entries that lead into the other region's VPC:
	// the twin sends them over its peering link (CutPeering).
	Peered map[string]bool
	// Endpoints names the Env entries that are an Aurora endpoint: the
	// twin serves each through its own endpoint, which follows the roles.
	Endpoints map[string]EndpointRef
	Timeout   time.Duration
	// Role and Policy are its execution role's name and policies: the twin
	// enforces them on every call the function signs with the role's
	// credentials (nil: not enforced).
	Role   string
	Policy *Policy
	// VPC and Subnets are its vpc_config (none: outside the VPCs), as
	// GetFunctionConfiguration reports them.
	VPC     string
	Subnets []string
}

// Invocation is one finished invocation, for the record.
type Invocation struct {
	Function, Region, Source string
	// Event is the asynchronous event's id (a duplicate delivery carries
	// the original's), Queued when Lambda accepted it, Attempt its try
	// (1, then 2 and 3 for the retries of a function error).
	Event     string
	Queued    time.Time
	Attempt   int
	Duplicate bool
	At        time.Time
	Took      time.Duration
	Result    json.RawMessage
	Error     string
}

// Asynchronous invocation as Lambda runs it (Lambda Developer Guide, "How
// Lambda handles errors and retries with asynchronous invocation"): an
// event throttled — by reserved concurrency 0, or every allowed execution
// environment busy — goes back to the queue and is retried, the interval
// growing "exponentially from 1 second after the first attempt to a
// maximum of 5 minutes", for up to 6 hours; a function error is retried
// twice, "with a one-minute wait between the first two attempts, and two
// minutes between the second and third"; the queue is eventually
// consistent, so an event may be delivered twice (Worst.LambdaDuplicates).
// All durations are scaled.
const (
	asyncMaxAge        = 6 * time.Hour
	asyncThrottleFirst = time.Second
	asyncThrottleMax   = 5 * time.Minute
	// unreservedLimit is how many execution environments a function
	// without reserved concurrency may run at once here (AWS: the
	// account's unreserved concurrency, 1,000 by default; "Lambda function
	// scaling").
	unreservedLimit = 32
	// keptWarm is how many idle environments of a function stay warm.
	keptWarm = 2
)

var asyncRetryWaits = []time.Duration{time.Minute, 2 * time.Minute}

// lambdaService runs the functions behind the Lambda Runtime API, the
// interface a provided.al2023 `bootstrap` talks to inside Lambda (Lambda
// Developer Guide, "Using the Lambda runtime API for custom runtimes"):
// each execution environment is a real process of its handler binary,
// started at its first invocation (a cold start) and kept warm, with
// AWS_LAMBDA_RUNTIME_API pointing at its own runtime API and
// AWS_ENDPOINT_URL at the twin's AWS API. A function runs in as many
// environments at once as its invocations need ("Lambda function
// scaling"), up to its reserved concurrency.
type lambdaService struct {
	cfg      Config
	endpoint func() string
	logDir   string
	// metrics publishes a function's AWS/Lambda metrics; duplicate and
	// duplicateDelay draw the queue's duplicate deliveries.
	metrics        func(f Function, name string, v float64)
	duplicate      func() bool
	duplicateDelay func() time.Duration
	mu             sync.Mutex
	fns            map[string]*fnRuntime // by name (names are unique across the stack's regions)
	history        []Invocation
	dropped        []string
	seq            atomic.Int64
	stop           chan struct{}
	events         sync.WaitGroup
}

// fnRuntime is one function: its reserved concurrency and its execution
// environments.
type fnRuntime struct {
	Function
	svc      *lambdaService
	mu       sync.Mutex
	reserved *int32
	envs     []*execEnv
}

// execEnv is one execution environment: a process behind its own runtime
// API, running one invocation at a time.
type execEnv struct {
	f        *fnRuntime
	busy     bool
	ln       net.Listener
	srv      *http.Server
	cmd      *exec.Cmd
	next     chan *invocation
	inflight sync.Map // request id → *invocation
}

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan invocationResult
}

type invocationResult struct {
	body []byte
	err  string
}

func newLambdaService(cfg Config, endpoint func() string, logDir string, fns []Function) *lambdaService {
	s := &lambdaService{cfg: cfg, endpoint: endpoint, logDir: logDir, fns: map[string]*fnRuntime{}, stop: make(chan struct{}),
		metrics: func(Function, string, float64) {}, duplicate: func() bool { return false }, duplicateDelay: func() time.Duration { return 0 }}
	for _, f := range fns {
		s.fns[f.Name] = &fnRuntime{Function: f, svc: s}
	}
	return s
}

func (s *lambdaService) arn(f Function) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.Region, s.cfg.Account, f.Name)
}

// accessKey is the access key id of the function's role credentials: one
// per function, so that the twin knows whose call it is.
func (f *fnRuntime) accessKey() string { return sessionKey(f.roleName()) }

// roleName is the function's execution role's name (its own name when the
// stack does not say).
func (f *fnRuntime) roleName() string {
	if f.Role != "" {
		return f.Role
	}
	return f.Name
}

// byAccessKey is the function whose role credentials sign with key, its
// role and its policy.
func (s *lambdaService) byAccessKey(key string) (fn, role string, p *Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fns {
		if f.accessKey() == key {
			return f.Name, f.roleName(), f.Policy
		}
	}
	return "", "", nil
}

// functionARN is a function's ARN by its name ("" for one the stack lacks).
func (s *lambdaService) functionARN(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fns[name]; ok {
		return s.arn(f.Function)
	}
	return ""
}

// lookup finds a function by name or ARN in a region.
func (s *lambdaService) lookup(region, ref string) (*fnRuntime, *APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fns {
		if f.Region == region && (ref == f.Name || ref == s.arn(f.Function)) {
			return f, nil
		}
	}
	return nil, &APIError{Status: http.StatusNotFound, Code: "ResourceNotFoundException", Sender: true,
		Message: fmt.Sprintf("Function not found: arn:aws:lambda:%s:%s:function:%s", region, s.cfg.Account, ref)}
}

// acquire takes an idle execution environment, or starts one, within the
// function's concurrency; nil when the invocation is throttled (reserved
// concurrency 0 stops every invocation: "Configuring reserved
// concurrency").
func (f *fnRuntime) acquire() (*execEnv, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit, busy := unreservedLimit, 0
	if f.reserved != nil {
		limit = min(limit, int(*f.reserved))
	}
	var idle *execEnv
	for _, e := range f.envs {
		if e.busy {
			busy++
		} else if idle == nil {
			idle = e
		}
	}
	if busy >= limit {
		return nil, nil
	}
	if idle == nil {
		idle = &execEnv{f: f, next: make(chan *invocation)}
		f.envs = append(f.envs, idle)
	}
	if err := idle.start(); err != nil {
		f.envs = slices.DeleteFunc(f.envs, func(e *execEnv) bool { return e == idle })
		return nil, err
	}
	idle.busy = true
	return idle, nil
}

// release returns an environment; beyond keptWarm idle ones it is stopped,
// as Lambda reclaims environments it does not need.
func (f *fnRuntime) release(e *execEnv) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.busy = false
	idle := 0
	for _, x := range f.envs {
		if !x.busy {
			idle++
		}
	}
	if idle > keptWarm || e.cmd == nil {
		e.stop()
		f.envs = slices.DeleteFunc(f.envs, func(x *execEnv) bool { return x == e })
	}
}

// InvokeAsync queues an event for a function, as EventBridge and SNS
// invoke functions (asynchronously), and returns at once: the event runs
// when the function has concurrency for it, is retried as Lambda retries
// it, and may be delivered twice.
func (s *lambdaService) InvokeAsync(name, source string, payload []byte) {
	id := fmt.Sprintf("%08x-0000-4000-a000-%012x", s.seq.Add(1), time.Now().UnixNano()&0xffffffffffff)
	queued := time.Now()
	s.queue(name, source, id, queued, payload, 0, false)
	if s.duplicate() {
		s.queue(name, source, id, queued, payload, s.duplicateDelay(), true)
	}
}

// queue runs one delivery of an event after delay, with its retries.
func (s *lambdaService) queue(name, source, id string, queued time.Time, payload []byte, delay time.Duration, dup bool) {
	s.mu.Lock()
	f := s.fns[name]
	s.mu.Unlock()
	if f == nil {
		return
	}
	s.events.Add(1)
	go func() {
		defer s.events.Done()
		sleep := func(d time.Duration) bool {
			select {
			case <-s.stop:
				return false
			case <-time.After(d):
				return true
			}
		}
		if !sleep(delay) {
			return
		}
		throttleWait := s.cfg.scaled(asyncThrottleFirst)
		for attempt := 1; ; {
			e, err := f.acquire()
			if e == nil {
				if err == nil {
					s.metrics(f.Function, "Throttles", 1)
				}
				if time.Since(queued)+throttleWait > s.cfg.scaled(asyncMaxAge) {
					s.drop(fmt.Sprintf("%s: event %s (%s) dropped after %v in the queue: %v", name, id, source, time.Since(queued).Round(time.Millisecond), err))
					return
				}
				if !sleep(throttleWait) {
					return
				}
				throttleWait = min(2*throttleWait, s.cfg.scaled(asyncThrottleMax))
				continue
			}
			ctx, cancel := stopContext(s.stop)
			res := s.run(ctx, e, Invocation{Function: name, Region: f.Region, Source: source, Event: id, Queued: queued, Attempt: attempt, Duplicate: dup}, payload)
			cancel()
			if res.err == "" || attempt > len(asyncRetryWaits) {
				return
			}
			if !sleep(s.cfg.scaled(asyncRetryWaits[attempt-1])) {
				return
			}
			attempt++
		}
	}()
}

func (s *lambdaService) drop(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropped = append(s.dropped, why)
}

// run runs one invocation in an acquired environment, records it and
// publishes its metrics.
func (s *lambdaService) run(ctx context.Context, e *execEnv, rec Invocation, payload []byte) invocationResult {
	f := e.f
	defer f.release(e)
	inv := &invocation{id: fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq.Add(1), time.Now().UnixNano()&0xffffffffffff),
		payload: payload, deadline: time.Now().Add(f.Timeout), done: make(chan invocationResult, 1)}
	e.inflight.Store(inv.id, inv)
	defer e.inflight.Delete(inv.id)
	start := time.Now()
	var res invocationResult
	select {
	case e.next <- inv:
		select {
		case res = <-inv.done:
		case <-time.After(time.Until(inv.deadline)):
			// Lambda stops a function at its timeout; the next invocation
			// gets a fresh environment.
			e.stop()
			res = invocationResult{err: fmt.Sprintf("Task timed out after %v", f.Timeout)}
		case <-ctx.Done():
			e.stop()
			res = invocationResult{err: "the twin stopped"}
		}
	case <-time.After(f.Timeout):
		e.stop()
		res = invocationResult{err: "the runtime did not ask for the invocation (init failed?): see " + f.logPath()}
	case <-ctx.Done():
		e.stop()
		res = invocationResult{err: "the twin stopped"}
	}
	rec.At, rec.Took, rec.Error = start, time.Since(start), res.err
	if json.Valid(res.body) {
		rec.Result = append(json.RawMessage(nil), res.body...)
	}
	s.mu.Lock()
	s.history = append(s.history, rec)
	if len(s.history) > 10_000 {
		s.history = s.history[len(s.history)-5_000:]
	}
	s.mu.Unlock()
	// The function's AWS/Lambda metrics ("Types of metrics for Lambda
	// functions"): every invocation counts, a function error (a timeout
	// included) is an error.
	s.metrics(f.Function, "Invocations", 1)
	s.metrics(f.Function, "Duration", float64(rec.Took.Milliseconds()))
	if res.err != "" {
		s.metrics(f.Function, "Errors", 1)
	}
	return res
}

// Invocations returns the finished invocations of a function (all if name is empty).
func (s *lambdaService) Invocations(name string) []Invocation {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Invocation
	for _, i := range s.history {
		if name == "" || i.Function == name {
			out = append(out, i)
		}
	}
	return out
}

// Dropped are the events Lambda gave up on.
func (s *lambdaService) Dropped() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.dropped...)
}

func (f *fnRuntime) logPath() string { return filepath.Join(f.svc.logDir, f.Name+".log") }

// start runs the environment's process behind its runtime API, if it is
// not running. Called with f.mu held.
func (e *execEnv) start() error {
	f := e.f
	if e.cmd != nil && e.cmd.ProcessState == nil {
		return nil
	}
	if _, err := os.Stat(f.Binary); err != nil {
		return fmt.Errorf("%s: handler binary %s: %w (build it with `make build`)", f.Name, f.Binary, err)
	}
	if e.ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		e.ln = ln
		e.srv = &http.Server{Handler: e.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = e.srv.Serve(ln) }()
	}
	if err := os.MkdirAll(f.svc.logDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(f.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_RUNTIME_API=" + e.ln.Addr().String(),
		"AWS_REGION=" + f.Region, "AWS_DEFAULT_REGION=" + f.Region, "AWS_LAMBDA_FUNCTION_NAME=" + f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "_HANDLER=bootstrap",
		// The execution role's credentials, as Lambda passes them, and the
		// twin as every SDK client's endpoint.
		"AWS_ACCESS_KEY_ID=" + f.accessKey(), "AWS_SECRET_ACCESS_KEY=drdrill-twin-role", "AWS_SESSION_TOKEN=drdrill-twin",
		"AWS_ENDPOINT_URL=" + f.svc.endpoint()}
	for k, v := range f.Env {
		env = append(env, k+"="+v)
	}
	cmd := exec.Command(f.Binary)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("%s: start %s: %w", f.Name, f.Binary, err)
	}
	e.cmd = cmd
	go func() { _ = cmd.Wait(); logf.Close() }()
	return nil
}

// stop ends the environment's process (its runtime API stays, for a
// restart).
func (e *execEnv) stop() {
	if e.cmd != nil && e.cmd.Process != nil {
		_ = e.cmd.Process.Kill()
	}
	e.cmd = nil
}

func (s *lambdaService) close() {
	close(s.stop)
	s.events.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fns {
		f.mu.Lock()
		for _, e := range f.envs {
			e.stop()
			if e.srv != nil {
				_ = e.srv.Close()
			}
		}
		f.mu.Unlock()
	}
}

// runtimeAPI serves the Lambda Runtime API 2018-06-01 to the
// environment's process.
func (e *execEnv) runtimeAPI() http.Handler {
	f := e.f
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-e.next:
			w.Header().Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			w.Header().Set("Lambda-Runtime-Deadline-Ms", fmt.Sprint(inv.deadline.UnixMilli()))
			w.Header().Set("Lambda-Runtime-Invoked-Function-Arn", f.svc.arn(f.Function))
			w.Header().Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-drdrilltwin;Sampled=0")
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	})
	finish := func(w http.ResponseWriter, r *http.Request, isErr bool) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		v, ok := e.inflight.Load(r.PathValue("id"))
		if !ok {
			http.Error(w, `{"errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		res := invocationResult{body: body}
		if isErr {
			var e struct{ ErrorMessage, ErrorType string }
			_ = json.Unmarshal(body, &e)
			res.err = strings.TrimSpace(e.ErrorType + ": " + e.ErrorMessage)
		}
		v.(*invocation).done <- res
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"status":"OK"}`))
	}
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/response", func(w http.ResponseWriter, r *http.Request) { finish(w, r, false) })
	mux.HandleFunc("POST /2018-06-01/runtime/invocation/{id}/error", func(w http.ResponseWriter, r *http.Request) { finish(w, r, true) })
	mux.HandleFunc("POST /2018-06-01/runtime/init/error", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		fmt.Fprintf(os.Stderr, "twin: %s init error: %s\n", f.Name, bytes.TrimSpace(body))
		w.WriteHeader(http.StatusAccepted)
	})
	return mux
}

// handle answers the Lambda API (restJson1): reserved concurrency and the
// function's configuration.
func (s *lambdaService) handle(c *call) (smithy.Serializable, *APIError) {
	f, e := s.lookup(c.Region, c.Params["FunctionName"].(string))
	if e != nil {
		return nil, e
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Action {
	case "GetFunctionConcurrency":
		return &lambda.GetFunctionConcurrencyOutput{ReservedConcurrentExecutions: f.reserved}, nil
	case "PutFunctionConcurrency":
		n, ok := number(c.Params["ReservedConcurrentExecutions"])
		if !ok || n < 0 {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidParameterValueException", Sender: true,
				Message: "ReservedConcurrentExecutions must be a non-negative integer"}
		}
		v := int32(n)
		f.reserved = &v
		return &lambda.PutFunctionConcurrencyOutput{ReservedConcurrentExecutions: awssdk.Int32(v)}, nil
	case "DeleteFunctionConcurrency":
		f.reserved = nil
		return &lambda.DeleteFunctionConcurrencyOutput{}, nil
	case "GetFunctionConfiguration":
		out := &lambda.GetFunctionConfigurationOutput{FunctionName: awssdk.String(f.Name), FunctionArn: awssdk.String(s.arn(f.Function)),
			Runtime: lambdatypes.RuntimeProvidedal2023, Handler: awssdk.String("bootstrap"), Timeout: awssdk.Int32(int32(f.Timeout / time.Second)),
			Architectures: []lambdatypes.Architecture{lambdatypes.ArchitectureArm64}, State: lambdatypes.StateActive,
			LastUpdateStatus: lambdatypes.LastUpdateStatusSuccessful, PackageType: lambdatypes.PackageTypeZip}
		if len(f.Subnets) > 0 {
			out.VpcConfig = &lambdatypes.VpcConfigResponse{VpcId: awssdk.String(f.VPC), SubnetIds: append([]string(nil), f.Subnets...)}
		}
		return out, nil
	}
	return nil, unmodelled(c)
}
