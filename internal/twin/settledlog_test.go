package twin

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A twin that stops before its endpoint answers has its lab torn down (the
// pid file gone) before it prints the error that stopped it: the log read
// at that instant was empty on CI ('it stopped before its AWS endpoint
// answered (…/supervisor.log): '). The log is read once it says
// something and has stopped growing.
func TestSettledLogWaitsForTheLastWords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "supervisor.log")
	os.WriteFile(path, nil, 0o644)
	go func() {
		time.Sleep(300 * time.Millisecond)
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString("lab: down\n")
		time.Sleep(100 * time.Millisecond)
		f.WriteString("drdrill twin run: listen tcp: lookup 256.0.0.1: no such host\n")
		f.Close()
	}()
	got := settledLog(path, 5*time.Second)
	if want := "lab: down\ndrdrill twin run: listen tcp: lookup 256.0.0.1: no such host"; got != want {
		t.Fatalf("settledLog: %q, want %q", got, want)
	}
	// A log that never says anything is given up on at the bound.
	empty := filepath.Join(t.TempDir(), "empty.log")
	os.WriteFile(empty, nil, 0o644)
	start := time.Now()
	if got := settledLog(empty, 300*time.Millisecond); got != "" || time.Since(start) > 2*time.Second {
		t.Fatalf("an empty log: %q after %v", got, time.Since(start))
	}
}
