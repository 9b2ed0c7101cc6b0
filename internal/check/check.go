// Package check judges a history: which acknowledged writes were lost (RPO),
// how long until writes succeeded and kept succeeding (RTO), which rows were
// written by a primary that should no longer have been one (zombies), how
// far replication lagged, what the readers saw, and when the stack was
// protected again. Everything here is a pure function of the history, so a
// stored run can be re-checked by a later drdrill; docs/measures.md defines
// every figure, and internal/refcheck computes each the plain way so that
// the tests can hold this checker to it.
//
// Check builds the shared analysis once (analysis.go), then runs one small
// property function per file over it, as etcd's robustness validation does.
package check

import (
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// Config tunes the checks.
type Config struct {
	// StabilityWindow is how long writes must keep succeeding before the
	// stack counts as recovered (default 2 s), as in Resilience Hub.
	StabilityWindow time.Duration
	// Examples caps the lost/zombie/unexpected rows listed (default 20).
	Examples int
	// KeepVisibility keeps every acknowledged write's visibility latency
	// per region in Result.VisibilitySamples, for plotting.
	KeepVisibility bool
}

// DefaultStabilityWindow is how long writes must keep succeeding before
// the stack counts as recovered, unless Config says otherwise.
const DefaultStabilityWindow = 2 * time.Second

// Check runs every check over h.
func Check(h *history.History, cfg Config) Result {
	if cfg.StabilityWindow <= 0 {
		cfg.StabilityWindow = DefaultStabilityWindow
	}
	if cfg.Examples <= 0 {
		cfg.Examples = 20
	}
	var r Result
	r.Divergent, r.Missing = map[string]int{}, map[string]int{}
	if h.Torn {
		r.Notes = append(r.Notes, "history: "+h.TornNote)
	}
	a := newAnalysis(h, cfg, &r)
	for _, property := range []func(*analysis){
		lostWrites, unknownOutcomes, failoverLoss, zombies, divergence,
		rto, reprotect, windows, lag, ackedRate, hypothesis, reads,
	} {
		property(a)
	}
	a.timelineUnknown()
	return r
}
