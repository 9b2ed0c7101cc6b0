package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths are every command's words, from the command tree itself.
func commandPaths(c *cobra.Command, prefix []string) [][]string {
	var out [][]string
	for _, sub := range c.Commands() {
		if sub.Hidden {
			continue
		}
		p := append(append([]string(nil), prefix...), sub.Name())
		out = append(out, p)
		out = append(out, commandPaths(sub, p)...)
	}
	return out
}

// #25 item 5: every command and subcommand answers --help (and -h) with
// its usage and exit 0. Before, `drdrill lab --help` was "unknown command"
// with exit 2.
func TestEveryCommandAnswersHelp(t *testing.T) {
	root := newRoot()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	paths := commandPaths(root, nil)
	if len(paths) < 30 {
		t.Fatalf("only %d commands in the tree: %v", len(paths), paths)
	}
	for _, p := range append(paths, []string{}) {
		for _, h := range []string{"--help", "-h"} {
			r := run(t, nil, append(append([]string(nil), p...), h)...)
			name := strings.TrimSpace("drdrill " + strings.Join(p, " "))
			if r.code != 0 || !strings.Contains(r.out, "Usage:") || !strings.Contains(r.out, name) {
				t.Errorf("%s %s: exit %d\n%s", name, h, r.code, r.out)
			}
		}
	}
}

