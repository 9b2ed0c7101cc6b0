package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/scenario"
	"github.com/drdrill/drdrill/internal/stackspec"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/workload"
)

// Info is DIR/twin.json: how to reach a running twin.
type Info struct {
	PID       int     `json:"pid"`
	Endpoint  string  `json:"endpoint"`
	Account   string  `json:"account"`
	TimeScale float64 `json:"time_scale"`
	Outputs   string  `json:"outputs"`
	// Seed is the seed of the twin's draws (DRDRILL_TWIN_SEED replays them).
	Seed int64 `json:"seed"`
}

// Files in a twin's directory: how to reach it, the environment that aims
// the SDK and the drill at it, its outputs; its lab is in DIR/lab.
const (
	InfoFile    = "twin.json"
	EnvFile     = "twin.env"
	OutputsFile = "flat-outputs.json"
)

// LabDir is the directory of a twin's own lab.
func LabDir(dir string) string { return filepath.Join(dir, "lab") }

// Options configure a twin run over a lab of its own (`drdrill twin run`).
type Options struct {
	// Dir is the twin's directory (absolute).
	Dir string
	// Stack is the Terraform module the twin plays (infra/aws), with its
	// environment_suffix variable.
	Stack, Suffix string
	// Addr is the AWS endpoint's address (loopback).
	Addr string
	// Account and TimeScale: see Config.
	Account   string
	TimeScale float64
	// RebuildTime: see Config (0: from the data size).
	RebuildTime time.Duration
	// LambdaDir holds the functions' handlers built for this machine
	// (CheckHandlers); "" runs no functions.
	LambdaDir string
	// Image is the runner's OCI layout (`make image`), what its ECS tasks
	// run; Vars set infra/aws variables as -var would (runner_schedule …).
	Image string
	Vars  map[string]string
}

// Handlers are the functions' handler binaries `make build` puts in build/lambda-host.
var Handlers = []string{"healthmonitor", "failovertrigger"}

// CheckHandlers returns dir made absolute once every handler is built in
// it, else an error naming the fix.
func CheckHandlers(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for _, b := range Handlers {
		if _, err := os.Stat(filepath.Join(abs, b)); err != nil {
			return "", fmt.Errorf("twin: the Lambda handler %s is not built in %s: run `make build` (or pass --lambda-dir, or --lambdas=false to run no functions)", b, abs)
		}
	}
	return abs, nil
}

// LoadStack reads the stack the twin plays, or says what is wrong with it.
func (o Options) LoadStack() (*stackspec.Spec, error) {
	vars := map[string]string{"environment_suffix": o.Suffix}
	for k, v := range o.Vars {
		vars[k] = v
	}
	spec, err := stackspec.Load(o.Stack, o.Account, vars)
	if err != nil {
		return nil, fmt.Errorf("twin: %w", err)
	}
	return spec, nil
}

// Run runs a twin over a lab of its own in the foreground, until ctx ends
// or the lab is shut down (`drdrill twin down`). The lab's own failover
// controller stays off: on AWS the stack's failover trigger decides, not
// drdrill. Once the twin answers and its lab is warm, Run writes DIR's
// outputs, environment and twin.json, then calls ready. A start-up
// failure stops the lab and is returned.
func Run(ctx context.Context, o Options, ready func(Info)) error {
	spec, err := o.LoadStack()
	if err != nil {
		return err
	}
	labDir := LabDir(o.Dir)
	var srv *Server
	var startErr error
	ctrl := lab.DefaultControllerConfig()
	ctrl.AutoFailover = false
	err = lab.Supervise(ctx, lab.Options{Dir: labDir, CrossRegionLatency: 35 * time.Millisecond, Controller: ctrl},
		func(_ lab.Info, labOut outputs.Outputs) {
			c, err := lab.Connect(labDir)
			if err != nil {
				startErr = err
				return
			}
			if srv, startErr = o.serve(spec, labOut, c); startErr != nil {
				// The lab goes down with the twin that failed to start.
				_ = c.Shutdown(context.Background())
				return
			}
			info, err := ReadInfo(o.Dir)
			if err != nil {
				startErr = err
				_ = c.Shutdown(context.Background())
				return
			}
			if ready != nil {
				ready(info)
			}
		})
	if srv != nil {
		_ = srv.Close()
	}
	_ = os.Remove(filepath.Join(o.Dir, InfoFile))
	return errors.Join(err, startErr)
}

