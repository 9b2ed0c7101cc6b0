package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// How a run ended (RunMeta.Status). A run is only a measurement when it
// completed: the others stopped part-way, and their figures say nothing
// about the scenarios that did not run.
const (
	// StatusRunning is written when a run starts; a run.json that still
	// says so belongs to a drill that was killed (or is still running).
	StatusRunning     = "running"
	StatusCompleted   = "completed"
	StatusInterrupted = "interrupted" // a signal (Ctrl-C, a scheduler's SIGTERM, a dropped session's SIGHUP)
	StatusAborted     = "aborted"     // `drdrill abort`
	StatusTimedOut    = "timed-out"   // the suite's or a scenario's timeout
)

// Stop is what stopped a run early: the cause, the signal, and where it
// hit. The suite writes it (StopFile) the moment it starts stopping, so it
// survives whatever happens next; drdrill copies it into run.json.
type Stop struct {
	// Cause: signal, abort, timeout, parent-gone (the drdrill that
	// started the suite disappeared) or suite-exited (the suites ended,
	// nothing having stopped them, with faults still injected).
	Cause string `json:"cause"`
	// Signal is the signal drdrill (or, run directly, the suite) received.
	Signal string `json:"signal,omitempty"`
	// By is who asked, for an abort.
	By string `json:"by,omitempty"`
	// Scenario, Spec and Step are where the stop hit (the running
	// scenario, its spec, its current step).
	Scenario string `json:"scenario,omitempty"`
	Spec     string `json:"spec,omitempty"`
	Step     string `json:"step,omitempty"`
	// Iteration is the REPEAT iteration it hit (0 without --repeat).
	Iteration int   `json:"iteration,omitempty"`
	AtNs      int64 `json:"at_ns,omitempty"`
	// Faults were injected when the stop came, and rolled back after it.
	Faults []string `json:"faults,omitempty"`
	// LeftInjected are faults the ledger still showed once the run ended:
	// `drdrill recover` undoes them. Empty is the only good value.
	LeftInjected []string `json:"left_injected,omitempty"`
}

// StopFile is the suite's record of a stop, in its run (or iteration)
// directory.
const StopFile = "stop.json"

// WriteStop records a stop in dir.
func WriteStop(dir string, s Stop) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, StopFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, StopFile))
}

