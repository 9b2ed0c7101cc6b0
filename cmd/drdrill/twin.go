package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/scenario"
	"github.com/drdrill/drdrill/internal/stackspec"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twin"
	"github.com/drdrill/drdrill/internal/workload"
)

func init() {
	register("twin up", "start the AWS twin (an AWS API endpoint on 127.0.0.1 over a lab) in the background; writes DIR/flat-outputs.json", twinUp)
	register("twin run", "run the AWS twin in the foreground (Ctrl-C stops it)", twinRun)
	register("twin down", "stop the AWS twin and its lab", twinDown)
	register("twin status", "show the AWS twin's endpoint, global cluster writer and lab", twinStatus)
}

// TwinInfo is DIR/twin.json: how to reach a running twin.
type TwinInfo struct {
	PID       int     `json:"pid"`
	Endpoint  string  `json:"endpoint"`
	Account   string  `json:"account"`
	TimeScale float64 `json:"time_scale"`
	Outputs   string  `json:"outputs"`
}

const twinInfoFile, twinEnvFile = "twin.json", "twin.env"

type twinFlags struct {
	dir, stack, suffix, addr, account, lambdaDir *string
	scale                                        *float64
	lambdas                                      *bool
}

// defaultLambdaDir is where `make build` puts the functions' handlers
// built for this machine: build/lambda-host beside build/drdrill.
func defaultLambdaDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "build/lambda-host"
	}
	return filepath.Join(filepath.Dir(exe), "lambda-host")
}

func newTwinFlags(fs *flag.FlagSet) twinFlags {
	def := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("DRDRILL_TWIN_TIME_SCALE"), 64); err == nil && v > 0 {
		def = v
	}
	return twinFlags{
		dir:       fs.String("dir", ".drdrill/twin", "twin directory (outputs, env, its lab in DIR/lab)"),
		stack:     fs.String("stack", "infra/aws", "the Terraform module the twin plays (alarms, names, tags are read from it)"),
		suffix:    fs.String("environment-suffix", "twin", "the stack's environment_suffix variable"),
		addr:      fs.String("addr", "127.0.0.1:0", "address of the AWS API endpoint (loopback only)"),
		account:   fs.String("account", "000000000000", "the twin's AWS account id"),
		scale:     fs.Float64("time-scale", def, "multiply every AWS duration (1 = AWS's own; $DRDRILL_TWIN_TIME_SCALE)"),
		lambdaDir: fs.String("lambda-dir", defaultLambdaDir(), "the Lambda handlers built for this machine (healthmonitor, failovertrigger; `make build` builds them)"),
		lambdas:   fs.Bool("lambdas", true, "run the stack's Lambda functions on their schedules"),
	}
}

func (f twinFlags) args(dir string) []string {
	// --lab-dir names the embedded lab's directory, by which `lab.Stop`
	// and `lab.RunningPID` recognise this process as its supervisor.
	return []string{"twin", "run", "--dir", dir, "--lab-dir", filepath.Join(dir, "lab"), "--stack", *f.stack, "--environment-suffix", *f.suffix, "--addr", *f.addr,
		"--account", *f.account, "--time-scale", strconv.FormatFloat(*f.scale, 'g', -1, 64),
		"--lambda-dir", *f.lambdaDir, "--lambdas=" + strconv.FormatBool(*f.lambdas)}
}

// handlers is the directory of the functions' handlers, or "" to run none;
// a missing build is an error naming the fix.
func (f twinFlags) handlers() (string, error) {
	if !*f.lambdas {
		return "", nil
	}
	dir, err := filepath.Abs(*f.lambdaDir)
	if err != nil {
		return "", err
	}
	for _, b := range []string{"healthmonitor", "failovertrigger"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return "", fmt.Errorf("twin: the Lambda handler %s is not built in %s: run `make build` (or pass --lambda-dir, or --lambdas=false to run no functions)", b, dir)
		}
	}
	return dir, nil
}

func (f twinFlags) validate() (string, error) {
	if *f.scale <= 0 {
		return "", usageError{"--time-scale must be positive (1 = AWS's own durations)"}
	}
	if len(*f.account) != 12 {
		return "", usageError{"--account must be a 12-digit AWS account id"}
	}
	return absDir(*f.dir)
}

func twinUp(args []string) error {
	fs := flag.NewFlagSet("twin up", flag.ContinueOnError)
	tf := newTwinFlags(fs)
	wait := fs.Duration("timeout", 2*time.Minute, "how long to wait for the twin and its lab")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := tf.validate()
	if err != nil {
		return err
	}
	stack, err := filepath.Abs(*tf.stack)
	if err != nil {
		return err
	}
	*tf.stack = stack
	// Fail on a bad stack or missing handlers before anything starts.
	if _, err := stackspec.Load(stack, *tf.account, map[string]string{"environment_suffix": *tf.suffix}); err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	if d, err := tf.handlers(); err != nil {
		return err
	} else if d != "" {
		*tf.lambdaDir = d
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(dir, twinInfoFile))
	start := time.Now()
	if _, err := lab.StartBackground(filepath.Join(dir, "lab"), exe, tf.args(dir), *wait); err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	var info TwinInfo
	for deadline := time.Now().Add(*wait); ; time.Sleep(20 * time.Millisecond) {
		if info, err = readTwinInfo(dir); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("twin: the lab is up but the AWS endpoint did not start within %v: see %s", *wait, filepath.Join(dir, "lab", "supervisor.log"))
		}
	}
	fmt.Printf("twin up in %v: AWS endpoint %s (account %s, time scale %g), pid %d\n", time.Since(start).Round(time.Millisecond),
		info.Endpoint, info.Account, info.TimeScale, info.PID)
	fmt.Printf("  outputs  %s\n  env      %s (source it, then: drdrill drill --outputs %s)\n", info.Outputs, filepath.Join(dir, twinEnvFile), info.Outputs)
	return nil
}

