package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/runbook"
	"github.com/drdrill/drdrill/internal/runstore"
	"github.com/drdrill/drdrill/internal/target"
)

// lifecycleArgs are the drill flags given on the command line, for the
// lifecycle's drill stage to pass back (--target and --infra are the
// lifecycle's own).
func lifecycleArgs(cmd *cobra.Command) []string {
	var out []string
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if f.Name != "target" && f.Name != "infra" {
			out = append(out, "--"+f.Name+"="+f.Value.String())
		}
	})
	return out
}

// findGinkgo prefers the ginkgo built next to drdrill (make build), then PATH.
func findGinkgo() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "ginkgo")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("ginkgo"); err == nil {
		return p, nil
	}
	return "", errors.New("ginkgo not found: run `make build` (it builds build/ginkgo) or `go install github.com/onsi/ginkgo/v2/ginkgo@v2.34.0`")
}

func newRunID(reports string) string {
	base := time.Now().UTC().Format("20060102T150405Z")
	id := base
	for i := 2; ; i++ {
		if _, err := os.Stat(filepath.Join(reports, id)); errors.Is(err, os.ErrNotExist) {
			return id
		}
		id = fmt.Sprintf("%s-%d", base, i)
	}
}

// makeRunDir creates reports/<runID> (a new id when runID is empty) and
// returns its absolute path; drill and observe write a run the same way.
func makeRunDir(reports string, runID *string) (string, error) {
	if *runID == "" {
		*runID = newRunID(reports)
	}
	runDir, err := filepath.Abs(filepath.Join(reports, *runID))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return "", fmt.Errorf("run directory %s: %w", runDir, err)
	}
	return runDir, nil
}

func newDrillCmd() *cobra.Command {
	c := &cobra.Command{Use: "drill", Short: "run the drill suites against a fresh lab (or --outputs) into reports/<run-id>/",
		Long: `drill checks everything it is given (outputs, policy, labels, suites), starts
a lab unless --outputs names a deployed stack, runs the drill suites with
Ginkgo, and writes reports/<run-id>/: junit.xml, report.json, summary.md,
index.html, every scenario's history. --dry-run prints the plan for the
target and starts nothing. Any stop signal becomes one interrupt: the
running scenario rolls its faults back (README, "Stopping a drill").`,
		Example: "  drdrill drill --labels smoke\n  drdrill drill --dry-run --outputs cfn-outputs/flat-outputs.json\n  drdrill drill --outputs twin/flat-outputs.json --labels planned-switchover --rate 200",
		Args:    noArgs("drill takes flags only (--labels selects scenarios)")}
	f := c.Flags()
	d := drillFlags{
		reports:       reportsFlag(f),
		stage:         stageFlag(f),
		labels:        f.String("labels", "", "Ginkgo label filter, e.g. signoff or 'smoke && !freeze'"),
		suites:        f.String("suites", "", "suite to run: a compiled suite (drill.test) or a suite package directory (default: drill.test beside drdrill, else ./suites/drill)"),
		outputsFile:   outputsFlag(f),
		targetKind:    f.String("target", "lab", "lab (start the embedded lab) or aws (Terratest: deploy infra/aws, outputs, drill, teardown; SKIP_deploy / SKIP_teardown skip stages)"),
		infraDir:      f.String("infra", "infra/aws", "with --target aws: the Terraform module"),
		runID:         f.String("run-id", "", "run id (default: UTC timestamp)"),
		timeout:       f.Duration("timeout", 0, "suite timeout; a timeout rolls the running scenario back like an interrupt (default: the target's, 45m on the lab, 24h on AWS)"),
		policyFile:    f.String("policy", "", "SLO policy file (YAML); default: the built-in policy for the target"),
		repeat:        f.Int("repeat", 1, "run the suites this many times on one lab (iteration reports in iter-N/)"),
		seed:          f.Int64("seed", 0, "schedule seed: fault timing, writer phases and reader jitter (default: from the clock; printed, recorded in run.json, and replayed by passing it again)"),
		rate:          f.Float64("rate", 0, "writes per second across the writers (default 1000: about ±1 ms RPO resolution; also $DRDRILL_RATE)"),
		flakeAttempts: f.Int("flake-attempts", 0, "retry a failing spec up to this many attempts (Ginkgo's --flake-attempts); a spec that passes on a retry is reported as flaky, never as a plain pass"),
		dryRun:        f.Bool("dry-run", false, "print the plan for this target — scenarios, faults and their parameters, bounds, expected durations — and start nothing"),
		pollProgress:  f.Duration("poll-progress-after", 0, "print Ginkgo's progress report (with goroutine stacks) for a spec running longer than this, then every 10 s (Ginkgo's --poll-progress-after; off by default)"),
		lab:           newLabFlags(f),
	}
	hideInternal(f)
	f.Lookup("outputs").Usage = "attach to this outputs file (or s3://bucket/key) instead of starting a lab; its fault ledger lives beside it"
	_ = c.RegisterFlagCompletionFunc("target", cobra.FixedCompletions([]string{"lab", "aws"}, cobra.ShellCompDirectiveNoFileComp))
	_ = c.RegisterFlagCompletionFunc("labels", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var labels []string
		seen := map[string]bool{}
		for _, s := range runbook.Scenarios {
			for _, l := range s.Labels {
				if !seen[l] {
					seen[l] = true
					labels = append(labels, l)
				}
			}
		}
		return labels, cobra.ShellCompDirectiveNoFileComp
	})
	c.RunE = func(cmd *cobra.Command, _ []string) error { return drill(cmd, d) }
	return c
}

