package history

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// FlushInterval bounds what a harness crash can lose: the recorder flushes
// and fsyncs at least this often.
const FlushInterval = 100 * time.Millisecond

// Recorder appends to a history file. It is safe for concurrent use.
type Recorder struct {
	start time.Time // carries the monotonic reading
	meta  Meta

	mu     sync.Mutex
	f      *os.File
	w      *bufio.Writer
	enc    *Encoder
	closed bool
	done   chan struct{}
	wg     sync.WaitGroup
}

// Create starts a history at path with the given metadata.
func Create(path string, meta Meta) (*Recorder, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	r := &Recorder{start: time.Now(), f: f, w: bufio.NewWriterSize(f, 256<<10), done: make(chan struct{})}
	meta.Version = Version
	meta.StartWall = r.start.UnixNano()
	r.meta = meta
	r.enc = NewEncoder(r.w, meta)
	if err := r.enc.Err(); err != nil {
		f.Close()
		return nil, err
	}
	r.wg.Add(1)
	go r.flusher()
	return r, nil
}

// Meta returns the history's metadata (with its start time).
func (r *Recorder) Meta() Meta { return r.meta }

// Now is the current time on the history's monotonic clock.
func (r *Recorder) Now() int64 { return int64(time.Since(r.start)) }

// Rel converts a time.Time (with monotonic reading) to the history's clock.
func (r *Recorder) Rel(t time.Time) int64 { return int64(t.Sub(r.start)) }

// WallToRel converts wall-clock nanoseconds (from another process) to the history's clock.
func (r *Recorder) WallToRel(wallNs int64) int64 { return r.meta.WallToRel(wallNs) }

func (r *Recorder) flusher() {
	defer r.wg.Done()
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
			_ = r.Sync()
		}
	}
}

// Sync flushes buffered lines and fsyncs the file.
func (r *Recorder) Sync() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.enc.err
	}
	if err := r.w.Flush(); err != nil && r.enc.err == nil {
		r.enc.err = err
	}
	if err := r.f.Sync(); err != nil && r.enc.err == nil {
		r.enc.err = err
	}
	return r.enc.err
}

// with runs fn on the encoder under the lock, unless the history is closed.
func (r *Recorder) with(fn func(e *Encoder)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("history closed")
	}
	fn(r.enc)
	return r.enc.err
}

// Op records one completed operation.
func (r *Recorder) Op(op Op) {
	r.mu.Lock()
	if !r.closed {
		r.enc.Op(op)
	}
	r.mu.Unlock()
}

// Lag records a lag sample.
func (r *Recorder) Lag(s LagSample) { _ = r.with(func(e *Encoder) { e.Lag(s) }) }

// Read records one reader's read.
func (r *Recorder) Read(rd ReadOp) { _ = r.with(func(e *Encoder) { e.Read(rd) }) }

// Event records a fault or control-plane event.
func (r *Recorder) Event(ev Event) { _ = r.with(func(e *Encoder) { e.Event(ev) }) }

// Rows records a region's final read, chunked so no line gets huge, then
// its end marker with the number of rows.
func (r *Recorder) Rows(set RowSet) error { return r.with(func(e *Encoder) { e.Rows(set) }) }

// EndTraffic marks the traffic section whole: the workload, readers and
// heartbeat have stopped, and every operation, read and lag sample they
// recorded is in the history (the marker says how many).
func (r *Recorder) EndTraffic() error { return r.with(func(e *Encoder) { e.EndTraffic(r.Now()) }) }

// EndFinalRead marks the final read whole: every region was read (n of
// them), skipped or failed, and each is recorded.
func (r *Recorder) EndFinalRead(n int) error {
	return r.with(func(e *Encoder) { e.EndFinalRead(r.Now(), n) })
}

// EndControllerEvents marks the controller events whole (n of them), or
// records that the target could not list them (err).
func (r *Recorder) EndControllerEvents(n int, err error) error {
	return r.with(func(e *Encoder) { e.EndControllerEvents(r.Now(), n, err) })
}

// Close flushes, fsyncs and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return r.enc.err
	}
	r.mu.Unlock()
	close(r.done)
	r.wg.Wait()
	err := r.Sync()
	r.mu.Lock()
	r.closed = true
	if cerr := r.f.Close(); err == nil {
		err = cerr
	}
	r.mu.Unlock()
	return err
}
