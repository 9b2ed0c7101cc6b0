package signoff

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/drdrill/drdrill/internal/report"
)

// PageSchema names the sign-off page's JSON format.
const PageSchema = "drdrill.signoff/v1"

// Page is a sign-off page (`drdrill verdict --markdown FILE --json FILE`):
// the verdict, the policy and the window it was judged with, the runs
// included and those left out with why, their commits, and every bound
// with the figure it was held to — what a release approver files.
type Page struct {
	Schema  string `json:"schema"`
	Verdict string `json:"verdict"` // pass or fail
	Policy  string `json:"policy"`
	// Window is the number of runs per scenario judged (0: one run,
	// judged against each bound's max).
	Window    int           `json:"window"`
	Target    string        `json:"target"`
	Drdrill   string        `json:"drdrill_version,omitempty"`
	Generated string        `json:"generated"`
	Included  []IncludedRun `json:"runs_included"`
	Excluded  []string      `json:"runs_excluded"`
	Bounds    []BoundFigure `json:"bounds"`
	// Failures are the failing checks in words, as the command prints them.
	Failures []string `json:"failures"`
}

// IncludedRun is one run a page judged.
type IncludedRun struct {
	ID      string `json:"id"`
	Target  string `json:"target"`
	Commit  string `json:"commit,omitempty"`
	Status  string `json:"status"`
	Started string `json:"started,omitempty"`
	// Policy is the one it was judged with when it ran.
	Policy string `json:"policy_at_the_time,omitempty"`
}

// BoundFigure is one bound of one scenario's measure and the figure
// judged against it.
type BoundFigure struct {
	Scenario string  `json:"scenario"`
	Measure  string  `json:"measure"`
	Unit     string  `json:"unit"`
	Stat     string  `json:"stat"` // max, or a percentile over the window
	Bound    float64 `json:"bound"`
	// Measured is the statistic over the measured samples (nil when none).
	Measured *float64 `json:"measured"`
	// Resolution is a single run's error bound on the figure.
	Resolution float64 `json:"resolution,omitempty"`
	N          int     `json:"n"`
	Unmeasured int     `json:"unmeasured"`
	// NotJudged says why a single run could not measure it.
	NotJudged string `json:"not_judged,omitempty"`
	Met       bool   `json:"met"`
}

func runOf(id string, r *report.Report) IncludedRun {
	ir := IncludedRun{ID: id, Target: r.Run.Target, Commit: r.Run.GitCommit, Status: r.Run.StatusLine(), Policy: r.Policy.Source}
	if r.Run.StartedNs != 0 {
		ir.Started = time.Unix(0, r.Run.StartedNs).UTC().Format(time.RFC3339)
	}
	return ir
}

// WindowPage is the page of a window verdict over a set of runs.
func WindowPage(s *Set, v Verdict, version string) Page {
	p := Page{Schema: PageSchema, Verdict: "fail", Policy: v.Policy, Window: v.Window, Target: s.Target(), Drdrill: version,
		Generated: time.Now().UTC().Format(time.RFC3339), Excluded: append([]string{}, s.Excluded...), Bounds: []BoundFigure{}, Failures: []string{}}
	if v.Pass {
		p.Verdict = "pass"
	}
	for _, r := range s.Runs {
		p.Included = append(p.Included, runOf(r.ID, r.Report))
	}
	for _, m := range v.Measures {
		for _, c := range m.Checks {
			b := BoundFigure{Scenario: m.Scenario, Measure: m.Measure, Unit: m.Unit, Stat: c.Stat, Bound: c.Bound, N: m.N, Unmeasured: m.Unmeasured, Met: c.Met}
			if !math.IsNaN(c.Measured) && m.N > 0 {
				x := c.Measured
				b.Measured = &x
			}
			p.Bounds = append(p.Bounds, b)
			if !c.Met {
				p.Failures = append(p.Failures, fmt.Sprintf("%s %s %s over %d run(s) (%d unmeasured): %s, bound %g %s", m.Scenario, m.Measure, c.Stat, m.N, m.Unmeasured, figure(b.Measured), c.Bound, m.Unit))
			}
		}
	}
	return p
}

