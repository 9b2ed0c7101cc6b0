package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/signoff"
)

func newReportCmd() *cobra.Command {
	c := &cobra.Command{Use: "report RUN_DIR | --index LOCATION", Short: "re-render a run's report.json, summary.md, index.html (and an observation's junit.xml) from its histories (--index LOCATION: the runs index of a reports directory or s3:// prefix)"}
	pol := c.Flags().String("policy", "", "judge with this policy file instead of the run's own")
	index := c.Flags().String("index", "", "write LOCATION/index.html (the runs and their trends) for a reports directory or s3://bucket/prefix")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if changed(cmd.Flags(), "index") {
			if len(args) > 0 || *index == "" {
				return usageError{"give one location: drdrill report --index reports (or s3://bucket/prefix)"}
			}
			return reportIndex(*index)
		}
		if len(args) != 1 {
			return usageError{"which run? give RUN_DIR, e.g. reports/20261129T101500Z"}
		}
		dir, r, err := buildRun(args[0], *pol)
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
	return c
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

// buildRun evaluates the run in dir, with the policy file if given.
func buildRun(dir, policyFile string) (string, *report.Report, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", nil, err
	}
	p, err := loadPolicyFlag(policyFile)
	if err != nil {
		return "", nil, err
	}
	r, err := report.Build(dir, p)
	return dir, r, err
}

func newVerdictCmd() *cobra.Command {
	c := &cobra.Command{Use: "verdict RUN_DIR | --window N REPORTS_DIR...",
		Short: "judge a run (or, with --window N, the last N runs of each scenario) against a policy: exit 0 if every bound is met, 1 otherwise",
		Long: `verdict judges one run against the policy it was judged with (or --policy),
each bound against the run's figure; with --window N it judges the last N runs
(or REPEAT iterations) of each scenario under REPORTS_DIR, each percentile
bound against its statistic over them. A run that did not complete signs
nothing off. --markdown and --json also write the sign-off page
(docs/policy.md).`,
		Example: "  drdrill verdict --policy slo.yaml reports/20261129T101500Z\n  drdrill verdict --window 10 --policy slo.yaml reports/ --markdown signoff.md --json signoff.json"}
	pol := c.Flags().String("policy", "", "policy file (default: the policy the run was judged with; with --window, the newest included run's)")
	window := c.Flags().Int("window", 0, "judge the last N runs (or iterations) of each scenario under REPORTS_DIR instead of one run")
	tgt := c.Flags().String("target", "", "with --window: judge only runs of this target (default: the newest run's)")
	var pages signoffPages
	pages.flags(c.Flags())
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if changed(cmd.Flags(), "window") {
			return windowVerdict(args, *window, *pol, *tgt, pages)
		}
		if *tgt != "" {
			return usageError{"--target judges a window of runs: give --window N too"}
		}
		switch {
		case len(args) == 0:
			return usageError{"which run? give RUN_DIR, e.g. reports/20261129T101500Z (or --window N REPORTS_DIR)"}
		case len(args) > 1:
			return usageError{fmt.Sprintf("unexpected %q: verdict judges one run (or, with --window N, the runs under REPORTS_DIR...)", args[1])}
		}
		return runVerdict(args[0], *pol, pages)
	}
	return c
}

