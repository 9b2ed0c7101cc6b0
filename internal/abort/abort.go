// Package abort is the remote stop for a drill running elsewhere, as AWS
// FIS's StopExperiment is for an experiment: `drdrill abort` writes a
// request beside the fault ledger (the directory `drdrill recover` uses),
// and whatever holds faults there — a drill's suite, `drdrill fault inject
// --for` — polls it, starts no new fault, rolls back and ends with status
// aborted. The holders register in the same directory, so `abort` can say
// who it asked and see them acknowledge.
package abort

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// RequestFile is the abort request inside a ledger directory.
const RequestFile = "abort-request.json"

// Environment `drdrill drill` passes its suites.
const (
	// DrillPIDEnv is the drdrill process that runs the suite: if it
	// disappears (kill -9), the suite stops as on an interrupt instead of
	// drilling on unwatched.
	DrillPIDEnv = "DRDRILL_DRILL_PID"
	// DrillStartEnv is when the drill began (Unix ns): an abort request
	// from then on is this run's, an older one an earlier run's.
	DrillStartEnv = "DRDRILL_DRILL_STARTED_NS"
)

// RunningDir holds one file per process that holds faults in a ledger
// directory and honours abort requests.
const RunningDir = "running"

// Request is an abort request.
type Request struct {
	RequestedNs int64  `json:"requested_ns"`
	By          string `json:"by"`
	Reason      string `json:"reason,omitempty"`
}

func (r Request) String() string {
	s := fmt.Sprintf("abort requested by %s at %s", r.By, time.Unix(0, r.RequestedNs).Format(time.TimeOnly))
	if r.Reason != "" {
		s += " (" + r.Reason + ")"
	}
	return s
}

// Holder is a process that holds faults in a ledger directory.
type Holder struct {
	PID       int    `json:"pid"`
	StartedNs int64  `json:"started_ns"`
	What      string `json:"what"`
	// AbortingNs is set once the holder has seen a request and is rolling back.
	AbortingNs int64 `json:"aborting_ns,omitempty"`
	// ProcStart tells this process from a later one with the same pid.
	ProcStart string `json:"proc_start,omitempty"`
}

// Write records an abort request in dir.
func Write(dir string, r Request) error {
	if r.RequestedNs == 0 {
		r.RequestedNs = time.Now().UnixNano()
	}
	if r.By == "" {
		r.By = Requester()
	}
	return writeJSON(filepath.Join(dir, RequestFile), r)
}

// Requester names who asks: user@host, pid.
func Requester() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s@%s (pid %d)", name, host, os.Getpid())
}

// Read returns the request in dir, if any.
func Read(dir string) (Request, bool, error) {
	var r Request
	b, err := os.ReadFile(filepath.Join(dir, RequestFile))
	if errors.Is(err, os.ErrNotExist) {
		return r, false, nil
	}
	if err != nil {
		return r, false, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, false, fmt.Errorf("abort request %s is corrupt: %w", filepath.Join(dir, RequestFile), err)
	}
	return r, true, nil
}

// Pending returns a request made at or after since: an older one was for
// an earlier run, and is not this one's to honour.
func Pending(dir string, since time.Time) (Request, bool) {
	r, ok, err := Read(dir)
	if err != nil || !ok || r.RequestedNs < since.UnixNano() {
		return Request{}, false
	}
	return r, true
}

// Registration is this process's entry in a ledger directory's holders.
type Registration struct {
	path string
	h    Holder
}

// Register records this process as holding faults in dir until Close.
func Register(dir, what string) (*Registration, error) {
	h := Holder{PID: os.Getpid(), StartedNs: time.Now().UnixNano(), What: what, ProcStart: ProcStart(os.Getpid())}
	r := &Registration{path: filepath.Join(dir, RunningDir, strconv.Itoa(h.PID)+".json"), h: h}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return nil, err
	}
	return r, writeJSON(r.path, h)
}

// Acknowledge marks the holder as aborting, for `drdrill abort` to report.
func (r *Registration) Acknowledge() {
	if r == nil || r.h.AbortingNs != 0 {
		return
	}
	r.h.AbortingNs = time.Now().UnixNano()
	_ = writeJSON(r.path, r.h)
}

// Close removes the registration.
func (r *Registration) Close() {
	if r != nil {
		_ = os.Remove(r.path)
	}
}

// Holders lists the live processes holding faults in dir, oldest first;
// entries of processes that are gone are removed.
func Holders(dir string) []Holder {
	ents, _ := os.ReadDir(filepath.Join(dir, RunningDir))
	var out []Holder
	for _, e := range ents {
		p := filepath.Join(dir, RunningDir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var h Holder
		if json.Unmarshal(b, &h) != nil || !Alive(h.PID, h.ProcStart) {
			_ = os.Remove(p)
			continue
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].StartedNs < out[j].StartedNs })
	return out
}

// Alive reports whether pid runs (not a zombie) and, when start is given,
// is the same process that had that start time.
func Alive(pid int, start string) bool {
	if pid <= 0 || syscall.Kill(pid, 0) == syscall.ESRCH {
		return false
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: kill(0) said it exists
	}
	f := statFields(st)
	if len(f) > 19 && f[0] == "Z" {
		return false
	}
	return start == "" || len(f) <= 19 || f[19] == start
}

// ProcStart is the process's start time in clock ticks since boot (field
// 22 of /proc/PID/stat), which tells it from a later process with its pid.
func ProcStart(pid int) string {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	if f := statFields(st); len(f) > 19 {
		return f[19]
	}
	return ""
}

// statFields are /proc/PID/stat's fields after the command name: state first.
func statFields(st []byte) []string {
	s := string(st)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Fields(s)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
