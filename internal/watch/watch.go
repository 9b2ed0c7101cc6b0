// Package watch is the live view of a target (`drdrill status`): the
// writer region and any promotion under way, each region's role, health
// and lag, the alarms and health checks, the faults the ledger shows
// injected and — when a drill or an observation runs against it — its
// scenario, writes per second and errors per second. One snapshot is read
// through the target interface, the ledger and the running processes'
// progress files (internal/live), so it is the same on the lab, the twin
// and AWS.
package watch

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/live"
	"github.com/drdrill/drdrill/internal/target"
)

// Snapshot is the target's state at one instant.
type Snapshot struct {
	TimeNs int64  `json:"time_ns"`
	Target string `json:"target"`
	// Err says why the target could not be read (the rest is what could).
	Err      string            `json:"error,omitempty"`
	Topology target.Topology   `json:"topology"`
	Alarms   []target.Alarm    `json:"alarms,omitempty"`
	Checks   []HealthCheck     `json:"health_checks,omitempty"`
	Faults   []ledger.Entry    `json:"faults,omitempty"`
	Runs     []live.Progress   `json:"runs,omitempty"`
	LagMs    map[string]string `json:"lag,omitempty"` // region → the lag as the target reports it
	// Promotion is a promotion under way ("" when none): the global
	// cluster's FailoverState on AWS, a started switchover or failover
	// without its promote event yet on the lab.
	Promotion string `json:"promotion,omitempty"`
}

// HealthCheck is a health check's status (AWS: Route 53).
type HealthCheck struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Take reads the target, its ledger and the progress of what runs
// against it (ledgerDir). Each part that fails is left out, the first
// error kept in Err.
func Take(ctx context.Context, t target.Target, l *ledger.Ledger, ledgerDir string) Snapshot {
	s := Snapshot{TimeNs: time.Now().UnixNano(), Target: t.Kind(), LagMs: map[string]string{}}
	fail := func(what string, err error) {
		if err != nil && s.Err == "" {
			s.Err = what + ": " + err.Error()
		}
	}
	topo, err := t.Topology(ctx)
	fail("topology", err)
	s.Topology = topo
	for _, r := range topo.Regions {
		if r.LagMs != nil {
			s.LagMs[r.Name] = fmt.Sprintf("%.0f ms", *r.LagMs)
		}
	}
	alarms, err := t.Alarms(ctx)
	fail("alarms", err)
	s.Alarms = alarms
	if ob, ok := t.(target.Observer); ok {
		for _, o := range ob.Observe(ctx) {
			switch o.Kind {
			case "global_cluster":
				if o.State != "none" {
					s.Promotion = "global cluster " + o.State
				}
			case "health_check":
				s.Checks = append(s.Checks, HealthCheck{Name: o.Name, State: o.State})
			case "lag_ms":
				if _, ok := s.LagMs[o.Region]; !ok {
					s.LagMs[o.Region] = fmt.Sprintf("%.0f ms (%s, %s)", o.Value, o.Name, time.Unix(0, o.TimeNs).Format("15:04:05"))
				}
			case "alarm":
				if !hasAlarm(s.Alarms, o.Name) {
					s.Alarms = append(s.Alarms, target.Alarm{Name: o.Name, State: o.State})
				}
			}
		}
	} else if ev, err := t.Events(ctx, 0); err == nil {
		s.Promotion = promotionUnderWay(ev)
	}
	sort.Slice(s.Alarms, func(i, j int) bool { return s.Alarms[i].Name < s.Alarms[j].Name })
	sort.Slice(s.Checks, func(i, j int) bool { return s.Checks[i].Name < s.Checks[j].Name })
	active, err := l.Active()
	fail("fault ledger", err)
	s.Faults = active
	s.Runs = live.Read(ledgerDir)
	return s
}

func hasAlarm(as []target.Alarm, name string) bool {
	for _, a := range as {
		if a.Name == name {
			return true
		}
	}
	return false
}

// promotionUnderWay is the newest switchover or failover start that no
// promotion (or promotion failure) has followed yet.
func promotionUnderWay(ev []target.Event) string {
	for i := len(ev) - 1; i >= 0; i-- {
		switch ev[i].Kind {
		case "promote", "promote-failed", "failover-end":
			return ""
		case "switchover-start", "failover-start":
			return fmt.Sprintf("%s to %s since %s", ev[i].Kind, ev[i].Region, time.Unix(0, ev[i].TimeNs).Format("15:04:05.000"))
		}
	}
	return ""
}

// lagBucket is a lag in words coarse enough not to change with every
// sample: under 1 s (a healthy cross-region lag, and below the stack's
// alarm), under 10 s, or more.
func lagBucket(text string) string {
	var v float64
	if _, err := fmt.Sscanf(text, "%f ms", &v); err != nil {
		return text
	}
	switch {
	case v < 1000:
		return "<1s"
	case v < 10000:
		return "<10s"
	}
	return ">=10s"
}

