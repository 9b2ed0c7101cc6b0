package workload

import (
	"sync"

	"github.com/drdrill/drdrill/internal/history"
)

// outcomes remembers every write's outcome by (writer, seq), one byte each,
// so that readers can tell an acknowledged write they have not seen yet
// from one that failed and never will be seen.
type outcomes struct {
	first  int
	writer []writerOutcomes
}

type writerOutcomes struct {
	mu  sync.Mutex
	out []history.Outcome // index seq-1; 0 while in flight
}

func newOutcomes(first, writers int) *outcomes {
	return &outcomes{first: first, writer: make([]writerOutcomes, writers)}
}

func (o *outcomes) of(writer int) *writerOutcomes {
	i := writer - o.first
	if i < 0 || i >= len(o.writer) {
		return nil
	}
	return &o.writer[i]
}

func (o *outcomes) set(writer int, seq int64, out history.Outcome) {
	w := o.of(writer)
	if w == nil || seq < 1 {
		return
	}
	w.mu.Lock()
	for int64(len(w.out)) < seq {
		w.out = append(w.out, 0)
	}
	w.out[seq-1] = out
	w.mu.Unlock()
}

func (o *outcomes) get(writer int, seq int64) history.Outcome {
	w := o.of(writer)
	if w == nil || seq < 1 {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if seq > int64(len(w.out)) {
		return 0
	}
	return w.out[seq-1]
}

// Outcome is the outcome of write (writer, seq) so far: 0 while it is
// scheduled or in flight, or for a write this workload does not own.
func (w *Workload) Outcome(writer int, seq int64) history.Outcome { return w.outcomes.get(writer, seq) }

// Frontier is the highest seq scheduled so far for writer (0 before its first).
func (w *Workload) Frontier(writer int) int64 {
	i := writer - w.cfg.FirstWriter
	if i < 0 || i >= len(w.frontier) {
		return 0
	}
	return w.frontier[i].Load()
}

// Writers are the writer ids this workload owns: first, first+1, … first+n-1.
func (w *Workload) Writers() (first, n int) { return w.cfg.FirstWriter, w.cfg.Writers }

// PerWriterRate is each writer's scheduled writes per second.
func (w *Workload) PerWriterRate() float64 { return w.cfg.Rate / float64(w.cfg.Writers) }