// drillFlags are drill's flags.
type drillFlags struct {
	reports, stage, labels, suites, outputsFile, targetKind, infraDir, runID, policyFile *string
	timeout, pollProgress                                                                *time.Duration
	repeat, flakeAttempts                                                                *int
	seed                                                                                 *int64
	rate                                                                                 *float64
	dryRun                                                                               *bool
	lab                                                                                  labFlags
}

func drill(cmd *cobra.Command, d drillFlags) (err error) {
	reports, stage, labels, suites, outputsFile, targetKind, infraDir, runID, policyFile := d.reports, d.stage, d.labels, d.suites, d.outputsFile, d.targetKind, d.infraDir, d.runID, d.policyFile
	timeout, repeat, seed, rate, flakeAttempts, dryRun, pollProgress, lf := d.timeout, d.repeat, d.seed, d.rate, d.flakeAttempts, d.dryRun, d.pollProgress, d.lab
	if err := lf.validate(); err != nil {
		return err
	}
	if *repeat < 1 {
		return usageError{"--repeat must be at least 1"}
	}
	if *rate < 0 {
		return usageError{"--rate must be a positive number of writes per second"}
	}
	if *timeout < 0 {
		return usageError{"--timeout must not be negative (0: the target's suite bound)"}
	}
	if *rate > 0 {
		os.Setenv("DRDRILL_RATE", fmt.Sprint(*rate))
	}
	if *flakeAttempts < 0 {
		return usageError{"--flake-attempts must not be negative"}
	}
	if *targetKind != "lab" && *targetKind != "aws" {
		return usageError{fmt.Sprintf("--target %q: want lab or aws", *targetKind)}
	}
	if *pollProgress < 0 {
		return usageError{"--poll-progress-after must not be negative (0: off)"}
	}
	if *dryRun {
		return dryRunDrill(*outputsFile, *policyFile, *labels, *targetKind, *timeout)
	}
	if *targetKind == "aws" && *outputsFile == "" {
		// The Terratest lifecycle lives in its own binary (Terratest links
		// Kubernetes' client-go); its drill stage re-enters this command in
		// attach mode with the outputs it just wrote.
		return runLifecycle(*infraDir, lifecycleArgs(cmd))
	}
	remote, err := openReports(*reports, *stage)
	if err != nil {
		return err
	}
	fetched := runstore.IsS3(*outputsFile)
	if fetched {
		if *outputsFile, err = fetchOutputs(*outputsFile); err != nil {
			return err
		}
	}
	// Everything a user can get wrong is checked before a lab starts or
	// Ginkgo runs: each problem is one line naming the thing and the fix.
	plan, err := planDrill(*outputsFile, *policyFile, *labels, *suites)
	if err != nil {
		return err
	}
	*policyFile = plan.policy
	if remote != nil {
		*reports = remote.staging
	}
	runDir, err := makeRunDir(*reports, runID)
	if err != nil {
		return err
	}
	if remote != nil {
		// Deferred first, so it runs last: after the lab is down.
		defer remote.publish(runDir, &err)
	}
	if fetched {
		if *outputsFile, err = keepOutputs(*outputsFile, runDir); err != nil {
			return err
		}
	}
	// A closed stdout (`| head`) must not kill the drill before it takes
	// its lab down; the lab also watches this process (--exit-with).
	signal.Ignore(syscall.SIGPIPE)
	start := time.Now()
	fmt.Printf("drdrill drill %s → %s\n", *runID, runDir)

	// Where the faults are recorded, and what finishes the job if this
	// process is killed: the lab's directory, or beside the outputs file.
	out, ledgerDir, recoverCmd := "", "", ""
	if *outputsFile != "" {
		if out, err = filepath.Abs(*outputsFile); err != nil {
			return err
		}
		ledgerDir, recoverCmd = filepath.Dir(out), recoverCommand("", out)
	} else {
		ledgerDir = filepath.Join(runDir, "lab")
		recoverCmd = recoverCommand(ledgerDir, "")
	}
	bounds := target.BoundsForOutputs(out)
	kind := outputsKind(out)
	if *timeout == 0 {
		*timeout = bounds.Suite
	}
	l := ledger.Open(ledgerDir)
	dr := &drillRun{start: start}
	// Every stop signal becomes one interrupt of the running suite; every
	// later one is absorbed (signals.go).
	stop := newStopper(func() string { return rollbackNotice(l, bounds, kind, recoverCmd) }, func(sig os.Signal) {
		if dr.interrupt(sig) {
			fmt.Printf("\n[phase] %s: interrupting the running scenario; its cleanups roll its faults back (up to %v on the %s target) and no further scenario starts. A further signal does not stop the rollback; if drdrill is killed anyway: %s\n",
				signalName(sig), bounds.Recover, kind, recoverCmd)
		} else {
			fmt.Printf("\n[phase] %s: stopping before the suites run\n", signalName(sig))
		}
	})
	defer stop.Close()

	if *outputsFile == "" {
		labDir := ledgerDir
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		*lf.exitWith = os.Getpid()
		fmt.Printf("[phase] lab up (%s)\n", labDir)
		if _, err := lab.StartBackground(labDir, exe, lf.args(labDir), 2*time.Minute); err != nil {
			return err
		}
		// The lab goes down whatever happens to the suites.
		defer func() {
			fmt.Println("[phase] lab down")
			if _, err := lab.Stop(labDir, 30*time.Second); err != nil {
				fmt.Fprintf(os.Stderr, "drdrill drill: lab down: %v\n", err)
			}
		}()
		out = filepath.Join(labDir, lab.OutputsFile)
		fmt.Printf("[phase] lab ready after %v\n", time.Since(start).Round(time.Millisecond))
	}
	if reg, err := abort.Register(ledgerDir, "drdrill drill, run "+*runID); err == nil {
		defer reg.Close()
		dr.reg = reg
	}
	// An abort request is the suite's to act on while it runs (it stops
	// the running scenario); drdrill acknowledges it and starts nothing more.
	poll, stopPoll := pollEvery(bounds.StopPoll)
	go func() {
		for range poll {
			if dr.aborted(ledgerDir) != nil {
				return
			}
		}
	}()
	defer stopPoll()
	fmt.Printf("[phase] stop it from elsewhere with `drdrill abort %s`; if drdrill is killed, `%s` undoes its faults\n",
		strings.TrimPrefix(recoverCmd, "drdrill recover "), recoverCmd)

	// The plan the suites announce their scenarios from (i of N, the time
	// left), computed as --dry-run prints it.
	planFile := ""
	if p, err := drillPlanFor(out, *labels); err == nil {
		fmt.Printf("[phase] plan: %d scenario(s), about %v with %s (`drdrill drill --dry-run` lists them)\n", p.Run, p.Expected.Round(time.Second), p.Expectations.Source)
		b, _ := json.MarshalIndent(p, "", "  ")
		planFile = filepath.Join(runDir, "plan.json")
		if err := os.WriteFile(planFile, b, 0o644); err != nil {
			planFile = ""
		}
	}
	meta := runMeta(*runID, *labels, *repeat, out)
	if *seed != 0 {
		meta.Seed = *seed
	}
	meta.Status = report.StatusRunning
	fmt.Printf("[phase] seed %d (replay this schedule: drdrill drill --seed %d%s)\n", meta.Seed, meta.Seed, labelArg(*labels))
	writeRunMeta(runDir, meta)
	failed, ran := 0, 0
	for i := 1; i <= *repeat; i++ {
		if stop.Signal() != nil {
			break
		}
		if st := dr.aborted(ledgerDir); st != nil {
			meta.Stop = st
			break
		}
		outDir := runDir
		if *repeat > 1 {
			outDir = filepath.Join(runDir, fmt.Sprintf("iter-%d", i))
			fmt.Printf("[phase] iteration %d of %d\n", i, *repeat)
		}
		code, started, err := dr.runSuites(plan.ginkgo, outDir, out, *labels, plan.suites, *policyFile, meta.Seed+int64(i-1), *timeout, bounds.Rollback, *flakeAttempts, planFile, *pollProgress)
		if err != nil {
			return err
		}
		if !started {
			break
		}
		ran = i
		if n, err := report.MarkFlakyJUnit(outDir); err != nil {
			fmt.Fprintf(os.Stderr, "drdrill drill: marking flaky specs in junit.xml: %v\n", err)
		} else if n > 0 {
			fmt.Printf("[phase] %d spec(s) passed only on a retry: marked flaky in %s\n", n, filepath.Join(outDir, "junit.xml"))
		}
		if code != 0 {
			failed++
		}
		st := endOfSuite(outDir, stop.Signal(), i, *repeat)
		if st == nil {
			continue
		}
		if meta.Stop == nil || meta.Stop.Cause == "timeout" && st.Cause != "timeout" {
			meta.Stop = st
		}
		if st.Cause != "timeout" {
			// An interrupt or an abort ends the run; a timeout rolled its
			// scenario back and the next iteration may still run.
			fmt.Printf("[phase] %s: iteration %d stopped, %d more not run\n", report.StatusFor(st), i, *repeat-i)
			break
		}
	}
	if meta.Stop == nil && stop.Signal() != nil {
		// Stopped before any suite ran (while the lab started).
		meta.Stop = &report.Stop{Cause: "signal", Signal: signalName(stop.Signal()), AtNs: time.Now().UnixNano()}
	}
	meta.Status = report.StatusFor(meta.Stop)
	toolErr := leftBehind(l, out, &meta, dr.start, recoverCmd)
	meta.FinishedNs = time.Now().UnixNano()
	writeRunMeta(runDir, meta)
	fmt.Printf("[phase] suites finished after %v; %d of %d iteration(s) failed; run %s\n", time.Since(start).Round(time.Millisecond), failed, ran, meta.StatusLine())
	verdictFailed := false
	if ran > 0 {
		verdictFailed = summarize(runDir, time.Since(start))
	}
	return drillExit(meta, toolErr, failed > 0 || verdictFailed)
}

