package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/runbook"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twin"
)

// drillPlanFor is what a drill would run on the target an outputs file
// names (the lab without one): the runbook's scenarios the labels pick,
// each skipped where its faults are not offered, with the target's
// typical durations. It starts and reaches nothing.
func drillPlanFor(outputsFile, labels string) (runbook.Plan, error) {
	kind := outputsKind(outputsFile)
	t := target.Offline(kind)
	available := func(name string) error {
		f, err := fault.Lookup(name)
		if err != nil {
			return err
		}
		return f.Available(t)
	}
	return runbook.Select(labels, kind, available, expectationsFor(kind, outputsFile))
}

// expectationsFor are the target's typical durations: the lab's, or AWS's
// at the stack's check period (DRDRILL_CHECK_PERIOD) — scaled, when the
// outputs file is a running twin's, by the twin's time scale.
func expectationsFor(kind, outputsFile string) runbook.Expectations {
	if kind == "lab" {
		return runbook.LabExpectations
	}
	period := time.Minute
	if d, err := time.ParseDuration(os.Getenv("DRDRILL_CHECK_PERIOD")); err == nil && d > 0 {
		period = d
	}
	scale := 1.0
	if info, err := twin.ReadInfo(filepath.Dir(outputsFile)); err == nil && info.TimeScale > 0 {
		scale = info.TimeScale
		if os.Getenv("DRDRILL_CHECK_PERIOD") == "" {
			period = time.Duration(float64(period) * scale)
		}
	}
	return runbook.AWSExpectations(period, scale)
}

// printPlan writes the plan: the target's bounds, then each scenario
// with its faults and parameters, its policy bounds and its expected
// duration, or why it is skipped here.
func printPlan(w io.Writer, p runbook.Plan, b target.Bounds, pol policy.Policy, timeout time.Duration) {
	labels := p.Labels
	if labels == "" {
		labels = "all"
	}
	fmt.Fprintf(w, "drdrill drill --dry-run on the %s target (nothing started): %d of %d scenarios (labels: %s), about %v with %s\n",
		p.Target, p.Run, len(p.Scenarios), labels, p.Expected.Round(time.Second), p.Expectations.Source)
	if timeout == 0 {
		timeout = b.Suite
	}
	fmt.Fprintf(w, "target bounds (how long drdrill waits before giving up): promotion %v, inject %v, rollback %v, restore %v, re-protection %v, scenario %v, suite %v\n",
		b.Promotion, b.Inject, b.Rollback, b.Restore, b.Reprotect, b.Scenario, timeout)
	fmt.Fprintf(w, "policy: %s\n\n", pol.Source)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tSCENARIO\tEXPECTED\tFAULTS\tPOLICY BOUNDS")
	var skipped []string
	for _, s := range p.Scenarios {
		if s.Skipped != "" {
			skipped = append(skipped, fmt.Sprintf("  %s: %s", s.Name, s.Skipped))
			continue
		}
		fmt.Fprintf(tw, "%d/%d\t%s\t%v\t%s\t%s\n", s.Index, p.Run, s.Name, s.Expected.Round(100*time.Millisecond), faultsText(s.Inject), boundsOf(pol, s.Name))
	}
	tw.Flush()
	fmt.Fprintln(w, "(parameters not shown are resolved from the live topology when the fault is injected: the region, the primary)")
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\nskipped on the %s target (before they start anything):\n%s\n", p.Target, strings.Join(skipped, "\n"))
	}
	fmt.Fprintln(w, "\nphases (expected):")
	for _, s := range p.Scenarios {
		if s.Skipped != "" {
			continue
		}
		var ph []string
		for _, x := range s.Phases {
			ph = append(ph, fmt.Sprintf("%s %v", x.What, (x.Hold+p.Expectations.Waits[x.Wait]).Round(100*time.Millisecond)))
		}
		fmt.Fprintf(w, "  %s: %s\n", s.Name, strings.Join(ph, "; "))
	}
}

func faultsText(fs []runbook.Fault) string {
	if len(fs) == 0 {
		return "none"
	}
	var out []string
	for _, f := range fs {
		s := f.Name
		if len(f.Params) > 0 {
			var ps []string
			for _, k := range sortedKeys(f.Params) {
				ps = append(ps, k+"="+f.Params[k])
			}
			s += " (" + strings.Join(ps, ", ") + ")"
		}
		out = append(out, s)
	}
	return strings.Join(out, " then ")
}

func boundsOf(pol policy.Policy, scenario string) string { return boundsText(pol.For(scenario)) }