// commandLine checks one drdrill command line as a document writes it:
// its words name a command, and every --flag on it is one of that
// command's. It returns what is wrong, or "".
func commandLine(root *cobra.Command, line string) string {
	// The command: leading words; the rest of the line up to a shell
	// separator or a comment carries its flags.
	line = cutAtSeparator(line)
	fields := strings.Fields(line)
	var words []string
	for _, f := range fields {
		if !regexp.MustCompile(`^[a-z][a-z-]*$`).MatchString(f) {
			break
		}
		words = append(words, f)
	}
	if len(words) == 0 {
		return "" // `drdrill --help`, `drdrill <command>`: nothing to check
	}
	c, rest, err := root.Find(words)
	if err != nil || c == root {
		return fmt.Sprintf("`drdrill %s`: no such command", strings.Join(words, " "))
	}
	// Positional words after a command that takes none are a misspelt
	// subcommand.
	if len(rest) > 0 && c.HasSubCommands() {
		return fmt.Sprintf("`drdrill %s`: %s has no subcommand %q", strings.Join(words, " "), c.CommandPath(), rest[0])
	}
	for _, m := range regexp.MustCompile(`(?:^|[\s|\[(])--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(line, -1) {
		if c.Flags().Lookup(m[1]) == nil && c.InheritedFlags().Lookup(m[1]) == nil {
			return fmt.Sprintf("`%s`: %s has no flag --%s", strings.TrimSpace(line), c.CommandPath(), m[1])
		}
	}
	return ""
}

// cutAtSeparator cuts a shell line at its first separator or comment
// outside quotes: the rest is another command.
func cutAtSeparator(line string) string {
	quote := byte(0)
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		default:
			for _, sep := range []string{" | ", " && ", " || ", "; ", " # ", " > ", " 2>", " &"} {
				if strings.HasPrefix(line[i:], sep) {
					return line[:i]
				}
			}
		}
	}
	return line
}

// docLines are the drdrill command lines of a Markdown file with their
// line numbers: in code blocks, each line that runs drdrill; in inline
// code, each span that starts with drdrill or with one of its commands
// and names a flag ("`verdict --window`").
func docLines(t *testing.T, path string, topLevel map[string]bool) map[int][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	inBlock := false
	span := regexp.MustCompile("`([^`]+)`")
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			inBlock = !inBlock
			continue
		}
		if inBlock {
			// Each shell command of the line (a diagram's arrows too) that
			// runs drdrill, after any VAR=value in front of it.
			for _, piece := range regexp.MustCompile(`─►|\||&&|;|\(`).Split(l, -1) {
				f := strings.Fields(piece)
				for len(f) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(f[0]) {
					f = f[1:]
				}
				if len(f) > 0 && filepath.Base(f[0]) == "drdrill" {
					out[i+1] = append(out[i+1], strings.Join(f[1:], " "))
				}
			}
			continue
		}
		for _, m := range span.FindAllStringSubmatch(l, -1) {
			s := strings.TrimPrefix(strings.TrimPrefix(m[1], "build/"), "./")
			switch first, _, _ := strings.Cut(s, " "); {
			case strings.HasPrefix(s, "drdrill "):
				out[i+1] = append(out[i+1], strings.TrimPrefix(s, "drdrill "))
			case topLevel[first] && strings.Contains(s, " --"):
				out[i+1] = append(out[i+1], s)
			}
		}
	}
	return out
}

// #25 item 6: every command and flag that README.md and docs/ name
// exists, with the words and flags written there (the CI recipes in
// docs/ci have their own test). `verdict --help` did not show --window,
// which the README's sign-off section depends on.
func TestDocsNameOnlyCommandsAndFlagsThatExist(t *testing.T) {
	root := newRoot()
	top := map[string]bool{}
	for _, c := range root.Commands() {
		top[c.Name()] = true
	}
	files, _ := filepath.Glob("../../docs/*.md")
	files = append(files, "../../README.md", "../../infra/aws/README.md")
	checked := 0
	for _, f := range files {
		for n, lines := range docLines(t, f, top) {
			for _, l := range lines {
				checked++
				if why := commandLine(root, l); why != "" {
					t.Errorf("%s:%d: %s", strings.TrimPrefix(f, "../../"), n, why)
				}
			}
		}
	}
	if checked < 40 {
		t.Fatalf("only %d drdrill command lines found in the docs: the scan is broken", checked)
	}
	// The checker itself catches what it must.
	for line, want := range map[string]string{
		"verdict --window 10 reports/":      "",
		"lab nonsense --dir x":              "no subcommand",
		"nonsense --dir x":                  "no such command",
		"observe --dir x --bogus 1":         "has no flag --bogus",
		"recover --dir …|--outputs …":       "",
		"drill --dry-run | head":            "",
		"drill --labels 'a || b' --bogus 1": "has no flag --bogus",
	} {
		if got := commandLine(root, line); (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("commandLine(%q) = %q, want %q", line, got, want)
		}
	}
}

// docs/twin.md lists the stages of make test's twin drill: the labels
// scripts/twin-drill.sh runs, each named there.
func TestTwinDocListsTheTwinDrillsScenarios(t *testing.T) {
	script, err := os.ReadFile("../../scripts/twin-drill.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`labels=\$\{LABELS:-"([^"]+)"\}`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/twin-drill.sh: no default labels")
	}
	doc, err := os.ReadFile("../../docs/twin.md")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(doc), "twin-drill stage:")
	if i < 0 {
		t.Fatal("docs/twin.md: no twin-drill stage list")
	}
	stage := string(doc[i:min(len(doc), i+600)])
	for _, l := range strings.Split(string(m[1]), "||") {
		if l = strings.TrimSpace(l); !strings.Contains(stage, l) {
			t.Errorf("docs/twin.md's twin-drill stage omits %s, which scripts/twin-drill.sh runs", l)
		}
	}
}

// Flags go anywhere on the line. With Go's flag package a flag after the
// fault's name was silently ignored: `fault inject --dir LAB
// wan-degradation --for 1s` left the fault injected.
func TestFlagsAfterArgumentsAreParsed(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	t.Cleanup(func() { run(t, nil, "recover", "--dir", dir) })
	out := mustRun(t, "fault", "inject", "--dir", dir, "wan-degradation", "--for", "1s", "--param", "latency_ms=200")
	if !strings.Contains(out, "rolled back wan-degradation") || !strings.Contains(out, "latency_ms:200") {
		t.Fatalf("fault inject with flags after the name: --for and --param were not taken:\n%s", out)
	}
}
