package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/svgplot"
)

var regionColors = []string{"#1f77b4", "#9467bd", "#17becf", "#8c564b"}

func markColor(kind string) string {
	switch kind {
	case "detect":
		return "#d62728"
	case "promote", "primary-restart":
		return "#2ca02c"
	case "fence":
		return "#ff7f0e"
	case "diverged", "reseed":
		return "#8c564b"
	case "alarm":
		return "#e377c2"
	}
	return "#555"
}

func (s Scenario) WritesChart() template.HTML {
	c := svgplot.Chart{Title: "Writes by outcome", XLabel: "ms since scenario start", YLabel: "writes per bucket", BarWidth: s.BucketMs, XMax: s.DurationMs}
	var ok, fail, info []svgplot.XY
	for _, b := range s.Writes {
		ok = append(ok, svgplot.XY{X: b.T, Y: float64(b.OK)})
		fail = append(fail, svgplot.XY{X: b.T, Y: float64(b.Fail)})
		info = append(info, svgplot.XY{X: b.T, Y: float64(b.Info)})
	}
	c.Series = []svgplot.Series{{Name: "acknowledged", Color: "#2ca02c", Bars: true, Points: ok},
		{Name: "failed", Color: "#d62728", Bars: true, Points: fail},
		{Name: "unknown (info)", Color: "#ff9f1c", Bars: true, Points: info}}
	s.annotate(&c)
	return template.HTML(c.SVG())
}

// VisibilityChart draws, per region, how long acknowledged writes took to
// show up in that region's reads, beside which the lag plot can be read.
func (s Scenario) VisibilityChart() template.HTML {
	if len(s.Visibility) == 0 {
		return ""
	}
	c := svgplot.Chart{Title: "Read visibility per region (acknowledgement → first read returning the write)", XLabel: "ms since scenario start (acknowledgement)", YLabel: "visibility ms", XMax: s.DurationMs,
		Series: regionSeries(s.Visibility)}
	s.annotate(&c)
	return template.HTML(c.SVG())
}

// ReadRows compares, per region and phase, read visibility with the
// heartbeat lag: visibility adds the read interval to the lag.
func (s Scenario) ReadRows() []ReadRow {
	if s.Result == nil {
		return nil
	}
	var out []ReadRow
	for region, phases := range s.Result.Reads.Visibility {
		for phase, v := range phases {
			row := ReadRow{Region: region, Phase: phase, Visibility: v, ResolutionMs: s.Result.Reads.ResolutionMs[region]}
			if l, ok := s.Result.Lag[region][phase]; ok {
				row.Lag = &l
			}
			out = append(out, row)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return phaseOrder(out[i].Phase) < phaseOrder(out[j].Phase)
	})
	return out
}

// ReadRow is one region and phase of ReadRows.
type ReadRow struct {
	Region, Phase string
	Visibility    check.Percentiles
	ResolutionMs  float64
	Lag           *check.Percentiles
}

