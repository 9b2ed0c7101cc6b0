package history

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
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
	buf    []byte
	err    error
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
	if err := r.writeJSON("meta", meta); err != nil {
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
		return r.err
	}
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = err
	}
	if err := r.f.Sync(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

func (r *Recorder) writeLine(b []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("history closed")
	}
	if _, err := r.w.Write(b); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

func (r *Recorder) writeJSON(kind string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// {"t":"kind", + the object's fields
	line := make([]byte, 0, len(b)+16)
	line = append(line, `{"t":"`...)
	line = append(line, kind...)
	line = append(line, `"`...)
	if len(b) > 2 {
		line = append(line, ',')
		line = append(line, b[1:]...)
	} else {
		line = append(line, '}')
	}
	line = append(line, '\n')
	return r.writeLine(line)
}

// Op records one completed operation. It is on the workload's hot path, so
// the line is built by hand.
func (r *Recorder) Op(op Op) {
	r.mu.Lock()
	b := r.buf[:0]
	b = append(b, `{"t":"op","w":`...)
	b = strconv.AppendInt(b, int64(op.Writer), 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, op.Seq, 10)
	b = append(b, `,"i":`...)
	b = strconv.AppendInt(b, op.Invoke, 10)
	b = append(b, `,"c":`...)
	b = strconv.AppendInt(b, op.Complete, 10)
	b = append(b, `,"r":"`...)
	b = append(b, op.Outcome.String()...)
	b = append(b, '"')
	if op.Err != "" {
		b = append(b, `,"e":`...)
		b = strconv.AppendQuote(b, op.Err)
	}
	b = append(b, "}\n"...)
	r.buf = b
	if !r.closed {
		if _, err := r.w.Write(b); err != nil && r.err == nil {
			r.err = err
		}
	}
	r.mu.Unlock()
}

// Lag records a lag sample.
func (r *Recorder) Lag(s LagSample) { _ = r.writeJSON("lag", s) }

// Read records one reader's read.
func (r *Recorder) Read(rd ReadOp) {
	_ = r.writeJSON("read", readLine{ReadOp: rd, R: rd.Outcome.String()})
}

type readLine struct {
	ReadOp
	R string `json:"r"`
}

// Event records a fault or control-plane event.
func (r *Recorder) Event(e Event) { _ = r.writeJSON("event", e) }

// Rows records a region's final read, chunked so no line gets huge.
func (r *Recorder) Rows(set RowSet) error {
	const chunk = 20000
	for i := 0; i == 0 || i < len(set.Rows); i += chunk {
		end := min(i+chunk, len(set.Rows))
		rows := make([][4]int64, 0, end-i)
		for _, x := range set.Rows[i:end] {
			rows = append(rows, [4]int64{int64(x.Writer), x.Seq, int64(x.Origin), x.CommittedAt})
		}
		if err := r.writeJSON("rows", rowsLine{RowSet: set, Rows: rows}); err != nil {
			return err
		}
	}
	return nil
}

type rowsLine struct {
	RowSet
	Rows [][4]int64 `json:"rows"`
}

// Close flushes, fsyncs and closes the file.
func (r *Recorder) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return r.err
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
