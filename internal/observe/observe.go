// Package observe is drdrill as the measuring instrument of a game day:
// it runs the workload, the readers and the heartbeat against a target and
// records the target's own events and every change in the fault ledger,
// while people, scripts, AWS FIS or ARC inject faults. It injects nothing.
// The history it writes is marked observed, so the checker derives its
// disruption windows from every source — the ledger, the control plane,
// the writes that failed — and measures each like a drill's fault
// (docs/measures.md, "Disruption windows").
package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/heartbeat"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/live"
	"github.com/drdrill/drdrill/internal/scenario"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/workload"
)

// Scenario is the name of an observation's scenario directory and its
// scenario in the report and the policy.
const Scenario = "observe"

// Options configure an observation.
type Options struct {
	Target target.Target
	// Ledger is the target's fault ledger, followed while observing.
	Ledger *ledger.Ledger
	// RunDir receives the history (RunDir/observe/history.jsonl) and a copy
	// of the ledger's changes (RunDir/fault-ledger.jsonl).
	RunDir  string
	RunID   string
	Rate    float64
	Writers int
	Seed    int64
	// Every is how often the ledger is read and the target's own
	// observations (AWS: alarms, health checks, the lag metric) sampled.
	Every time.Duration
	// Live, when set, is where the running observation's progress is
	// published for `drdrill status` (scenario.Options.Live).
	Live string
	Logf func(format string, args ...any)
}

// Session is an observation in progress.
type Session struct {
	opt   Options
	sc    *scenario.Scenario
	start time.Time

	mu      sync.Mutex
	offset  int64             // in the ledger file
	lines   []ledger.Entry    // the ledger's changes seen, to copy into the run
	seen    map[string]string // each fault's last state recorded in the history
	faults  int               // faults seen injected
	follow  chan struct{}
	stopped sync.WaitGroup
}

// Start begins the traffic and follows the ledger. The faults the ledger
// shows injected already are recorded first, at the times they were
// injected (before the history began: their windows start there).
func Start(ctx context.Context, opt Options) (*Session, error) {
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.Writers <= 0 {
		opt.Writers = 8
	}
	if opt.Every <= 0 {
		opt.Every = time.Second
	}
	s := &Session{opt: opt, seen: map[string]string{}, follow: make(chan struct{}), start: time.Now()}
	// What the ledger holds before the observation: the faults still
	// injected are part of it, the others are history.
	before, end, err := opt.Ledger.Changes(0)
	if err != nil {
		return nil, err
	}
	s.offset = end
	sc, err := scenario.Start(ctx, opt.Target, scenario.Options{Dir: filepath.Join(opt.RunDir, Scenario), Run: opt.RunID, Name: Scenario,
		Observed: true, Ledger: opt.Ledger, ObserveEvery: opt.Every, Live: opt.Live, Progress: live.Progress{What: "observe " + opt.RunID},
		Workload:  workload.Config{Rate: opt.Rate, Writers: opt.Writers, Seed: opt.Seed},
		Heartbeat: heartbeat.Config{Seed: opt.Seed + 1}, Logf: opt.Logf})
	if err != nil {
		return nil, err
	}
	s.sc = sc
	latest := map[string]ledger.Entry{}
	for _, e := range before {
		latest[e.ID] = e
	}
	for _, e := range before {
		if ledger.IsActive(latest[e.ID].State) {
			s.record(e)
		}
	}
	for _, e := range latest {
		if ledger.IsActive(e.State) {
			opt.Logf("%s is already injected when the observation began: its window starts at its injection, with no baseline before it (start observe first to measure lag and reads before a fault)", e)
		}
	}
	s.stopped.Add(1)
	go s.followLedger()
	return s, nil
}

// EventKind is the history event a ledger state change becomes: the first
// "injecting" of a fault is its inject, the first "rolling-back" its
// rollback (what a drill records), the rest are kept as they are named.
func eventKind(state, prev string) string {
	switch {
	case state == ledger.Injecting && prev == "":
		return "inject"
	case state == ledger.Injecting:
		return "" // the fault recording what it changed so far
	case state == ledger.RollingBack && prev != ledger.RollingBack:
		return "rollback"
	case state == ledger.RollingBack:
		return ""
	}
	return state
}

// record puts one ledger change into the history as a ledger event.
func (s *Session) record(e ledger.Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, e)
	prev := s.seen[e.ID]
	if prev == "" && e.State != ledger.Injecting {
		// A fault whose injection began before the ledger was read (its
		// first line is older): it was injected by then.
		s.sc.Recorder().Event(history.Event{At: s.sc.Recorder().WallToRel(e.TimeNs), Source: check.SourceLedger, Kind: "inject",
			Fault: e.Fault, ID: e.ID, Region: e.Params["region"], Detail: "by " + e.By + " (seen " + e.State + ")"})
		prev = ledger.Injecting
		s.faults++
	}
	kind := eventKind(e.State, prev)
	s.seen[e.ID] = e.State
	if kind == "" {
		return
	}
	if kind == "inject" {
		s.faults++
		s.opt.Logf("%s: %s injected by %s %v", time.Unix(0, e.TimeNs).Format("15:04:05.000"), e.Fault, e.By, e.Params)
	} else {
		s.opt.Logf("%s: %s %s", time.Unix(0, e.TimeNs).Format("15:04:05.000"), e.Fault, e.State)
	}
	detail := "by " + e.By
	if e.Error != "" {
		detail += ": " + e.Error
	}
	s.sc.Recorder().Event(history.Event{At: s.sc.Recorder().WallToRel(e.TimeNs), Source: check.SourceLedger, Kind: kind,
		Fault: e.Fault, ID: e.ID, Region: e.Params["region"], Detail: detail})
}

func (s *Session) followLedger() {
	defer s.stopped.Done()
	t := time.NewTicker(min(s.opt.Every, 100*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.follow:
			return
		case <-t.C:
			s.readLedger()
		}
	}
}

func (s *Session) readLedger() {
	s.mu.Lock()
	off := s.offset
	s.mu.Unlock()
	changes, next, err := s.opt.Ledger.Changes(off)
	if err != nil {
		s.opt.Logf("fault ledger: %v", err)
	}
	for _, e := range changes {
		s.record(e)
	}
	s.mu.Lock()
	s.offset = next
	s.mu.Unlock()
}

// Faults is how many faults the ledger showed injected so far.
func (s *Session) Faults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Workload is the running workload.
func (s *Session) Workload() *workload.Workload { return s.sc.Workload() }

// Finish ends the observation: the ledger read one last time, the traffic
// stopped (its section complete with every ledger change seen), every
// region read, the target's events copied in, the history checked; the
// ledger's changes are copied beside the history. It returns what the
// checker found.
func (s *Session) Finish(ctx context.Context) (check.Result, error) {
	close(s.follow)
	s.stopped.Wait()
	s.readLedger()
	s.sc.StopTraffic()
	if err := s.sc.FinalRead(ctx); err != nil {
		s.opt.Logf("final read: %v", err)
	}
	res, err := s.sc.Finish(ctx)
	if werr := s.writeLedger(); werr != nil && err == nil {
		err = werr
	}
	return res, err
}

// writeLedger copies the ledger's changes during the observation (and the
// faults injected when it began) into the run directory, where the
// report lists them.
func (s *Session) writeLedger() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.Create(filepath.Join(s.opt.RunDir, ledger.FileName))
	if err != nil {
		return err
	}
	for _, e := range s.lines {
		b, _ := json.Marshal(e)
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return fmt.Errorf("copying the fault ledger: %w", err)
		}
	}
	return f.Close()
}
