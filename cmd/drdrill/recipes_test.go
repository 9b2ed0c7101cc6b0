package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The CI recipes in docs/ci (actionlint checks the GitHub ones in make
// lint; GitLab has no linter of that standing, so its structure is
// checked here): every drdrill command line they run is a command this
// drdrill has, with flags it takes; they call build/drdrill directly,
// exec'd in a GitHub step (GitHub signals the step's shell, which does not
// pass the signal on); the drill's own
// timeout ends before the job's, so the drill rolls back and uploads
// itself; recover runs whatever happened; the JUnit file published is the
// one the drill writes.

// recipeStep is a command line of a recipe with the job it is in.
type recipeStep struct {
	job, line string
	always    bool // runs after a failure too (if: always(), after_script)
}

func githubSteps(t *testing.T, path string) (steps []recipeStep, jobTimeout map[string]time.Duration, junit []string) {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			TimeoutMinutes int `yaml:"timeout-minutes"`
			Steps          []struct {
				If   string
				Run  string
				Uses string
				With map[string]string
			}
		}
	}
	readYAML(t, path, &wf)
	jobTimeout = map[string]time.Duration{}
	for name, j := range wf.Jobs {
		jobTimeout[name] = time.Duration(j.TimeoutMinutes) * time.Minute
		for _, s := range j.Steps {
			if strings.Contains(s.Uses, "junit") {
				junit = append(junit, s.With["report_paths"])
			}
			for _, line := range shellLines(s.Run) {
				steps = append(steps, recipeStep{job: name, line: line, always: strings.Contains(s.If, "always()")})
			}
		}
	}
	return steps, jobTimeout, junit
}

func gitlabSteps(t *testing.T, path string) (steps []recipeStep, jobTimeout map[string]time.Duration, junit []string) {
	t.Helper()
	var nodes map[string]yaml.Node
	readYAML(t, path, &nodes)
	type gitlabJob struct {
		Extends      string
		Timeout      string
		Script       []string
		BeforeScript []string `yaml:"before_script"`
		AfterScript  []string `yaml:"after_script"`
		Rules        []map[string]string
		Artifacts    struct {
			When    string
			Reports struct{ JUnit string }
		}
	}
	doc := map[string]gitlabJob{}
	for name, n := range nodes {
		if name == "stages" {
			continue
		}
		var j gitlabJob
		if err := n.Decode(&j); err != nil {
			t.Fatalf("%s: job %s: %v", path, name, err)
		}
		doc[name] = j
	}
	tmpl, ok := doc[".drdrill"]
	if !ok || tmpl.Artifacts.When != "always" || len(tmpl.Rules) == 0 || !strings.Contains(tmpl.Rules[0]["if"], `"schedule"`) {
		t.Fatalf("%s: the .drdrill template must run on schedules and keep its artifacts always: %+v", path, tmpl)
	}
	junit = append(junit, tmpl.Artifacts.Reports.JUnit)
	jobTimeout = map[string]time.Duration{}
	for name, j := range doc {
		if strings.HasPrefix(name, ".") {
			continue
		}
		if j.Extends != ".drdrill" {
			t.Errorf("%s: job %s does not extend .drdrill (schedules, artifacts, JUnit)", path, name)
		}
		d, err := time.ParseDuration(j.Timeout)
		if err != nil {
			t.Errorf("%s: job %s: timeout %q: %v", path, name, j.Timeout, err)
		}
		jobTimeout[name] = d
		for _, s := range j.Script {
			for _, line := range shellLines(s) {
				steps = append(steps, recipeStep{job: name, line: line})
			}
		}
		for _, s := range j.AfterScript {
			for _, line := range shellLines(s) {
				steps = append(steps, recipeStep{job: name, line: line, always: true})
			}
		}
	}
	return steps, jobTimeout, junit
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// shellLines are a script's commands: lines (a backslash or a trailing
// || joins the next), split at ; && || | do then outside quotes.
func shellLines(script string) []string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	script = regexp.MustCompile(`\|\|\s*\n`).ReplaceAllString(script, "|| ")
	var out []string
	for _, l := range strings.Split(script, "\n") {
		var cur []string
		flush := func() {
			if len(cur) > 0 {
				out = append(out, strings.Join(cur, " "))
			}
			cur = nil
		}
		for _, w := range words(l) {
			switch w {
			case ";", "&&", "||", "|", "do", "then":
				flush()
			default:
				cur = append(cur, quoteIfSpaced(w))
			}
		}
		flush()
	}
	return out
}