// RunPage is the page of one run's verdict; failures are the command's
// failing checks (a run that did not complete, an unreadable history, each
// breach).
func RunPage(r *report.Report, failures []string, version string) Page {
	p := Page{Schema: PageSchema, Verdict: "pass", Policy: r.Policy.Source, Target: r.Run.Target, Drdrill: version,
		Generated: time.Now().UTC().Format(time.RFC3339), Included: []IncludedRun{runOf(r.Run.ID, r)}, Excluded: []string{},
		Bounds: []BoundFigure{}, Failures: append([]string{}, failures...)}
	if len(failures) > 0 {
		p.Verdict = "fail"
	}
	for _, s := range r.Scenarios {
		name := s.Name
		if s.Iteration > 0 {
			name = fmt.Sprintf("%s #%d", s.Name, s.Iteration)
		}
		for _, m := range s.Measurements {
			if m.Target == nil {
				continue
			}
			b := BoundFigure{Scenario: name, Measure: m.Check, Unit: m.Unit, Stat: "max", Bound: *m.Target, Resolution: m.Resolution, N: 1, Met: m.Met}
			if m.Unmeasured {
				b.N, b.Unmeasured, b.NotJudged = 0, 1, m.NotJudged
			} else {
				x := m.Measured
				b.Measured = &x
			}
			p.Bounds = append(p.Bounds, b)
		}
	}
	sort.SliceStable(p.Bounds, func(i, j int) bool { return p.Bounds[i].Scenario < p.Bounds[j].Scenario })
	return p
}

func figure(p *float64) string {
	if p == nil {
		return "not measured"
	}
	return fmt.Sprintf("%.4g", *p)
}

// WriteMarkdown writes the page for a sign-off ticket or a release note.
func (p Page) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	mark := "✅ PASS"
	if p.Verdict != "pass" {
		mark = "❌ FAIL"
	}
	judged := "one run, each bound against its measured value"
	if p.Window > 0 {
		judged = fmt.Sprintf("the last %d run(s) of each scenario, each bound against its statistic over them", p.Window)
	}
	fmt.Fprintf(&b, "# drdrill sign-off — %s\n\n", mark)
	fmt.Fprintf(&b, "- **Target:** %s\n- **Policy:** %s\n- **Judged:** %s\n", orDash(p.Target), p.Policy, judged)
	if p.Drdrill != "" {
		fmt.Fprintf(&b, "- **drdrill:** %s\n", p.Drdrill)
	}
	fmt.Fprintf(&b, "- **Generated:** %s\n", p.Generated)
	commits := map[string]bool{}
	for _, r := range p.Included {
		if r.Commit != "" {
			commits[shortCommit(r.Commit)] = true
		}
	}
	var cs []string
	for c := range commits {
		cs = append(cs, "`"+c+"`")
	}
	sort.Strings(cs)
	if len(cs) == 0 {
		cs = []string{"unknown"}
	}
	fmt.Fprintf(&b, "- **Commits:** %s\n\n", strings.Join(cs, ", "))
	fmt.Fprintf(&b, "## Runs included (%d)\n\n| run | target | commit | started | status | policy at the time |\n|---|---|---|---|---|---|\n", len(p.Included))
	for _, r := range p.Included {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.ID, r.Target, orDash(shortCommit(r.Commit)), orDash(r.Started), r.Status, orDash(r.Policy))
	}
	fmt.Fprintf(&b, "\n## Runs excluded (%d)\n\n", len(p.Excluded))
	if len(p.Excluded) == 0 {
		b.WriteString("None.\n")
	}
	for _, e := range p.Excluded {
		fmt.Fprintf(&b, "- %s\n", e)
	}
	fmt.Fprintf(&b, "\n## Bounds (%d)\n\n| scenario | measure | statistic | measured | bound | runs | unmeasured | met |\n|---|---|---|---|---|---|---|---|\n", len(p.Bounds))
	for _, x := range p.Bounds {
		measured := figure(x.Measured)
		if x.Measured != nil && x.Resolution > 0 {
			measured += fmt.Sprintf(" ±%.3g", x.Resolution)
		}
		if x.NotJudged != "" {
			measured = "not judged: " + x.NotJudged
		}
		met := "✅"
		if !x.Met {
			met = "❌"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s %s | %g %s | %d | %d | %s |\n", x.Scenario, x.Measure, x.Stat, measured, x.Unit, x.Bound, x.Unit, x.N, x.Unmeasured, met)
	}
	if len(p.Failures) > 0 {
		b.WriteString("\n## Failing\n\n")
		for _, f := range p.Failures {
			fmt.Fprintf(&b, "- %s\n", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
