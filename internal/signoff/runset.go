// Package signoff judges distributions of runs instead of one run: a
// release gate over the last N runs of each scenario (percentile bounds from
// the policy), and a comparison of two sets of runs that tells a regression
// from run-to-run noise. Failover timings vary from run to run, so a
// single-run gate either flakes or is set so loose that it catches nothing.
package signoff

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/runstore"
)

// Sample is one measured value of one scenario in one run (or one REPEAT
// iteration of a run).
type Sample struct {
	Run        string
	Iteration  int
	Value      float64
	Unit       string
	Unmeasured bool
}

// Run is one run that a set includes.
type Run struct {
	ID     string
	Target string
	Commit string
	Policy string
	Report *report.Report
}

// Set is the samples of some runs, per scenario and measure, oldest first.
type Set struct {
	Runs []Run
	// Excluded says which runs were left out and why.
	Excluded []string
	// Samples[scenario][measure]
	Samples map[string]map[string][]Sample
	// Flaky[scenario] counts samples whose spec passed only on a retry.
	Flaky map[string]int
}

// Load reads the runs under each path: a run (with report.json) or a
// reports location holding runs, each a local directory or an S3 prefix
// (s3://bucket/prefix: listed by prefix, and only each run's report.json
// fetched). Runs whose report.json is missing or unreadable are listed in
// Excluded, never dropped silently.
func Load(paths ...string) (*Set, error) {
	ctx := context.Background()
	var runs []Run
	var excluded []string
	for _, p := range paths {
		if !runstore.IsS3(p) {
			if st, err := os.Stat(p); err != nil || !st.IsDir() {
				return nil, fmt.Errorf("%s is not a directory: give a run (reports/<run-id>), a reports directory or an s3://bucket/prefix", p)
			}
		}
		st, err := runstore.Open(ctx, p)
		if err != nil {
			return nil, err
		}
		found, err := runstore.Runs(ctx, st)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("no runs in %s: neither a run directory (report.json) nor a reports directory with runs", p)
		}
		for _, f := range found {
			where := joinLocation(p, f.Dir)
			if f.Report == nil {
				excluded = append(excluded, fmt.Sprintf("%s: no report.json (render it with `drdrill report %s`)", f.ID, where))
				continue
			}
			r, err := report.Parse(f.Report, joinLocation(where, report.JSONFile), where)
			if err != nil {
				excluded = append(excluded, fmt.Sprintf("%s: %v", f.ID, err))
				continue
			}
			if !r.Run.Complete() {
				// Its scenarios stopped part-way or never ran: its figures
				// would pull a distribution toward whatever the stop cut.
				excluded = append(excluded, fmt.Sprintf("%s: run %s (not a complete run)", f.ID, r.Run.StatusLine()))
				continue
			}
			runs = append(runs, Run{ID: f.ID, Target: r.Run.Target, Commit: r.Run.GitCommit, Policy: r.Policy.Source, Report: r})
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	return &Set{Runs: runs, Excluded: excluded}, nil
}

// joinLocation names a file or run under a location, local or s3://.
func joinLocation(loc, name string) string {
	if name == "" {
		return loc
	}
	if runstore.IsS3(loc) {
		return strings.TrimSuffix(loc, "/") + "/" + name
	}
	return filepath.Join(loc, name)
}

// ForTarget keeps the runs of one target ("" = the newest run's) and
// collects their samples. Runs of another target are listed in Excluded.
func (s *Set) ForTarget(target string) *Set {
	if target == "" && len(s.Runs) > 0 {
		target = s.Runs[len(s.Runs)-1].Target
	}
	out := &Set{Excluded: append([]string(nil), s.Excluded...), Samples: map[string]map[string][]Sample{}, Flaky: map[string]int{}}
	for _, r := range s.Runs {
		if r.Target != target {
			out.Excluded = append(out.Excluded, fmt.Sprintf("%s: target %s, not %s", r.ID, r.Target, target))
			continue
		}
		out.Runs = append(out.Runs, r)
		for _, sc := range r.Report.Scenarios {
			if sc.Verdict == "unreadable" {
				continue
			}
			if sc.Flaky {
				out.Flaky[sc.Name]++
			}
			m := out.Samples[sc.Name]
			if m == nil {
				m = map[string][]Sample{}
				out.Samples[sc.Name] = m
			}
			for _, x := range sc.Measurements {
				m[x.Check] = append(m[x.Check], Sample{Run: r.ID, Iteration: sc.Iteration, Value: x.Measured, Unit: x.Unit, Unmeasured: x.Unmeasured})
			}
		}
	}
	return out
}

// Target is the target of the set's runs.
func (s *Set) Target() string {
	if len(s.Runs) == 0 {
		return ""
	}
	return s.Runs[0].Target
}

// Describe says which runs a set includes: ids, commits and the policies
// they were judged with at the time.
func (s *Set) Describe() string {
	if len(s.Runs) == 0 {
		return "no runs"
	}
	commits, policies := map[string]bool{}, map[string]bool{}
	for _, r := range s.Runs {
		c := r.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if c == "" {
			c = "unknown"
		}
		commits[c] = true
		policies[r.Policy] = true
	}
	return fmt.Sprintf("%d run(s) of target %s, %s … %s; commits %s; judged at the time with %s",
		len(s.Runs), s.Target(), s.Runs[0].ID, s.Runs[len(s.Runs)-1].ID, keys(commits), keys(policies))
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// Scenarios lists the set's scenarios in order.
func (s *Set) Scenarios() []string {
	var out []string
	for k := range s.Samples {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