func runVerdict(dir, pol string, pages signoffPages) error {
	_, r, err := buildRun(dir, pol)
	if err != nil {
		return err
	}
	var failures []string
	fail := func(s string) {
		failures = append(failures, s)
		fmt.Printf("FAIL %s\n", s)
	}
	if !r.Run.Complete() {
		// Whatever its scenarios measured, the run stopped before it
		// measured everything it was asked to: it signs nothing off.
		fail(fmt.Sprintf("run %s %s: not a complete run; rerun it to sign off", r.Run.ID, r.Run.StatusLine()))
	}
	for _, s := range r.Scenarios {
		if s.Verdict == "unreadable" {
			fail(fmt.Sprintf("%s: history unreadable: %s", s.Dir, strings.Join(s.Notes, "; ")))
		}
		for _, b := range s.Breaches {
			fail(b.Message)
		}
	}
	if err := pages.write(signoff.RunPage(r, failures, buildVersion())); err != nil {
		return err
	}
	if r.Partial {
		fmt.Printf("note: partial run: %s\n", strings.Join(r.PartialReasons, "; "))
	}
	if r.Specs != nil {
		for _, f := range r.Specs.Flaky {
			fmt.Printf("FLAKY %s: passed on attempt %d\n", f.Name, f.Attempts)
		}
	}
	if len(failures) > 0 {
		fmt.Printf("verdict: FAIL (%d failing checks, policy %s)\n", len(failures), r.Policy.Source)
		return exitError{exitVerdict}
	}
	if r.Verdict == "flaky" {
		fmt.Printf("verdict: PASS, FLAKY (%d scenarios meet policy %s; %d spec(s) passed only on a retry)\n", len(r.Scenarios), r.Policy.Source, len(r.Specs.Flaky))
		return nil
	}
	fmt.Printf("verdict: PASS (%d scenarios meet policy %s)\n", len(r.Scenarios), r.Policy.Source)
	return nil
}

// windowVerdict judges the last N samples of each scenario and measure: a
// reports directory's runs, or one run's REPEAT iterations.
func windowVerdict(paths []string, window int, pol, tgt string, pages signoffPages) error {
	if window < 1 {
		return usageError{"--window must be at least 1"}
	}
	if len(paths) == 0 {
		return usageError{"which runs? give REPORTS_DIR (e.g. reports) or a RUN_DIR with REPEAT iterations"}
	}
	set, err := signoff.Load(paths...)
	if err != nil {
		return err
	}
	set = set.ForTarget(tgt)
	if len(set.Runs) == 0 {
		return fmt.Errorf("no runs of target %q in %s", tgt, strings.Join(paths, ", "))
	}
	p := set.Runs[len(set.Runs)-1].Report.Policy
	if pol != "" {
		if p, err = policy.Load(pol); err != nil {
			return err
		}
	}
	fmt.Printf("included: %s\n", set.Describe())
	for _, e := range set.Excluded {
		fmt.Printf("excluded: %s\n", e)
	}
	v := signoff.Judge(set, p, window)
	v.Write(os.Stdout)
	if err := pages.write(signoff.WindowPage(set, v, buildVersion())); err != nil {
		return err
	}
	if !v.Pass {
		return exitError{exitVerdict}
	}
	return nil
}

// newCompareCmd compares BASE and NEW (each a run or a reports directory).
func newCompareCmd() *cobra.Command {
	c := &cobra.Command{Use: "compare BASE NEW", Short: "compare two runs or sets of runs per scenario and measure: regression, improvement or noise",
		Args: exactArgs(2, "give BASE and NEW: each a run (reports/<run-id>) or a directory of runs")}
	failOn := c.Flags().String("fail-on", "", "exit 1 when any comparison is labelled this (regression)")
	md := c.Flags().String("markdown", "", "also write the Markdown table (for a PR comment) to this file")
	tgt := c.Flags().String("target", "", "compare only runs of this target (default: each set's newest run's)")
	c.RunE = func(_ *cobra.Command, paths []string) error {
		if *failOn != "" && *failOn != signoff.Regression {
			return usageError{fmt.Sprintf("--fail-on %q: only %q is supported", *failOn, signoff.Regression)}
		}
		var sets [2]*signoff.Set
		for i, p := range paths {
			s, err := signoff.Load(p)
			if err != nil {
				return err
			}
			sets[i] = s.ForTarget(*tgt)
			if len(sets[i].Runs) == 0 {
				return fmt.Errorf("%s has no runs of target %q", p, *tgt)
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
					return exitError{exitVerdict}
				}
			}
		}
		return nil
	}
	return c
}