// dryRunDrill checks what a drill would be given and prints its plan for
// the target, without starting a lab, Ginkgo or anything on AWS.
func dryRunDrill(outputsFile, policyFile, labels, targetKind string, timeout time.Duration) error {
	if targetKind == "aws" && outputsFile == "" {
		return usageError{"--dry-run with --target aws needs the stack's --outputs FILE (the lifecycle would deploy it first)"}
	}
	if outputsFile != "" {
		if _, err := target.CheckOutputs(outputsFile); err != nil {
			return usageError{oneLine(err).Error()}
		}
	}
	kind := outputsKind(outputsFile)
	pol := policy.Default(kind)
	if policyFile != "" {
		p, err := policy.Load(policyFile)
		if err != nil {
			return usageError{oneLine(err).Error()}
		}
		pol = p
	}
	p, err := drillPlanFor(outputsFile, labels)
	if err != nil {
		return usageError{err.Error()}
	}
	printPlan(os.Stdout, p, target.BoundsForOutputs(outputsFile), pol, timeout)
	return nil
}

// drillExit is how a drill ends (README, "Exit codes"): a stop's code
// first, then a tool error, then the verdict.
func drillExit(meta report.RunMeta, toolErr, failed bool) error {
	switch {
	case meta.Status == report.StatusAborted:
		return exitError{exitAborted}
	case meta.Status == report.StatusTimedOut:
		return exitError{exitTimedOut}
	case meta.Status == report.StatusInterrupted && meta.Stop.Signal != "":
		return exitError{exitForSignalName(meta.Stop.Signal)}
	case toolErr || meta.Status == report.StatusInterrupted:
		return exitError{exitToolError}
	case failed:
		return exitError{exitVerdict}
	}
	return nil
}