// regionSeries is one line per region, in name order, each in its colour.
func regionSeries(byRegion map[string][]Point) []svgplot.Series {
	regions := make([]string, 0, len(byRegion))
	for r := range byRegion {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var out []svgplot.Series
	for i, r := range regions {
		var pts []svgplot.XY
		for _, p := range byRegion[r] {
			pts = append(pts, svgplot.XY{X: p.T, Y: p.V})
		}
		out = append(out, svgplot.Series{Name: r, Color: regionColors[i%len(regionColors)], Points: pts})
	}
	return out
}

func phaseOrder(p string) int {
	return strings.Index("steady before during after", p)
}

func (s Scenario) LagChart() template.HTML {
	c := svgplot.Chart{Title: "Replication lag per region", XLabel: "ms since scenario start", YLabel: "lag ms", XMax: s.DurationMs,
		Series: regionSeries(s.Lag)}
	c.HLines = []svgplot.HLine{{At: 500, Label: "alarm 500 ms", Color: "#e377c2"}}
	s.annotate(&c)
	return template.HTML(c.SVG())
}

func (s Scenario) annotate(c *svgplot.Chart) {
	for _, w := range s.Windows {
		c.Bands = append(c.Bands, svgplot.Band{From: w.FromMs, To: w.ToMs, Label: w.Fault})
	}
	for _, m := range s.Markers {
		if m.Kind == "rejoin" || m.Kind == "restart" {
			continue // keep the plot readable; they are in the event table
		}
		c.Marks = append(c.Marks, svgplot.Mark{At: m.AtMs, Label: m.Kind + " " + m.Region, Color: markColor(m.Kind)})
	}
}

func targetBar(check string) bool {
	return check == "rpo_ms" || check == "rto_ms" || check == "rpo_lost_writes"
}

// PlotCount is how many plots the run's page draws; the page declares it so
// that report-check can tell a missing plot from a present one.
func (r *Report) PlotCount() int {
	n := 0
	for _, s := range r.Scenarios {
		if s.Verdict == "unreadable" {
			continue
		}
		n += 2 // writes, lag
		if len(s.Visibility) > 0 {
			n++
		}
		for _, m := range s.Measurements {
			if targetBar(m.Check) {
				n++
			}
		}
	}
	return n
}

// TargetsChart draws measured RPO and RTO against their targets, as bars.
func (s Scenario) TargetsChart() template.HTML {
	var rows []string
	for _, m := range s.Measurements {
		if !targetBar(m.Check) {
			continue
		}
		scale := m.Measured
		if m.Target != nil {
			scale = max(scale, *m.Target)
		}
		if scale <= 0 {
			scale = 1
		}
		color := "#2ca02c"
		if !m.Met {
			color = "#d62728"
		}
		target := ""
		if m.Target != nil {
			x := 120 + 500*(*m.Target)/scale
			target = fmt.Sprintf(`<line x1="%.1f" x2="%.1f" y1="2" y2="20" stroke="#000" stroke-width="2"/><text x="%.1f" y="30" class="ml">target %g %s</text>`, x, x, x-30, *m.Target, m.Unit)
		}
		figure := fmt.Sprintf("%.4g %s ±%.3g", m.Measured, m.Unit, m.Resolution)
		if m.Unmeasured {
			figure = "not judged"
		}
		rows = append(rows, fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="760" height="34" viewBox="0 0 760 34"><text x="0" y="15">%s</text><rect x="120" y="4" width="%.1f" height="14" fill="%s"/><text x="%.1f" y="15">%s</text>%s</svg>`,
			m.Check, 500*m.Measured/scale, color, 126+500*m.Measured/scale, template.HTMLEscapeString(figure), target))
	}
	return template.HTML(strings.Join(rows, "<br>"))
}

// htmlMark avoids emoji: headless browsers and many fonts lack them.
func htmlMark(v string) string {
	switch v {
	case "pass":
		return "PASS"
	case "fail":
		return "FAIL"
	case "flaky":
		return "FLAKY (passed on a retry)"
	}
	return strings.ToUpper(v)
}

// WindowLines are the scenario's disruption windows, one line each, when
// its history was observed.
func (s Scenario) WindowLines() []string {
	if s.Result == nil || !s.Result.Observed {
		return nil
	}
	var out []string
	for i, w := range s.Result.Windows {
		out = append(out, w.Summary(i, s.Result.RTO.ResolutionMs))
	}
	return out
}

// WriteHTML writes the self-contained index.html of one run.
func (r *Report) WriteHTML(w io.Writer) error {
	return runTemplate.Execute(w, r)
}

var funcs = template.FuncMap{
	"columns": columns,
	"mark":    htmlMark,
	"short":   short,
	"fig":     func(s Scenario, c string) string { return s.figure(c) },
	"f1":      func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"style":   func() template.CSS { return template.CSS(pageStyle + svgplot.Style) },
	"deref": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.0f", *p)
	},
	"join":  strings.Join,
	"inc":   func(i int) int { return i + 1 },
	"lower": strings.ToLower,
}

const pageStyle = `body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:17px;margin-top:32px;border-top:1px solid #ddd;padding-top:14px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;font-size:13px}
th{background:#f6f6f6}.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}.note{color:#8a6d00}
.partial{background:#fff8c5;border:1px solid #d4a72c;padding:8px}code{background:#f3f3f3;padding:0 3px}
.small{font-size:12px;color:#555}
.trend{display:flex;flex-wrap:wrap;gap:8px;margin:6px 0}.flaky{color:#9a6700;font-weight:600}
`

var runTemplate = template.Must(template.New("run").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="drdrill-plots" content="{{.PlotCount}}"><title>drdrill run {{.Run.ID}}</title>
<style>{{style}}</style></head><body>
<h1>drdrill run <code>{{.Run.ID}}</code> — <span class="{{.Verdict}}">{{mark .Verdict}}</span></h1>
<p class="small">target {{.Run.Target}}{{if .Run.GitCommit}} · commit <code>{{short .Run.GitCommit}}</code>{{end}}{{if .Run.Labels}} · labels <code>{{.Run.Labels}}</code>{{end}} · policy {{.Policy.Source}}{{if .Run.Seed}} · seed {{.Run.Seed}}{{end}}{{range $k, $v := .Run.ToolVersions}} · {{$k}} {{$v}}{{end}}</p>
{{if not .Run.Complete}}<p class="partial fail">Run {{.Run.StatusLine}}: not a complete run, not a sign-off.</p>{{end}}
{{if .PartialReasons}}<p class="partial"><b>Partial report.</b> {{join .PartialReasons "; "}}</p>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
<table><tr><th>scenario</th><th>verdict</th>{{range columns}}<th>{{.Column}}</th>{{end}}</tr>
{{range $s := .Scenarios}}<tr><td><a href="#{{.Dir}}">{{.Name}}{{if .Iteration}} #{{.Iteration}}{{end}}</a></td><td class="{{.Verdict}}">{{mark .Verdict}}</td>{{range columns}}<td>{{fig $s .Key}}</td>{{end}}</tr>
{{end}}</table>
<p class="small">Cells read <code>measured ±resolution / target</code>; ✗ marks a breach; "not judged" means the history cannot give the figure (each scenario says why). RPO is the time span of acknowledged writes missing from the new primary; RTO runs from the fault until writes succeed and keep succeeding for the stability window after the outage began; re-protection runs from the fault until every other region is in sync again after the last promotion.</p>
{{if .Specs}}<p>Specs: {{.Specs.Passed}} passed, {{.Specs.Failed}} failed, {{.Specs.Skipped}} skipped.</p>{{range .Specs.Failures}}<p class="fail">{{.}}</p>{{end}}{{end}}
{{range .Scenarios}}
<h2 id="{{.Dir}}">{{.Name}}{{if .Iteration}} #{{.Iteration}}{{end}} — <span class="{{.Verdict}}">{{mark .Verdict}}</span></h2>
{{range .Breaches}}<p class="fail">{{.Message}}</p>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
{{range .Measurements}}{{if .Unmeasured}}<p class="note">{{.Check}} not judged: {{.NotJudged}}</p>{{end}}{{end}}
{{with .Result}}<p>{{.Ops.Total}} writes: {{.Ops.OK}} acknowledged, {{.Ops.Fail}} failed, {{.Ops.Info}} unknown ({{.InfoApplied}} found applied, {{.InfoNotApplied}} not){{if .FailedButApplied}}; <b>{{.FailedButApplied}} failed writes found applied</b>{{end}}. Lost: {{if .RPO.Judged}}{{.RPO.LostWrites}} spanning {{f1 .RPO.SpanMs}} ms (±{{f1 .RPO.ResolutionMs}}){{with .RPO.Failover}}: {{.ReplicationLostWrites}} acknowledged before the promotion (replication loss, {{f1 .ReplicationLossMs}} ms), {{.SplitBrainLostWrites}} after it (split brain){{end}}{{else}}not judged{{end}}. Detect {{deref .RTO.DetectMs}} ms, promote {{deref .RTO.PromoteMs}} ms{{if .RTO.Judged}}{{with .RTO.OutageStartMs}}, outage began {{f1 .}} ms after the fault{{end}}, RTO {{if .RTO.Recovered}}{{f1 .RTO.Ms}} ms{{else}}<b>not recovered</b>{{end}}{{end}}{{with .ReprotectMs}}, re-protected {{f1 .}} ms after the fault{{end}}. Zombie writes: {{if .ZombiesJudged}}{{.ZombieCount}}{{else}}not judged{{end}}.{{range $p, $v := .AckedPerSecond}} Acknowledged {{$p}}: {{$v}}/s.{{end}}</p>
{{with .Hypothesis}}<p class="{{if .Consistent}}pass{{else}}fail{{end}}">RPO vs lag: {{.Verdict}}</p>{{end}}{{end}}
{{with .WindowLines}}<p><b>Disruption windows</b> (each disruption the observation saw, whoever caused it):</p><ul>{{range .}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{.TargetsChart}}
{{.WritesChart}}
{{.LagChart}}
{{.VisibilityChart}}
{{with .Result}}{{if .Reads.Judged}}<p>Reads: {{.Reads.Total}} ({{.Reads.Failed}} failed). Vanished: {{.Reads.Vanished}}. Stale after promotion: {{if .Reads.StaleJudged}}{{.Reads.StaleAfterPromotion}}{{if .Reads.StaleAfterPromotion}} (up to {{f1 .Reads.StaleMaxBehindMs}} ms behind){{end}}{{else}}not judged{{end}}. Acknowledged writes never seen by any reader: {{.Reads.NeverSeen}}.</p>{{end}}{{end}}
{{with .ReadRows}}<table><tr><th>region</th><th>phase</th><th>writes read</th><th>visibility p50 / p99 / max ms</th><th>± p99</th><th>read every ms</th><th>heartbeat lag p50 / p99 ms (by time)</th><th>± p99</th></tr>{{range .}}<tr><td>{{.Region}}</td><td>{{.Phase}}</td><td>{{.Visibility.N}}</td><td>{{f1 .Visibility.P50}} / {{f1 .Visibility.P99}} / {{f1 .Visibility.Max}}</td><td>{{f1 .Visibility.P99Err}}</td><td>{{f1 .ResolutionMs}}</td><td>{{with .Lag}}{{f1 .P50}} / {{f1 .P99}}{{else}}–{{end}}</td><td>{{with .Lag}}{{f1 .P99Err}}{{else}}–{{end}}</td></tr>{{end}}</table>{{end}}
{{with .Result}}{{if .Reads.VanishedExamples}}<p><b>First vanished reads</b> (a reader saw the write; later it was gone):</p><table><tr><th>seen in</th><th>writer</th><th>seq</th><th>acknowledged</th><th>seen ms</th><th>gone from</th></tr>{{range .Reads.VanishedExamples}}<tr><td>{{.Region}}</td><td>{{.Writer}}</td><td>{{.Seq}}</td><td>{{.Acked}}</td><td>{{f1 .SeenMs}}</td><td>{{.GoneFrom}}</td></tr>{{end}}</table>{{end}}
{{if .Reads.StaleExamples}}<p><b>First stale reads after promotion</b> (served by the demoted region without acknowledged writes):</p><table><tr><th>region</th><th>server</th><th>read at ms</th><th>acknowledged writes missing</th><th>behind ms</th></tr>{{range .Reads.StaleExamples}}<tr><td>{{.Region}}</td><td>{{.ServerID}}</td><td>{{f1 .InvokeMs}}</td><td>{{.Missing}}</td><td>{{f1 .BehindMs}}</td></tr>{{end}}</table>{{end}}{{end}}
{{with .Result}}{{if .RPO.Lost}}<p><b>First lost writes</b> (acknowledged, absent on the new primary):</p><table><tr><th>writer</th><th>seq</th><th>invoked ms</th><th>acknowledged ms</th></tr>{{range .RPO.Lost}}<tr><td>{{.Writer}}</td><td>{{.Seq}}</td><td>{{f1 .InvokeMs}}</td><td>{{f1 .AckMs}}</td></tr>{{end}}</table>{{end}}
{{if .Zombies}}<p><b>First zombie writes</b> (accepted by a server that was not the primary):</p><table><tr><th>region</th><th>writer</th><th>seq</th><th>origin server</th><th>committed ms</th></tr>{{range .Zombies}}<tr><td>{{.Region}}</td><td>{{.Writer}}</td><td>{{.Seq}}</td><td>{{.Origin}}</td><td>{{f1 .CommittedMs}}</td></tr>{{end}}</table>{{end}}{{end}}
{{if .Markers}}<details><summary>Controller events ({{len .Markers}})</summary><table><tr><th>ms</th><th>event</th><th>region</th><th>detail</th></tr>{{range .Markers}}<tr><td>{{f1 .AtMs}}</td><td>{{.Kind}}</td><td>{{.Region}}</td><td>{{.Detail}}</td></tr>{{end}}</table></details>{{end}}
{{end}}
{{if .Ledger}}<h2>Fault ledger</h2><table><tr><th>id</th><th>fault</th><th>state</th><th>by</th></tr>{{range .Ledger}}<tr><td>{{.ID}}</td><td>{{.Fault}}</td><td>{{.State}}</td><td>{{.By}}</td></tr>{{end}}</table>{{end}}
<p class="small">Generated by drdrill from the run's histories; re-render with <code>drdrill report DIR</code>.</p>
</body></html>
`))
