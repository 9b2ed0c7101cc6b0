package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/observe"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/target"
)

func newObserveCmd() *cobra.Command {
	c := &cobra.Command{Use: "observe", Short: "measure a game day: writes, reads and heartbeat against --dir or --outputs while people, scripts, FIS or ARC inject faults; Ctrl-C or --for ends it and writes the run's report",
		Long: `observe is drdrill as the measuring instrument of a game day. It injects
nothing: whatever is done to the stack — drdrill fault from another shell, a
script, an AWS FIS experiment, an ARC Region switch plan — shows up in its
report as disruption windows, each saying where it came from (the fault
ledger, the control plane, failed writes) with its RTO, lost writes, RPO span
and time to re-protection (docs/measures.md, "Disruption windows").

Ctrl-C or any stop signal ends it (status completed), as --for does;
drdrill abort ends it with status aborted (exit 130).`,
		Example: "  drdrill observe --dir /tmp/lab --rate 200\n  drdrill observe --outputs cfn-outputs/flat-outputs.json --for 2h",
		Args:    noArgs("observe takes --dir LAB or --outputs FILE")}
	f := c.Flags()
	o := observeFlags{sf: newStackFlags(f), reports: reportsFlag(f), stage: stageFlag(f),
		dur:        f.Duration("for", 0, "end the observation after this long (0: until Ctrl-C, SIGTERM or `drdrill abort`)"),
		rate:       f.Float64("rate", 0, "writes per second across the writers (default 1000; $DRDRILL_RATE)"),
		runID:      f.String("run-id", "", "run id (default: UTC timestamp)"),
		policyFile: f.String("policy", "", "SLO policy file (YAML); default: the built-in policy for the target (its observe scenario)"),
		seed:       f.Int64("seed", 0, "seed of the writers' phases and the readers' jitter (default: from the clock)")}
	c.RunE = func(*cobra.Command, []string) error { return observeRun(o) }
	return c
}

type observeFlags struct {
	sf                                stackFlags
	reports, stage, runID, policyFile *string
	dur                               *time.Duration
	rate                              *float64
	seed                              *int64
}