// outputsKind is the target kind an outputs file names ("aws" unless it
// says it is the lab's); no outputs file is a lab drdrill starts.
func outputsKind(path string) string {
	if path == "" {
		return "lab"
	}
	if o, err := outputs.Read(path); err == nil && o[outputs.TargetKind] == "lab" {
		return "lab"
	}
	return "aws"
}

// endOfSuite is how one run of the suites ended: the suite's own record of
// a stop (with the signal drdrill received, when it was drdrill's), else a
// timeout in Ginkgo's report, else nil (it completed).
func endOfSuite(outDir string, sig os.Signal, iteration, repeat int) *report.Stop {
	st, err := report.ReadStop(outDir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "drdrill drill: %v\n", err)
	}
	if sig != nil {
		if st == nil {
			// The suite never recorded it (it had not started, or died).
			st = &report.Stop{AtNs: time.Now().UnixNano()}
		}
		st.Cause, st.Signal = "signal", signalName(sig)
	}
	if st == nil {
		if specs, suite := report.Timeouts(outDir); suite || len(specs) > 0 {
			st = &report.Stop{Cause: "timeout", Scenario: strings.Join(specs, ", ")}
			if suite {
				st.Step = "the suite timeout elapsed"
			}
		}
	}
	if st != nil && repeat > 1 {
		st.Iteration = iteration
	}
	return st
}

