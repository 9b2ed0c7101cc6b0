package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/target"
)

func init() {
	register("fault list", "list the fault catalogue and the faults the ledger shows as injected", faultList)
	register("fault inject", "inject a fault by name (--for DURATION rolls it back after)", faultInject)
	register("fault rollback", "roll back a fault by ledger id (default: the newest)", faultRollback)
	register("recover", "roll back every fault the ledger still shows and heal the stack (idempotent)", recoverCmd)
}

// paramFlags collects repeated --param key=value.
type paramFlags map[string]string

func (p paramFlags) String() string { return fmt.Sprint(map[string]string(p)) }
func (p paramFlags) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	p[k] = val
	return nil
}

// outputsFlag is --outputs: attach to a deployed stack (AWS) instead of a lab.
var outputsFlag = func(fs *flag.FlagSet) *string {
	return fs.String("outputs", "", "outputs file of a deployed stack (e.g. cfn-outputs/flat-outputs.json); its ledger lives beside it")
}

// stackFlags are --dir (a lab) and --outputs (a deployed stack), shared by
// the game-day commands.
type stackFlags struct{ dir, outputs *string }

func newStackFlags(fs *flag.FlagSet) stackFlags { return stackFlags{dirFlag(fs), outputsFlag(fs)} }

// open resolves --dir and opens the target and its ledger. A bad --dir is a
// usageError; any other error means the target could not be opened.
func (f stackFlags) open() (string, target.Target, *ledger.Ledger, error) {
	dir, err := absDir(*f.dir)
	if err != nil {
		return "", nil, nil, err
	}
	t, l, err := openTarget(dir, *f.outputs)
	return dir, t, l, err
}

// openTarget opens --outputs if given, else the lab in dir.
func openTarget(dir, outputsFile string) (target.Target, *ledger.Ledger, error) {
	if outputsFile != "" {
		t, err := target.Open(outputsFile)
		if err != nil {
			return nil, nil, err
		}
		return t, ledger.Open(filepath.Dir(outputsFile)), nil
	}
	return openDir(dir)
}

// openDir opens the target and ledger of the lab in dir.
func openDir(dir string) (target.Target, *ledger.Ledger, error) {
	t, err := target.Open(filepath.Join(dir, lab.OutputsFile))
	if err != nil {
		return nil, nil, err
	}
	return t, ledger.Open(dir), nil
}

func faultList(args []string) error {
	fs := flag.NewFlagSet("fault list", flag.ContinueOnError)
	sf := newStackFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
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

func faultInject(args []string) error {
	fs := flag.NewFlagSet("fault inject", flag.ContinueOnError)
	sf := newStackFlags(fs)
	region := fs.String("region", "", "region to hit (default depends on the fault)")
	dur := fs.Duration("for", 0, "roll the fault back after this long (Ctrl-C rolls back early); 0 leaves it injected")
	params := paramFlags{}
	fs.Var(params, "param", "fault parameter key=value (repeatable), e.g. latency_ms=700")
	// Accept the fault name before or after the flags.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	if name == "" {
		return usageError{"which fault? `drdrill fault list` shows the catalogue"}
	}
	if _, err := fault.Lookup(name); err != nil {
		return usageError{err.Error()}
	}
	if *dur < 0 {
		return usageError{"--for must not be negative"}
	}
	if *region != "" {
		params["region"] = *region
	}
	dir, t, l, err := sf.open()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), target.BoundsOf(t).Inject)
	h, err := fault.Inject(ctx, t, l, name, fault.Params(params), "cli")
	cancel()
	if err != nil {
		return err
	}
	fmt.Printf("injected %s as %s %v\n", name, h.ID, map[string]string(h.Params))
	if *dur == 0 {
		fmt.Printf("it stays injected: `drdrill fault rollback %s --dir %s` or `drdrill recover --dir %s`\n", h.ID, dir, dir)
		return nil
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	end := time.Now().Add(*dur)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
wait:
	for time.Now().Before(end) {
		select {
		case <-sigs:
			fmt.Println("interrupted: rolling back now")
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
	return nil
}

func faultRollback(args []string) error {
	fs := flag.NewFlagSet("fault rollback", flag.ContinueOnError)
	sf := newStackFlags(fs)
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	_, t, l, err := sf.open()
	if err != nil {
		return err
	}
	e, err := fault.RollbackByID(context.Background(), t, l, id, "cli")
	if err != nil {
		return err
	}
	fmt.Printf("rolled back %s (%s)\n", e.Fault, e.ID)
	return nil
}

func recoverCmd(args []string) error {
	fs := flag.NewFlagSet("recover", flag.ContinueOnError)
	sf := newStackFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, t, l, err := sf.open()
	if err != nil {
		return err
	}
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