// observeRun is drdrill as the measuring instrument of a game day. It
// injects nothing: whatever is done to the stack — by `drdrill fault` from
// another shell, a script, AWS FIS, ARC — shows up as disruption windows
// in its report, each with its RTO, RPO and re-protection.
func observeRun(o observeFlags) (err error) {
	sf, dur, rate, reports, runID, policyFile, seed := o.sf, o.dur, o.rate, o.reports, o.runID, o.policyFile, o.seed
	if *dur < 0 {
		return usageError{"--for must not be negative (0: until stopped)"}
	}
	if *rate < 0 {
		return usageError{"--rate must be a positive number of writes per second"}
	}
	if *rate == 0 {
		r, err := envRate()
		if err != nil {
			return err
		}
		*rate = r
	}
	var pol policy.Policy
	if *policyFile != "" {
		p, err := policy.Load(*policyFile)
		if err != nil {
			return usageError{oneLine(err).Error()}
		}
		pol = p
	}
	dir, t, l, err := sf.open()
	if err != nil {
		return err
	}
	defer t.Close()
	if *policyFile == "" {
		pol = policy.Default(t.Kind())
	}
	bounds := target.BoundsOf(t)
	ledgerDir := sf.ledgerDir(dir)
	// --reports s3://…: written to --stage first, uploaded when it ends.
	remote, err := openReports(*reports, *o.stage)
	if err != nil {
		return err
	}
	if remote != nil {
		*reports = remote.staging
	}
	runDir, err := makeRunDir(*reports, runID)
	if err != nil {
		return err
	}
	if remote != nil {
		defer remote.publish(runDir, &err)
	}
	start := time.Now()
	// What ends the observation: the first stop signal, an abort request,
	// or --for. Every later signal is absorbed while the final read and
	// the report are written (observe injects nothing: nothing to roll back).
	type ending struct {
		cause, by string // for, signal, abort
	}
	end := make(chan ending, 3)
	stop := newStopper(func() string {
		return "the observation is ending: its final read of every region and its report are being written (it injected nothing, so nothing is rolled back)"
	}, func(sig os.Signal) {
		end <- ending{"signal", signalName(sig)}
	})
	defer stop.Close()
	if reg, err := abort.Register(ledgerDir, "drdrill observe, run "+*runID); err == nil {
		defer reg.Close()
		poll, stopPoll := pollEvery(bounds.StopPoll)
		defer stopPoll()
		go func() {
			for range poll {
				if r, ok := abort.Pending(ledgerDir, start); ok {
					reg.Acknowledge()
					end <- ending{"abort", r.By}
					return
				}
			}
		}()
	}
	if *dur > 0 {
		go func() {
			time.Sleep(*dur)
			end <- ending{"for", ""}
		}()
	}

	meta := runMeta(*runID, "", 0, "")
	meta.Target, meta.Mode, meta.Status = t.Kind(), report.ModeObserve, report.StatusRunning
	if *seed != 0 {
		meta.Seed = *seed
	}
	writeRunMeta(runDir, meta)
	pb, _ := json.MarshalIndent(pol, "", "  ")
	if err := os.WriteFile(filepath.Join(runDir, "policy.json"), pb, 0o644); err != nil {
		return err
	}
	fmt.Printf("drdrill observe %s → %s\n", *runID, runDir)
	ctx := context.Background()
	s, err := observe.Start(ctx, observe.Options{Target: t, Ledger: l, RunDir: runDir, RunID: *runID, Rate: *rate, Seed: meta.Seed,
		Every: bounds.StopPoll, Live: ledgerDir, Logf: func(f string, a ...any) { fmt.Printf("[observe] "+f+"\n", a...) }})
	if err != nil {
		meta.Status, meta.Stop = report.StatusInterrupted, &report.Stop{Cause: "start-failed", Step: err.Error(), AtNs: time.Now().UnixNano()}
		writeRunMeta(runDir, meta)
		return err
	}
	until := "Ctrl-C, SIGTERM or `drdrill abort " + strings.TrimPrefix(sf.recoverCmd(dir), "drdrill recover ") + "`"
	if *dur > 0 {
		until = fmt.Sprintf("%v (or %s)", *dur, until)
	}
	fmt.Printf("[phase] observing %s at %.0f writes/s until %s: inject faults from anywhere (drdrill fault, a script, AWS FIS, ARC); each disruption becomes a window in the report\n",
		t.Kind(), *rate, until)
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	var e ending
wait:
	for {
		select {
		case e = <-end:
			break wait
		case <-tick.C:
			st := s.Workload().Stats()
			fmt.Printf("[observe] %v: %d writes acknowledged, %d failed or unknown; %d fault(s) seen in the ledger\n",
				time.Since(start).Round(time.Second), st.OK, st.Fail+st.Info, s.Faults())
		}
	}
	switch e.cause {
	case "for":
		meta.Ended = fmt.Sprintf("--for %v elapsed", *dur)
	case "signal":
		meta.Ended = fmt.Sprintf("%s after %v", e.by, time.Since(start).Round(time.Second))
	case "abort":
		meta.Ended = fmt.Sprintf("aborted by %s after %v", e.by, time.Since(start).Round(time.Second))
		meta.Stop = &report.Stop{Cause: "abort", By: e.by, AtNs: time.Now().UnixNano()}
	}
	fmt.Printf("[phase] ending the observation (%s): final read of every region, the target's events, the report\n", meta.Ended)
	fctx, cancel := context.WithTimeout(ctx, bounds.Recover)
	defer cancel()
	_, ferr := s.Finish(fctx)
	meta.Status = report.StatusFor(meta.Stop)
	meta.FinishedNs = time.Now().UnixNano()
	writeRunMeta(runDir, meta)
	if ferr != nil {
		fmt.Fprintf(os.Stderr, "drdrill observe: %v\n", ferr)
	}
	failed := summarize(runDir, time.Since(start))
	return drillExit(meta, ferr != nil, failed)
}
