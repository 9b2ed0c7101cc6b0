// Package labtest starts a real, supervised lab for tests in other packages:
// real mariadbd processes, the control socket, and a target opened from the
// lab's outputs file, exactly as the suites get it.
package labtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
)

// Start runs a lab in this process until the test ends and returns its
// directory and target. Without mariadbd it skips, except under CI, where
// `make test` must have installed it.
func Start(t testing.TB) (string, target.Target) {
	t.Helper()
	if _, err := lab.FindBinaries(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := filepath.Join(t.TempDir(), "lab")
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- lab.Supervise(ctx, lab.Options{Dir: dir, CrossRegionLatency: 35 * time.Millisecond, Controller: lab.DefaultControllerConfig()},
			func(lab.Info, outputs.Outputs) { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("lab did not start: %v", err)
	case <-time.After(2 * time.Minute):
		cancel()
		t.Fatal("lab did not start within 2 minutes")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("lab supervisor: %v", err)
		}
	})
	tgt, err := target.Open(filepath.Join(dir, lab.OutputsFile))
	if err != nil {
		t.Fatal(err)
	}
	return dir, tgt
}
