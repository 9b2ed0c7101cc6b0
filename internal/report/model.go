// Package report turns a run directory (reports/<run-id>/) into the files a
// team attaches to a sign-off: report.json (versioned), summary.md and a
// self-contained index.html, plus reports/index.html with trends across
// runs. Everything is derived from the run's histories and fault ledger, so
// `drdrill report` can re-render an old run after the checker improves.
package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/policy"
)

// Schema names report.json's format; readers refuse other versions.
const Schema = "drdrill.report/v1"

// RunMeta describes the run (written by `drdrill drill` as run.json).
type RunMeta struct {
	ID           string            `json:"id"`
	Target       string            `json:"target"`
	GitCommit    string            `json:"git_commit,omitempty"`
	ToolVersions map[string]string `json:"tool_versions,omitempty"`
	Labels       string            `json:"labels,omitempty"`
	Seed         int64             `json:"seed,omitempty"`
	StartedNs    int64             `json:"started_ns,omitempty"`
	FinishedNs   int64             `json:"finished_ns,omitempty"`
	Repeat       int               `json:"repeat,omitempty"`
	// Status is how the run ended: running (written at the start),
	// completed, interrupted, aborted or timed-out (runstatus.go).
	Status string `json:"status,omitempty"`
	// Stop says what stopped a run that did not complete, and where.
	Stop *Stop `json:"stop,omitempty"`
	// Mode is how the run measured: drill (its suites injected the faults;
	// the default) or observe (`drdrill observe`: it injected nothing and
	// measured whatever was done to the stack).
	Mode string `json:"mode,omitempty"`
	// Ended says what ended an observation ("--for 10m0s elapsed",
	// "SIGINT after 4m12s").
	Ended string `json:"ended,omitempty"`
}

// Run modes (RunMeta.Mode).
const (
	ModeDrill   = "drill"
	ModeObserve = "observe"
)

// RunMetaFile is run.json in a run directory.
const RunMetaFile = "run.json"

// Point is one plotted sample (ms since the scenario started).
type Point struct {
	T float64 `json:"t_ms"`
	V float64 `json:"v"`
}

// Bucket counts writes invoked in one time slice.
type Bucket struct {
	T    float64 `json:"t_ms"`
	OK   int     `json:"ok"`
	Fail int     `json:"fail"`
	Info int     `json:"info"`
}

// Window is a fault's time span.
type Window struct {
	Fault  string  `json:"fault"`
	ID     string  `json:"id"`
	FromMs float64 `json:"from_ms"`
	ToMs   float64 `json:"to_ms"`
	// Open: no rollback was recorded in the history (the window runs to the end).
	Open bool `json:"open,omitempty"`
}

// Marker is a control-plane event on the timeline.
type Marker struct {
	Kind   string  `json:"kind"`
	Region string  `json:"region,omitempty"`
	AtMs   float64 `json:"at_ms"`
	Detail string  `json:"detail,omitempty"`
}

// Scenario is one scenario's measurements and verdict.
type Scenario struct {
	Name         string               `json:"name"`
	Iteration    int                  `json:"iteration,omitempty"`
	Dir          string               `json:"dir"`
	Verdict      string               `json:"verdict"` // pass, flaky, fail, unreadable
	Breaches     []policy.Breach      `json:"breaches,omitempty"`
	Measurements []policy.Measurement `json:"measurements,omitempty"`
	Result       *check.Result        `json:"result,omitempty"`
	DurationMs   float64              `json:"duration_ms"`
	Windows      []Window             `json:"fault_windows,omitempty"`
	// Holds are the runbook's deliberate holds (baseline before a fault,
	// stability windows after it, steady-state measurement).
	Holds    []Window           `json:"holds,omitempty"`
	Markers  []Marker           `json:"controller_events,omitempty"`
	BucketMs float64            `json:"write_bucket_ms,omitempty"`
	Writes   []Bucket           `json:"writes,omitempty"`
	Lag      map[string][]Point `json:"lag_series,omitempty"`
	// Visibility is, per region, the worst visibility latency of the
	// writes acknowledged in each slice (ack → first read returning it).
	Visibility map[string][]Point `json:"visibility_series,omitempty"`
	Notes      []string           `json:"notes,omitempty"`
	// Flaky: the scenario's spec failed and then passed on a retry
	// (--flake-attempts). It is never reported as a plain pass.
	Flaky bool `json:"flaky,omitempty"`
}

