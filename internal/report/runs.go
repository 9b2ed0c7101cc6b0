package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/svgplot"
)

// RunEntry is one run in reports/index.html.
type RunEntry struct {
	ID      string
	Verdict string
	Partial bool
	Error   string
	Report  *Report
}

// Files a run directory receives.
const (
	JSONFile     = "report.json"
	MarkdownFile = "summary.md"
	HTMLFile     = "index.html"
)

// Render builds a run's report and writes report.json, summary.md and
// index.html into the run directory, then refreshes the runs index in its
// parent directory.
func Render(runDir string, r *Report) error {
	b, err := marshal(r)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(runDir, JSONFile), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(runDir, MarkdownFile), r.WriteMarkdown); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(runDir, HTMLFile), r.WriteHTML); err != nil {
		return err
	}
	if r.Run.Mode == ModeObserve {
		// No suite ran to write one.
		if err := writeFile(filepath.Join(runDir, JUnitFile), r.WriteJUnit); err != nil {
			return err
		}
	}
	_, err = RenderIndex(filepath.Dir(runDir))
	return err
}

func writeFile(path string, fn func(io.Writer) error) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// RenderIndex writes reportsDir/index.html listing every run found there,
// with trends across runs. It returns the runs it found.
func RenderIndex(reportsDir string) ([]RunEntry, error) {
	ents, err := os.ReadDir(reportsDir)
	if err != nil {
		return nil, fmt.Errorf("reports directory %s: %w", reportsDir, err)
	}
	var runs []RunEntry
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(reportsDir, e.Name(), JSONFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if m, _ := filepath.Glob(filepath.Join(reportsDir, e.Name(), "*", "history.jsonl")); len(m) > 0 {
				runs = append(runs, RunEntry{ID: e.Name(), Error: "not rendered yet: run `drdrill report " + filepath.Join(reportsDir, e.Name()) + "`"})
			}
			continue
		}
		r, err := Load(path)
		if err != nil {
			runs = append(runs, RunEntry{ID: e.Name(), Error: err.Error()})
			continue
		}
		runs = append(runs, RunEntry{ID: e.Name(), Verdict: r.Verdict, Partial: r.Partial, Report: r})
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	err = writeFile(filepath.Join(reportsDir, HTMLFile), func(w io.Writer) error { return WriteIndex(w, runs) })
	return runs, err
}

// WriteIndex writes the runs index page (reports/index.html: every run,
// with trends across them) for runs found anywhere — a local directory or
// an S3 prefix; each run's link is relative, RUN-ID/index.html.
func WriteIndex(w io.Writer, runs []RunEntry) error {
	return indexTemplate.Execute(w, indexData{Runs: runs, Trends: trends(runs)})
}

type indexData struct {
	Runs   []RunEntry
	Trends []ScenarioTrend
}

// PlotCount is how many plots the index draws (see Report.PlotCount).
func (d indexData) PlotCount() int {
	n := 0
	for _, t := range d.Trends {
		n += len(t.Plots)
	}
	return n
}

// TrendWindow is how many recent samples each point of a trend band
// summarises.
const TrendWindow = 5

// ScenarioTrend is one scenario's small plots in reports/index.html.
type ScenarioTrend struct {
	Name  string
	Plots []template.HTML
}

