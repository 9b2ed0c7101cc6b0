package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/target"
)

func newFaultCmd() *cobra.Command {
	c := groupCmd("fault", "the fault catalogue: list, inject, roll back (each fault through the fsynced ledger first)")
	list := &cobra.Command{Use: "list", Short: "list the fault catalogue and the faults the ledger shows as injected", Args: noArgs("fault list takes --dir or --outputs")}
	inject := &cobra.Command{Use: "inject FAULT", Short: "inject a fault by name (--for DURATION rolls it back after; Ctrl-C rolls back early)",
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case len(args) == 0:
				return usageError{"which fault? `drdrill fault list` shows the catalogue"}
			case len(args) > 1:
				return usageError{fmt.Sprintf("unexpected %q: inject one fault at a time", args[1])}
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, f := range fault.Catalogue() {
				names = append(names, f.Name()+"\t"+f.Description())
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		}}
	rollback := &cobra.Command{Use: "rollback [ID]", Short: "roll back a fault by ledger id (default: the newest)", Args: maxArgs(1, "roll back one fault id at a time")}
	faultList(list)
	faultInject(inject)
	faultRollback(rollback)
	c.AddCommand(list, inject, rollback)
	return c
}

func newRecoverCmd() *cobra.Command {
	c := &cobra.Command{Use: "recover", Short: "roll back every fault the ledger still shows and heal the stack (idempotent)", Args: noArgs("recover takes --dir or --outputs")}
	sf := newStackFlags(c.Flags())
	c.RunE = func(*cobra.Command, []string) error { return recoverRun(sf) }
	return c
}

// paramFlags collects repeated --param key=value.
type paramFlags map[string]string

func (p paramFlags) String() string { return fmt.Sprint(map[string]string(p)) }
func (p paramFlags) Type() string   { return "key=value" }
func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	p[k] = val
	return nil
}

func faultList(c *cobra.Command) {
	sf := newStackFlags(c.Flags())
	c.RunE = func(*cobra.Command, []string) error { return faultListRun(sf) }
}

func faultListRun(sf stackFlags) error {
	dir, t, l, terr := sf.open()
	var ue usageError
	if errors.As(terr, &ue) {
		return terr
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "FAULT\tAVAILABLE\tDESCRIPTION")
	for _, f := range fault.Catalogue() {
		avail := "yes"
		if terr != nil {
			avail = "?"
		} else if err := f.Available(t); err != nil {
			avail = "no: " + err.Error()
			var u *fault.Unavailable
			if errors.As(err, &u) {
				avail = fmt.Sprintf("no (needs %s, offered by %s)", u.What, u.OfferedBy)
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.Name(), avail, f.Description())
	}
	w.Flush()
	if terr != nil {
		fmt.Printf("\n(no running lab in %s: %v)\n", dir, terr)
		return nil
	}
	active, err := l.Active()
	if err != nil {
		return err
	}
	if len(active) == 0 {
		fmt.Printf("\nno fault injected (ledger %s)\n", l.Path())
		return nil
	}
	fmt.Printf("\ninjected (ledger %s):\n", l.Path())
	for _, e := range active {
		fmt.Printf("  %s  %s  %s  %v  since %s\n", e.ID, e.Fault, e.State, e.Params, time.Unix(0, e.TimeNs).Format(time.TimeOnly))
	}
	return nil
}

func faultInject(c *cobra.Command) {
	sf := newStackFlags(c.Flags())
	region := c.Flags().String("region", "", "region to hit (default depends on the fault)")
	dur := c.Flags().Duration("for", 0, "roll the fault back after this long (Ctrl-C rolls back early); 0 leaves it injected")
	params := paramFlags{}
	c.Flags().Var(params, "param", "fault parameter key=value (repeatable), e.g. latency_ms=700")
	c.RunE = func(_ *cobra.Command, args []string) error { return faultInjectRun(sf, args[0], *region, *dur, params) }
}

func faultInjectRun(sf stackFlags, name, region string, dur time.Duration, params paramFlags) error {
	if _, err := fault.Lookup(name); err != nil {
		return usageError{err.Error()}
	}
	if dur < 0 {
		return usageError{"--for must not be negative"}
	}
	if region != "" {
		params["region"] = region
	}
	dir, t, l, err := sf.open()
	if err != nil {
		return err
	}
	b, kind := target.BoundsOf(t), t.Kind()
	ledgerDir, recoverCmd := sf.ledgerDir(dir), sf.recoverCmd(dir)
	// A stop — a signal, `drdrill abort` — at any instant, the injection
	// included, ends in a rollback: mid-injection it cancels the injection
	// (fault.Inject undoes what it did), afterwards it ends the wait.
	ctx, cancelInject := context.WithCancel(context.Background())
	defer cancelInject()
	var stopMu sync.Mutex
	var stoppedBy string // the signal's name, or "abort"
	stopNow := func(by string) {
		stopMu.Lock()
		defer stopMu.Unlock()
		if stoppedBy == "" {
			stoppedBy = by
			cancelInject()
		}
	}
	stop := newStopper(func() string { return rollbackNotice(l, b, kind, recoverCmd) }, func(sig os.Signal) {
		fmt.Printf("\n%s: rolling back %s now; %s\n", signalName(sig), name, rollbackNotice(l, b, kind, recoverCmd))
		stopNow(signalName(sig))
	})
	defer stop.Close()
	started := time.Now()
	if dur > 0 {
		if reg, err := abort.Register(ledgerDir, fmt.Sprintf("fault inject %s --for %v", name, dur)); err == nil {
			defer reg.Close()
			poll, stopPoll := pollEvery(b.StopPoll)
			defer stopPoll()
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case <-poll:
						if r, ok := abort.Pending(ledgerDir, started); ok {
							reg.Acknowledge()
							fmt.Printf("%s: rolling back %s now\n", r, name)
							stopNow("abort")
							return
						}
					}
				}
			}()
		}
	}
	ictx, cancel := context.WithTimeout(ctx, b.Inject)
	h, err := fault.Inject(ictx, t, l, name, fault.Params(params), "cli")
	cancel()
	stopMu.Lock()
	by := stoppedBy
	stopMu.Unlock()
	if err != nil {
		if by != "" {
			fmt.Printf("stopped by %s mid-injection: %s was rolled back (%v)\n", by, name, err)
			return exitError{stopExit(by)}
		}
		return err
	}
	fmt.Printf("injected %s as %s %v\n", name, h.ID, map[string]string(h.Params))
	if dur == 0 && by == "" {
		fmt.Printf("it stays injected: `drdrill fault rollback %s %s` or `%s`\n", h.ID, strings.TrimPrefix(recoverCmd, "drdrill recover "), recoverCmd)
		return nil
	}
	end := time.Now().Add(dur)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