// leftBehind is the last guard against a fault outliving the drill: if
// the ledger still shows faults this run injected once the suites have
// ended (the suite died, or a rollback failed), they are rolled back here
// and the run records them. It reports whether there were any.
func leftBehind(l *ledger.Ledger, outputsFile string, meta *report.RunMeta, since time.Time, recoverCmd string) bool {
	active, err := l.Active()
	if err != nil {
		fmt.Fprintf(os.Stderr, "drdrill drill: %v\n", err)
		return true
	}
	var mine []ledger.Entry
	for _, e := range active {
		if e.By == "suite" && e.TimeNs >= since.UnixNano() {
			mine = append(mine, e)
		}
	}
	if len(mine) == 0 {
		return false
	}
	if meta.Stop == nil {
		// Nothing stopped the suites, yet they ended with faults in place.
		meta.Stop = &report.Stop{Cause: "suite-exited", AtNs: time.Now().UnixNano()}
		meta.Status = report.StatusFor(meta.Stop)
	}
	for _, e := range mine {
		meta.Stop.LeftInjected = append(meta.Stop.LeftInjected, e.String())
	}
	fmt.Printf("[phase] the suites left %d fault(s) in the ledger: rolling them back now\n", len(mine))
	t, err := target.Open(outputsFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "drdrill drill: %v: run `%s`\n", err, recoverCmd)
		return true
	}
	defer t.Close()
	ctx, cancel := context.WithTimeout(context.Background(), target.BoundsOf(t).Recover)
	defer cancel()
	for _, e := range mine {
		if _, err := fault.RollbackByID(ctx, t, l, e.ID, "drdrill"); err != nil {
			fmt.Fprintf(os.Stderr, "drdrill drill: %v: run `%s`\n", err, recoverCmd)
		} else {
			fmt.Printf("[phase] rolled back %s (%s), which the suites left %s\n", e.Fault, e.ID, e.State)
		}
	}
	return true
}