// trends draws, per scenario, RTO and RPO across runs on their own scales:
// every sample as a dot, the rolling median and p5–p95 band of the last
// TrendWindow samples, and the newest run's policy bounds, so a drift shows
// before it breaches.
func trends(runs []RunEntry) []ScenarioTrend {
	type sample struct{ x, y float64 }
	per := map[string]map[string][]sample{}
	var bounds policy.Policy
	for i, r := range runs {
		if r.Report == nil || !r.Report.Run.Complete() {
			continue // an interrupted run's figures stop part-way
		}
		bounds = r.Report.Policy
		for _, s := range r.Report.Scenarios {
			for _, m := range s.Measurements {
				if (m.Check != "rto_ms" && m.Check != "rpo_ms") || m.Unmeasured {
					continue
				}
				if per[s.Name] == nil {
					per[s.Name] = map[string][]sample{}
				}
				per[s.Name][m.Check] = append(per[s.Name][m.Check], sample{float64(i + 1), m.Measured})
			}
		}
	}
	names := make([]string, 0, len(per))
	for n := range per {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []ScenarioTrend
	for _, n := range names {
		t := ScenarioTrend{Name: n}
		for _, m := range []struct{ check, title string }{{"rto_ms", "RTO"}, {"rpo_ms", "RPO (span of lost writes)"}} {
			ss := per[n][m.check]
			if len(ss) == 0 {
				continue
			}
			c := svgplot.Chart{Title: n + ": " + m.title, XLabel: "run number", YLabel: "ms", Width: 440, Height: 190, XMax: float64(len(runs) + 1)}
			var dots, med, lo, hi []svgplot.XY
			for i, x := range ss {
				dots = append(dots, svgplot.XY{X: x.x, Y: x.y})
				var win []float64
				for _, w := range ss[max(0, i+1-TrendWindow) : i+1] {
					win = append(win, w.y)
				}
				sort.Float64s(win)
				med = append(med, svgplot.XY{X: x.x, Y: check.Percentile(win, 50)})
				lo = append(lo, svgplot.XY{X: x.x, Y: check.Percentile(win, 5)})
				hi = append(hi, svgplot.XY{X: x.x, Y: check.Percentile(win, 95)})
			}
			c.Areas = []svgplot.Area{{Name: fmt.Sprintf("p5–p95 of last %d", TrendWindow), Color: "#1f77b4", Low: lo, High: hi}}
			c.Series = []svgplot.Series{{Name: "median", Color: "#1f77b4", Points: med}, {Name: "run", Color: "#333", Dots: true, Points: dots}}
			top := 0.0
			for _, p := range dots { // the band never exceeds the largest value
				top = max(top, p.Y)
			}
			if b := bounds.For(n).Bound(m.check); b != nil {
				var off []string
				for _, st := range b.Keys() {
					// A bound far above every value would squash the
					// values into a flat line: name it instead of drawing it.
					if top > 0 && b.Stats[st] > 4*top {
						off = append(off, fmt.Sprintf("%s %g", st, b.Stats[st]))
						continue
					}
					c.HLines = append(c.HLines, svgplot.HLine{At: b.Stats[st], Label: fmt.Sprintf("bound %s %g ms", st, b.Stats[st]), Color: "#d62728"})
				}
				if len(off) > 0 {
					// A legend entry (it wraps) rather than a longer title.
					c.Series = append(c.Series, svgplot.Series{Name: fmt.Sprintf("bound %s ms (far above)", strings.Join(off, ", ")), Color: "#d62728", Dashed: true})
				}
			}
			t.Plots = append(t.Plots, template.HTML(c.SVG()))
		}
		out = append(out, t)
	}
	return out
}

// Headline is a run's figures for the runs table.
func (r RunEntry) Headline() string {
	if r.Report == nil {
		return ""
	}
	lost, worstRTO, flaky := 0.0, 0.0, 0
	for _, s := range r.Report.Scenarios {
		if s.Flaky {
			flaky++
		}
		for _, m := range s.Measurements {
			switch m.Check {
			case "rpo_lost_writes":
				lost += m.Measured
			case "rto_ms":
				if !m.Unmeasured {
					worstRTO = max(worstRTO, m.Measured)
				}
			}
		}
	}
	h := fmt.Sprintf("%.0f lost writes; worst RTO %.0f ms", lost, worstRTO)
	if flaky > 0 {
		h += fmt.Sprintf("; %d flaky", flaky)
	}
	return h
}

var indexTemplate = template.Must(template.New("index").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="drdrill-plots" content="{{.PlotCount}}"><title>drdrill runs</title><style>{{style}}</style></head><body>
<h1>drdrill runs</h1>
{{if not .Runs}}<p class="note">No runs here yet: <code>make drill</code> writes one under reports/&lt;run-id&gt;/.</p>{{end}}
{{if .Trends}}<h2>Trends per scenario</h2><p class="small">Each dot is one run (or REPEAT iteration); the line is the rolling median and the band the p5–p95 of the last 5; red dashed lines are the newest run's policy bounds. Each plot has its own scale.</p>{{end}}
{{range .Trends}}<div class="trend">{{range .Plots}}{{.}}{{end}}</div>{{end}}
<h2>Runs</h2>
<table><tr><th>#</th><th>run</th><th>target</th><th>commit</th><th>policy</th><th>verdict</th><th>scenarios</th><th>headline</th></tr>
{{range $i, $r := .Runs}}<tr><td>{{inc $i}}</td><td>{{if $r.Report}}<a href="{{$r.ID}}/index.html">{{$r.ID}}</a>{{else}}{{$r.ID}}{{end}}</td><td>{{if $r.Report}}{{$r.Report.Run.Target}}{{end}}</td>
<td>{{if $r.Report}}<code>{{short $r.Report.Run.GitCommit}}</code>{{end}}</td><td>{{if $r.Report}}{{$r.Report.Policy.Source}}{{end}}</td>
<td>{{if $r.Error}}<span class="note">{{$r.Error}}</span>{{else}}<span class="{{$r.Verdict}}">{{mark $r.Verdict}}</span>{{if not $r.Report.Run.Complete}} ({{$r.Report.Run.Status}}){{else if $r.Partial}} (partial){{end}}{{end}}</td>
<td>{{if $r.Report}}{{len $r.Report.Scenarios}}{{end}}</td><td>{{$r.Headline}}</td></tr>
{{end}}</table></body></html>
`))
