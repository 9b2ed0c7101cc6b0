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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// Function is a Lambda function the twin runs: the handler binary built
// from the same package as the zip (for this machine's architecture), and
// the environment infra/aws gives it.
type Function struct {
	Name, Region string
	Binary       string
	Env          map[string]string
	// Peered names the Env entries that lead into the other region's VPC:
	// the twin sends them over its peering link (CutPeering).
	Peered  map[string]bool
	Timeout time.Duration
	// Policy is its role's: the twin enforces it on every call the
	// function signs with the role's credentials (nil: not enforced).
	Policy *Policy
	// VPC and Subnets are its vpc_config (none: outside the VPCs), as
	// GetFunctionConfiguration reports them.
	VPC     string
	Subnets []string
}

// Invocation is one finished invocation, for the record.
type Invocation struct {
	Function, Region, Source string
	At                       time.Time
	Took                     time.Duration
	Result                   json.RawMessage
	Error                    string
}

// lambdaService runs the functions behind the Lambda Runtime API, the
// interface a provided.al2023 `bootstrap` talks to inside Lambda (Lambda
// Developer Guide, "Using the Lambda runtime API for custom runtimes"):
// each function is a real process of its handler binary, started at its
// first invocation (a cold start) and kept warm, with AWS_LAMBDA_RUNTIME_API
// pointing at the twin and AWS_ENDPOINT_URL at the twin's AWS API.
type lambdaService struct {
	cfg      Config
	endpoint func() string
	logDir   string
	mu       sync.Mutex
	fns      map[string]*fnRuntime // by name (names are unique across the stack's regions)
	history  []Invocation
	seq      atomic.Int64
}

type fnRuntime struct {
	Function
	svc      *lambdaService
	reserved *int32
	mu       sync.Mutex // one invocation at a time (one warm instance)
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
	s := &lambdaService{cfg: cfg, endpoint: endpoint, logDir: logDir, fns: map[string]*fnRuntime{}}
	for _, f := range fns {
		s.fns[f.Name] = &fnRuntime{Function: f, svc: s, next: make(chan *invocation)}
	}
	return s
}

func (s *lambdaService) arn(f Function) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.Region, s.cfg.Account, f.Name)
}

// accessKey is the access key id of the function's role credentials: one
// per function, so that the twin knows whose call it is.
func (f *fnRuntime) accessKey() string {
	return "ASIATWIN" + strings.ToUpper(fmt.Sprintf("%x", []byte(f.Name)))
}

// byAccessKey is the function whose role credentials sign with key, and
// its policy.
func (s *lambdaService) byAccessKey(key string) (string, *Policy) {
	if !strings.HasPrefix(key, "ASIATWIN") {
		return "", nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fns {
		if f.accessKey() == key {
			return f.Name, f.Policy
		}
	}
	return "", nil
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

// Invoke runs one invocation and waits for its result. A function whose
// reserved concurrency is 0 is throttled and never runs (Lambda Developer
// Guide, "Configuring reserved concurrency": 0 stops all invocations).
func (s *lambdaService) Invoke(ctx context.Context, name, source string, payload []byte) ([]byte, error) {
	s.mu.Lock()
	f := s.fns[name]
	s.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("no function %s", name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.reserved != nil && *f.reserved == 0 {
		return nil, fmt.Errorf("%s: throttled (reserved concurrency 0)", name)
	}
	if err := f.start(); err != nil {
		return nil, err
	}
	inv := &invocation{id: fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq.Add(1), time.Now().UnixNano()&0xffffffffffff),
		payload: payload, deadline: time.Now().Add(f.Timeout), done: make(chan invocationResult, 1)}
	f.inflight.Store(inv.id, inv)
	defer f.inflight.Delete(inv.id)
	start := time.Now()
	var res invocationResult
	select {
	case f.next <- inv:
		select {
		case res = <-inv.done:
		case <-time.After(time.Until(inv.deadline)):
			// Lambda stops a function at its timeout; the next invocation
			// gets a fresh instance.
			f.stop()
			res = invocationResult{err: fmt.Sprintf("Task timed out after %v", f.Timeout)}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case <-time.After(f.Timeout):
		f.stop()
		res = invocationResult{err: "the runtime did not ask for the invocation (init failed?): see " + f.logPath()}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.mu.Lock()
	rec := Invocation{Function: name, Region: f.Region, Source: source, At: start, Took: time.Since(start), Error: res.err}
	if json.Valid(res.body) {
		rec.Result = append(json.RawMessage(nil), res.body...)
	}
	s.history = append(s.history, rec)
	if len(s.history) > 10_000 {
		s.history = s.history[len(s.history)-5_000:]
	}
	s.mu.Unlock()
	if res.err != "" {
		return res.body, fmt.Errorf("%s: %s", name, res.err)
	}
	return res.body, nil
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

func (f *fnRuntime) logPath() string { return filepath.Join(f.svc.logDir, f.Name+".log") }

// start runs the function's process behind its runtime API, if it is not running.
func (f *fnRuntime) start() error {
	if f.cmd != nil && f.cmd.ProcessState == nil {
		return nil
	}
	if _, err := os.Stat(f.Binary); err != nil {
		return fmt.Errorf("%s: handler binary %s: %w (build it with `make build`)", f.Name, f.Binary, err)
	}
	if f.ln == nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		f.ln = ln
		f.srv = &http.Server{Handler: f.runtimeAPI(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = f.srv.Serve(ln) }()
	}
	if err := os.MkdirAll(f.svc.logDir, 0o755); err != nil {
		return err
	}
	logf, err := os.OpenFile(f.logPath(), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "AWS_LAMBDA_RUNTIME_API=" + f.ln.Addr().String(),
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
	f.cmd = cmd
	go func() { _ = cmd.Wait(); logf.Close() }()
	return nil
}

func (f *fnRuntime) stop() {
	if f.cmd != nil && f.cmd.Process != nil {
		_ = f.cmd.Process.Kill()
	}
	f.cmd = nil
}

func (s *lambdaService) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.fns {
		f.stop()
		if f.srv != nil {
			_ = f.srv.Close()
		}
	}
}

// runtimeAPI serves the Lambda Runtime API 2018-06-01 to the function's process.
func (f *fnRuntime) runtimeAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case inv := <-f.next:
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
		v, ok := f.inflight.Load(r.PathValue("id"))
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