wait:
	for by == "" && time.Now().Before(end) {
		select {
		case <-ctx.Done():
			break wait
		case <-tick.C:
			fmt.Printf("%s injected, %.0f s left\n", name, time.Until(end).Seconds())
		case <-time.After(time.Until(end)):
		}
	}
	if err := h.Rollback(context.Background()); err != nil {
		return err
	}
	fmt.Printf("rolled back %s (%s) after %v\n", name, h.ID, time.Since(h.Injected).Round(time.Millisecond))
	stopMu.Lock()
	by = stoppedBy
	stopMu.Unlock()
	if by != "" {
		return exitError{stopExit(by)}
	}
	return nil
}

// stopExit is the exit code of a command stopped by a signal (by its
// name) or by "abort".
func stopExit(by string) int {
	if by == "abort" {
		return exitAborted
	}
	return exitForSignalName(by)
}

func faultRollback(c *cobra.Command) {
	sf := newStackFlags(c.Flags())
	c.RunE = func(_ *cobra.Command, args []string) error {
		id := ""
		if len(args) > 0 {
			id = args[0]
		}
		return faultRollbackRun(sf, id)
	}
}

func faultRollbackRun(sf stackFlags, id string) error {
	dir, t, l, err := sf.open()
	if err != nil {
		return err
	}
	defer shieldRollback(l, target.BoundsOf(t), t.Kind(), sf.recoverCmd(dir))()
	e, err := fault.RollbackByID(context.Background(), t, l, id, "cli")
	if err != nil {
		return err
	}
	fmt.Printf("rolled back %s (%s)\n", e.Fault, e.ID)
	return nil
}

func recoverRun(sf stackFlags) error {
	dir, t, l, err := sf.open()
	if err != nil {
		return err
	}
	defer shieldRollback(l, target.BoundsOf(t), t.Kind(), sf.recoverCmd(dir))()
	ctx, cancel := context.WithTimeout(context.Background(), target.BoundsOf(t).Recover)
	defer cancel()
	did, err := fault.Recover(ctx, t, l)
	for _, s := range did {
		fmt.Println(s)
	}
	if err != nil {
		return err
	}
	topo, err := t.Topology(ctx)
	if err != nil {
		return err
	}
	if len(did) == 0 {
		fmt.Println("nothing to recover: no fault in the ledger and the topology is healthy")
	}
	fmt.Printf("topology: primary %s, healthy %v %s\n", topo.Primary, topo.Healthy, topo.Detail)
	if !topo.Healthy {
		return fmt.Errorf("still not healthy after recovery: %s", topo.Detail)
	}
	return nil
}
