package abort

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A request is the run's to honour only if it was made after the run
// began; an older one (a past run's) is not.
func TestPendingHonoursOnlyRequestsFromTheRunOn(t *testing.T) {
	dir := t.TempDir()
	if _, ok := Pending(dir, time.Time{}); ok {
		t.Fatal("a request pending where none was written")
	}
	before := time.Now()
	if err := Write(dir, Request{Reason: "game day over"}); err != nil {
		t.Fatal(err)
	}
	r, ok := Pending(dir, before)
	if !ok || r.Reason != "game day over" || r.By == "" {
		t.Fatalf("pending %v %+v", ok, r)
	}
	if _, ok := Pending(dir, time.Now().Add(time.Second)); ok {
		t.Fatal("a run that began after the request honoured it")
	}
	os.WriteFile(filepath.Join(dir, RequestFile), []byte("{"), 0o644)
	if _, _, err := Read(dir); err == nil {
		t.Fatal("a corrupt request read without an error")
	}
}

// Holders lists live registrations only: one whose process is gone (or
// whose pid a later process took) is removed, and Acknowledge shows.
func TestHoldersAreTheLiveRegistrations(t *testing.T) {
	dir := t.TempDir()
	reg, err := Register(dir, "drill suite")
	if err != nil {
		t.Fatal(err)
	}
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, RunningDir, strconv.Itoa(gone.Process.Pid)+".json")
	os.WriteFile(stale, []byte(`{"pid":`+strconv.Itoa(gone.Process.Pid)+`,"what":"gone"}`), 0o644)
	reused := filepath.Join(dir, RunningDir, "self-earlier.json")
	os.WriteFile(reused, []byte(`{"pid":`+strconv.Itoa(os.Getpid())+`,"what":"an earlier process with this pid","proc_start":"1"}`), 0o644)
	h := Holders(dir)
	if len(h) != 1 || h[0].What != "drill suite" || h[0].AbortingNs != 0 {
		t.Fatalf("holders %+v", h)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Fatal("the registration of an exited process was kept")
	}
	reg.Acknowledge()
	if h := Holders(dir); len(h) != 1 || h[0].AbortingNs == 0 {
		t.Fatalf("after Acknowledge: %+v", h)
	}
	reg.Close()
	if h := Holders(dir); len(h) != 0 {
		t.Fatalf("after Close: %+v", h)
	}
}