// Line is the snapshot in one line, without its time and with the lag and
// the rates in coarse words: two snapshots of an unchanged stack give the
// same line, so a pipe gets one line per change.
func (s Snapshot) Line() string {
	var parts []string
	if s.Err != "" {
		parts = append(parts, "UNREADABLE "+s.Err)
	}
	t := s.Topology
	health := "healthy"
	if !t.Healthy {
		health = "NOT healthy"
	}
	parts = append(parts, fmt.Sprintf("%s writer %s %s", s.Target, orNone(t.Primary), health))
	if s.Promotion != "" {
		parts = append(parts, "promotion: "+s.Promotion)
	}
	for _, r := range t.Regions {
		p := r.Name + " " + r.Role
		switch {
		case !r.Reachable:
			p += " unreachable"
		case r.Writable:
			p += " writable"
		case r.Replicating:
			p += " replicating"
		default:
			p += " not replicating"
		}
		if lag, ok := s.LagMs[r.Name]; ok {
			p += " lag " + lagBucket(lag)
		}
		parts = append(parts, p)
	}
	for _, a := range s.Alarms {
		parts = append(parts, "alarm "+a.Name+" "+a.State)
	}
	for _, c := range s.Checks {
		parts = append(parts, "health check "+c.Name+" "+c.State)
	}
	if len(s.Faults) == 0 {
		parts = append(parts, "no fault injected")
	}
	for _, f := range s.Faults {
		parts = append(parts, "fault "+f.String())
	}
	for _, r := range s.Runs {
		p := r.What
		if r.Scenario != "" {
			p += ": " + r.Scenario
			if r.Total > 0 {
				p += fmt.Sprintf(" %d/%d", r.Index, r.Total)
			}
		}
		switch {
		case r.ErrorsPerS > 0:
			p += ", writes failing"
		case r.WritesPerS > 0:
			p += ", writing"
		default:
			p += ", not writing"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " | ")
}

// WriteView writes the full view, for a terminal redrawn in place.
func (s Snapshot) WriteView(w io.Writer) {
	t := s.Topology
	health := "healthy"
	if !t.Healthy {
		health = "NOT healthy: " + t.Detail
	}
	fmt.Fprintf(w, "%s  %s target  writer %s  %s\n", time.Unix(0, s.TimeNs).Format("15:04:05.000"), s.Target, orNone(t.Primary), health)
	if s.Err != "" {
		fmt.Fprintf(w, "could not read: %s\n", s.Err)
	}
	if s.Promotion != "" {
		fmt.Fprintf(w, "promotion under way: %s\n", s.Promotion)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tROLE\tREACHABLE\tWRITABLE\tREPLICATING\tLAG\tDETAIL")
	for _, r := range t.Regions {
		lag := s.LagMs[r.Name]
		if lag == "" {
			lag = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%v\t%s\t%s\n", r.Name, r.Role, r.Reachable, r.Writable, r.Replicating, lag, r.Detail)
	}
	tw.Flush()
	for _, a := range s.Alarms {
		fmt.Fprintf(w, "alarm %s: %s\n", a.Name, a.State)
	}
	for _, c := range s.Checks {
		fmt.Fprintf(w, "health check %s: %s\n", c.Name, c.State)
	}
	if len(s.Faults) == 0 {
		fmt.Fprintln(w, "faults: none injected")
	}
	for _, f := range s.Faults {
		fmt.Fprintf(w, "fault %s %v since %s by %s\n", f.String(), f.Params, time.Unix(0, f.TimeNs).Format("15:04:05"), f.By)
	}
	if len(s.Runs) == 0 {
		fmt.Fprintln(w, "running: no drill or observation")
	}
	for _, r := range s.Runs {
		fmt.Fprintf(w, "running: %s (pid %d)\n", r.Line(), r.PID)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Output is where Watch writes: a terminal is redrawn in place, anything
// else gets one line per change and no escape codes.
type Output struct {
	W        io.Writer
	Terminal bool
}

// clear moves the cursor home and clears the screen (ANSI).
const clear = "\033[H\033[2J"

// Watch takes a snapshot every interval until ctx ends and writes it: the
// full view redrawn on a terminal; elsewhere a line, stamped with its
// time, each time the snapshot's line changes.
func Watch(ctx context.Context, take func(context.Context) Snapshot, every time.Duration, out Output) {
	last := ""
	for {
		tctx, cancel := context.WithTimeout(ctx, max(every, 5*time.Second))
		s := take(tctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if out.Terminal {
			fmt.Fprint(out.W, clear)
			s.WriteView(out.W)
		} else if line := s.Line(); line != last {
			fmt.Fprintf(out.W, "%s %s\n", time.Unix(0, s.TimeNs).Format("15:04:05.000"), line)
			last = line
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