// serve starts the twin over the lab, warms the lab and writes DIR's
// files, twin.json last: whoever waits for it finds everything else there.
func (o Options) serve(spec *stackspec.Spec, labOut outputs.Outputs, c *lab.Client) (*Server, error) {
	// DRDRILL_TWIN_SEED replays a twin's draws (its twin.json says which).
	var seed int64
	if v := os.Getenv("DRDRILL_TWIN_SEED"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("DRDRILL_TWIN_SEED=%q: want a non-zero integer (a twin.json's seed)", v)
		}
		seed = n
	}
	srv, err := Start(o.Addr, Config{Account: o.Account, TimeScale: o.TimeScale, RebuildTime: o.RebuildTime, LogDir: filepath.Join(o.Dir, "lambda-logs"), Image: o.Image, Seed: seed},
		FromSpec(spec, labOut, o.LambdaDir), NewLabPlane(c))
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*Server, error) {
		_ = srv.Close()
		return nil, err
	}
	// Warm before anyone is told the twin is there.
	warmUp(LabDir(o.Dir))
	outPath := filepath.Join(o.Dir, OutputsFile)
	out, err := srv.Outputs(spec, labOut)
	if err != nil {
		return fail(err)
	}
	if err := writeJSONFile(outPath, out); err != nil {
		return fail(err)
	}
	if b, err := json.MarshalIndent(out, "", "  "); err != nil {
		return fail(err)
	} else if err := srv.seedRunner(spec, b); err != nil {
		return fail(err)
	}
	// The harness signs with its own role's credentials, as it would on
	// AWS: every call it makes is checked against harness.tf's policy.
	id, secret, token := srv.HarnessCredentials()
	env := fmt.Sprintf("export AWS_ENDPOINT_URL=%s\nexport AWS_ACCESS_KEY_ID=%s\nexport AWS_SECRET_ACCESS_KEY=%s\nexport AWS_SESSION_TOKEN=%s\n"+
		"export AWS_REGION=%s\nexport DRDRILL_ALLOWED_ACCOUNTS=%s\nexport DRDRILL_AWS_POLL=%s\nexport DRDRILL_CHECK_PERIOD=%s\n",
		srv.Endpoint(), id, secret, token, spec.PrimaryRegion, o.Account, pollFor(o.TimeScale), srv.CheckPeriod())
	if err := os.WriteFile(filepath.Join(o.Dir, EnvFile), []byte(env), 0o644); err != nil {
		return fail(err)
	}
	info := Info{PID: os.Getpid(), Endpoint: srv.Endpoint(), Account: o.Account, TimeScale: o.TimeScale, Outputs: outPath, Seed: srv.cfg.Seed}
	if err := writeJSONFile(filepath.Join(o.Dir, InfoFile), info); err != nil {
		return fail(err)
	}
	return srv, nil
}

// warmUp writes to the fresh lab for a moment before the twin says it is
// ready, as the drill warms the lab: a deployed stack is warm. Best effort:
// a failure here shows up, clearly, in the drill.
func warmUp(labDir string) {
	t, err := target.Open(filepath.Join(labDir, lab.OutputsFile))
	if err != nil {
		fmt.Fprintf(os.Stderr, "twin: warm-up: %v\n", err)
		return
	}
	defer t.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := scenario.WarmUp(ctx, t, ledger.Open(labDir), workload.Config{Rate: 1000, Writers: 8}, 1500*time.Millisecond); err != nil {
		fmt.Fprintf(os.Stderr, "twin: warm-up: %v\n", err)
	}
}

// pollFor is how often the AWS target should poll a twin running at scale:
// AWS's own 10 s, scaled, but not below 50 ms.
func pollFor(scale float64) string {
	return max(time.Duration(float64(10*time.Second)*scale), 50*time.Millisecond).String()
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadInfo reads DIR/twin.json of a running twin.
func ReadInfo(dir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dir, InfoFile))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

// StartBackground runs exe with args (a `twin run` for dir, whose command
// line names the lab's directory with --lab-dir, so that the lab's tools
// recognise it as the lab's supervisor) as a detached process, and waits
// up to wait for its twin to answer.
func StartBackground(dir, exe string, args []string, wait time.Duration) (Info, error) {
	_ = os.Remove(filepath.Join(dir, InfoFile))
	if _, err := lab.StartBackground(LabDir(dir), exe, args, wait); err != nil {
		return Info{}, fmt.Errorf("twin: %w", err)
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(20 * time.Millisecond) {
		if info, err := ReadInfo(dir); err == nil {
			return info, nil
		}
		log := filepath.Join(LabDir(dir), "supervisor.log")
		if lab.RunningPID(LabDir(dir)) == 0 {
			// It says why in its log: the last of it, here. Its lab is
			// torn down (the pid file gone) before the error that stopped
			// it is printed, so wait for the log to say something and
			// stop growing (CI read it empty: 'it stopped before its AWS
			// endpoint answered (…/supervisor.log): ').
			why := settledLog(log, 5*time.Second)
			if len(why) > 600 {
				why = "…" + why[len(why)-600:]
			}
			return Info{}, fmt.Errorf("twin: it stopped before its AWS endpoint answered (%s): %s", log, why)
		}
		if time.Now().After(deadline) {
			return Info{}, fmt.Errorf("twin: the lab is up but the AWS endpoint did not start within %v: see %s", wait, log)
		}
	}
}

// settledLog is the log at path once it has content that has not grown
// for 200 ms, or whatever it holds after within.
func settledLog(path string, within time.Duration) string {
	last, since := "", time.Now()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if cur := strings.TrimSpace(string(b)); cur != last {
			last, since = cur, time.Now()
		} else if last != "" && time.Since(since) >= 200*time.Millisecond {
			break
		}
	}
	return last
}

// Stop stops the twin in dir and its lab, and says what it did.
func Stop(dir string, timeout time.Duration) ([]string, error) {
	did, err := lab.Stop(LabDir(dir), timeout)
	_ = os.Remove(filepath.Join(dir, InfoFile))
	return did, err
}

// Status is a running twin's Info and its lab's status.
func Status(ctx context.Context, dir string) (Info, lab.Status, error) {
	info, err := ReadInfo(dir)
	if err != nil || lab.RunningPID(LabDir(dir)) == 0 {
		return Info{}, lab.Status{}, fmt.Errorf("no twin running in %s: start one with `drdrill twin up --dir %s`", dir, dir)
	}
	c, err := lab.Connect(LabDir(dir))
	if err != nil {
		return info, lab.Status{}, err
	}
	st, err := c.Status(ctx)
	return info, st, err
}
