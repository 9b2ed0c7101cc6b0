package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
)

func newAbortCmd() *cobra.Command {
	c := &cobra.Command{Use: "abort", Short: "stop a drill, an observation or `fault inject --for` running against --dir or --outputs, from anywhere: it starts no new fault, rolls back and ends with status aborted",
		Args: noArgs("abort takes --dir LAB or --outputs FILE")}
	sf := newStackFlags(c.Flags())
	reason := c.Flags().String("reason", "", "why, recorded with the request and in the run's status")
	wait := c.Flags().Bool("wait", false, "wait until the drill has rolled back and exited, then say what the ledger shows")
	c.RunE = func(*cobra.Command, []string) error { return abortRun(sf, *reason, *wait) }
	return c
}

// abortRun is the remote stop (AWS FIS's StopExperiment): it asks every
// process holding faults in the ledger directory to stop, and waits for
// them to acknowledge (--wait: to finish rolling back).
func abortRun(sf stackFlags, reason string, wait bool) error {
	dir, err := absDir(*sf.dir)
	if err != nil {
		return err
	}
	ledgerDir, recoverCmd := sf.ledgerDir(dir), sf.recoverCmd(dir)
	if st, err := os.Stat(ledgerDir); err != nil || !st.IsDir() {
		return usageError{fmt.Sprintf("%s does not exist: give the lab's --dir or the deployed stack's --outputs FILE that the drill runs against", ledgerDir)}
	}
	bounds := target.LabBounds
	if *sf.outputs != "" {
		if _, err := outputs.Read(*sf.outputs); err != nil {
			return usageError{err.Error()}
		}
		bounds = target.BoundsForOutputs(*sf.outputs)
	} else if _, err := os.Stat(filepath.Join(dir, "flat-outputs.json")); err == nil {
		bounds = target.BoundsForOutputs(filepath.Join(dir, "flat-outputs.json"))
	}
	holders := abort.Holders(ledgerDir)
	if len(holders) == 0 {
		return fmt.Errorf("nothing to abort in %s: no drill and no `fault inject --for` is running against it; faults a killed run left behind are undone by `%s`", ledgerDir, recoverCmd)
	}
	req := abort.Request{RequestedNs: time.Now().UnixNano(), By: abort.Requester(), Reason: reason}
	if err := abort.Write(ledgerDir, req); err != nil {
		return err
	}
	for _, h := range holders {
		fmt.Printf("asked %s (pid %d) to abort\n", h.What, h.PID)
	}
	// Each holder polls at the target's stop poll: a second on the lab,
	// the AWS poll on AWS.
	ackWithin := 3*bounds.StopPoll + 10*time.Second
	pending := map[int]abort.Holder{}
	for _, h := range holders {
		pending[h.PID] = h
	}
	for deadline := time.Now().Add(ackWithin); len(pending) > 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		live := map[int]abort.Holder{}
		for _, h := range abort.Holders(ledgerDir) {
			live[h.PID] = h
		}
		for pid, h := range pending {
			now, ok := live[pid]
			switch {
			case !ok:
				fmt.Printf("%s (pid %d) has already exited\n", h.What, pid)
			case now.AbortingNs != 0:
				fmt.Printf("%s (pid %d) is stopping: no new fault; rolling back (up to %v)\n", h.What, pid, bounds.Recover)
			default:
				continue
			}
			delete(pending, pid)
		}
	}
	if len(pending) > 0 {
		var names []string
		for _, h := range pending {
			names = append(names, fmt.Sprintf("%s (pid %d)", h.What, h.PID))
		}
		return fmt.Errorf("%s did not acknowledge the abort within %v; the request stays in %s for their next poll", strings.Join(names, ", "), ackWithin, filepath.Join(ledgerDir, abort.RequestFile))
	}
	if !wait {
		fmt.Printf("the run ends with status aborted; `drdrill abort --wait` waits for the rollback, `%s` finishes it if the drill is killed\n", recoverCmd)
		return nil
	}
	for deadline := time.Now().Add(bounds.Recover); len(abort.Holders(ledgerDir)) > 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the drill is still running %v after the abort: see its output; `%s` undoes its faults once it is gone", bounds.Recover, recoverCmd)
		}
	}
	if active := abort.Active(ledger.Open(ledgerDir)); len(active) > 0 {
		return fmt.Errorf("the drill exited with faults still in the ledger: %s: run `%s`", strings.Join(active, ", "), recoverCmd)
	}
	fmt.Println("aborted: the drill has exited and the ledger shows no fault injected")
	return nil
}
