package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
)

func init() {
	register("lab up", "start the two-region lab in the background and wait until it replicates", labUp)
	register("lab run", "run the lab in the foreground (Ctrl-C stops everything)", labRun)
	register("lab down", "stop the lab and everything it started", labDown)
	register("lab status", "show roles, writability, replication and lag", labStatus)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// defaultLabDir is where the lab lives unless --dir says otherwise.
func defaultLabDir() string {
	if d := os.Getenv("DRDRILL_LAB_DIR"); d != "" {
		return d
	}
	return ".drdrill/lab"
}

func dirFlag(fs *flag.FlagSet) *string {
	return fs.String("dir", defaultLabDir(), "lab directory (control socket, outputs, logs; $DRDRILL_LAB_DIR)")
}

func absDir(d string) (string, error) {
	if strings.TrimSpace(d) == "" {
		return "", usageError{"--dir must not be empty"}
	}
	return filepath.Abs(d)
}

type labFlags struct {
	dir       *string
	latency   *time.Duration
	interval  *time.Duration
	timeout   *time.Duration
	threshold *int
	noAuto    *bool
	exitWith  *int
}

func newLabFlags(fs *flag.FlagSet) labFlags {
	d := lab.DefaultControllerConfig()
	return labFlags{
		dir:       dirFlag(fs),
		latency:   fs.Duration("latency", 35*time.Millisecond, "one-way latency of the cross-region replication links"),
		interval:  fs.Duration("probe-interval", d.Interval, "failover controller probe interval"),
		timeout:   fs.Duration("probe-timeout", d.Timeout, "failover controller probe timeout"),
		threshold: fs.Int("failure-threshold", d.Threshold, "consecutive failed probes before an automatic failover"),
		noAuto:    fs.Bool("no-auto-failover", false, "monitor only: never promote automatically"),
		exitWith:  fs.Int("exit-with", 0, "stop the lab when this process exits (used by `drdrill drill`)"),
	}
}

func (f labFlags) validate() error {
	if *f.latency < 0 || *f.interval <= 0 || *f.timeout <= 0 || *f.threshold < 1 {
		return usageError{"--latency must be >= 0, --probe-interval and --probe-timeout > 0, --failure-threshold >= 1"}
	}
	return nil
}

func (f labFlags) args(dir string) []string {
	a := []string{"lab", "run", "--dir", dir, "--latency", f.latency.String(), "--probe-interval", f.interval.String(),
		"--probe-timeout", f.timeout.String(), "--failure-threshold", fmt.Sprint(*f.threshold)}
	if *f.noAuto {
		a = append(a, "--no-auto-failover")
	}
	if *f.exitWith > 0 {
		a = append(a, "--exit-with", fmt.Sprint(*f.exitWith))
	}
	return a
}

func labUp(args []string) error {
	fs := flag.NewFlagSet("lab up", flag.ContinueOnError)
	lf := newLabFlags(fs)
	wait := fs.Duration("timeout", 2*time.Minute, "how long to wait for the lab to replicate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := lf.validate(); err != nil {
		return err
	}
	dir, err := absDir(*lf.dir)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := lab.StartBackground(dir, exe, lf.args(dir), *wait)
	if err != nil {
		return err
	}
	out, err := outputs.Read(filepath.Join(dir, lab.OutputsFile))
	if err != nil {
		return err
	}
	fmt.Printf("lab up in %v: supervisor pid %d, dir %s\n", time.Since(start).Round(time.Millisecond), info.PID, dir)
	fmt.Printf("  writer endpoint  %s\n  us-east-1        %s (primary)\n  us-west-2        %s (secondary)\n  outputs          %s\n",
		out[outputs.GlobalWriterEndpoint], out[outputs.PrimaryClusterEndpoint], out[outputs.SecondaryClusterEndpoint], filepath.Join(dir, lab.OutputsFile))
	return nil
}

func labRun(args []string) error {
	fs := flag.NewFlagSet("lab run", flag.ContinueOnError)
	lf := newLabFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := lf.validate(); err != nil {
		return err
	}
	dir, err := absDir(*lf.dir)
	if err != nil {
		return err
	}
	ctrl := lab.ControllerConfig{Interval: *lf.interval, Timeout: *lf.timeout, Threshold: *lf.threshold, AutoFailover: !*lf.noAuto}
	start := time.Now()
	return lab.Supervise(context.Background(), lab.Options{Dir: dir, CrossRegionLatency: *lf.latency, Controller: ctrl, ExitWith: *lf.exitWith},
		func(info lab.Info, out outputs.Outputs) {
			fmt.Printf("lab ready in %v (pid %d): writer %s, control socket %s — Ctrl-C stops it\n",
				time.Since(start).Round(time.Millisecond), info.PID, out[outputs.GlobalWriterEndpoint], info.Socket)
		})
}

func labDown(args []string) error {
	fs := flag.NewFlagSet("lab down", flag.ContinueOnError)
	d := dirFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := absDir(*d)
	if err != nil {
		return err
	}
	did, err := lab.Stop(dir, 30*time.Second)
	for _, s := range did {
		fmt.Println(s)
	}
	if err == nil && len(did) == 0 {
		fmt.Printf("no lab running in %s\n", dir)
	} else if err == nil {
		fmt.Printf("lab in %s stopped\n", dir)
	}
	return err
}

func labStatus(args []string) error {
	fs := flag.NewFlagSet("lab status", flag.ContinueOnError)
	d := dirFlag(fs)
	asJSON := fs.Bool("json", false, "print the full status as JSON")
	watch := fs.Bool("watch", false, "refresh until interrupted")
	every := fs.Duration("interval", time.Second, "refresh interval with --watch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := absDir(*d)
	if err != nil {
		return err
	}
	c, err := lab.Connect(dir)
	if err != nil {
		return err
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.Status(ctx)
		cancel()
		if err != nil {
			return err
		}
		if *asJSON {
			b, _ := json.MarshalIndent(st, "", "  ")
			fmt.Println(string(b))
		} else {
			if *watch {
				fmt.Print("\033[H\033[2J")
			}
			printStatus(st)
		}
		if !*watch {
			if !st.Healthy {
				return exitError{3}
			}
			return nil
		}
		time.Sleep(*every)
	}
}

func printStatus(st lab.Status) {
	health := "healthy"
	if !st.Healthy {
		health = "NOT healthy"
	}
	fmt.Printf("%s  primary %s  %s  writer %s -> %s\n", time.Unix(0, st.TimeNs).Format("15:04:05.000"), st.Primary, health, st.Writer.Listen, st.Writer.Upstream)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "REGION\tROLE\tSERVER\tWRITABLE\tREPLICATION\tLAG\tGTID")
	for _, r := range st.Regions {
		server := "down"
		switch {
		case r.Frozen:
			server = "frozen"
		case r.Running && r.Reachable:
			server = fmt.Sprintf("up (id %d)", r.ServerID)
		case r.Running:
			server = "unreachable"
		}
		repl := "-"
		if r.Replication != nil {
			repl = fmt.Sprintf("io=%s sql=%s", r.Replication.IORunning, r.Replication.SQLRunning)
			if r.Replication.LastIOErrno != 0 || r.Replication.LastSQLErrno != 0 {
				repl += fmt.Sprintf(" err=%d/%d", r.Replication.LastIOErrno, r.Replication.LastSQLErrno)
			}
		}
		lag := "-"
		if r.LagMs != nil {
			lag = fmt.Sprintf("%.0f ms", *r.LagMs)
		}
		gtid := "-"
		if r.GTIDs != nil {
			gtid = r.GTIDs.Current
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", r.Name, r.Role, server, r.Writable, repl, lag, gtid)
	}
	w.Flush()
	var faults []string
	for _, k := range st.Links {
		var f []string
		if k.Blackholed {
			f = append(f, "blackholed")
		}
		if k.Latency > 0 {
			f = append(f, fmt.Sprintf("+%v", k.Latency))
		}
		if k.BytesPerSec > 0 {
			f = append(f, fmt.Sprintf("%d B/s", k.BytesPerSec))
		}
		if len(f) > 0 {
			faults = append(faults, k.Name+" "+strings.Join(f, " "))
		}
	}
	fmt.Printf("links: %s\n", strings.Join(faults, "; "))
	for _, a := range st.Alarms {
		fmt.Printf("alarm %s: %s (%.0f ms, threshold %.0f ms)\n", a.Name, a.State, a.Value, a.Threshold)
	}
	ctrl := "running"
	if st.Controller.Paused {
		ctrl = "PAUSED (no automatic failover)"
	}
	last := "none yet"
	if st.Controller.LastDecision.Action != "" {
		last = st.Controller.LastDecision.String()
	}
	fmt.Printf("controller: %s; last decision: %s\n", ctrl, last)
}
