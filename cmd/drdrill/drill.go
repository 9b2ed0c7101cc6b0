package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"runtime"
	"runtime/debug"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/report"
)

func init() {
	register("drill", "run the drill suites against a fresh lab (or --outputs) into reports/<run-id>/", drill)
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

func drill(args []string) error {
	fs := flag.NewFlagSet("drill", flag.ContinueOnError)
	reports := fs.String("reports", "reports", "directory that receives reports/<run-id>/")
	labels := fs.String("labels", "", "Ginkgo label filter, e.g. signoff or 'smoke && !freeze'")
	suites := fs.String("suites", "", "suite to run: a compiled suite (drill.test) or a suite package directory (default: drill.test beside drdrill, else ./suites/drill)")
	outputsFile := fs.String("outputs", "", "attach to this outputs file instead of starting a lab")
	targetKind := fs.String("target", "lab", "lab (start the embedded lab) or aws (Terratest: deploy infra/aws, outputs, drill, teardown; SKIP_deploy / SKIP_teardown skip stages)")
	infraDir := fs.String("infra", "infra/aws", "with --target aws: the Terraform module")
	runID := fs.String("run-id", "", "run id (default: UTC timestamp)")
	timeout := fs.Duration("timeout", 30*time.Minute, "suite timeout")
	policyFile := fs.String("policy", "", "SLO policy file (YAML); default: the built-in policy for the target")
	repeat := fs.Int("repeat", 1, "run the suites this many times on one lab (iteration reports in iter-N/)")
	seed := fs.Int64("seed", 0, "schedule seed: fault timing, writer phases and reader jitter (default: from the clock; printed, recorded in run.json, and replayed by passing it again)")
	rate := fs.Float64("rate", 0, "writes per second across the writers (default 1000: about ±1 ms RPO resolution; also $DRDRILL_RATE)")
	flakeAttempts := fs.Int("flake-attempts", 0, "retry a failing spec up to this many attempts (Ginkgo's --flake-attempts); a spec that passes on a retry is reported as flaky, never as a plain pass")
	lf := newLabFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := lf.validate(); err != nil {
		return err
	}
	if *repeat < 1 {
		return usageError{"--repeat must be at least 1"}
	}
	if *rate < 0 {
		return usageError{"--rate must be a positive number of writes per second"}
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
	if *targetKind == "aws" && *outputsFile == "" {
		// The Terratest lifecycle lives in its own binary (Terratest links
		// Kubernetes' client-go); its drill stage re-enters this command in
		// attach mode with the outputs it just wrote.
		return runLifecycle(*infraDir, args)
	}
	// Everything a user can get wrong is checked before a lab starts or
	// Ginkgo runs: each problem is one line naming the thing and the fix.
	plan, err := planDrill(*outputsFile, *policyFile, *labels, *suites)
	if err != nil {
		return err
	}
	*policyFile = plan.policy
	if *runID == "" {
		*runID = newRunID(*reports)
	}
	runDir, err := filepath.Abs(filepath.Join(*reports, *runID))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("run directory %s: %w", runDir, err)
	}
	// A closed stdout (`| head`) must not kill the drill before it takes
	// its lab down; the lab also watches this process (--exit-with).
	signal.Ignore(syscall.SIGPIPE)
	start := time.Now()
	fmt.Printf("drdrill drill %s → %s\n", *runID, runDir)

	out := *outputsFile
	if out == "" {
		labDir := filepath.Join(runDir, "lab")
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
	} else if out, err = filepath.Abs(out); err != nil {
		return err
	}

	meta := runMeta(*runID, *labels, *repeat, out)
	if *seed != 0 {
		meta.Seed = *seed
	}
	fmt.Printf("[phase] seed %d (replay this schedule: drdrill drill --seed %d%s)\n", meta.Seed, meta.Seed, labelArg(*labels))
	writeRunMeta(runDir, meta)
	failed := 0
	for i := 1; i <= *repeat; i++ {
		outDir := runDir
		if *repeat > 1 {
			outDir = filepath.Join(runDir, fmt.Sprintf("iter-%d", i))
			fmt.Printf("[phase] iteration %d of %d\n", i, *repeat)
		}
		code, interrupted, err := runSuites(plan.ginkgo, outDir, out, *labels, plan.suites, *policyFile, meta.Seed+int64(i-1), *timeout, *flakeAttempts)
		if err != nil {
			return err
		}
		if interrupted {
			// The suites ran their cleanups; stop here, report what ran.
			failed++
			fmt.Printf("[phase] interrupted: iteration %d stopped, %d more not run\n", i, *repeat-i)
			*repeat = i
			break
		}
		if n, err := report.MarkFlakyJUnit(outDir); err != nil {
			fmt.Fprintf(os.Stderr, "drdrill drill: marking flaky specs in junit.xml: %v\n", err)
		} else if n > 0 {
			fmt.Printf("[phase] %d spec(s) passed only on a retry: marked flaky in %s\n", n, filepath.Join(outDir, "junit.xml"))
		}
		if code != 0 {
			failed++
		}
	}
	meta.FinishedNs = time.Now().UnixNano()
	writeRunMeta(runDir, meta)
	fmt.Printf("[phase] suites finished after %v; %d of %d iteration(s) failed\n", time.Since(start).Round(time.Millisecond), failed, *repeat)
	verdictFailed := summarize(runDir, time.Since(start))
	if failed > 0 || verdictFailed {
		return exitError{1}
	}
	return nil
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

// runSuites runs ginkgo once and returns its exit code, and whether it was
// interrupted by a signal to drdrill.
func runSuites(ginkgo, outDir, outputsFile, labels, suites, policyFile string, seed int64, timeout time.Duration, flakeAttempts int) (int, bool, error) {
	gargs := []string{"run", "--junit-report", "junit.xml", "--json-report", "ginkgo-report.json", "--output-dir", outDir,
		"-v", "--poll-progress-after", "20s", "--poll-progress-interval", "10s", "--timeout", timeout.String(), "--seed", fmt.Sprint(seed)}
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
	cmd.Env = append(os.Environ(), "DRDRILL_OUTPUTS="+outputsFile, "DRDRILL_RUN_DIR="+outDir, fmt.Sprintf("DRDRILL_SEED=%d", seed))
	if policyFile != "" {
		cmd.Env = append(cmd.Env, "DRDRILL_POLICY="+policyFile)
	}
	fmt.Printf("[phase] suites: %s %s\n", ginkgo, strings.Join(gargs, " "))
	return runForwardingSignals(cmd)
}

// runForwardingSignals runs cmd in its own process group and passes
// SIGINT, SIGTERM and SIGHUP to the whole group. The ginkgo CLI does not
// act on a signal itself (it expects the terminal to signal its test
// process too), so a scheduler's SIGTERM to drdrill alone used to leave
// the drill running, faults and all. Ctrl-C reaches drdrill from the
// terminal and is forwarded the same way. It returns cmd's exit code and
// whether a signal was forwarded.
func runForwardingSignals(cmd *exec.Cmd) (code int, interrupted bool, err error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, false, err
	}
	done := make(chan struct{})
	var got atomic.Bool
	go func() {
		for {
			select {
			case s := <-sigs:
				got.Store(true)
				_ = syscall.Kill(-cmd.Process.Pid, s.(syscall.Signal))
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), got.Load(), nil
	}
	return 0, got.Load(), err
}
