package check

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

// The checker's budget is 1,000,000 operations in 1.5 s and 250 MB on two
// cores (`make bench` prints checker_1m_ops_ms and checker_peak_rss_mb). A
// timed test would flake on a busy machine, so CI guards what drives both
// and does not depend on the machine: the bytes and allocations that
// reading and checking a fixed history cost per operation.
const (
	// 195 measured on 2026-12-04 with the stale-read pass (its index of
	// acknowledgements by seq, 8 bytes a write), the report's visibility
	// plot and each visibility's bounds (two more floats per acknowledged
	// write); 170 before them, 137 without reads, 409 before the reader
	// and rto changes. make bench: 1M operations in ~1.1 s and 195 MB.
	budgetBytesPerOp  = 200
	budgetAllocsPerOp = 0.03
)

func TestCheckerAllocationBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.jsonl")
	const writers, perWriter = 4, 25_000
	if err := history.WriteSynthetic(path, writers, perWriter); err != nil {
		t.Fatal(err)
	}
	ops := float64(writers * perWriter)
	run := func() Result {
		h, err := history.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The report's path: every pass, and the visibility kept for plots.
		return Check(h, Config{KeepVisibility: true})
	}
	run() // warm: first-use allocations are not per operation
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := run()
	runtime.ReadMemStats(&after)
	// 30 ms of 4 writers' writes before the crash are missing from the
	// new primary; the fenced old primary serves stale reads until it
	// rejoins (see history.WriteSynthetic). Each pass ran.
	if r.Ops.Total != writers*perWriter || !r.RPO.Judged || r.RPO.LostWrites != 4*30 {
		t.Fatalf("the synthetic history was not checked as expected: %s", r.Summary())
	}
	if !r.Reads.StaleJudged || r.Reads.StaleAfterPromotion == 0 || r.Reads.Vanished == 0 || len(r.VisibilitySamples["us-west-2"]) == 0 || r.ReprotectMs == nil {
		t.Fatalf("a pass did not run on the synthetic history: stale %d (judged %v), vanished %d, %d visibility points, re-protection %v",
			r.Reads.StaleAfterPromotion, r.Reads.StaleJudged, r.Reads.Vanished, len(r.VisibilitySamples["us-west-2"]), r.ReprotectMs)
	}
	bytesPerOp := float64(after.TotalAlloc-before.TotalAlloc) / ops
	allocsPerOp := float64(after.Mallocs-before.Mallocs) / ops
	t.Logf("read + check: %.1f bytes/op, %.3f allocations/op", bytesPerOp, allocsPerOp)
	if bytesPerOp > budgetBytesPerOp {
		t.Errorf("reading and checking allocate %.1f bytes per operation; the budget is %d (1M operations must stay under 250 MB peak)", bytesPerOp, budgetBytesPerOp)
	}
	if allocsPerOp > budgetAllocsPerOp {
		t.Errorf("reading and checking make %.3f allocations per operation; the budget is %g", allocsPerOp, budgetAllocsPerOp)
	}
}
