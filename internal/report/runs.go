package report

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"sort"

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
	err = writeFile(filepath.Join(reportsDir, HTMLFile), func(w io.Writer) error {
		return indexTemplate.Execute(w, indexData{Runs: runs, Trends: trends(runs)})
	})
	return runs, err
}

type indexData struct {
	Runs   []RunEntry
	Trends []template.HTML
}

// trends plots, per measure, each scenario's value across runs (x = run number).
func trends(runs []RunEntry) []template.HTML {
	var out []template.HTML
	for _, m := range []struct{ check, title, unit string }{
		{"rto_ms", "RTO across runs", "ms"}, {"rpo_ms", "RPO (time span of lost writes) across runs", "ms"}, {"lag_p99_ms", "Steady replication lag p99 across runs", "ms"},
	} {
		series := map[string][]svgplot.XY{}
		for i, r := range runs {
			if r.Report == nil {
				continue
			}
			for _, s := range r.Report.Scenarios {
				for _, x := range s.Measurements {
					if x.Check == m.check {
						series[s.Name] = append(series[s.Name], svgplot.XY{X: float64(i + 1), Y: x.Measured})
					}
				}
			}
		}
		if len(series) == 0 {
			continue
		}
		names := make([]string, 0, len(series))
		for n := range series {
			names = append(names, n)
		}
		sort.Strings(names)
		c := svgplot.Chart{Title: m.title, XLabel: "run number (see the table)", YLabel: m.unit, XMax: float64(len(runs) + 1)}
		palette := []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"}
		for i, n := range names {
			c.Series = append(c.Series, svgplot.Series{Name: n, Color: palette[i%len(palette)], Points: series[n]})
		}
		out = append(out, template.HTML(c.SVG()))
	}
	return out
}

var indexTemplate = template.Must(template.New("index").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>drdrill runs</title><style>{{style}}</style></head><body>
<h1>drdrill runs</h1>
{{if not .Runs}}<p class="note">No runs here yet: <code>make drill</code> writes one under reports/&lt;run-id&gt;/.</p>{{end}}
{{range .Trends}}{{.}}{{end}}
<table><tr><th>#</th><th>run</th><th>target</th><th>verdict</th><th>scenarios</th></tr>
{{range $i, $r := .Runs}}<tr><td>{{inc $i}}</td><td>{{if $r.Report}}<a href="{{$r.ID}}/index.html">{{$r.ID}}</a>{{else}}{{$r.ID}}{{end}}</td><td>{{if $r.Report}}{{$r.Report.Run.Target}}{{end}}</td>
<td>{{if $r.Error}}<span class="note">{{$r.Error}}</span>{{else}}<span class="{{$r.Verdict}}">{{mark $r.Verdict}}</span>{{if $r.Partial}} (partial){{end}}{{end}}</td>
<td>{{if $r.Report}}{{len $r.Report.Scenarios}}{{end}}</td></tr>
{{end}}</table></body></html>
`))
