package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// watchToFile runs `drdrill ARGS` with its output into a file — not a
// terminal — and returns a function that stops it and returns the file.
func watchToFile(t *testing.T, env []string, args ...string) func() []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "watch.out")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop := func() []byte {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("drdrill %s did not stop on SIGINT", strings.Join(args, " "))
		}
		f.Close()
		b, _ := os.ReadFile(path)
		return b
	}
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			_ = cmd.Process.Kill()
		}
	})
	return stop
}

// changeLines checks a watch's output written into a file: no escape
// code, and each line a change — its state (after the time) differs from
// the line before it. It returns the states.
func changeLines(t *testing.T, b []byte) []string {
	t.Helper()
	if i := bytes.IndexByte(b, 0x1b); i >= 0 {
		t.Fatalf("an escape code at byte %d of output that is not a terminal:\n%q", i, b[max(0, i-40):min(len(b), i+40)])
	}
	var states []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		at, state, ok := strings.Cut(l, " ")
		if _, err := time.Parse("15:04:05.000", at); !ok || err != nil {
			t.Fatalf("line %q does not start with its time", l)
		}
		if n := len(states); n > 0 && states[n-1] == state {
			t.Fatalf("line %d repeats the state of the line before it: %q", n+1, l)
		}
		states = append(states, state)
	}
	return states
}

// #25 item 2: `drdrill status --watch` piped into a file during a drill
// writes no escape code and one line per change — the drill's scenario
// with its place in the run, the fault, the writer moving and back.
func TestStatusWatchIntoAFileDuringADrill(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	stop := watchToFile(t, nil, "status", "--watch", "--dir", dir, "--interval", "100ms")
	r := run(t, nil, "drill", "--outputs", filepath.Join(dir, "flat-outputs.json"), "--labels", "planned-switchover", "--rate", "200", "--reports", t.TempDir())
	if r.code != 0 {
		t.Fatalf("drill: exit %d\n%s", r.code, r.out)
	}
	time.Sleep(500 * time.Millisecond)
	states := changeLines(t, stop())
	all := strings.Join(states, "\n")
	for _, want := range []string{"drill ", ": planned-switchover 1/1, writing", "fault planned-switchover (", "writer us-west-2", "lab writer us-east-1 healthy"} {
		if !strings.Contains(all, want) {
			t.Errorf("no line says %q:\n%s", want, all)
		}
	}
	if last := states[len(states)-1]; !strings.Contains(last, "writer us-east-1 healthy") || !strings.Contains(last, "no fault injected") || strings.Contains(last, "drill ") {
		t.Errorf("the last line is not the healthy lab with nothing running: %s", last)
	}
	t.Logf("%d lines:\n%s", len(states), all)
}

// `lab status --watch` into a file wrote a clear-screen code every second
// (\x1b[H\x1b[2J), terminal or not.
func TestLabStatusWatchIntoAFileWritesNoEscapeCodes(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	stop := watchToFile(t, nil, "lab", "status", "--watch", "--dir", dir, "--interval", "100ms")
	time.Sleep(time.Second)
	b := stop()
	if i := bytes.IndexByte(b, 0x1b); i >= 0 {
		t.Fatalf("lab status --watch into a file: an escape code at byte %d: %q", i, b[max(0, i-10):min(len(b), i+30)])
	}
	if !bytes.Contains(b, []byte("us-east-1  primary")) {
		t.Fatalf("lab status --watch wrote:\n%s", b)
	}
}

// A drill attached to a stack whose ledger still shows a fault stops before
// any scenario and names the exact command that undoes it: the hint said
// "run `drdrill recover` first", which, without --dir or --outputs, looks
// for a lab in .drdrill/lab.
func TestDrillOnAFaultedStackNamesTheRecoverCommand(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	mustRun(t, "fault", "inject", "wan-degradation", "--dir", dir)
	t.Cleanup(func() { run(t, nil, "recover", "--dir", dir) })
	r := run(t, nil, "drill", "--outputs", filepath.Join(dir, "flat-outputs.json"), "--labels", "steady-state", "--rate", "200", "--reports", t.TempDir())
	if want := "drdrill recover --dir " + dir; r.code == 0 || !strings.Contains(r.out, want) {
		t.Fatalf("drill with a fault in the ledger: exit %d, want a failure naming `%s`:\n%s", r.code, want, r.out)
	}
}
