// Package live is what a running drill or observation publishes about
// itself for `drdrill status`: which scenario it is in (i of N), and the
// rate of writes and of failed writes over the last second. Each process
// writes one small file beside the fault ledger, replaced once a second;
// a reader takes only the files of processes still alive.
package live

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Dir is the directory, inside a ledger directory, of the progress files.
const Dir = "live"

// Progress is one running drill's or observation's state.
type Progress struct {
	PID int `json:"pid"`
	// What runs: "drill 20260101T000000Z", "observe 20260101T000000Z".
	What     string `json:"what"`
	Scenario string `json:"scenario,omitempty"`
	// Index and Total place the scenario in the run (1-based; 0: unknown).
	Index int `json:"index,omitempty"`
	Total int `json:"total,omitempty"`
	// RemainingS is the run's estimated time left, from its plan (0: none).
	RemainingS float64 `json:"remaining_s,omitempty"`
	// Writes and Errors per second over the last second; OK, Failed are
	// the scenario's totals so far.
	WritesPerS float64 `json:"writes_per_s"`
	ErrorsPerS float64 `json:"errors_per_s"`
	OK         int64   `json:"ok"`
	Failed     int64   `json:"failed"`
	UpdatedNs  int64   `json:"updated_ns"`
}

// Stale is how old a progress file may be and still count: a process
// that stopped writing for this long is hung or gone.
const Stale = 10 * time.Second

func path(dir string, pid int) string { return filepath.Join(dir, Dir, fmt.Sprintf("%d.json", pid)) }

// Publish replaces this process's progress file in the ledger directory dir.
func Publish(dir string, p Progress) error {
	if p.PID == 0 {
		p.PID = os.Getpid()
	}
	if p.UpdatedNs == 0 {
		p.UpdatedNs = time.Now().UnixNano()
	}
	if err := os.MkdirAll(filepath.Join(dir, Dir), 0o755); err != nil {
		return err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	dst := path(dir, p.PID)
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// Remove deletes this process's progress file.
func Remove(dir string) { _ = os.Remove(path(dir, os.Getpid())) }

// Read returns the progress of every process running against dir, by pid;
// files of dead processes are removed, stale ones left out.
func Read(dir string) []Progress {
	files, _ := filepath.Glob(filepath.Join(dir, Dir, "*.json"))
	var out []Progress
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var p Progress
		if json.Unmarshal(b, &p) != nil || p.PID <= 0 {
			continue
		}
		if syscall.Kill(p.PID, 0) == syscall.ESRCH {
			_ = os.Remove(f)
			continue
		}
		if time.Since(time.Unix(0, p.UpdatedNs)) > Stale {
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PID < out[j].PID })
	return out
}

// Line is the progress in a few words: "drill 2026…: region-outage 3/9,
// 998 writes/s, 12 errors/s, about 1m40s left".
func (p Progress) Line() string {
	var b strings.Builder
	b.WriteString(p.What)
	if p.Scenario != "" {
		fmt.Fprintf(&b, ": %s", p.Scenario)
		if p.Total > 0 {
			fmt.Fprintf(&b, " %d/%d", p.Index, p.Total)
		}
	}
	fmt.Fprintf(&b, ", %.0f writes/s, %.0f errors/s", p.WritesPerS, p.ErrorsPerS)
	if p.RemainingS > 0 {
		fmt.Fprintf(&b, ", about %v left", (time.Duration(p.RemainingS) * time.Second).Round(time.Second))
	}
	return b.String()
}
