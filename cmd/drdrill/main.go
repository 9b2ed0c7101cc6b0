// Command drdrill drives the embedded two-region lab and, through the
// suites, disaster-recovery drills against it or against AWS.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
)

// usageError is printed with the command's usage and exits 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitError carries an exit code without a message of its own.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

var commands = map[string]struct {
	summary string
	run     func(args []string) error
}{}

func register(name, summary string, run func([]string) error) {
	commands[name] = struct {
		summary string
		run     func([]string) error
	}{summary, run}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: drdrill COMMAND [flags]\n\ncommands:")
	for _, n := range sortedKeys(commands) {
		fmt.Fprintf(os.Stderr, "  %-16s %s\n", n, commands[n].summary)
	}
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		if len(os.Args) < 2 {
			os.Exit(2)
		}
		return
	}
	name, args := os.Args[1], os.Args[2:]
	// Two-word commands: "lab up", "fault inject".
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if _, ok := commands[name+" "+args[0]]; ok {
			name, args = name+" "+args[0], args[1:]
		}
	}
	cmd, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "drdrill: unknown command %q\n", strings.Join(os.Args[1:min(3, len(os.Args))], " "))
		usage()
		os.Exit(2)
	}
	err := cmd.run(args)
	var ue usageError
	var ee exitError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.As(err, &ee):
		os.Exit(ee.code)
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "drdrill %s: %s\n", name, ue.msg)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "drdrill %s: %v\n", name, err)
		os.Exit(1)
	}
}
