package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twin"
)

func newTwinCmd() *cobra.Command {
	c := groupCmd("twin", "the AWS twin: the AWS APIs on 127.0.0.1 over a lab, for the unchanged AWS target (docs/twin.md)")
	up := &cobra.Command{Use: "up", Short: "start the AWS twin (an AWS API endpoint on 127.0.0.1 over a lab) in the background; writes DIR/flat-outputs.json", Args: noArgs("twin up takes flags only")}
	tf := newTwinFlags(up.Flags())
	wait := up.Flags().Duration("timeout", 2*time.Minute, "how long to wait for the twin and its lab")
	up.RunE = func(*cobra.Command, []string) error { return twinUp(tf, *wait) }
	run := &cobra.Command{Use: "run", Short: "run the AWS twin in the foreground (Ctrl-C stops it)", Args: noArgs("twin run takes flags only")}
	rf := newTwinFlags(run.Flags())
	run.Flags().String("lab-dir", "", "the embedded lab's directory (always DIR/lab; on the command line so `drdrill lab` tools recognise the process)")
	_ = run.Flags().MarkHidden("lab-dir")
	run.RunE = func(*cobra.Command, []string) error { return twinRun(rf) }
	down := &cobra.Command{Use: "down", Short: "stop the AWS twin and its lab", Args: noArgs("twin down takes --dir only")}
	downDir := twinDirFlag(down.Flags())
	down.RunE = func(*cobra.Command, []string) error { return twinDown(*downDir) }
	status := &cobra.Command{Use: "status", Short: "show the AWS twin's endpoint, its global cluster's writer (through its RDS API) and its lab's primary", Args: noArgs("twin status takes --dir only")}
	statusDir := twinDirFlag(status.Flags())
	status.RunE = func(*cobra.Command, []string) error { return twinStatus(*statusDir) }
	c.AddCommand(up, run, down, status)
	return c
}

// twinDirFlag is the twin's --dir.
func twinDirFlag(fs *pflag.FlagSet) *string {
	return fs.String("dir", ".drdrill/twin", "twin directory (outputs, env, its lab in DIR/lab)")
}