// summarize renders the run's reports and prints the one-screen summary.
func summarize(runDir string, wall time.Duration) bool {
	r, err := report.Build(runDir, nil)
	if err != nil {
		fmt.Fprintf(os.Stderr, "drdrill drill: report: %v\n", err)
		return true
	}
	if err := report.Render(runDir, r); err != nil {
		fmt.Fprintf(os.Stderr, "drdrill drill: report: %v\n", err)
	}
	acc := report.Account(r)
	fmt.Println()
	r.WriteTable(os.Stdout)
	if acc.Deliberate > 0 {
		fmt.Printf("wall time %v: %.2f× the deliberate windows of %v (faults %v, holds around them %v); the rest is set-up, restores and reports\n",
			wall.Round(time.Second), wall.Seconds()/acc.Deliberate.Seconds(), acc.Deliberate.Round(100*time.Millisecond),
			acc.Faults.Round(100*time.Millisecond), (acc.Deliberate - acc.Faults).Round(100*time.Millisecond))
	}
	fmt.Printf("reports: %s (summary.md, report.json, junit.xml) and %s\n", filepath.Join(runDir, report.HTMLFile), filepath.Join(filepath.Dir(runDir), report.HTMLFile))
	// flaky passes the gate but is never shown as a plain pass.
	return r.Verdict != "pass" && r.Verdict != "flaky"
}

// gitCommit is the commit drdrill was built from (stamped by go build in a
// checkout), else the one of the directory it runs in.
func gitCommit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				return s.Value
			}
		}
	}
	out, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func runMeta(id, labels string, repeat int, outputsFile string) report.RunMeta {
	m := report.RunMeta{ID: id, Labels: labels, Repeat: repeat, StartedNs: time.Now().UnixNano(), GitCommit: gitCommit(),
		Seed: 1 + time.Now().UnixNano()%999_983, Target: "lab",
		ToolVersions: map[string]string{"go": runtime.Version()}}
	if o, err := outputs.Read(outputsFile); err == nil && o[outputs.TargetKind] != "" {
		m.Target = o[outputs.TargetKind]
	}
	if b, err := lab.FindBinaries(); err == nil {
		m.ToolVersions["mariadb"] = b.Version
	}
	if g, err := findGinkgo(); err == nil {
		if out, err := exec.Command(g, "version").Output(); err == nil {
			m.ToolVersions["ginkgo"] = strings.TrimSpace(string(out))
		}
	}
	return m
}

func writeRunMeta(runDir string, m report.RunMeta) {
	b, _ := json.MarshalIndent(m, "", "  ")
	_ = os.WriteFile(filepath.Join(runDir, report.RunMetaFile), b, 0o644)
}

func labelArg(labels string) string {
	if strings.TrimSpace(labels) == "" {
		return ""
	}
	return fmt.Sprintf(" --labels '%s'", labels)
}

// drillRun is what the stop handling needs to know about the running
// suites.
type drillRun struct {
	start time.Time
	reg   *abort.Registration

	mu          sync.Mutex
	pgid        int          // the running suites' process group, or 0
	interrupted bool         // a stop signal came; the suites got their one interrupt
	abort       *report.Stop // an abort request came
}

// interrupt sends the running suites their one interrupt (Ginkgo's
// second skips cleanup), and reports whether suites were running to
// receive it; suites not started yet are not started. Ginkgo acts on
// SIGINT and SIGTERM alone (a SIGHUP would kill the ginkgo CLI and the
// test process outright): they get SIGTERM for a SIGTERM, else SIGINT.
func (dr *drillRun) interrupt(sig os.Signal) bool {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	dr.interrupted = true
	if dr.pgid == 0 {
		return false
	}
	pass := syscall.SIGINT
	if sig == syscall.SIGTERM {
		pass = syscall.SIGTERM
	}
	_ = syscall.Kill(-dr.pgid, pass)
	return true
}

