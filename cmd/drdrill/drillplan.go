package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/onsi/ginkgo/v2/types"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/target"
)

// SuiteBinary is the compiled drill suite that `make build` puts beside
// drdrill, so a drill neither compiles anything nor depends on the
// directory it is started from.
const SuiteBinary = "drill.test"

// drillPlan is what a drill will run, every piece checked before launch.
type drillPlan struct {
	ginkgo string
	suites string // a compiled suite or suite package directories
	policy string // absolute path, or empty for the built-in policy
}

// planDrill checks the outputs file (attach mode), the policy file, the
// label filter, the suites, ginkgo and, for a lab, mariadbd. Each error is
// one line that names the thing, what is wrong and the fix.
func planDrill(outputsFile, policyFile, labels, suites string) (drillPlan, error) {
	var p drillPlan
	if outputsFile != "" {
		if _, err := target.CheckOutputs(outputsFile); err != nil {
			return p, usageError{oneLine(err).Error()}
		}
	}
	if policyFile != "" {
		if _, err := policy.Load(policyFile); err != nil {
			return p, usageError{oneLine(err).Error()}
		}
		abs, err := filepath.Abs(policyFile)
		if err != nil {
			return p, err
		}
		p.policy = abs
	}
	if strings.TrimSpace(labels) != "" {
		if _, err := types.ParseLabelFilter(labels); err != nil {
			return p, usageError{oneLine(fmt.Errorf("--labels %q is not a valid Ginkgo label filter: %v (e.g. 'signoff', 'smoke && !freeze')", labels, err)).Error()}
		}
	}
	if _, err := envRate(); err != nil {
		return p, err
	}
	var err error
	if p.suites, err = findSuites(suites); err != nil {
		return p, err
	}
	if p.ginkgo, err = findGinkgo(); err != nil {
		return p, err
	}
	if outputsFile == "" {
		if _, err := lab.FindBinaries(); err != nil {
			return p, oneLine(err)
		}
	}
	return p, nil
}

// findSuites resolves what ginkgo runs: --suites as given (each must
// exist), else the compiled suite beside drdrill, else ./suites/drill when
// drdrill runs from the checkout.
func findSuites(flagValue string) (string, error) {
	if flagValue != "" {
		var abs []string
		for _, s := range strings.Fields(flagValue) {
			if _, err := os.Stat(s); err != nil {
				return "", fmt.Errorf("--suites %s: %v: give a compiled suite (build/%s from `make build`) or a suite package directory", s, errors.Unwrap(err), SuiteBinary)
			}
			a, err := filepath.Abs(s)
			if err != nil {
				return "", err
			}
			// Ginkgo takes a directory argument as a package path.
			if st, _ := os.Stat(a); st.IsDir() && !strings.HasPrefix(s, "/") && !strings.HasPrefix(s, ".") {
				a = "./" + s
			}
			abs = append(abs, a)
		}
		return strings.Join(abs, " "), nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), SuiteBinary)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if st, err := os.Stat(filepath.Join("suites", "drill")); err == nil && st.IsDir() {
		return "./suites/drill", nil
	}
	return "", fmt.Errorf("no drill suite found: there is no %s beside drdrill and no ./suites/drill here: run `make build` in the checkout (it writes build/%s) or pass --suites PATH", SuiteBinary, SuiteBinary)
}

// oneLine folds a multi-line error (YAML decoding lists one problem a
// line) into one line.
func oneLine(err error) error {
	if err == nil || !strings.Contains(err.Error(), "\n") {
		return err
	}
	f := strings.Fields(strings.ReplaceAll(err.Error(), "\n", " ; "))
	return errors.New(strings.ReplaceAll(strings.Join(f, " "), ": ;", ":"))
}

// colour says whether child processes may print ANSI colours: only to a
// terminal, and never with NO_COLOR set (https://no-color.org).
func colour(f *os.File) bool {
	if _, set := os.LookupEnv("NO_COLOR"); set {
		return false
	}
	return isTerminal(f)
}

// runLifecycle hands `drill --target aws` to drdrill-lifecycle, passing the
// drill flags through for its drill stage.
func runLifecycle(infraDir string, drillArgs []string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	bin := filepath.Join(filepath.Dir(exe), "drdrill-lifecycle")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("drdrill-lifecycle"); err != nil {
			return errors.New("drdrill-lifecycle not found beside drdrill or on PATH: build it with `make build-aws` (or run `make drill TARGET=aws`)")
		}
	}
	cmd := exec.Command(bin, append([]string{"--infra", infraDir, "--drdrill", exe, "--"}, drillArgs...)...)
	cmd.Stdout, cmd.Stderr, cmd.Stdin = os.Stdout, os.Stderr, os.Stdin
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return exitError{ee.ExitCode()}
	}
	return err
}

// envRate is $DRDRILL_RATE, the workload's writes per second (1000 when
// it is not set), or a usage error naming it.
func envRate() (float64, error) {
	v, ok := os.LookupEnv("DRDRILL_RATE")
	if !ok {
		return 1000, nil
	}
	var rate float64
	if _, err := fmt.Sscan(v, &rate); err != nil || rate <= 0 {
		return 0, usageError{fmt.Sprintf("$DRDRILL_RATE=%q is not a positive number of writes per second: unset it or use --rate", v)}
	}
	return rate, nil
}
