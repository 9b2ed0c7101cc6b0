package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/drdrill/drdrill/internal/check"
)

// columns are the measures the summary tables show, in the checker's
// order: the one list (check.Measures) the policy and JUnit use too.
func columns() []check.Measure {
	var out []check.Measure
	for _, m := range check.Measures {
		if m.Column != "" {
			out = append(out, m)
		}
	}
	return out
}

// figure formats a measured value and its target for tables.
func (s Scenario) figure(check string) string {
	for _, m := range s.Measurements {
		if m.Check != check {
			continue
		}
		if m.Unmeasured {
			v := "not judged"
			if m.Target != nil {
				v += fmt.Sprintf(" / %g", *m.Target)
			}
			if !m.Met {
				v += " ✗"
			}
			return v
		}
		v := fmt.Sprintf("%.0f", m.Measured)
		if m.Unit == "ms" && m.Measured < 100 {
			v = fmt.Sprintf("%.1f", m.Measured)
		}
		if m.Resolution > 0 {
			v += fmt.Sprintf(" ±%.0f", m.Resolution)
		}
		if m.Target != nil {
			v += fmt.Sprintf(" / %g", *m.Target)
		}
		if !m.Met {
			v += " ✗"
		}
		return v
	}
	return "–"
}

func (s Scenario) label() string {
	if s.Iteration > 0 {
		return fmt.Sprintf("%s #%d", s.Name, s.Iteration)
	}
	return s.Name
}

func verdictMark(v string) string {
	switch v {
	case "pass":
		return "✅ pass"
	case "fail":
		return "❌ FAIL"
	case "flaky":
		return "⚠️ flaky (passed on a retry)"
	}
	return "⚠️ " + v
}

