// Package ledger is the fault ledger: every fault is written durably before
// it is injected and marked when rolled back, so that `drdrill recover` can
// undo whatever a killed harness left injected. Chaos tools are most
// criticised for faults left behind after an abort; this is the guard.
package ledger

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/sys/unix"
)

// State of a fault.
const (
	Injecting      = "injecting" // written before Inject runs: it may be partly injected
	Injected       = "injected"
	RollingBack    = "rolling-back" // written before Rollback runs: it may be partly undone
	RolledBack     = "rolled-back"
	RollbackFailed = "rollback-failed"
)

// Entry is one fault's record. The ledger file holds one line per state
// change; the latest line for an ID wins.
type Entry struct {
	ID     string            `json:"id"`
	Fault  string            `json:"fault"`
	Params map[string]string `json:"params,omitempty"`
	State  string            `json:"state"`
	TimeNs int64             `json:"time_ns"`
	Error  string            `json:"error,omitempty"`
	By     string            `json:"by,omitempty"` // suite, cli, recover
}

// String names the entry as the stop messages and run records do:
// "region-crash (102835-region-crash-eb738a, injected)".
func (e Entry) String() string { return fmt.Sprintf("%s (%s, %s)", e.Fault, e.ID, e.State) }

// Ledger is an append-only, fsynced JSON Lines file.
type Ledger struct{ path string }

// FileName is the ledger's name inside a lab or run directory.
const FileName = "fault-ledger.jsonl"

// Open returns the ledger at dir/fault-ledger.jsonl (created on first write).
func Open(dir string) *Ledger { return &Ledger{path: filepath.Join(dir, FileName)} }

// Path is the ledger file.
func (l *Ledger) Path() string { return l.path }

// Record appends an entry and fsyncs before returning, under an exclusive
// lock so that concurrent writers (a suite and the CLI) never interleave.
func (l *Ledger) Record(e Entry) error {
	if e.TimeNs == 0 {
		e.TimeNs = time.Now().UnixNano()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("fault ledger %s: %w", l.path, err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("fault ledger %s: %w", l.path, err)
	}
	return f.Sync()
}

// Entries returns the latest state of every fault, oldest first. A missing
// ledger is empty; a torn last line is ignored; other corruption is an error.
func (l *Ledger) Entries() ([]Entry, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	latest := map[string]Entry{}
	first := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var pending error
	for n := 1; sc.Scan(); n++ {
		if pending != nil {
			return nil, pending // a bad line that was not the last one
		}
		var e Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.ID == "" {
			pending = fmt.Errorf("fault ledger %s line %d is corrupt: %v", l.path, n, err)
			continue
		}
		if _, ok := first[e.ID]; !ok {
			first[e.ID] = n
		}
		latest[e.ID] = e
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(latest))
	for _, e := range latest {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return first[out[i].ID] < first[out[j].ID] })
	return out, nil
}

// Active returns the faults that may still be injected, newest first (the
// order to roll them back in).
func (l *Ledger) Active() ([]Entry, error) {
	all, err := l.Entries()
	if err != nil {
		return nil, err
	}
	var out []Entry
	for i := len(all) - 1; i >= 0; i-- {
		if IsActive(all[i].State) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Changes returns every state change recorded from byte offset on, in the
// order written, and the offset after the last whole line: a reader that
// follows the ledger as it grows (`drdrill observe`) passes it back next
// time. A line still being written is left for then.
func (l *Ledger) Changes(offset int64) ([]Entry, int64, error) {
	f, err := os.Open(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, offset, nil
	}
	if err != nil {
		return nil, offset, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return nil, offset, err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, offset, err
	}
	var out []Entry
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return out, offset, nil
		}
		line := b[:i]
		b, offset = b[i+1:], offset+int64(i)+1
		var e Entry
		if err := json.Unmarshal(line, &e); err != nil || e.ID == "" {
			return out, offset, fmt.Errorf("fault ledger %s: a corrupt line before byte %d: %v", l.path, offset, err)
		}
		out = append(out, e)
	}
}

// IsActive says whether a fault in state may still be in place: injecting,
// injected, rolling back, or its rollback failed.
func IsActive(state string) bool {
	return state == Injecting || state == Injected || state == RollingBack || state == RollbackFailed
}