func readTwinInfo(dir string) (TwinInfo, error) {
	var info TwinInfo
	b, err := os.ReadFile(filepath.Join(dir, twinInfoFile))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

func twinRun(args []string) error {
	fs := flag.NewFlagSet("twin run", flag.ContinueOnError)
	tf := newTwinFlags(fs)
	fs.String("lab-dir", "", "the embedded lab's directory (always DIR/lab; on the command line so `drdrill lab` tools recognise the process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := tf.validate()
	if err != nil {
		return err
	}
	spec, err := stackspec.Load(*tf.stack, *tf.account, map[string]string{"environment_suffix": *tf.suffix})
	if err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	handlers, err := tf.handlers()
	if err != nil {
		return err
	}
	labDir := filepath.Join(dir, "lab")
	var srv *twin.Server
	var startErr error
	// The lab's own failover controller stays off: on AWS the stack's
	// failover trigger decides, not drdrill.
	ctrl := lab.DefaultControllerConfig()
	ctrl.AutoFailover = false
	err = lab.Supervise(context.Background(), lab.Options{Dir: labDir, CrossRegionLatency: 35 * time.Millisecond, Controller: ctrl},
		func(info lab.Info, labOut outputs.Outputs) {
			c, err := lab.Connect(labDir)
			if err != nil {
				startErr = err
				fmt.Fprintf(os.Stderr, "twin: %v\n", err)
				return
			}
			srv, err = twin.Start(*tf.addr, twin.Config{Account: *tf.account, TimeScale: *tf.scale, LogDir: filepath.Join(dir, "lambda-logs")},
				twin.FromSpec(spec, labOut, handlers), twin.NewLabPlane(c))
			if err != nil {
				startErr = err
				fmt.Fprintf(os.Stderr, "twin: %v\n", err)
				_ = c.Shutdown(context.Background())
				return
			}
			// Warm before anyone is told the twin is there (twin.json).
			warmUp(labDir)
			outPath := filepath.Join(dir, "flat-outputs.json")
			if err := writeJSONFile(outPath, twin.Outputs(spec, *tf.account, labOut)); err != nil {
				startErr = err
				fmt.Fprintf(os.Stderr, "twin: %v\n", err)
				return
			}
			env := fmt.Sprintf("export AWS_ENDPOINT_URL=%s\nexport AWS_ACCESS_KEY_ID=AKIDDRDRILLTWIN\nexport AWS_SECRET_ACCESS_KEY=drdrill-twin\n"+
				"export AWS_REGION=%s\nexport DRDRILL_ALLOWED_ACCOUNTS=%s\nexport DRDRILL_AWS_POLL=%s\nexport DRDRILL_CHECK_PERIOD=%s\n",
				srv.Endpoint(), spec.PrimaryRegion, *tf.account, pollFor(*tf.scale), srv.CheckPeriod())
			if err := os.WriteFile(filepath.Join(dir, twinEnvFile), []byte(env), 0o644); err != nil {
				startErr = err
				return
			}
			ti := TwinInfo{PID: os.Getpid(), Endpoint: srv.Endpoint(), Account: *tf.account, TimeScale: *tf.scale, Outputs: outPath}
			if err := writeJSONFile(filepath.Join(dir, twinInfoFile), ti); err != nil {
				startErr = err
				return
			}
			fmt.Printf("twin ready: AWS endpoint %s over the lab in %s\n", srv.Endpoint(), labDir)
		})
	if srv != nil {
		_ = srv.Close()
	}
	_ = os.Remove(filepath.Join(dir, twinInfoFile))
	return errors.Join(err, startErr)
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

// twinDir parses a command that takes only the twin's --dir.
func twinDir(name string, args []string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	tf := newTwinFlags(fs)
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	return absDir(*tf.dir)
}

func twinDown(args []string) error {
	dir, err := twinDir("twin down", args)
	if err != nil {
		return err
	}
	did, err := lab.Stop(filepath.Join(dir, "lab"), 30*time.Second)
	for _, s := range did {
		fmt.Println(s)
	}
	_ = os.Remove(filepath.Join(dir, twinInfoFile))
	if err == nil {
		fmt.Printf("twin in %s stopped\n", dir)
	}
	return err
}

func twinStatus(args []string) error {
	dir, err := twinDir("twin status", args)
	if err != nil {
		return err
	}
	info, err := readTwinInfo(dir)
	if err != nil || lab.RunningPID(filepath.Join(dir, "lab")) == 0 {
		return fmt.Errorf("no twin running in %s: start one with `drdrill twin up --dir %s`", dir, dir)
	}
	fmt.Printf("twin pid %d: AWS endpoint %s, account %s, time scale %g\n  outputs %s\n", info.PID, info.Endpoint, info.Account, info.TimeScale, info.Outputs)
	c, err := lab.Connect(filepath.Join(dir, "lab"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("  lab: primary %s, healthy %v\n", st.Primary, st.Healthy)
	return nil
}