// Specs summarises the Ginkgo run, when its JSON report is present.
type Specs struct {
	Passed   int      `json:"passed"`
	Failed   int      `json:"failed"`
	Skipped  int      `json:"skipped"`
	Failures []string `json:"failures,omitempty"`
	// Flaky specs passed only on a retry; they count in Passed too.
	Flaky []FlakySpec `json:"flaky,omitempty"`
}

// FlakySpec is a spec that failed and then passed on a retry.
type FlakySpec struct {
	Name      string   `json:"name"`
	Labels    []string `json:"labels,omitempty"`
	Iteration int      `json:"iteration,omitempty"`
	Attempts  int      `json:"attempts"`
	// Failures are the earlier attempts' failure messages.
	Failures []string `json:"failures,omitempty"`
}

// Report is report.json.
type Report struct {
	Schema         string         `json:"schema"`
	Run            RunMeta        `json:"run"`
	Policy         policy.Policy  `json:"policy"`
	Verdict        string         `json:"verdict"` // pass, flaky (passed, some only on a retry) or fail
	Partial        bool           `json:"partial"`
	PartialReasons []string       `json:"partial_reasons,omitempty"`
	Scenarios      []Scenario     `json:"scenarios"`
	Ledger         []ledger.Entry `json:"fault_ledger,omitempty"`
	Specs          *Specs         `json:"specs,omitempty"`
	Notes          []string       `json:"notes,omitempty"`
}

// MaxPoints bounds each plotted series: a million writes still make a
// report of a few hundred kilobytes. Exact figures stay in the tables.
const MaxPoints = 600

// Build evaluates a run directory. pol overrides the policy the run was
// judged with (nil: the run's own policy.json, else the built-in one).
func Build(runDir string, pol *policy.Policy) (*Report, error) {
	st, err := os.Stat(runDir)
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("run directory %s does not exist (runs are under reports/<run-id>/)", runDir)
	}
	r := &Report{Schema: Schema, Run: RunMeta{ID: filepath.Base(runDir)}}
	if b, err := os.ReadFile(filepath.Join(runDir, RunMetaFile)); err == nil {
		if err := json.Unmarshal(b, &r.Run); err != nil {
			r.Notes = append(r.Notes, fmt.Sprintf("%s is corrupt (%v): run metadata unknown", RunMetaFile, err))
		}
	} else {
		r.Notes = append(r.Notes, RunMetaFile+" missing: run metadata (commit, tool versions) unknown")
	}
	deriveStatus(runDir, &r.Run)
	histories, err := findHistories(runDir)
	if err != nil && r.Run.Complete() {
		return nil, err
	}
	switch {
	case pol != nil:
		r.Policy = *pol
	default:
		r.Policy = loadRunPolicy(runDir, r.Run.Target, &r.Notes)
	}
	for _, hp := range histories {
		r.Scenarios = append(r.Scenarios, buildScenario(runDir, hp, r.Policy))
	}
	for _, s := range r.Scenarios {
		if s.Verdict == "unreadable" {
			r.Partial = true
			r.PartialReasons = append(r.PartialReasons, fmt.Sprintf("%s: history unreadable", s.Dir))
		}
		for _, n := range s.Notes {
			if strings.Contains(n, "cut off") || strings.HasPrefix(n, "incomplete history") {
				r.Partial = true
				r.PartialReasons = append(r.PartialReasons, s.Dir+": "+n)
			}
		}
	}
	r.Ledger = readLedger(runDir, &r.Notes, &r.PartialReasons)
	// An incomplete run is partial: the scenarios after the stop never
	// ran and the one it hit stopped part-way (its status says so).
	r.Partial = r.Partial || len(r.PartialReasons) > 0 || !r.Run.Complete()
	r.Specs = readSpecs(runDir)
	markFlaky(r)
	r.Verdict = "pass"
	for _, s := range r.Scenarios {
		if s.Verdict != "pass" && s.Verdict != "flaky" {
			r.Verdict = "fail"
		}
	}
	if r.Specs != nil && r.Specs.Failed > 0 {
		r.Verdict = "fail"
	}
	if !r.Run.Complete() {
		r.Verdict = "fail"
	}
	if r.Verdict == "pass" && r.Specs != nil && len(r.Specs.Flaky) > 0 {
		// A retry that passed is not a plain pass: the gate passes, but says so.
		r.Verdict = "flaky"
	}
	return r, nil
}

