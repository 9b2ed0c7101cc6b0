package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/target"
)

// Exit codes (README, "Exit codes").
const (
	exitVerdict   = 1   // a spec failed or an SLO was breached; a check said no
	exitUsage     = 2   // a bad flag, file or filter
	exitUnhealthy = 3   // `status`, `lab status`: the target is not healthy
	exitToolError = 4   // drdrill could not do its job
	exitTimedOut  = 124 // the suite's or a scenario's timeout (timeout(1)'s code)
	exitAborted   = 130 // `drdrill abort`, as Ctrl-C
)

// syscallTERM is SIGTERM, for the commands that stop on it.
var syscallTERM = syscall.SIGTERM

// exitForSignal is the shell's convention for a command stopped by sig.
func exitForSignal(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return exitAborted
}

// exitForSignalName is exitForSignal for a recorded signal's name.
func exitForSignalName(name string) int {
	for _, s := range abort.StopSignals {
		if signalName(s) == name {
			return exitForSignal(s)
		}
	}
	return exitAborted
}

var signalName = abort.SignalName

// stopper turns the stop signals a command receives into one stop: the
// first calls onFirst and closes Done; every later one is absorbed with a
// line saying what is being rolled back, how long it may take and what
// finishes the job if drdrill is killed anyway (only SIGKILL can stop a
// rollback, and `drdrill recover` handles that).
type stopper struct {
	sigs    chan os.Signal
	done    chan struct{}
	notice  func() string
	onFirst func(os.Signal)

	mu    sync.Mutex
	first os.Signal
	quit  chan struct{}
}

// newStopper starts catching the stop signals; notice is the message for
// every signal after the first.
func newStopper(notice func() string, onFirst func(os.Signal)) *stopper {
	s := &stopper{sigs: make(chan os.Signal, 8), done: make(chan struct{}), notice: notice, onFirst: onFirst, quit: make(chan struct{})}
	signal.Notify(s.sigs, abort.StopSignals...)
	go s.loop()
	return s
}

func (s *stopper) loop() {
	for {
		select {
		case sig := <-s.sigs:
			s.mu.Lock()
			first := s.first == nil
			if first {
				s.first = sig
			}
			prev := s.first
			s.mu.Unlock()
			if first {
				if s.onFirst != nil {
					s.onFirst(sig)
				}
				close(s.done)
				continue
			}
			fmt.Fprintf(os.Stderr, "\ndrdrill: %s again (stopping since %s): %s\n", signalName(sig), signalName(prev), s.notice())
		case <-s.quit:
			return
		}
	}
}

// Done is closed on the first stop signal.
func (s *stopper) Done() <-chan struct{} { return s.done }

// Signal is the first stop signal, or nil.
func (s *stopper) Signal() os.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.first
}

// Close stops catching: the signals' default actions apply again.
func (s *stopper) Close() {
	signal.Stop(s.sigs)
	close(s.quit)
}

// rollbackNotice says what the ledger shows as still injected, how long
// undoing it may take on the target, and the command that finishes the job
// if drdrill is killed anyway.
func rollbackNotice(l *ledger.Ledger, b target.Bounds, kind, recoverCmd string) string {
	return abort.Notice(l, kind, b.Recover, recoverCmd)
}

// recoverCommand is the exact `drdrill recover` for a ledger directory.
func recoverCommand(dir, outputsFile string) string {
	if outputsFile != "" {
		return "drdrill recover --outputs " + outputsFile
	}
	return "drdrill recover --dir " + dir
}

// shieldRollback absorbs stop signals while a rollback runs (recover,
// fault rollback): a rollback stopped half-way is worse than one finished.
func shieldRollback(l *ledger.Ledger, b target.Bounds, kind, recoverCmd string) func() {
	s := newStopper(func() string { return rollbackNotice(l, b, kind, recoverCmd) }, func(sig os.Signal) {
		fmt.Fprintf(os.Stderr, "\ndrdrill: %s: the rollback finishes first; %s\n", signalName(sig), rollbackNotice(l, b, kind, recoverCmd))
	})
	return s.Close
}

// supervisorContext is the context of a foreground supervisor (`lab run`,
// `twin run`): SIGHUP (a closed terminal) and SIGQUIT stop it in order,
// as SIGINT and SIGTERM do, instead of killing it with its servers and
// the twin's functions left behind.
func supervisorContext() context.Context {
	ctx, _ := signal.NotifyContext(context.Background(), syscall.SIGHUP, syscall.SIGQUIT)
	return ctx
}

// pollEvery is a ticker channel, or nil (never) for d <= 0.
func pollEvery(d time.Duration) (<-chan time.Time, func()) {
	if d <= 0 {
		return nil, func() {}
	}
	t := time.NewTicker(d)
	return t.C, t.Stop
}
