// Command drdrill drives the embedded two-region lab and, through the
// suites, disaster-recovery drills against it or against AWS.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// usageError is printed with the command's usage hint and exits 2 (exitUsage).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries an exit code without a message of its own.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// newRoot is the whole command tree. Every command and subcommand answers
// --help; flags go anywhere on the line; `drdrill completion` writes shell
// completion; the flags several commands share are defined once
// (shared.go).
func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "drdrill",
		Short: "prove that a multi-region disaster-recovery setup actually recovers",
		Long: `drdrill injects region failures into a two-region MySQL-compatible stack — the
embedded lab, or AWS (a real account or the AWS twin) — records every write,
and measures RPO (acknowledged writes lost), RTO (until writes succeed and
keep succeeding), replication lag and time to re-protection. Exit codes:
0 pass, 1 a verdict said no, 2 usage, 3 status: not healthy, 4 tool error,
124 timed out, 128+N stopped by signal N, 130 aborted (README, "Exit codes").`,
		Version:           buildVersion(),
		SilenceUsage:      true,
		SilenceErrors:     true,
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: false},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.AddGroup(&cobra.Group{ID: "drill", Title: "Drills and game days:"}, &cobra.Group{ID: "stack", Title: "The stack and its faults:"},
		&cobra.Group{ID: "signoff", Title: "Reports and sign-off:"})
	add := func(group string, cs ...*cobra.Command) {
		for _, c := range cs {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("drill", newDrillCmd(), newObserveCmd(), newStatusCmd(), newAbortCmd())
	add("stack", newLabCmd(), newTwinCmd(), newFaultCmd(), newRecoverCmd(), newAWSCmd(), newOutputsCmd())
	add("signoff", newReportCmd(), newVerdictCmd(), newCompareCmd(), newPolicyCmd(), newVersionCmd())
	// A flag error is a usage error (exit 2), named with its command.
	var flagErrors func(*cobra.Command)
	flagErrors = func(c *cobra.Command) {
		c.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
		for _, sub := range c.Commands() {
			flagErrors(sub)
		}
	}
	flagErrors(root)
	return root
}

func main() {
	root := newRoot()
	c, err := root.ExecuteC()
	if err == nil {
		return
	}
	name := c.CommandPath()
	var ue usageError
	var ee exitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.As(err, &ue) || isCobraUsage(err):
		fmt.Fprintf(os.Stderr, "%s: %s (see `%s --help`)\n", name, strings.TrimSuffix(err.Error(), "\n"), name)
		os.Exit(exitUsage)
	default:
		// drdrill could not do its job: distinct from a verdict (1), a
		// usage error (2) and a stopped run (124, 128+N) — README.
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(exitToolError)
	}
}

// isCobraUsage tells cobra's own usage errors (an unknown command, a wrong
// number of arguments) from a command's failure.
func isCobraUsage(err error) bool {
	s := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag", "invalid argument"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// groupCmd is a command that only holds subcommands: alone it shows its
// help; with anything else, it names the unknown subcommand (exit 2).
func groupCmd(use, short string) *cobra.Command {
	return &cobra.Command{Use: use, Short: short, Args: cobra.ArbitraryArgs, RunE: func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())}
		}
		return c.Help()
	}}
}

// args are positional-argument rules whose errors are usage errors
// saying what to give.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{what}
		}
		return nil
	}
}

func noArgs(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError{fmt.Sprintf("unexpected %q: %s", args[0], what)}
		}
		return nil
	}
}

func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > n {
			return usageError{fmt.Sprintf("unexpected %q: %s", args[n], what)}
		}
		return nil
	}
}

// changed reports whether a flag was given on the command line.
func changed(fs *pflag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	return f != nil && f.Changed
}