type twinFlags struct {
	dir, stack, suffix, addr, account, lambdaDir, image *string
	vars                                                stackVars
	scale                                               *float64
	lambdas                                             *bool
	rebuild                                             *time.Duration
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

func newTwinFlags(fs *pflag.FlagSet) twinFlags {
	def := 1.0
	if v, err := strconv.ParseFloat(os.Getenv("DRDRILL_TWIN_TIME_SCALE"), 64); err == nil && v > 0 {
		def = v
	}
	return twinFlags{
		dir:       twinDirFlag(fs),
		stack:     fs.String("stack", "infra/aws", "the Terraform module the twin plays (alarms, names, tags are read from it)"),
		suffix:    fs.String("environment-suffix", "twin", "the stack's environment_suffix variable"),
		addr:      fs.String("addr", "127.0.0.1:0", "address of the AWS API endpoint (loopback only)"),
		account:   fs.String("account", "000000000000", "the twin's AWS account id"),
		scale:     fs.Float64("time-scale", def, "multiply every AWS duration (1 = AWS's own; $DRDRILL_TWIN_TIME_SCALE)"),
		lambdaDir: fs.String("lambda-dir", defaultLambdaDir(), "the Lambda handlers built for this machine (healthmonitor, failovertrigger; `make build` builds them)"),
		lambdas:   fs.Bool("lambdas", true, "run the stack's Lambda functions on their schedules"),
		rebuild:   fs.Duration("rebuild-time", 0, "how long rebuilding an old primary after a failover takes, unscaled (default: from its data size, 5m + 1m per GiB)"),
		image:     fs.String("image", "", "the scheduled runner's OCI layout (`make image`: build/image), which its ECS tasks run; without it a scheduled task fails to pull"),
		vars:      varFlag(fs),
	}
}

func (f twinFlags) args(dir string) []string {
	// --lab-dir names the embedded lab's directory, by which `lab.Stop`
	// and `lab.RunningPID` recognise this process as its supervisor.
	return append([]string{"twin", "run", "--dir", dir, "--lab-dir", twin.LabDir(dir), "--stack", *f.stack, "--environment-suffix", *f.suffix, "--addr", *f.addr,
		"--account", *f.account, "--time-scale", strconv.FormatFloat(*f.scale, 'g', -1, 64),
		"--lambda-dir", *f.lambdaDir, "--lambdas=" + strconv.FormatBool(*f.lambdas), "--rebuild-time", f.rebuild.String(), "--image", *f.image}, f.vars.args()...)
}

// options checks the flags and gives the twin's options: a bad flag, a
// stack that does not load or handlers not built are one line each.
func (f twinFlags) options() (twin.Options, error) {
	if *f.scale <= 0 {
		return twin.Options{}, usageError{"--time-scale must be positive (1 = AWS's own durations)"}
	}
	if *f.rebuild < 0 {
		return twin.Options{}, usageError{"--rebuild-time must not be negative (0 = from the data size)"}
	}
	if len(*f.account) != 12 {
		return twin.Options{}, usageError{"--account must be a 12-digit AWS account id"}
	}
	dir, err := absDir(*f.dir)
	if err != nil {
		return twin.Options{}, err
	}
	stack, err := filepath.Abs(*f.stack)
	if err != nil {
		return twin.Options{}, err
	}
	o := twin.Options{Dir: dir, Stack: stack, Suffix: *f.suffix, Addr: *f.addr, Account: *f.account, TimeScale: *f.scale, RebuildTime: *f.rebuild, Vars: f.vars}
	if *f.image != "" {
		if o.Image, err = filepath.Abs(*f.image); err != nil {
			return twin.Options{}, err
		}
	}
	if *f.lambdas {
		if o.LambdaDir, err = twin.CheckHandlers(*f.lambdaDir); err != nil {
			return twin.Options{}, err
		}
	}
	return o, nil
}

func twinUp(tf twinFlags, wait time.Duration) error {
	o, err := tf.options()
	if err != nil {
		return err
	}
	// Fail on a bad stack before anything starts.
	if _, err := o.LoadStack(); err != nil {
		return err
	}
	*tf.stack = o.Stack
	if o.LambdaDir != "" {
		*tf.lambdaDir = o.LambdaDir
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := twin.StartBackground(o.Dir, exe, tf.args(o.Dir), wait)
	if err != nil {
		return err
	}
	fmt.Printf("twin up in %v: AWS endpoint %s (account %s, time scale %g), pid %d\n", time.Since(start).Round(time.Millisecond),
		info.Endpoint, info.Account, info.TimeScale, info.PID)
	fmt.Printf("  outputs  %s\n  env      %s (source it, then: drdrill drill --outputs %s)\n", info.Outputs, filepath.Join(o.Dir, twin.EnvFile), info.Outputs)
	return nil
}

func twinRun(tf twinFlags) error {
	o, err := tf.options()
	if err != nil {
		return err
	}
	ctx, stop := twinSignals()
	defer stop()
	return twin.Run(ctx, o, func(info twin.Info) {
		fmt.Printf("twin ready: AWS endpoint %s over the lab in %s\n", info.Endpoint, twin.LabDir(o.Dir))
	})
}

// twinSignals is how `twin run` stops: SIGINT, SIGTERM, SIGHUP or SIGQUIT
// (Ctrl-C, `twin down`'s signal, a closed terminal; SIGQUIT would dump
// goroutines and exit) end its context, and the twin and its lab go down
// in order.
func twinSignals() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
}

func twinDown(d string) error {
	dir, err := absDir(d)
	if err != nil {
		return err
	}
	did, err := twin.Stop(dir, 30*time.Second)
	for _, s := range did {
		fmt.Println(s)
	}
	if err == nil {
		fmt.Printf("twin in %s stopped\n", dir)
	}
	return err
}

func twinStatus(d string) error {
	dir, err := absDir(d)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, st, err := twin.Status(ctx, dir)
	if info.PID != 0 {
		fmt.Printf("twin pid %d: AWS endpoint %s, account %s, time scale %g\n  outputs %s\n", info.PID, info.Endpoint, info.Account, info.TimeScale, info.Outputs)
	}
	if err != nil {
		return err
	}
	// The global cluster as the AWS API shows it, through the twin's own
	// endpoint and credentials (twin.env), as the AWS target reads it.
	if err := loadEnvFile(filepath.Join(dir, twin.EnvFile)); err != nil {
		return err
	}
	t, err := target.Open(info.Outputs)
	if err != nil {
		return err
	}
	defer t.Close()
	topo, err := t.Topology(ctx)
	if err != nil {
		return fmt.Errorf("the twin's global cluster: %w", err)
	}
	state := "no failover under way"
	if topo.Detail != "" {
		state = topo.Detail
	}
	fmt.Printf("  global cluster writer %s (%s)\n", topo.Primary, state)
	fmt.Printf("  lab: primary %s, healthy %v\n", st.Primary, st.Healthy)
	return nil
}

// loadEnvFile sets the variables of a file of `export K=V` lines (the
// twin's twin.env) in this process.
func loadEnvFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "export "), "=")
		if ok && k != "" {
			os.Setenv(k, v)
		}
	}
	return nil
}
