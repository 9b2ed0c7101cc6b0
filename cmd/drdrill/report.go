package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
)

func init() {
	register("report", "re-render a run's report.json, summary.md and index.html from its histories", reportCmd)
	register("verdict", "judge a run against a policy: exit 0 if every check meets it, 1 otherwise", verdictCmd)
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
	if failing > 0 {
		fmt.Printf("verdict: FAIL (%d failing checks, policy %s)\n", failing, r.Policy.Source)
		return exitError{1}
	}
	fmt.Printf("verdict: PASS (%d scenarios meet policy %s)\n", len(r.Scenarios), r.Policy.Source)
	return nil
}