func findHistories(runDir string) ([]string, error) {
	var out []string
	for _, pattern := range []string{"*/history.jsonl", "iter-*/*/history.jsonl"} {
		m, _ := filepath.Glob(filepath.Join(runDir, pattern))
		out = append(out, m...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scenario histories in %s: is it a drdrill run directory (reports/<run-id>/ with <scenario>/history.jsonl)?", runDir)
	}
	sort.Strings(out)
	return out, nil
}

func loadRunPolicy(runDir, target string, notes *[]string) policy.Policy {
	for _, dir := range []string{runDir, filepath.Join(runDir, "iter-1")} {
		b, err := os.ReadFile(filepath.Join(dir, "policy.json"))
		if err != nil {
			continue
		}
		var p policy.Policy
		if err := json.Unmarshal(b, &p); err == nil && p.Version == 1 {
			return p
		}
		*notes = append(*notes, "policy.json unreadable; judged with the built-in policy")
	}
	return policy.Default(target)
}

func readLedger(runDir string, notes, partial *[]string) []ledger.Entry {
	for _, dir := range []string{filepath.Join(runDir, "lab"), runDir} {
		if _, err := os.Stat(filepath.Join(dir, ledger.FileName)); err != nil {
			continue
		}
		entries, err := ledger.Open(dir).Entries()
		if err != nil {
			*partial = append(*partial, err.Error())
			return nil
		}
		for _, e := range entries {
			if e.State != ledger.RolledBack {
				*partial = append(*partial, fmt.Sprintf("fault %s (%s) is %s in the ledger: run `drdrill recover`", e.Fault, e.ID, e.State))
			}
		}
		return entries
	}
	*notes = append(*notes, "no fault ledger in this run directory (attach mode, or a run from elsewhere): fault timeline from the histories only")
	return nil
}

// readSpecs reads Ginkgo's JSON report(s) for spec outcomes.
func readSpecs(runDir string) *Specs {
	files, _ := filepath.Glob(filepath.Join(runDir, "ginkgo-report.json"))
	more, _ := filepath.Glob(filepath.Join(runDir, "iter-*", "ginkgo-report.json"))
	files = append(files, more...)
	if len(files) == 0 {
		return nil
	}
	s := &Specs{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		iteration := 0
		if parent := filepath.Base(filepath.Dir(f)); strings.HasPrefix(parent, "iter-") {
			fmt.Sscanf(parent, "iter-%d", &iteration)
		}
		var suites []struct {
			SpecReports []struct {
				State                    string     `json:"State"`
				LeafNodeType             string     `json:"LeafNodeType"`
				LeafNodeText             string     `json:"LeafNodeText"`
				ContainerHierarchyTexts  []string   `json:"ContainerHierarchyTexts"`
				ContainerHierarchyLabels [][]string `json:"ContainerHierarchyLabels"`
				LeafNodeLabels           []string   `json:"LeafNodeLabels"`
				NumAttempts              int        `json:"NumAttempts"`
				Failure                  struct {
					Message string `json:"Message"`
				} `json:"Failure"`
				AdditionalFailures []struct {
					Failure struct {
						Message string `json:"Message"`
					} `json:"Failure"`
				} `json:"AdditionalFailures"`
			} `json:"SpecReports"`
		}
		if json.Unmarshal(b, &suites) != nil {
			continue
		}
		for _, su := range suites {
			for _, sp := range su.SpecReports {
				if sp.LeafNodeType != "It" {
					continue
				}
				switch sp.State {
				case "passed":
					s.Passed++
					if sp.NumAttempts > 1 {
						fs := FlakySpec{Name: strings.Join(append(sp.ContainerHierarchyTexts, sp.LeafNodeText), " "), Iteration: iteration,
							Attempts: sp.NumAttempts, Labels: sp.LeafNodeLabels}
						for _, ls := range sp.ContainerHierarchyLabels {
							fs.Labels = append(fs.Labels, ls...)
						}
						for _, af := range sp.AdditionalFailures {
							fs.Failures = append(fs.Failures, af.Failure.Message)
						}
						s.Flaky = append(s.Flaky, fs)
					}
				case "skipped", "pending":
					s.Skipped++
				default:
					s.Failed++
					name := strings.Join(append(sp.ContainerHierarchyTexts, sp.LeafNodeText), " ")
					msg := sp.Failure.Message
					if len(msg) > 300 {
						msg = msg[:300] + "…"
					}
					s.Failures = append(s.Failures, name+": "+msg)
				}
			}
		}
	}
	return s
}

// markFlaky marks each scenario whose spec (found by the scenario's label,
// in the same iteration) passed only on a retry.
func markFlaky(r *Report) {
	if r.Specs == nil {
		return
	}
	for i := range r.Scenarios {
		s := &r.Scenarios[i]
		for _, f := range r.Specs.Flaky {
			if f.Iteration != s.Iteration {
				continue
			}
			for _, l := range f.Labels {
				if l == s.Name {
					s.Flaky = true
					s.Notes = append(s.Notes, fmt.Sprintf("flaky: passed on attempt %d of its spec %q", f.Attempts, f.Name))
					if s.Verdict == "pass" {
						s.Verdict = "flaky"
					}
				}
			}
		}
	}
}

func buildScenario(runDir, path string, pol policy.Policy) Scenario {
	rel, _ := filepath.Rel(runDir, filepath.Dir(path))
	s := Scenario{Name: filepath.Base(filepath.Dir(path)), Dir: rel}
	if parent := filepath.Base(filepath.Dir(filepath.Dir(path))); strings.HasPrefix(parent, "iter-") {
		fmt.Sscanf(parent, "iter-%d", &s.Iteration)
	}
	h, err := history.ReadFile(path)
	if err != nil {
		s.Verdict = "unreadable"
		s.Notes = append(s.Notes, err.Error())
		return s
	}
	res := check.Check(h, check.Config{KeepVisibility: true})
	s.Result = &res
	s.Notes = append(s.Notes, res.Notes...)
	s.Measurements, s.Breaches = pol.For(s.Name).Judge(s.Name, res)
	s.Verdict = "pass"
	if len(s.Breaches) > 0 {
		s.Verdict = "fail"
	}
	plot(h, &s)
	for region, samples := range res.VisibilitySamples {
		if s.Visibility == nil {
			s.Visibility = map[string][]Point{}
		}
		s.Visibility[region] = downsampleMax(samples, int64(s.DurationMs*1e6))
	}
	return s
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// plot derives the downsampled series and the timeline annotations.
func plot(h *history.History, s *Scenario) {
	var end int64
	for _, op := range h.Ops {
		end = max(end, op.Complete)
	}
	for _, l := range h.Lag {
		end = max(end, l.At)
	}
	for _, e := range h.Events {
		end = max(end, e.At)
	}
	s.DurationMs = ms(end)
	// Writes: counts per bucket of invoke time.
	if len(h.Ops) > 0 && end > 0 {
		n := min(MaxPoints, max(1, int(end/int64(10e6)))) // at least 10 ms per bucket
		width := end/int64(n) + 1
		s.BucketMs = ms(width)
		s.Writes = make([]Bucket, n)
		for i := range s.Writes {
			s.Writes[i].T = ms(int64(i) * width)
		}
		for _, op := range h.Ops {
			b := &s.Writes[min(n-1, int(max(op.Invoke, 0)/width))]
			switch op.Outcome {
			case history.OK:
				b.OK++
			case history.Fail:
				b.Fail++
			default:
				b.Info++
			}
		}
	}
	// Lag: per region, the maximum in each slice (spikes survive downsampling).
	s.Lag = map[string][]Point{}
	byRegion := map[string][]history.LagSample{}
	for _, l := range h.Lag {
		byRegion[l.Region] = append(byRegion[l.Region], l)
	}
	for region, samples := range byRegion {
		s.Lag[region] = downsampleMax(samples, end)
	}
	// Fault windows and controller markers.
	open, holds := map[string]int{}, map[string]int{}
	for _, e := range h.Events {
		switch {
		case e.Source == "fault" && e.Kind == "inject":
			open[e.ID] = len(s.Windows)
			s.Windows = append(s.Windows, Window{Fault: e.Fault, ID: e.ID, FromMs: ms(e.At), ToMs: ms(end), Open: true})
		case e.Source == "fault" && e.Kind == "rollback":
			if i, ok := open[e.ID]; ok {
				s.Windows[i].ToMs, s.Windows[i].Open = ms(e.At), false
			}
		case e.Source == "harness" && e.Kind == HoldStart:
			holds[e.Detail] = len(s.Holds)
			s.Holds = append(s.Holds, Window{Fault: e.Detail, FromMs: ms(e.At), ToMs: ms(end), Open: true})
		case e.Source == "harness" && e.Kind == HoldEnd:
			if i, ok := holds[e.Detail]; ok {
				s.Holds[i].ToMs, s.Holds[i].Open = ms(e.At), false
				delete(holds, e.Detail)
			}
		case e.Source == "controller":
			switch e.Kind {
			case "detect", "promote", "fence", "reseed", "diverged", "rejoin", "alarm", "primary-restart", "restart", "recover":
				s.Markers = append(s.Markers, Marker{Kind: e.Kind, Region: e.Region, AtMs: ms(e.At), Detail: e.Detail})
			}
		}
	}
	sort.SliceStable(s.Markers, func(i, j int) bool { return s.Markers[i].AtMs < s.Markers[j].AtMs })
}

func downsampleMax(samples []history.LagSample, end int64) []Point {
	sort.Slice(samples, func(i, j int) bool { return samples[i].At < samples[j].At })
	if len(samples) <= MaxPoints || end <= 0 {
		out := make([]Point, len(samples))
		for i, l := range samples {
			out[i] = Point{ms(l.At), l.Ms}
		}
		return out
	}
	width := end/MaxPoints + 1
	var out []Point
	for _, l := range samples {
		t := ms((l.At / width) * width)
		if k := len(out) - 1; k >= 0 && out[k].T == t {
			out[k].V = max(out[k].V, l.Ms)
			continue
		}
		out = append(out, Point{t, l.Ms})
	}
	return out
}

// Load reads a report.json, refusing unknown schema versions.
func Load(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: render it with `drdrill report %s`", path, filepath.Dir(path))
		}
		return nil, err
	}
	return Parse(b, path, filepath.Dir(path))
}

// Parse reads a report.json's content; path names it and runDir is the
// run to re-render it from, in the errors.
func Parse(b []byte, path, runDir string) (*Report, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("%s is not valid JSON: %v; re-render it with `drdrill report %s`", path, err, runDir)
	}
	if head.Schema != Schema {
		return nil, fmt.Errorf("%s has schema %q; this drdrill reads %q: re-render it with `drdrill report %s`", path, head.Schema, Schema, runDir)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return &r, nil
}