// aborted is an abort request from this run on (`drdrill abort`), once
// seen: the suite running, if any, stops its scenario; drdrill
// acknowledges and starts no further iteration.
func (dr *drillRun) aborted(ledgerDir string) *report.Stop {
	dr.mu.Lock()
	defer dr.mu.Unlock()
	if dr.abort != nil {
		return dr.abort
	}
	r, ok := abort.Pending(ledgerDir, dr.start)
	if !ok {
		return nil
	}
	dr.reg.Acknowledge()
	fmt.Printf("[phase] %s: no further fault, scenario or iteration starts\n", r)
	dr.abort = &report.Stop{Cause: "abort", By: r.By, AtNs: time.Now().UnixNano()}
	return dr.abort
}

// runSuites runs ginkgo once and returns its exit code; started is false
// when a stop came first.
func (dr *drillRun) runSuites(ginkgo, outDir, outputsFile, labels, suites, policyFile string, seed int64, timeout, grace time.Duration, flakeAttempts int,
	planFile string, pollProgress time.Duration) (code int, started bool, err error) {
	// --grace-period: how long Ginkgo waits, after an interrupt or a
	// timeout, for the running node to return before it moves on to the
	// cleanups; a node mid-rollback needs the target's rollback bound.
	gargs := []string{"run", "--junit-report", "junit.xml", "--json-report", "ginkgo-report.json", "--output-dir", outDir,
		"-v", "--timeout", timeout.String(), "--grace-period", grace.String(), "--seed", fmt.Sprint(seed)}
	if pollProgress > 0 {
		// Opt-in: each report dumps every goroutine's stack, which during
		// a long wait on AWS buries the drill's own progress lines.
		gargs = append(gargs, "--poll-progress-after", pollProgress.String(), "--poll-progress-interval", "10s")
	}
	if flakeAttempts > 1 {
		gargs = append(gargs, "--flake-attempts", fmt.Sprint(flakeAttempts))
	}
	if !colour(os.Stdout) {
		gargs = append(gargs, "--no-color")
	}
	if strings.TrimSpace(labels) != "" {
		gargs = append(gargs, "--label-filter", labels)
	}
	gargs = append(gargs, strings.Fields(suites)...)
	cmd := exec.Command(ginkgo, gargs...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Each iteration's scenarios write under its own directory.
	cmd.Env = append(os.Environ(), "DRDRILL_OUTPUTS="+outputsFile, "DRDRILL_RUN_DIR="+outDir, fmt.Sprintf("DRDRILL_SEED=%d", seed),
		fmt.Sprintf("%s=%d", abort.DrillPIDEnv, os.Getpid()), fmt.Sprintf("%s=%d", abort.DrillStartEnv, dr.start.UnixNano()))
	if policyFile != "" {
		cmd.Env = append(cmd.Env, "DRDRILL_POLICY="+policyFile)
	}
	if planFile != "" {
		cmd.Env = append(cmd.Env, "DRDRILL_PLAN="+planFile)
	}
	// Their own session: no terminal signals them (a Ctrl-C reaches the
	// terminal's foreground group, a hang-up its session), only drdrill,
	// and drdrill sends exactly one SIGINT. The ginkgo CLI does not pass a
	// signal on to its test process; the whole group gets drdrill's.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	fmt.Printf("[phase] suites: %s %s\n", ginkgo, strings.Join(gargs, " "))
	dr.mu.Lock()
	if dr.interrupted {
		dr.mu.Unlock()
		return 0, false, nil
	}
	if err := cmd.Start(); err != nil {
		dr.mu.Unlock()
		return 0, false, err
	}
	dr.pgid = cmd.Process.Pid
	dr.mu.Unlock()
	err = cmd.Wait()
	dr.mu.Lock()
	dr.pgid = 0
	dr.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), true, nil
	}
	return 0, true, err
}
