package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drdrill/drdrill/internal/watch"
)

func newStatusCmd() *cobra.Command {
	c := &cobra.Command{Use: "status", Short: "show any target live (--dir LAB or --outputs FILE): writer and promotion, lag, alarms, health checks, faults, and the drill or observation running (--watch); exit 3 if not healthy",
		Args: noArgs("status takes --dir LAB or --outputs FILE")}
	sf := newStackFlags(c.Flags())
	asJSON := c.Flags().Bool("json", false, "print the snapshot as JSON")
	watchFlag := c.Flags().Bool("watch", false, "refresh until interrupted: redrawn on a terminal, one line per change otherwise")
	every := c.Flags().Duration("interval", time.Second, "refresh interval with --watch")
	c.RunE = func(*cobra.Command, []string) error { return statusRun(sf, *asJSON, *watchFlag, *every) }
	return c
}

// isTerminal says whether f is a terminal (golang.org/x/term).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

func statusRun(sf stackFlags, asJSON, watchFlag bool, every time.Duration) error {
	if every <= 0 {
		return usageError{"--interval must be positive"}
	}
	dir, t, l, err := sf.open()
	if err != nil {
		return err
	}
	defer t.Close()
	ledgerDir := sf.ledgerDir(dir)
	take := func(ctx context.Context) watch.Snapshot { return watch.Take(ctx, t, l, ledgerDir) }
	if watchFlag {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscallTERM)
		defer stop()
		if asJSON {
			enc := json.NewEncoder(os.Stdout)
			for ctx.Err() == nil {
				_ = enc.Encode(take(ctx))
				select {
				case <-ctx.Done():
				case <-time.After(every):
				}
			}
			return nil
		}
		watch.Watch(ctx, take, every, watch.Output{W: os.Stdout, Terminal: isTerminal(os.Stdout)})
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s := take(ctx)
	if asJSON {
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Println(string(b))
	} else {
		s.WriteView(os.Stdout)
	}
	if s.Err != "" || !s.Topology.Healthy {
		return exitError{exitUnhealthy}
	}
	return nil
}
