package report

import (
	"sort"
	"time"
)

// Harness event kinds that bracket a deliberate hold in a history.
const (
	HoldStart = "hold"
	HoldEnd   = "hold-end"
)

// WallTime accounts for a run's wall time: how much of it the runbook
// spent on purpose. Faults is the union of the fault windows (two faults
// injected together count once); Deliberate adds the holds around them
// (the baseline before each fault, the stability windows, the
// steady-state measurement). Everything else — starting the lab,
// restoring the topology between scenarios, final reads, rendering — is
// overhead that measures nothing.
type WallTime struct {
	Faults     time.Duration
	Deliberate time.Duration
}

// Account sums the deliberate time of every scenario in r.
func Account(r *Report) WallTime {
	var w WallTime
	for _, s := range r.Scenarios {
		w.Faults += union(s.Windows)
		w.Deliberate += union(append(append([]Window(nil), s.Windows...), s.Holds...))
	}
	return w
}

// union is the total length covered by ws, overlaps counted once.
func union(ws []Window) time.Duration {
	if len(ws) == 0 {
		return 0
	}
	iv := append([]Window(nil), ws...)
	sort.Slice(iv, func(i, j int) bool { return iv[i].FromMs < iv[j].FromMs })
	total, from, to := 0.0, iv[0].FromMs, iv[0].ToMs
	for _, w := range iv[1:] {
		if w.FromMs > to {
			total += to - from
			from, to = w.FromMs, w.ToMs
			continue
		}
		to = max(to, w.ToMs)
	}
	total += to - from
	return time.Duration(total * float64(time.Millisecond))
}
