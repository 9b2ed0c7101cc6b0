package framework

import (
	"context"
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/scenario"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/workload"
)

// Scenario is a scenario's measurement (scenario.Scenario) as the suites
// drive it, with the waits that keep its history judgeable built into the
// steps that end it, so no scenario has to remember them:
//
//   - the traffic stops (FinalRead, StopTraffic, Finish) only once no
//     write has failed for the checker's stability window, or RTO could
//     not be measured for a stack that recovered;
//   - Finish closes the history only once every region that lost sync
//     with the primary is in sync again, so that time to re-protection is
//     in it.
type Scenario struct {
	*scenario.Scenario
	d *Drill
	// events is the target's last event before the scenario began.
	events  int
	stopped bool
}

// RecoveryMargin is how much longer than the stability window the traffic
// runs after the last failed write: the recovering write completes a
// moment after the failure it follows, and the window counts from it.
const RecoveryMargin = 250 * time.Millisecond

// FinalRead covers the stability window, stops the traffic and reads every
// region (scenario.Scenario.FinalRead).
func (s *Scenario) FinalRead(ctx context.Context) error {
	s.StopTraffic(ctx)
	return s.Scenario.FinalRead(ctx)
}

// StopTraffic covers the stability window and stops the traffic.
func (s *Scenario) StopTraffic(ctx context.Context) workload.Stats {
	if !s.stopped {
		s.coverRecovery(ctx)
		s.stopped = true
	}
	return s.Scenario.StopTraffic()
}

// Finish covers the stability window if the traffic still runs, waits for
// re-protection, and checks the history (scenario.Scenario.Finish).
func (s *Scenario) Finish(ctx context.Context) (check.Result, error) {
	s.StopTraffic(ctx)
	s.d.WaitReprotected(ctx, s.events)
	return s.Scenario.Finish(ctx)
}

// coverRecovery keeps the traffic running, while writes have failed, until
// none has for the checker's stability window: RTO is the first success
// from which every write for a whole window succeeded, and a history that
// ends before that window after the last failure reads "not recovered"
// for a stack that recovered (writes stuck on a frozen or fenced server
// fail up to their timeout after the writer has moved: partition #5 of a
// REPEAT=8 run, region-freeze before HoldStable). It holds at most a
// promotion's bound: a stack still failing writes by then has not
// recovered, and the checker says so. It never decides recovery.
func (s *Scenario) coverRecovery(ctx context.Context) {
	wl := s.Workload()
	if wl == nil || wl.LastFailure().IsZero() {
		return
	}
	need := StabilityWindow + RecoveryMargin
	deadline := time.Now().Add(s.d.Bounds().Promotion)
	for {
		quiet := time.Since(wl.LastFailure())
		if quiet >= need {
			return
		}
		if !time.Now().Before(deadline) {
			GinkgoWriter.Printf("[hold] writes still failing %v after the hold began (the last %v ago): stopping the traffic; the checker judges recovery\n",
				s.d.Bounds().Promotion, quiet.Round(time.Millisecond))
			return
		}
		s.d.Hold(ctx, fmt.Sprintf("until no write has failed for the %v stability window (the last failed %v ago)", StabilityWindow, quiet.Round(time.Millisecond)),
			min(need-quiet, time.Until(deadline)))
	}
}

// WaitReprotected waits until every region that lost sync with the primary
// in the target's events after seq after (target.OutOfSync) is in sync
// again, at most the target's Reprotect bound. A region still out of sync
// then is not a harness failure but a finding: the wait is marked in the
// history and the checker reports re-protection as not reached. A target
// that reports no sync events is not waited for.
func (d *Drill) WaitReprotected(ctx context.Context, after int) {
	out, primary, err := d.outOfSync(ctx, after)
	if err != nil {
		GinkgoWriter.Printf("[wait] re-protection not checked: %v\n", err)
		return
	}
	if len(out) == 0 {
		return
	}
	what := fmt.Sprintf("%s to be in sync with the primary %s again (time to re-protection: rejoined or re-seeded, and caught up)", strings.Join(out, " and "), primary)
	By("waiting for " + what)
	within := d.Bounds().Reprotect
	start, last := time.Now(), time.Now()
	for {
		select {
		case <-ctx.Done():
			Fail("interrupted while waiting for " + what)
		case <-time.After(100 * time.Millisecond):
		}
		var now string
		out, now, err = d.outOfSync(ctx, after)
		if err == nil && len(out) == 0 {
			GinkgoWriter.Printf("[wait] every region in sync with %s after %v\n", primary, time.Since(start).Round(time.Millisecond))
			return
		}
		if now != "" {
			primary = now
		}
		if time.Since(start) > within {
			detail := fmt.Sprintf("%s still out of sync with %s after %v (%v)", strings.Join(out, " and "), primary, within, err)
			GinkgoWriter.Printf("[wait] %s: closing the history; the checker reports re-protection not reached\n", detail)
			if s := d.current; s != nil {
				s.Mark(ReprotectTimeout, detail)
			}
			return
		}
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			checkStop(ctx)
			GinkgoWriter.Printf("[wait] %s: %.1f s of %v, still out of sync: %s\n", what, time.Since(start).Seconds(), within, strings.Join(out, ", "))
		}
	}
}

// ReprotectTimeout marks, in a scenario's history, a re-protection wait
// that ran out its bound.
const ReprotectTimeout = "reprotect-timeout"

func (d *Drill) outOfSync(ctx context.Context, after int) ([]string, string, error) {
	ev, err := d.Target.Events(ctx, after)
	if err != nil {
		return nil, "", err
	}
	if len(target.OutOfSync(ev, "")) == 0 {
		return nil, "", nil // nothing lost sync: no need to ask who the primary is
	}
	topo, err := d.Target.Topology(ctx)
	if err != nil {
		return nil, "", err
	}
	return target.OutOfSync(ev, topo.Primary), topo.Primary, nil
}

// lastEvent is the target's newest event sequence number (0 without any),
// read from seq on.
func (d *Drill) lastEvent(ctx context.Context) int {
	ev, err := d.Target.Events(ctx, d.eventSeq)
	if err == nil && len(ev) > 0 {
		d.eventSeq = ev[len(ev)-1].Seq
	}
	return d.eventSeq
}
