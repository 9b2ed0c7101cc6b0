package framework

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/target"
)

// stopGuard turns every way a drill can be asked to stop — a signal, a
// `drdrill abort` request, the drdrill that runs the suite disappearing —
// into exactly one Ginkgo interrupt: the running spec's context is
// cancelled and its cleanups roll its faults back. Ginkgo skips cleanup on
// a second interrupt, so after the first the guard takes SIGINT and
// SIGTERM from Ginkgo and absorbs every further signal, saying what is
// being rolled back, for how long at most, and how to finish the job if
// the process is killed anyway.
type stopGuard struct {
	d          *Drill
	ledgerDir  string
	recoverCmd string
	since      time.Time
	sigs       chan os.Signal
	reg        *abort.Registration
	parentPID  int
	parentAt   string // the parent's start, to tell it from a later process with its pid

	mu   sync.Mutex
	stop *report.Stop
	// selfSent: the guard sent itself the SIGINT Ginkgo needs; the next
	// SIGINT the guard receives is that one.
	selfSent bool
}

// guardStops starts the guard for d (from Setup, once Ginkgo's own
// handler is installed).
func guardStops(d *Drill, ledgerDir, recoverCmd string) *stopGuard {
	g := &stopGuard{d: d, ledgerDir: ledgerDir, recoverCmd: recoverCmd, since: time.Now(), sigs: make(chan os.Signal, 8)}
	if ns, err := strconv.ParseInt(os.Getenv(abort.DrillStartEnv), 10, 64); err == nil && ns > 0 {
		g.since = time.Unix(0, ns)
	}
	if pid, err := strconv.Atoi(os.Getenv(abort.DrillPIDEnv)); err == nil && pid > 0 {
		g.parentPID, g.parentAt = pid, abort.ProcStart(pid)
	}
	// Ginkgo's test process handles only SIGINT and SIGTERM: a SIGHUP
	// would kill it outright, a SIGQUIT dump its goroutines and exit, with
	// faults in place.
	signal.Notify(g.sigs, abort.StopSignals...)
	var err error
	if g.reg, err = abort.Register(ledgerDir, "drill suite, run "+filepath.Base(d.RunDir)); err != nil {
		GinkgoWriter.Printf("abort: cannot register in %s (%v): `drdrill abort` will not find this drill\n", ledgerDir, err)
	}
	go g.watch(target.BoundsOf(d.Target).StopPoll)
	return g
}

func (g *stopGuard) watch(poll time.Duration) {
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case s := <-g.sigs:
			g.mu.Lock()
			self := g.selfSent && s == syscall.SIGINT
			if self {
				g.selfSent = false
			}
			g.mu.Unlock()
			if self {
				g.takeSignalsFromGinkgo()
				continue
			}
			g.signalled(s)
		case <-tick.C:
			if r, ok := abort.Pending(g.ledgerDir, g.since); ok {
				g.stopNow(report.Stop{Cause: "abort", By: r.By}, nil)
				g.reg.Acknowledge() // the first stop or a later one: acknowledged once here
			}
			if g.parentPID > 0 && !abort.Alive(g.parentPID, g.parentAt) {
				g.stopNow(report.Stop{Cause: "parent-gone"}, nil)
			}
		}
	}
}

func (g *stopGuard) signalled(s os.Signal) {
	if g.stopping() != nil {
		fmt.Fprintf(os.Stderr, "\n[stop] %s again: already stopping; %s\n", abort.SignalName(s), g.notice())
		return
	}
	g.stopNow(report.Stop{Cause: "signal", Signal: abort.SignalName(s)}, s)
}

// stopNow records the first stop and interrupts Ginkgo once; later causes
// only add a line.
func (g *stopGuard) stopNow(st report.Stop, sig os.Signal) {
	g.mu.Lock()
	if g.stop != nil {
		g.mu.Unlock()
		return
	}
	sr := CurrentSpecReport()
	st.AtNs = time.Now().UnixNano()
	st.Scenario = scenarioOf(sr)
	st.Spec = sr.FullText()
	st.Step = currentStep(sr)
	st.Faults = activeFaults(g.ledgerDir)
	g.stop = &st
	g.mu.Unlock()
	if err := report.WriteStop(g.d.RunDir, st); err != nil {
		fmt.Fprintf(os.Stderr, "[stop] cannot record the stop in %s: %v\n", g.d.RunDir, err)
	}
	m := report.RunMeta{Status: report.StatusFor(&st), Stop: &st}
	fmt.Fprintf(os.Stderr, "\n[stop] %s: the running spec is interrupted; its cleanups roll its faults back (%s), no further fault or scenario starts\n",
		m.StatusLine(), orNone(st.Faults))
	if sig == syscall.SIGINT || sig == syscall.SIGTERM {
		// Ginkgo's own handler received this one too.
		g.takeSignalsFromGinkgo()
		return
	}
	g.mu.Lock()
	g.selfSent = true
	g.mu.Unlock()
	_ = syscall.Kill(os.Getpid(), syscall.SIGINT)
}

// takeSignalsFromGinkgo leaves SIGINT and SIGTERM to the guard alone:
// signal.Ignore removes every channel's registration (Ginkgo's among
// them), and the guard registers again.
func (g *stopGuard) takeSignalsFromGinkgo() {
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(g.sigs, syscall.SIGINT, syscall.SIGTERM)
}

// stopping returns the stop, once there is one.
func (g *stopGuard) stopping() *report.Stop {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stop
}

// notice says what is being rolled back, how long it may take on this
// target, and what finishes the job if the process is killed anyway.
func (g *stopGuard) notice() string {
	return abort.Notice(ledger.Open(g.ledgerDir), g.d.Target.Kind(), target.BoundsOf(g.d.Target).Recover, g.recoverCmd)
}

// finish records, once the suite's cleanups have run, what the ledger
// still shows (nothing, if every rollback worked).
func (g *stopGuard) finish() {
	g.reg.Close()
	st := g.stopping()
	if st == nil {
		return
	}
	g.mu.Lock()
	st.LeftInjected = activeFaults(g.ledgerDir)
	s := *st
	g.mu.Unlock()
	_ = report.WriteStop(g.d.RunDir, s)
	if len(s.LeftInjected) > 0 {
		fmt.Fprintf(os.Stderr, "[stop] STILL INJECTED after the cleanups: %s — run %s\n", strings.Join(s.LeftInjected, ", "), g.recoverCmd)
	}
}

// refuseNewFault fails the spec instead of injecting once the drill is
// stopping.
func (g *stopGuard) refuseNewFault(name string) {
	if st := g.stopping(); st != nil {
		m := report.RunMeta{Status: report.StatusFor(st), Stop: st}
		Fail(fmt.Sprintf("not injecting %s: the drill is stopping (%s)", name, m.StatusLine()))
	}
}

func activeFaults(ledgerDir string) []string { return abort.Active(ledger.Open(ledgerDir)) }

// scenarioOf is the scenario a spec belongs to: its first label (each
// scenario's Describe is labelled with its name first).
func scenarioOf(sr types.SpecReport) string {
	if l := sr.Labels(); len(l) > 0 {
		return l[0]
	}
	return sr.LeafNodeText
}

// currentStep is the spec's latest By step.
func currentStep(sr types.SpecReport) string {
	for i := len(sr.SpecEvents) - 1; i >= 0; i-- {
		if e := sr.SpecEvents[i]; e.SpecEventType == types.SpecEventByStart {
			return e.Message
		}
	}
	return ""
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none injected"
	}
	return strings.Join(s, ", ")
}
