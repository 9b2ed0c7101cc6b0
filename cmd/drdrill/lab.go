package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
)

func newLabCmd() *cobra.Command {
	c := groupCmd("lab", "the embedded two-region lab: two MariaDB servers, GTID replication over fault-injecting links, a failover controller")
	c.AddCommand(
		&cobra.Command{Use: "up", Short: "start the two-region lab in the background and wait until it replicates", Args: noArgs("lab up takes flags only")},
		&cobra.Command{Use: "run", Short: "run the lab in the foreground (Ctrl-C stops everything)", Args: noArgs("lab run takes flags only")},
		&cobra.Command{Use: "down", Short: "stop the lab and everything it started", Args: noArgs("lab down takes --dir only")},
		&cobra.Command{Use: "status", Short: "show the lab's roles, servers, writability, replication, lag, links and controller (exit 3 if not healthy)", Args: noArgs("lab status takes flags only")},
	)
	for _, sub := range c.Commands() {
		switch sub.Name() {
		case "up":
			labUp(sub)
		case "run":
			labRun(sub)
		case "down":
			labDown(sub)
		case "status":
			labStatus(sub)
		}
	}
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
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

func newLabFlags(fs *pflag.FlagSet) labFlags {
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

// hideInternal hides the flags drdrill passes itself (--exit-with).
func hideInternal(fs *pflag.FlagSet) { _ = fs.MarkHidden("exit-with") }

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

func labUp(c *cobra.Command) {
	lf := newLabFlags(c.Flags())
	hideInternal(c.Flags())
	wait := c.Flags().Duration("timeout", 2*time.Minute, "how long to wait for the lab to replicate")
	c.RunE = func(*cobra.Command, []string) error {
		if err := lf.validate(); err != nil {
			return err
		}
		return labUpRun(lf, *wait)
	}
}

func labUpRun(lf labFlags, wait time.Duration) error {
	dir, err := absDir(*lf.dir)
	if err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := lab.StartBackground(dir, exe, lf.args(dir), wait)
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

func labRun(c *cobra.Command) {
	lf := newLabFlags(c.Flags())
	hideInternal(c.Flags())
	c.RunE = func(*cobra.Command, []string) error {
		if err := lf.validate(); err != nil {
			return err
		}
		return labRunRun(lf)
	}
}

func labRunRun(lf labFlags) error {
	dir, err := absDir(*lf.dir)
	if err != nil {
		return err
	}
	ctrl := lab.ControllerConfig{Interval: *lf.interval, Timeout: *lf.timeout, Threshold: *lf.threshold, AutoFailover: !*lf.noAuto}
	start := time.Now()
	return lab.Supervise(supervisorContext(), lab.Options{Dir: dir, CrossRegionLatency: *lf.latency, Controller: ctrl, ExitWith: *lf.exitWith},
		func(info lab.Info, out outputs.Outputs) {
			fmt.Printf("lab ready in %v (pid %d): writer %s, control socket %s — Ctrl-C stops it\n",
				time.Since(start).Round(time.Millisecond), info.PID, out[outputs.GlobalWriterEndpoint], info.Socket)
		})
}

func labDown(c *cobra.Command) {
	d := dirFlag(c.Flags())
	c.RunE = func(*cobra.Command, []string) error { return labDownRun(*d) }
}

func labDownRun(d string) error {
	dir, err := absDir(d)
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

func labStatus(c *cobra.Command) {
	d := dirFlag(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the full status as JSON")
	watch := c.Flags().Bool("watch", false, "refresh until interrupted: redrawn on a terminal; into a pipe or a file, a status only when it changed")
	every := c.Flags().Duration("interval", time.Second, "refresh interval with --watch")
	c.RunE = func(*cobra.Command, []string) error { return labStatusRun(*d, asJSON, watch, every) }
}

func labStatusRun(d string, asJSON, watch *bool, every *time.Duration) error {
	dir, err := absDir(d)
	if err != nil {
		return err
	}
	c, err := lab.Connect(dir)
	if err != nil {
		return err
	}
	// Watched on a terminal, the screen is redrawn; elsewhere (a pipe, a
	// file) there are no escape codes and a status is written only when it
	// differs from the last one but for its time.
	terminal, last := isTerminal(os.Stdout), ""
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
			var b strings.Builder
			printStatus(&b, st)
			_, rest, _ := strings.Cut(b.String(), "  ") // the time leads the first line
			switch {
			case *watch && terminal:
				fmt.Print("\033[H\033[2J" + b.String())
			case !*watch || rest != last:
				fmt.Print(b.String())
			}
			last = rest
		}
		if !*watch {
			if !st.Healthy {
				return exitError{exitUnhealthy}
			}
			return nil
		}
		time.Sleep(*every)
	}
}

func printStatus(out io.Writer, st lab.Status) {
	health := "healthy"
	if !st.Healthy {
		health = "NOT healthy"
	}
	fmt.Fprintf(out, "%s  primary %s  %s  writer %s -> %s\n", time.Unix(0, st.TimeNs).Format("15:04:05.000"), st.Primary, health, st.Writer.Listen, st.Writer.Upstream)
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
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
	fmt.Fprintf(out, "links: %s\n", strings.Join(faults, "; "))
	for _, a := range st.Alarms {
		fmt.Fprintf(out, "alarm %s: %s (%.0f ms, threshold %.0f ms)\n", a.Name, a.State, a.Value, a.Threshold)
	}
	ctrl := "running"
	if st.Controller.Paused {
		ctrl = "PAUSED (no automatic failover)"
	}
	last := "none yet"
	if st.Controller.LastDecision.Action != "" {
		last = st.Controller.LastDecision.String()
	}
	fmt.Fprintf(out, "controller: %s; last decision: %s\n", ctrl, last)
}
