package check

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/drdrill/drdrill/internal/history"
)

// reprotect: from the fault until every region other than the one the
// last promotion promoted has an in-sync event at or after it — the time
// the stack ran without a standby.
func reprotect(a *analysis) {
	const key = "reprotect_ms"
	if a.fault == none {
		return
	}
	if a.controllerWhy != "" {
		a.notJudged(key, a.controllerWhy)
		return
	}
	if len(a.promotions) == 0 {
		return
	}
	instant, behind, why := a.reprotectedAt(a.promotions[len(a.promotions)-1], math.MaxInt64)
	switch {
	case why != "":
		a.notJudged(key, why)
		return
	case len(behind) > 0:
		a.notJudged(key, fmt.Sprintf("not re-protected within the history: no in-sync event of %s after the last promotion", strings.Join(behind, ", ")))
		return
	}
	a.r.ReprotectMs = msp(instant - a.fault)
}

// reprotectedAt is when every region but the one last promoted has an
// in-sync event at or after that promotion and before to; otherwise the
// regions still behind, or why it cannot be told.
func (a *analysis) reprotectedAt(last history.Event, to int64) (instant int64, behind []string, why string) {
	switch {
	case a.h.Meta.Version == 1:
		return 0, nil, "a version 1 history predates in-sync events"
	case last.Region == "":
		return 0, nil, "the last promotion does not name its region"
	}
	instant = last.At
	for _, region := range a.historyRegions() {
		if region == last.Region {
			continue
		}
		i := slices.IndexFunc(a.events, func(e history.Event) bool {
			return e.Source == SourceController && e.Kind == "in-sync" && e.Region == region && e.At >= last.At && e.At < to
		})
		if i < 0 {
			behind = append(behind, region)
			continue
		}
		instant = max(instant, a.events[i].At)
	}
	return instant, behind, ""
}

// historyRegions are the history's regions: its meta line's, or else those
// of its final reads, its reads and its heartbeat series.
func (a *analysis) historyRegions() []string {
	if len(a.h.Meta.Regions) > 0 {
		return a.h.Meta.Regions
	}
	var out []string
	add := func(r string) {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	for _, rs := range a.h.Rows {
		add(rs.Region)
	}
	for _, rd := range a.h.Reads {
		add(rd.Region)
	}
	for _, s := range a.h.Lag {
		if !strings.HasPrefix(s.Region, "aws:") {
			add(s.Region)
		}
	}
	return out
}