// WriteMarkdown writes summary.md: one table, short enough for a PR comment.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## drdrill run `%s` — %s\n\n", r.Run.ID, verdictMark(r.Verdict))
	meta := []string{"target " + orDash(r.Run.Target)}
	if r.Run.GitCommit != "" {
		meta = append(meta, "commit `"+short(r.Run.GitCommit)+"`")
	}
	if r.Run.Labels != "" {
		meta = append(meta, "labels `"+r.Run.Labels+"`")
	}
	meta = append(meta, "policy "+orDash(r.Policy.Source))
	if r.Run.Seed != 0 && r.Run.Mode != ModeObserve {
		replay := fmt.Sprintf("drdrill drill --seed %d", r.Run.Seed)
		if r.Run.Labels != "" {
			replay += fmt.Sprintf(" --labels '%s'", r.Run.Labels)
		}
		meta = append(meta, fmt.Sprintf("seed %d (replay: `%s`)", r.Run.Seed, replay))
	}
	fmt.Fprintf(&b, "%s\n\n", strings.Join(meta, " · "))
	if !r.Run.Complete() {
		fmt.Fprintf(&b, "> **Run %s.** Not a complete run: not a sign-off.\n\n", r.Run.StatusLine())
	}
	if len(r.PartialReasons) > 0 {
		fmt.Fprintf(&b, "> **Partial report:** %s\n\n", strings.Join(r.PartialReasons, "; "))
	}
	cols := columns()
	b.WriteString("| scenario | verdict |")
	for _, c := range cols {
		b.WriteString(" " + c.Column + " |")
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(cols)) + "\n")
	for _, s := range r.Scenarios {
		fmt.Fprintf(&b, "| %s | %s |", s.label(), verdictMark(s.Verdict))
		for _, c := range cols {
			b.WriteString(" " + s.figure(c.Key) + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\nCells read `measured ±resolution / target`; ✗ marks a breach; \"not judged\" means the history cannot give the figure (why is listed below).\n")
	bullets(&b, "**Not judged** (a breach wherever a target exists)", r.notJudged())
	bullets(&b, "**Disruption windows** (each disruption the observation saw, whoever caused it: where it came from, and its RTO, re-protection and the writes it lost)", r.windowLines())
	bullets(&b, "**RPO vs lag** (AWS's failover hypothesis: the data lost spans no more than the last lag reading before the fault)", r.hypotheses())
	bullets(&b, "**Reads across the event** (visibility: acknowledgement → first read in the region that returned the write; p99 before the fault, or over a steady run)", r.readLines())
	var breaches []string
	for _, s := range r.Scenarios {
		for _, br := range s.Breaches {
			breaches = append(breaches, "- "+br.Message)
		}
	}
	if len(breaches) > 0 {
		fmt.Fprintf(&b, "\n**Breaches**\n\n%s\n", strings.Join(breaches, "\n"))
	}
	if r.Specs != nil && len(r.Specs.Flaky) > 0 {
		fmt.Fprintf(&b, "\n**Flaky specs** (%d: failed, then passed on a retry)\n\n", len(r.Specs.Flaky))
		for _, f := range r.Specs.Flaky {
			fmt.Fprintf(&b, "- %s: passed on attempt %d; earlier: %s\n", f.Name, f.Attempts, strings.ReplaceAll(strings.Join(f.Failures, " | "), "\n", " "))
		}
	}
	if r.Specs != nil && r.Specs.Failed > 0 {
		fmt.Fprintf(&b, "\n**Failed specs** (%d)\n\n", r.Specs.Failed)
		for _, f := range r.Specs.Failures {
			fmt.Fprintf(&b, "- %s\n", strings.ReplaceAll(f, "\n", " "))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteTable writes the one-screen summary the drill prints at the end.
func (r *Report) WriteTable(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cols := columns()
	fmt.Fprintf(tw, "SCENARIO\tVERDICT")
	for _, c := range cols {
		fmt.Fprintf(tw, "\t%s", strings.ToUpper(c.Column))
	}
	fmt.Fprintln(tw)
	for _, s := range r.Scenarios {
		v := s.Verdict
		if v != "pass" {
			v = strings.ToUpper(v)
		}
		fmt.Fprintf(tw, "%s\t%s", s.label(), v)
		for _, c := range cols {
			fmt.Fprintf(tw, "\t%s", s.figure(c.Key))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if !r.Run.Complete() {
		fmt.Fprintf(w, "run %s: not a complete run, not a sign-off\n", strings.ToUpper(r.Run.Status)+strings.TrimPrefix(r.Run.StatusLine(), r.Run.Status))
	}
	fmt.Fprintf(w, "verdict: %s", strings.ToUpper(r.Verdict))
	if len(r.PartialReasons) > 0 {
		fmt.Fprintf(w, " (partial: %s)", strings.Join(r.PartialReasons, "; "))
	}
	fmt.Fprintln(w)
	if r.Specs != nil {
		for _, f := range r.Specs.Flaky {
			fmt.Fprintf(w, "  flaky: %s passed on attempt %d\n", f.Name, f.Attempts)
		}
	}
	for _, h := range r.hypotheses() {
		fmt.Fprintf(w, "  rpo vs lag: %s\n", h)
	}
	for _, l := range r.windowLines() {
		fmt.Fprintf(w, "  %s\n", l)
	}
	for _, s := range r.Scenarios {
		for _, br := range s.Breaches {
			fmt.Fprintf(w, "  breach: %s\n", br.Message)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	return commit
}

// windowLines are one line per disruption window of each observed scenario.
func (r *Report) windowLines() []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Result == nil || !s.Result.Observed {
			continue
		}
		if len(s.Result.Windows) == 0 {
			out = append(out, s.label()+": no disruption seen")
		}
		for i, w := range s.Result.Windows {
			out = append(out, s.label()+" "+w.Summary(i, s.Result.RTO.ResolutionMs))
		}
	}
	return out
}

// hypotheses are the per-failover RPO-vs-lag verdict lines.
func (r *Report) hypotheses() []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Result != nil && s.Result.Hypothesis != nil {
			out = append(out, fmt.Sprintf("%s: %s", s.label(), s.Result.Hypothesis.Verdict))
		}
	}
	return out
}

// readLines are one line per scenario with reads: vanished, stale, and
// visibility next to the heartbeat lag, per region.
func (r *Report) readLines() []string {
	var out []string
	for _, s := range r.Scenarios {
		if s.Result == nil || !s.Result.Reads.Judged {
			continue
		}
		rd := s.Result.Reads
		var parts []string
		for _, row := range s.ReadRows() {
			if row.Phase != "steady" && row.Phase != "before" {
				continue
			}
			lag := "–"
			if row.Lag != nil {
				lag = fmt.Sprintf("%.1f ±%.1f", row.Lag.P99, row.Lag.P99Err)
			}
			parts = append(parts, fmt.Sprintf("%s visibility p99 %.1f ms ±%.1f (lag p99 %s)", row.Region, row.Visibility.P99, row.Visibility.P99Err, lag))
		}
		stale := "not judged"
		if rd.StaleJudged {
			stale = fmt.Sprint(rd.StaleAfterPromotion)
		}
		out = append(out, fmt.Sprintf("%s: %d vanished, %s stale after promotion, %d never seen; %s", s.label(), rd.Vanished, stale, rd.NeverSeen, strings.Join(parts, "; ")))
	}
	return out
}

// notJudged lists, one line per scenario and measure, why a measure that
// applies could not be judged.
func (r *Report) notJudged() []string {
	var out []string
	for _, s := range r.Scenarios {
		for _, m := range s.Measurements {
			if m.Unmeasured {
				out = append(out, fmt.Sprintf("%s %s: %s", s.label(), m.Check, m.NotJudged))
			}
		}
	}
	return out
}

// bullets writes a titled list of lines, or nothing when there are none.
func bullets(b *strings.Builder, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "\n%s\n\n", title)
	for _, l := range lines {
		fmt.Fprintf(b, "- %s\n", l)
	}
}