func quoteIfSpaced(w string) string {
	if strings.ContainsAny(w, " \t") {
		return "'" + w + "'"
	}
	return w
}

// words splits a command line, honouring quotes.
func words(line string) []string {
	var out []string
	var cur strings.Builder
	quote := rune(0)
	in := false
	for _, r := range line {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
		case r == ';':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			out = append(out, ";")
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if in {
		out = append(out, cur.String())
	}
	return out
}

func TestCIRecipesRunDrdrillAsItIs(t *testing.T) {
	recipes := map[string]func(*testing.T, string) ([]recipeStep, map[string]time.Duration, []string){
		"../../docs/ci/github/dr-drill-lab.yml":       githubSteps,
		"../../docs/ci/github/dr-drill-aws.yml":       githubSteps,
		"../../docs/ci/gitlab/dr-drill.gitlab-ci.yml": gitlabSteps,
	}
	root := newRoot()
	for path, read := range recipes {
		steps, jobTimeout, junit := read(t, path)
		drills, recovers := 0, 0
		for _, s := range steps {
			w := words(s.line)
			execd := len(w) > 0 && w[0] == "exec"
			if execd {
				w = w[1:]
			}
			if len(w) == 0 {
				continue
			}
			if w[0] == "make" && len(w) > 1 && w[1] != "build" {
				t.Errorf("%s: %q: call build/drdrill directly (make passes only SIGTERM on)", path, s.line)
			}
			if w[0] != "build/drdrill" {
				continue
			}
			// The command and its flags, checked as the docs' are
			// (commandLine, cli_test.go).
			quoted := make([]string, 0, len(w)-1)
			for _, x := range w[1:] {
				quoted = append(quoted, quoteIfSpaced(x))
			}
			if why := commandLine(root, strings.Join(quoted, " ")); why != "" {
				t.Errorf("%s: %q: %s", path, s.line, why)
				continue
			}
			c, args, _ := root.Find(w[1:])
			name := strings.TrimPrefix(c.CommandPath(), "drdrill ")
			for i, a := range args {
				if a == "--timeout" && i+1 < len(args) {
					d, err := time.ParseDuration(args[i+1])
					if err != nil || d >= jobTimeout[s.job] {
						t.Errorf("%s: job %s: the drill's --timeout %s must end before the job's %v, so the drill rolls back and uploads itself", path, s.job, args[i+1], jobTimeout[s.job])
					}
				}
			}
			switch name {
			case "drill":
				drills++
				if strings.Contains(path, "/github/") && !execd {
					t.Errorf("%s: %q: exec it — GitHub signals the step's shell, which does not pass the signal on to drdrill", path, s.line)
				}
				if !strings.Contains(s.line, "--stage reports") {
					t.Errorf("%s: %q: write the run to reports/ (--stage reports), where the JUnit step looks", path, s.line)
				}
			case "recover":
				recovers++
				if !s.always {
					t.Errorf("%s: %q must run whatever happened (if: always() / after_script)", path, s.line)
				}
			}
		}
		if drills != len(jobTimeout) {
			t.Errorf("%s: %d drdrill drill commands for %d jobs", path, drills, len(jobTimeout))
		}
		if strings.Contains(path, "aws") || strings.Contains(path, "gitlab") {
			if recovers == 0 {
				t.Errorf("%s: no drdrill recover: an interrupted AWS drill would leave its faults", path)
			}
		}
		for _, j := range junit {
			if m, _ := filepath.Match(j, "reports/20261207T060000Z/junit.xml"); !m {
				t.Errorf("%s: JUnit from %q, but the drill writes reports/<run-id>/junit.xml", path, j)
			}
		}
	}
}
