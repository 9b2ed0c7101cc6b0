package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/drdrill/drdrill/internal/observe"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/runbook"
)

func newPolicyCmd() *cobra.Command {
	c := groupCmd("policy", "SLO policies: show the built-in one, check a file (docs/policy.md)")
	show := &cobra.Command{Use: "show", Short: "print the built-in SLO policy for a target (--target lab|aws) as a file to start from; --resolved: each scenario's bounds",
		Args: noArgs("policy show takes --target lab|aws")}
	kind := show.Flags().String("target", "lab", "lab or aws")
	_ = show.RegisterFlagCompletionFunc("target", cobra.FixedCompletions([]string{"lab", "aws"}, cobra.ShellCompDirectiveNoFileComp))
	resolved := show.Flags().Bool("resolved", false, "print each scenario's bounds (its own, else the default's) instead of the file")
	show.RunE = func(*cobra.Command, []string) error { return policyShow(*kind, *resolved) }
	check := &cobra.Command{Use: "check FILE", Short: "check a policy file: valid, every measure and scenario known; print each scenario's bounds (exit 2 if not)",
		Args: exactArgs(1, "which policy? give FILE, e.g. drdrill policy check my-slo.yaml (docs/policy.md has the schema)"),
		RunE: func(_ *cobra.Command, args []string) error { return policyCheck(args[0]) }}
	c.AddCommand(show, check)
	return c
}

// policyScenarios are the scenarios a policy may name: the drill's and
// observe's.
func policyScenarios() []string {
	var out []string
	for _, s := range runbook.Scenarios {
		out = append(out, s.Name)
	}
	return append(out, observe.Scenario)
}

func policyShow(kind string, resolved bool) error {
	if kind != "lab" && kind != "aws" {
		return usageError{fmt.Sprintf("--target %q: want lab or aws", kind)}
	}
	if resolved {
		printResolved(policy.Default(kind))
		return nil
	}
	_, err := os.Stdout.Write(policy.DefaultSource(kind))
	return err
}

func policyCheck(file string) error {
	p, err := policy.Load(file)
	if err != nil {
		return usageError{oneLine(err).Error()}
	}
	if unknown := p.UnknownScenarios(policyScenarios()); len(unknown) > 0 {
		return usageError{fmt.Sprintf("policy %s: scenarios %s: no such scenario, so these bounds would never apply (scenarios: %s)",
			file, strings.Join(unknown, ", "), strings.Join(policyScenarios(), ", "))}
	}
	fmt.Printf("policy %s is valid: version %d, %d scenario(s) of their own\n", file, p.Version, len(p.Scenarios))
	printResolved(p)
	return nil
}

// printResolved prints, per scenario, the bounds it is judged against.
func printResolved(p policy.Policy) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tBOUNDS (its own, else the default's)")
	fmt.Fprintf(tw, "(default)\t%s\n", boundsText(p.Default))
	for _, s := range policyScenarios() {
		fmt.Fprintf(tw, "%s\t%s\n", s, boundsText(p.For(s)))
	}
	tw.Flush()
}

func boundsText(l policy.Limits) string {
	var out []string
	for _, m := range policy.Measures {
		if b := l.Bound(m); b != nil {
			out = append(out, m+" "+b.String())
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, ", ")
}