// ReadStop reads dir's stop record, if the suite wrote one.
func ReadStop(dir string) (*Stop, error) {
	b, err := os.ReadFile(filepath.Join(dir, StopFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s Stop
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s is corrupt: %w", filepath.Join(dir, StopFile), err)
	}
	return &s, nil
}

// StatusFor is the status a stop gives a run.
func StatusFor(s *Stop) string {
	switch {
	case s == nil:
		return StatusCompleted
	case s.Cause == "abort":
		return StatusAborted
	case s.Cause == "timeout":
		return StatusTimedOut
	default:
		return StatusInterrupted
	}
}

// Complete reports whether the run ran to its end. A run.json from before
// drdrill recorded a status counts as complete, as it was judged then.
func (m RunMeta) Complete() bool { return m.Status == "" || m.Status == StatusCompleted }

// StatusLine says in one line how the run ended, e.g. "interrupted by
// SIGTERM in planned-switchover (holding 3s: …)".
func (m RunMeta) StatusLine() string {
	if m.Status == "" {
		return StatusCompleted
	}
	if m.Status == StatusRunning {
		return "never finished: the drill was killed before it could record how the run ended (its faults: `drdrill recover`)"
	}
	s := m.Status
	if st := m.Stop; st != nil {
		switch {
		case st.Signal != "":
			s += " by " + st.Signal
		case st.By != "":
			s += " by " + st.By
		case st.Cause == "parent-gone":
			s += ": the drdrill that ran the suite disappeared"
		case st.Cause == "suite-exited":
			s += ": the suites exited with faults still injected"
		}
		if st.Scenario != "" {
			s += " in " + st.Scenario
		}
		if st.Iteration > 0 {
			s += fmt.Sprintf(" (iteration %d)", st.Iteration)
		}
		if st.Step != "" {
			s += " (" + strings.TrimSpace(st.Step) + ")"
		}
		if st.AtNs != 0 && m.StartedNs != 0 {
			s += fmt.Sprintf(" after %v", time.Duration(st.AtNs-m.StartedNs).Round(time.Second))
		}
		if len(st.LeftInjected) > 0 {
			s += "; STILL INJECTED: " + strings.Join(st.LeftInjected, ", ") + " (run `drdrill recover`)"
		}
	}
	return s
}

// deriveStatus fills in the status of a run whose run.json has none or
// still says running (a suite run by ginkgo directly, or a drill killed
// part-way): from the suite's stop record, else from Ginkgo's report.
func deriveStatus(runDir string, m *RunMeta) {
	if m.Status != "" && m.Status != StatusRunning {
		return
	}
	for _, dir := range append([]string{runDir}, iterDirs(runDir)...) {
		if s, err := ReadStop(dir); err == nil && s != nil {
			m.Stop = s
			m.Status = StatusFor(s)
			return
		}
	}
	if m.Status == StatusRunning {
		return
	}
	for _, reason := range suiteFailureReasons(runDir) {
		switch {
		case strings.Contains(reason, "Interrupted"):
			m.Status = StatusInterrupted
			return
		case strings.Contains(reason, "Timeout"):
			m.Status, m.Stop = StatusTimedOut, &Stop{Cause: "timeout"}
			return
		}
	}
}

func iterDirs(runDir string) []string {
	m, _ := filepath.Glob(filepath.Join(runDir, "iter-*"))
	return m
}

// suiteFailureReasons are Ginkgo's special suite failure reasons ("Interrupted
// by User", "Suite Timeout Elapsed") in the JSON reports of a run and its
// iterations.
func suiteFailureReasons(runDir string) []string {
	var out []string
	for _, dir := range append([]string{runDir}, iterDirs(runDir)...) {
		b, err := os.ReadFile(filepath.Join(dir, "ginkgo-report.json"))
		if err != nil {
			continue
		}
		var suites []struct {
			SpecialSuiteFailureReasons []string `json:"SpecialSuiteFailureReasons"`
		}
		if json.Unmarshal(b, &suites) == nil {
			for _, s := range suites {
				out = append(out, s.SpecialSuiteFailureReasons...)
			}
		}
	}
	return out
}

// Timeouts reads Ginkgo's report in dir: the scenarios whose spec hit a
// timeout (its own or the suite's), by their first label, and whether the
// suite's timeout elapsed (it may hit before any spec runs).
func Timeouts(dir string) (scenarios []string, suite bool) {
	for _, r := range suiteFailureReasons(dir) {
		suite = suite || strings.Contains(r, "Timeout")
	}
	return timedOutSpecs(dir), suite
}

func timedOutSpecs(dir string) []string {
	b, err := os.ReadFile(filepath.Join(dir, "ginkgo-report.json"))
	if err != nil {
		return nil
	}
	var suites []struct {
		SpecReports []struct {
			State                    string     `json:"State"`
			LeafNodeText             string     `json:"LeafNodeText"`
			ContainerHierarchyLabels [][]string `json:"ContainerHierarchyLabels"`
		} `json:"SpecReports"`
	}
	if json.Unmarshal(b, &suites) != nil {
		return nil
	}
	var out []string
	for _, s := range suites {
		for _, sp := range s.SpecReports {
			if sp.State != "timedout" {
				continue
			}
			name := sp.LeafNodeText
			for _, ls := range sp.ContainerHierarchyLabels {
				if len(ls) > 0 {
					name = ls[0]
					break
				}
			}
			out = append(out, name)
		}
	}
	return out
}
