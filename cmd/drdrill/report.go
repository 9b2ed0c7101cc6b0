package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/signoff"
)

func init() {
	register("report", "re-render a run's report.json, summary.md and index.html from its histories", reportCmd)
	register("verdict", "judge a run (or, with --window N, the last N runs of each scenario) against a policy: exit 0 if every bound is met, 1 otherwise", verdictCmd)
	register("compare", "compare two runs or sets of runs per scenario and measure: regression, improvement or noise", compareCmd)
}

func runDirArg(fs *flag.FlagSet, args []string) (string, error) {
	var dir string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		dir, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	if dir == "" && fs.NArg() > 0 {
		dir = fs.Arg(0)
	}
	if dir == "" {
		return "", usageError{"which run? give RUN_DIR, e.g. reports/20261129T101500Z"}
	}
	return filepath.Abs(dir)
}

func loadPolicyFlag(path string) (*policy.Policy, error) {
	if path == "" {
		return nil, nil
	}
	p, err := policy.Load(path)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// buildRun parses RUN_DIR and --policy and evaluates the run.
func buildRun(name, policyHelp string, args []string) (string, *report.Report, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	pol := fs.String("policy", "", policyHelp)
	dir, err := runDirArg(fs, args)
	if err != nil {
		return "", nil, err
	}
	p, err := loadPolicyFlag(*pol)
	if err != nil {
		return "", nil, err
	}
	r, err := report.Build(dir, p)
	return dir, r, err
}

func reportCmd(args []string) error {
	dir, r, err := buildRun("report", "judge with this policy file instead of the run's own", args)
	if err != nil {
		return err
	}
	if err := report.Render(dir, r); err != nil {
		return err
	}
	r.WriteTable(os.Stdout)
	fmt.Printf("wrote %s, %s, %s in %s and %s\n", report.JSONFile, report.MarkdownFile, report.HTMLFile, dir, filepath.Join(filepath.Dir(dir), report.HTMLFile))
	return nil
}

func verdictCmd(args []string) error {
	for _, a := range args {
		if a == "--window" || a == "-window" || strings.HasPrefix(a, "--window=") || strings.HasPrefix(a, "-window=") {
			return windowVerdict(args)
		}
	}
	_, r, err := buildRun("verdict", "policy file (default: the policy the run was judged with)", args)
	if err != nil {
		return err
	}
	failing := 0
	for _, s := range r.Scenarios {
		if s.Verdict == "unreadable" {
			failing++
			fmt.Printf("FAIL %s: history unreadable: %s\n", s.Dir, strings.Join(s.Notes, "; "))
		}
		for _, b := range s.Breaches {
			failing++
			fmt.Printf("FAIL %s\n", b.Message)
		}
	}
	if r.Partial {
		fmt.Printf("note: partial run: %s\n", strings.Join(r.PartialReasons, "; "))
	}
	if r.Specs != nil {
		for _, f := range r.Specs.Flaky {
			fmt.Printf("FLAKY %s: passed on attempt %d\n", f.Name, f.Attempts)
		}
	}
	if failing > 0 {
		fmt.Printf("verdict: FAIL (%d failing checks, policy %s)\n", failing, r.Policy.Source)
		return exitError{1}
	}
	if r.Verdict == "flaky" {
		fmt.Printf("verdict: PASS, FLAKY (%d scenarios meet policy %s; %d spec(s) passed only on a retry)\n", len(r.Scenarios), r.Policy.Source, len(r.Specs.Flaky))
		return nil
	}
	fmt.Printf("verdict: PASS (%d scenarios meet policy %s)\n", len(r.Scenarios), r.Policy.Source)
	return nil
}

// flagsThenPaths parses flags given before, between or after the paths.
func flagsThenPaths(fs *flag.FlagSet, args []string) ([]string, error) {
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return paths, nil
		}
		paths = append(paths, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// windowVerdict judges the last N samples of each scenario and measure: a
// reports directory's runs, or one run's REPEAT iterations.
func windowVerdict(args []string) error {
	fs := flag.NewFlagSet("verdict", flag.ContinueOnError)
	window := fs.Int("window", 0, "judge the last N runs (or iterations) of each scenario")
	pol := fs.String("policy", "", "policy file (default: the newest included run's policy)")
	target := fs.String("target", "", "judge only runs of this target (default: the newest run's)")
	paths, err := flagsThenPaths(fs, args)
	if err != nil {
		return err
	}
	if *window < 1 {
		return usageError{"--window must be at least 1"}
	}
	if len(paths) == 0 {
		return usageError{"which runs? give REPORTS_DIR (e.g. reports) or a RUN_DIR with REPEAT iterations"}
	}
	set, err := signoff.Load(paths...)
	if err != nil {
		return err
	}
	set = set.ForTarget(*target)
	if len(set.Runs) == 0 {
		return fmt.Errorf("no runs of target %q in %s", *target, strings.Join(paths, ", "))
	}
	p := set.Runs[len(set.Runs)-1].Report.Policy
	if *pol != "" {
		if p, err = policy.Load(*pol); err != nil {
			return err
		}
	}
	fmt.Printf("included: %s\n", set.Describe())
	for _, e := range set.Excluded {
		fmt.Printf("excluded: %s\n", e)
	}
	v := signoff.Judge(set, p, *window)
	v.Write(os.Stdout)
	if !v.Pass {
		return exitError{1}
	}
	return nil
}

// compareCmd compares BASE and NEW (each a run or a reports directory).
func compareCmd(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	failOn := fs.String("fail-on", "", "exit 1 when any comparison is labelled this (regression)")
	md := fs.String("markdown", "", "also write the Markdown table (for a PR comment) to this file")
	target := fs.String("target", "", "compare only runs of this target (default: each set's newest run's)")
	paths, err := flagsThenPaths(fs, args)
	if err != nil {
		return err
	}
	if len(paths) != 2 {
		return usageError{"give BASE and NEW: each a run (reports/<run-id>) or a directory of runs"}
	}
	if *failOn != "" && *failOn != signoff.Regression {
		return usageError{fmt.Sprintf("--fail-on %q: only %q is supported", *failOn, signoff.Regression)}
	}
	var sets [2]*signoff.Set
	for i, p := range paths {
		s, err := signoff.Load(p)
		if err != nil {
			return err
		}
		sets[i] = s.ForTarget(*target)
		if len(sets[i].Runs) == 0 {
			return fmt.Errorf("%s has no runs of target %q", p, *target)
		}
		for _, e := range sets[i].Excluded {
			fmt.Printf("excluded from %s: %s\n", p, e)
		}
	}
	if sets[0].Target() != sets[1].Target() {
		return fmt.Errorf("BASE is target %s and NEW is target %s: compare runs of one target (--target)", sets[0].Target(), sets[1].Target())
	}
	cs := signoff.Compare(sets[0], sets[1])
	var b strings.Builder
	signoff.WriteMarkdown(&b, sets[0], sets[1], cs)
	fmt.Print(b.String())
	if *md != "" {
		if err := os.WriteFile(*md, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	if *failOn != "" {
		for _, c := range cs {
			if c.Label == *failOn {
				return exitError{1}
			}
		}
	}
	return nil
}
