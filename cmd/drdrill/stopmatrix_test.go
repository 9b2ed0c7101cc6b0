package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/drdrill/drdrill/internal/abort"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/twin"
)

// The stop matrix (#24 item 6): a drill is stopped by each of SIGINT,
// SIGTERM, SIGHUP, two SIGINTs, and SIGKILL followed by `drdrill recover`,
// at each phase of a promotion fault — mid-injection, during the fault's
// hold, mid-rollback — on the lab and on the twin. Afterwards the target's
// own state (the lab's topology, servers and links; the twin's network ACL
// associations, queues, subscriptions, reserved concurrency, alarm and
// global cluster writer) shows no fault, and run.json records how the run
// ended.
//
// A phase is reached from what the harness and the target record, not from
// sleeps: the fault ledger's injecting entry, the history's hold event, the
// target starting the switch-back (the lab's switchover-start event, the
// twin's FailoverState). On the lab a promotion takes tens of milliseconds,
// so the matrix freezes the lab's supervisor (SIGSTOP) the moment the
// promotion starts and thaws it once the signals are delivered: the
// harness then meets the stop with the promotion still under way, as it
// does on AWS, where one takes minutes. On the twin (time scale 0.02) a
// promotion takes seconds and nothing is frozen.
//
// `drdrill abort` (#24 item 3) is a sixth way to stop, in every phase.
//
// Cost: 18 short planned-switchover drills at 100 writes/s on one lab and
// 18 on one twin, each target checked clean between cells.

// stopPlan is how a cell stops the drill.
type stopPlan struct {
	name    string
	signals []syscall.Signal // sent to drdrill, in order; the next once the suite shows the previous
	kill    bool             // SIGKILL drdrill and its suites, then `drdrill recover`
	abort   bool             // `drdrill abort` from another process
}

var stopPlans = []stopPlan{
	{name: "SIGINT", signals: []syscall.Signal{syscall.SIGINT}},
	{name: "SIGTERM", signals: []syscall.Signal{syscall.SIGTERM}},
	{name: "SIGHUP", signals: []syscall.Signal{syscall.SIGHUP}},
	{name: "2xSIGINT", signals: []syscall.Signal{syscall.SIGINT, syscall.SIGINT}},
	{name: "SIGKILL+recover", kill: true},
	{name: "abort", abort: true},
}

var stopPhases = []string{"mid-injection", "during-hold", "mid-rollback"}

// stopTarget is the lab or the twin as the matrix drives and inspects it.
type stopTarget struct {
	name      string
	env       []string
	outputs   string // the outputs file drills attach to
	ledgerDir string
	labDir    string // the lab (the twin's own lab on the twin)
	// reach blocks until the drill is in phase and pins it if it must:
	// unpin is then what releases it (nil: nothing pinned).
	reach func(t *testing.T, phase string, d *drillProc) (unpin func(), err error)
	// faultsLeft reads the target's own state: one line per fault found.
	faultsLeft func(t *testing.T) []string
	recover    []string
}

// drillProc is a running `drdrill drill` and what it prints.
type drillProc struct {
	cmd     *exec.Cmd
	out     *syncBuffer
	reports string
	start   time.Time
	exited  chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startDrill(t *testing.T, st *stopTarget) *drillProc {
	t.Helper()
	d := &drillProc{out: &syncBuffer{}, reports: t.TempDir(), start: time.Now(), exited: make(chan struct{})}
	d.cmd = exec.Command(bin, "drill", "--outputs", st.outputs, "--reports", d.reports, "--labels", "planned-switchover", "--rate", "100")
	d.cmd.Env = append(os.Environ(), st.env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	return d
}

func (d *drillProc) done() bool {
	select {
	case <-d.exited:
		return true
	default:
		return false
	}
}

// suitePGID is the process group drdrill runs its suites in (the ginkgo
// CLI leads it), or 0.
func (d *drillProc) suitePGID() int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(st, ')')
		f := strings.Fields(string(st[i+1:]))
		if len(f) > 3 && f[1] == strconv.Itoa(d.cmd.Process.Pid) && bytes.Contains(st[:i], []byte("ginkgo")) {
			pgid, _ := strconv.Atoi(f[2])
			if pgid == pid {
				return pgid
			}
		}
	}
	return 0
}

// ledgerLines is every line of the ledger in dir, in the order recorded,
// not only each fault's latest state.
func ledgerLines(dir string) []ledger.Entry {
	es, _, _ := ledger.Open(dir).Changes(0)
	return es
}

// ledgerState is the first time this drill's planned-switchover reached
// state in the ledger, or 0.
func ledgerState(dir string, since time.Time, state string) int64 {
	for _, e := range ledgerLines(dir) {
		if e.Fault == "planned-switchover" && e.State == state && e.TimeNs >= since.UnixNano() {
			return e.TimeNs
		}
	}
	return 0
}

// inHold reports whether the drill's history shows the hold on the new
// primary (after the switchover) under way.
func (d *drillProc) inHold() bool {
	h, _ := filepath.Glob(filepath.Join(d.reports, "*", "planned-switchover", "history.jsonl"))
	if len(h) != 1 {
		return false
	}
	b, err := os.ReadFile(h[0])
	if err != nil {
		return false
	}
	injected := false
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e struct {
			T string `json:"t"`
			history.Event
		}
		if json.Unmarshal(line, &e) != nil || e.T != "event" {
			continue
		}
		switch {
		case e.Source == "fault" && e.Kind == "inject" && e.Fault == "planned-switchover":
			injected = true
		case injected && e.Source == "harness" && e.Kind == report.HoldStart:
			return true
		case e.Source == "harness" && e.Kind == report.HoldEnd && injected:
			return false
		}
	}
	return false
}

// errPhaseMissed: the drill went through the phase before it could be
// pinned; the cell runs again.
var errPhaseMissed = errors.New("the promotion completed before the supervisor froze")

// waitFor polls cond every millisecond until it holds, the drill exits or
// within passes.
func waitFor(d *drillProc, within time.Duration, what string, cond func() bool) error {
	for deadline := time.Now().Add(within); ; time.Sleep(time.Millisecond) {
		if cond() {
			return nil
		}
		if d.done() {
			return fmt.Errorf("the drill exited before %s", what)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s within %v", what, within)
		}
	}
}

// labEvents reads the lab's control-plane events.
func labEvents(dir string) []lab.Event {
	b, _ := os.ReadFile(filepath.Join(dir, "events.jsonl"))
	var out []lab.Event
	for _, line := range bytes.Split(b, []byte("\n")) {
		var e lab.Event
		if json.Unmarshal(line, &e) == nil && e.Kind != "" {
			out = append(out, e)
		}
	}
	return out
}

// labPromotionStarted finds a switchover toward region that started after
// since and has not completed, by the lab's own events.
func labPromotionStarted(dir, region string, since int64) (started, completed bool) {
	for _, e := range labEvents(dir) {
		if e.TimeNs < since || e.Region != region {
			continue
		}
		switch e.Kind {
		case "switchover-start":
			started = true
		case "promote":
			if started {
				completed = true
			}
		}
	}
	return started, completed
}

// labStopTarget is one lab (no automatic failover: the matrix drills a
// planned switchover) shared by the lab's cells.
func labStopTarget(t *testing.T) *stopTarget {
	needMariaDB(t)
	dir := filepath.Join(t.TempDir(), "lab")
	mustRun(t, "lab", "up", "--dir", dir, "--no-auto-failover")
	t.Cleanup(func() { run(t, nil, "lab", "down", "--dir", dir) })
	info, err := lab.ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := &stopTarget{name: "lab", outputs: filepath.Join(dir, lab.OutputsFile), ledgerDir: dir, labDir: dir,
		recover: []string{"recover", "--dir", dir}}
	// freeze stops the supervisor the moment started reports the
	// promotion toward region under way, and checks it has not completed.
	freeze := func(d *drillProc, region string, since func() int64, started func(since int64) bool) (func(), error) {
		var at int64
		err := waitFor(d, 2*time.Minute, "a promotion toward "+region, func() bool {
			if at = since(); at == 0 {
				return false
			}
			return started(at)
		})
		if err != nil {
			return nil, err
		}
		if err := syscall.Kill(info.PID, syscall.SIGSTOP); err != nil {
			return nil, err
		}
		unpin := func() { _ = syscall.Kill(info.PID, syscall.SIGCONT) }
		if _, completed := labPromotionStarted(dir, region, at); completed {
			unpin()
			return nil, errPhaseMissed
		}
		return unpin, nil
	}
	st.reach = func(t *testing.T, phase string, d *drillProc) (func(), error) {
		switch phase {
		case "mid-injection":
			// The ledger's injecting entry is written before the lab is
			// asked to promote.
			return freeze(d, "us-west-2", func() int64 { return ledgerState(dir, d.start, ledger.Injecting) },
				func(int64) bool { return true })
		case "during-hold":
			return nil, waitFor(d, 2*time.Minute, "hold on the new primary", d.inHold)
		default:
			// The rolling-back entry is written before the lab is asked
			// to switch back; a ledger without that state is caught by
			// the lab's switchover-start event.
			return freeze(d, "us-east-1", func() int64 { return ledgerState(dir, d.start, ledger.Injected) },
				func(injected int64) bool {
					if ledgerState(dir, d.start, ledger.RollingBack) != 0 {
						return true
					}
					started, _ := labPromotionStarted(dir, "us-east-1", injected)
					return started
				})
		}
	}
	st.faultsLeft = func(t *testing.T) []string {
		var left []string
		if active, err := ledger.Open(dir).Active(); err != nil || len(active) > 0 {
			left = append(left, fmt.Sprintf("ledger: %v %v", active, err))
		}
		r := run(t, nil, "lab", "status", "--dir", dir, "--json")
		var s lab.Status
		if err := json.Unmarshal([]byte(r.out), &s); err != nil {
			return append(left, fmt.Sprintf("lab status: exit %d %s", r.code, r.out))
		}
		if !s.Healthy || s.Primary != "us-east-1" {
			left = append(left, fmt.Sprintf("topology: primary %s, healthy %v", s.Primary, s.Healthy))
		}
		for _, reg := range s.Regions {
			if !reg.Running || !reg.Reachable || reg.Frozen {
				left = append(left, fmt.Sprintf("server %s: running %v reachable %v frozen %v", reg.Name, reg.Running, reg.Reachable, reg.Frozen))
			}
		}
		for _, k := range s.Links {
			if k.Blackholed || k.BytesPerSec > 0 || (k.Latency > 0 && !strings.HasPrefix(k.Name, "repl-")) || k.Latency > 35*time.Millisecond {
				left = append(left, fmt.Sprintf("link %s: blackholed %v latency %v cap %d", k.Name, k.Blackholed, k.Latency, k.BytesPerSec))
			}
		}
		return left
	}
	return st
}

// twinStopTarget is one twin (time scale 0.02: a promotion takes about
// 3 s) shared by the twin's cells.
func twinStopTarget(t *testing.T) *stopTarget {
	dir := startTwinCLI(t, "0.02")
	env := twinEnv(t, dir)
	outputsFile := filepath.Join(dir, "flat-outputs.json")
	out, err := outputs.Read(outputsFile)
	if err != nil {
		t.Fatal(err)
	}
	st := &stopTarget{name: "twin", env: env, outputs: outputsFile, ledgerDir: dir, labDir: filepath.Join(dir, "lab"),
		recover: []string{"recover", "--outputs", outputsFile}}
	gdb := rds.NewFromConfig(twinConfig(t, env, out[outputs.PrimaryRegion]))
	switchingTo := func(arn string) bool {
		g, err := gdb.DescribeGlobalClusters(context.Background(), &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: awssdk.String(out[outputs.GlobalClusterIdentifier])})
		if err != nil || len(g.GlobalClusters) != 1 || g.GlobalClusters[0].FailoverState == nil {
			return false
		}
		return awssdk.ToString(g.GlobalClusters[0].FailoverState.ToDbClusterArn) == arn
	}
	st.reach = func(t *testing.T, phase string, d *drillProc) (func(), error) {
		switch phase {
		case "mid-injection":
			return nil, waitFor(d, 2*time.Minute, "planned-switchover injecting", func() bool {
				return ledgerState(dir, d.start, ledger.Injecting) != 0
			})
		case "during-hold":
			return nil, waitFor(d, 2*time.Minute, "hold on the new primary", d.inHold)
		default:
			return nil, waitFor(d, 2*time.Minute, "switch-back under way", func() bool {
				return ledgerState(dir, d.start, ledger.Injected) != 0 && switchingTo(out["PrimaryClusterArn"])
			})
		}
	}
	st.faultsLeft = func(t *testing.T) []string {
		var left []string
		if active, err := ledger.Open(dir).Active(); err != nil || len(active) > 0 {
			left = append(left, fmt.Sprintf("ledger: %v %v", active, err))
		}
		left = append(left, twinFaultsLeft(t, env, out)...)
		if r := run(t, nil, "lab", "status", "--dir", st.labDir); r.code != 0 || !strings.Contains(r.out, "primary us-east-1") {
			left = append(left, fmt.Sprintf("the lab under the twin: exit %d\n%s", r.code, r.out))
		}
		return left
	}
	return st
}

// stopCell is one cell's outcome, for the table the matrix logs.
type stopCell struct {
	name, exit, status, left, verdict string
	failed                            bool
}

// pinHold is how long a pinned promotion stays pinned after the last
// signal's effect shows, unless drdrill exits first: a harness that
// abandons a rollback on a later signal exits within it, with the
// promotion still under way, as it would on AWS, where one takes minutes.
const pinHold = 2 * time.Second

// runStopCell runs one drill, stops it by plan at phase, and checks the
// target and the record. A phase the drill went through before it could
// be pinned is tried again, up to three times.
func runStopCell(t *testing.T, st *stopTarget, plan stopPlan, phase string) stopCell {
	cell := stopCell{name: st.name + "/" + plan.name + "/" + phase}
	fail := func(format string, a ...any) {
		cell.failed = true
		t.Errorf("%s: "+format, append([]any{cell.name}, a...)...)
	}
	var d *drillProc
	var unpin func()
	for attempt := 1; ; attempt++ {
		d = startDrill(t, st)
		var err error
		if unpin, err = st.reach(t, phase, d); err == nil {
			break
		}
		if pg := d.suitePGID(); pg != 0 {
			_ = syscall.Kill(-pg, syscall.SIGKILL)
		}
		_ = d.cmd.Process.Kill()
		<-d.exited
		if !errors.Is(err, errPhaseMissed) || attempt == 3 {
			t.Fatalf("%s: %v\n%s", cell.name, err, d.out.String())
		}
		t.Logf("%s: %v; again", cell.name, err)
		if r := run(t, st.env, st.recover...); r.code != 0 {
			t.Fatalf("%s: recover after a missed phase: exit %d\n%s", cell.name, r.code, r.out)
		}
	}
	release := func() {
		if unpin != nil {
			unpin()
			unpin = nil
		}
	}
	signalled := time.Now()
	if plan.kill {
		if pg := d.suitePGID(); pg != 0 {
			_ = syscall.Kill(-pg, syscall.SIGKILL)
		}
		_ = d.cmd.Process.Kill()
		<-d.exited
		release()
		if r := run(t, st.env, st.recover...); r.code != 0 {
			fail("recover: exit %d\n%s", r.code, r.out)
		}
	} else {
		// What shows the suite took each signal: Ginkgo's first and second
		// interrupt, or drdrill absorbing a later one.
		took := func(i int) func() bool {
			return func() bool {
				o := d.out.String()
				if i == 0 {
					return strings.Contains(o, "First interrupt received")
				}
				return strings.Contains(o, "Second interrupt received") || strings.Contains(o, "again (stopping since")
			}
		}
		if plan.abort {
			args := append([]string{"abort"}, st.recover[1:]...)
			if r := run(t, st.env, args...); r.code != 0 || !strings.Contains(r.out, "is stopping") {
				fail("drdrill abort: exit %d\n%s", r.code, r.out)
			}
			_ = waitFor(d, 30*time.Second, "the abort taken", took(0))
		}
		for i, sig := range plan.signals {
			if err := d.cmd.Process.Signal(sig); err != nil {
				fail("signal %v: %v", sig, err)
			}
			// The next signal once the suite has taken this one: a
			// facilitator's second Ctrl-C during the rollback.
			_ = waitFor(d, 30*time.Second, fmt.Sprintf("signal %d taken", i+1), took(i))
		}
		if unpin != nil {
			select {
			case <-d.exited:
			case <-time.After(pinHold):
			}
		}
		release()
		select {
		case <-d.exited:
		case <-time.After(4 * time.Minute):
			if pg := d.suitePGID(); pg != 0 {
				_ = syscall.Kill(-pg, syscall.SIGKILL)
			}
			_ = d.cmd.Process.Kill()
			<-d.exited
			fail("drdrill still running 4 min after %s", plan.name)
		}
	}
	if phase == "mid-injection" {
		if at := ledgerState(st.ledgerDir, d.start, ledger.Injected); at != 0 && at < signalled.UnixNano() {
			t.Fatalf("%s: the injection completed %v before the stop: the cell missed its phase\n%s", cell.name, signalled.Sub(time.Unix(0, at)), d.out.String())
		}
	}
	cell.exit = strconv.Itoa(d.cmd.ProcessState.ExitCode())
	// The target's own state; a settling alarm or replication gets a
	// moment, a fault left in place does not go away by itself.
	var left []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if left = st.faultsLeft(t); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	cell.left = "none"
	if len(left) > 0 {
		cell.left = strings.Join(left, "; ")
		fail("fault left after %s at %s: %s\n%s", plan.name, phase, cell.left, d.out.String())
		// Clean for the next cell: recover, and let the target settle.
		r := run(t, st.env, st.recover...)
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
			if left = st.faultsLeft(t); len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the target could not be recovered for the next cell: %s\nrecover: exit %d\n%s", cell.name, strings.Join(left, "; "), r.code, r.out)
			}
		}
	}
	runs, _ := filepath.Glob(filepath.Join(d.reports, "*", report.RunMetaFile))
	if len(runs) != 1 {
		fail("%d run.json files", len(runs))
		return cell
	}
	var meta struct {
		Status string `json:"status"`
		Stop   *struct {
			Signal       string   `json:"signal"`
			By           string   `json:"by"`
			Scenario     string   `json:"scenario"`
			LeftInjected []string `json:"left_injected"`
		} `json:"stop"`
	}
	b, _ := os.ReadFile(runs[0])
	_ = json.Unmarshal(b, &meta)
	cell.status = meta.Status
	if meta.Stop != nil {
		cell.status += fmt.Sprintf(" (%s in %s)", meta.Stop.Signal+meta.Stop.By, meta.Stop.Scenario)
	}
	wantExit, wantStatus, wantSignal := "", "interrupted", ""
	switch {
	case plan.kill:
		wantStatus = "running" // nothing finished the run: it says so
	case plan.abort:
		wantExit, wantStatus = "130", "aborted"
	default:
		wantExit, wantSignal = strconv.Itoa(128+int(plan.signals[0])), sigName(plan.signals[0])
	}
	if !plan.kill {
		if meta.Stop == nil || meta.Stop.Signal != wantSignal || meta.Stop.Scenario != "planned-switchover" || plan.abort && meta.Stop.By == "" {
			fail("run.json stop = %+v, want %s in planned-switchover", meta.Stop, plan.name)
		} else if len(meta.Stop.LeftInjected) > 0 || strings.Contains(d.out.String(), "the suites left") {
			// drdrill's last guard rolled back what the suite did not:
			// the suite's own stop handling failed.
			fail("the suite left %v for drdrill to roll back", meta.Stop.LeftInjected)
		}
	}
	if meta.Status != wantStatus {
		fail("run.json status %q, want %q", meta.Status, wantStatus)
	}
	if wantExit != "" && cell.exit != wantExit {
		fail("exit %s, want %s", cell.exit, wantExit)
	}
	v := run(t, nil, "verdict", filepath.Dir(runs[0]))
	cell.verdict = fmt.Sprintf("exit %d", v.code)
	if v.code == 0 {
		fail("verdict passed an unfinished run:\n%s", v.out)
	}
	return cell
}

func sigName(s syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM", syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT"}[s]
}

func runStopMatrix(t *testing.T, st *stopTarget) {
	var cells []stopCell
	for _, phase := range stopPhases {
		for _, plan := range stopPlans {
			cells = append(cells, runStopCell(t, st, plan, phase))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "stop matrix on the %s:\n%-36s %-5s %-40s %-10s %s\n", st.name, "CELL", "EXIT", "STATUS", "VERDICT", "FAULTS LEFT")
	for _, c := range cells {
		mark := ""
		if c.failed {
			mark = "  ✗"
		}
		fmt.Fprintf(&b, "%-36s %-5s %-40s %-10s %s%s\n", c.name, c.exit, c.status, c.verdict, c.left, mark)
	}
	t.Log(b.String())
}

// On the lab, beside the matrix: a timeout, drdrill killed under its
// suite, and `fault inject --for` stopped, on the same lab.
func TestStopMatrixOnTheLab(t *testing.T) {
	st := labStopTarget(t)
	t.Run("matrix", func(t *testing.T) { runStopMatrix(t, st) })
	t.Run("timeout", func(t *testing.T) { timeoutRollsBack(t, st) })
	t.Run("drdrill-killed", func(t *testing.T) { suiteStopsWithoutDrdrill(t, st) })
	t.Run("fault-inject-for", func(t *testing.T) { faultInjectForStops(t, st) })
	t.Run("sigquit", func(t *testing.T) { sigquitIsAnInterrupt(t, st) })
}

// SIGQUIT is one more stop signal: the same one interrupt, not a
// goroutine dump and an exit with the fault in place.
func sigquitIsAnInterrupt(t *testing.T, st *stopTarget) {
	d := startDrill(t, st)
	if err := waitFor(d, 2*time.Minute, "hold on the new primary", d.inHold); err != nil {
		t.Fatalf("%v\n%s", err, d.out.String())
	}
	_ = d.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-d.exited:
	case <-time.After(2 * time.Minute):
		_ = d.cmd.Process.Kill()
		t.Fatalf("drdrill still running 2 min after SIGQUIT:\n%s", d.out.String())
	}
	_, m := readRunMeta(t, d.reports)
	if code := d.cmd.ProcessState.ExitCode(); code != 131 || m.Status != report.StatusInterrupted || m.Stop == nil || m.Stop.Signal != "SIGQUIT" || strings.Contains(d.out.String(), "SIGQUIT: quit") {
		t.Errorf("SIGQUIT during the hold: exit %d, status %q, stop %+v; want 131, interrupted by SIGQUIT, no goroutine dump\n%s", code, m.Status, m.Stop, d.out.String())
	}
	expectClean(t, st, "a drill stopped by SIGQUIT")
}

// readRunMeta reads the only run.json under reports.
func readRunMeta(t *testing.T, reports string) (string, report.RunMeta) {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(reports, "*", report.RunMetaFile))
	if len(runs) != 1 {
		t.Fatalf("%d run.json files under %s", len(runs), reports)
	}
	var m report.RunMeta
	b, _ := os.ReadFile(runs[0])
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(runs[0]), m
}

func expectClean(t *testing.T, st *stopTarget, what string) {
	t.Helper()
	var left []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		if left = st.faultsLeft(t); len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Errorf("%s left: %s", what, strings.Join(left, "; "))
	run(t, st.env, st.recover...)
}

// A suite timeout rolls the running scenario back like an interrupt, and
// the run says it timed out (#24 item 5).
func timeoutRollsBack(t *testing.T, st *stopTarget) {
	reports := t.TempDir()
	r := run(t, st.env, "drill", "--outputs", st.outputs, "--reports", reports, "--labels", "planned-switchover", "--rate", "100", "--timeout", "6s")
	dir, m := readRunMeta(t, reports)
	if r.code != 124 || m.Status != report.StatusTimedOut {
		t.Errorf("a drill past its 6 s timeout: exit %d, status %q; want 124, timed-out\n%s", r.code, m.Status, r.out)
	}
	expectClean(t, st, "a timed-out drill")
	if v := run(t, nil, "verdict", dir); v.code == 0 {
		t.Errorf("verdict passed a timed-out run:\n%s", v.out)
	}
}

// drdrill killed with SIGKILL under its suite: the suite, in its own
// session, sees its drdrill gone within a poll and stops as on an
// interrupt — it rolls back and starts no further scenario — instead of
// drilling on unwatched.
func suiteStopsWithoutDrdrill(t *testing.T, st *stopTarget) {
	d := &drillProc{out: &syncBuffer{}, reports: t.TempDir(), start: time.Now(), exited: make(chan struct{})}
	d.cmd = exec.Command(bin, "drill", "--outputs", st.outputs, "--reports", d.reports, "--labels", "planned-switchover || failback", "--rate", "100")
	d.cmd.Env = append(os.Environ(), st.env...)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = d.cmd.Wait(); close(d.exited) }()
	if err := waitFor(d, 2*time.Minute, "planned-switchover injected", func() bool { return ledgerState(st.ledgerDir, d.start, ledger.Injected) != 0 }); err != nil {
		t.Fatalf("%v\n%s", err, d.out.String())
	}
	pg := d.suitePGID()
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	// The output pipe closes when the suites, which share it, exit.
	select {
	case <-d.exited:
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-pg, syscall.SIGKILL)
		t.Fatalf("the suites still running 2 min after drdrill was killed:\n%s", d.out.String())
	}
	expectClean(t, st, "the suites of a killed drdrill")
	runDir, _ := readRunMeta(t, d.reports)
	s, err := report.ReadStop(runDir)
	if err != nil || s == nil || s.Cause != "parent-gone" || s.Scenario != "planned-switchover" {
		t.Errorf("the suite's stop record: %+v (%v); want parent-gone in planned-switchover\n%s", s, err, d.out.String())
	}
	if h, _ := filepath.Glob(filepath.Join(runDir, "failback", "history.jsonl")); len(h) > 0 {
		t.Errorf("the suites of a killed drdrill went on to the next scenario:\n%s", d.out.String())
	}
}

// `fault inject --for` stopped by SIGHUP mid-injection (the lab's
// supervisor frozen while it injects) leaves nothing injected, and
// `drdrill abort` ends its hold early; both exit as stopped.
func faultInjectForStops(t *testing.T, st *stopTarget) {
	info, err := lab.ReadInfo(st.labDir)
	if err != nil {
		t.Fatal(err)
	}
	inject := func(name string) *drillProc {
		d := &drillProc{out: &syncBuffer{}, start: time.Now(), exited: make(chan struct{})}
		d.cmd = exec.Command(bin, "fault", "inject", name, "--dir", st.labDir, "--for", "1m")
		d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
		if err := d.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { _ = d.cmd.Wait(); close(d.exited) }()
		return d
	}
	state := func(d *drillProc, fault, state string) func() bool {
		return func() bool {
			for _, e := range ledgerLines(st.ledgerDir) {
				if e.Fault == fault && e.State == state && e.TimeNs >= d.start.UnixNano() {
					return true
				}
			}
			return false
		}
	}
	wait := func(d *drillProc) {
		select {
		case <-d.exited:
		case <-time.After(time.Minute):
			_ = d.cmd.Process.Kill()
			t.Fatalf("fault inject still running:\n%s", d.out.String())
		}
	}

	// The injection is a switchover: the lab's events show whether the
	// freeze caught it under way; if it finished first, again.
	var d *drillProc
	for attempt := 1; ; attempt++ {
		d = inject("planned-switchover")
		if err := waitFor(d, time.Minute, "planned-switchover injecting", state(d, "planned-switchover", ledger.Injecting)); err != nil {
			t.Fatalf("%v\n%s", err, d.out.String())
		}
		_ = syscall.Kill(info.PID, syscall.SIGSTOP)
		if _, completed := labPromotionStarted(st.labDir, "us-west-2", d.start.UnixNano()); !completed {
			break
		}
		_ = syscall.Kill(info.PID, syscall.SIGCONT)
		_ = d.cmd.Process.Signal(syscall.SIGINT)
		wait(d)
		expectClean(t, st, "fault inject --for after a missed phase")
		if attempt == 3 {
			t.Fatal("the switchover completed before the supervisor froze, three times")
		}
	}
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	_ = waitFor(d, 10*time.Second, "the SIGHUP taken", func() bool { return strings.Contains(d.out.String(), "SIGHUP") })
	_ = syscall.Kill(info.PID, syscall.SIGCONT)
	wait(d)
	if code := d.cmd.ProcessState.ExitCode(); code != 129 || state(d, "planned-switchover", ledger.Injected)() {
		t.Errorf("fault inject --for stopped by SIGHUP mid-injection: exit %d (want 129), injected %v\n%s", code, state(d, "planned-switchover", ledger.Injected)(), d.out.String())
	}
	expectClean(t, st, "fault inject --for stopped by SIGHUP mid-injection")

	d = inject("partition")
	if err := waitFor(d, time.Minute, "partition injected", state(d, "partition", ledger.Injected)); err != nil {
		t.Fatalf("%v\n%s", err, d.out.String())
	}
	if r := run(t, nil, "abort", "--dir", st.labDir); r.code != 0 || !strings.Contains(r.out, "fault inject partition --for 1m0s (pid") {
		t.Errorf("drdrill abort of fault inject --for: exit %d\n%s", r.code, r.out)
	}
	wait(d)
	if code := d.cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(d.out.String(), "rolled back partition") {
		t.Errorf("fault inject --for after drdrill abort: exit %d, want 130\n%s", code, d.out.String())
	}
	expectClean(t, st, "fault inject --for after drdrill abort")
	if r := run(t, nil, "abort", "--dir", st.labDir); r.code != 4 || !strings.Contains(r.out, "nothing to abort") {
		t.Errorf("drdrill abort with nothing running: exit %d\n%s", r.code, r.out)
	}
}

// On the twin, beside the matrix: the twin itself hung up on.
func TestStopMatrixOnTheTwin(t *testing.T) {
	st := twinStopTarget(t)
	t.Run("matrix", func(t *testing.T) { runStopMatrix(t, st) })
	t.Run("twin-sighup", func(t *testing.T) { twinStopsInOrderOnSIGHUP(t, st) })
}

// A twin run in a terminal that closes gets SIGHUP: it stops as on
// SIGTERM — its functions' processes, its lab and its twin.json go —
// instead of dying with them left behind.
func twinStopsInOrderOnSIGHUP(t *testing.T, st *stopTarget) {
	dir := filepath.Dir(st.outputs)
	info, err := twin.ReadInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	functions := func() []string {
		var out []string
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err == nil && bytes.Contains(env, []byte("AWS_LAMBDA_RUNTIME_API=")) && bytes.Contains(env, []byte("AWS_ENDPOINT_URL="+info.Endpoint+"\x00")) {
				out = append(out, e.Name())
			}
		}
		return out
	}
	if len(functions()) == 0 {
		t.Fatal("no function process of the twin found")
	}
	if err := syscall.Kill(info.PID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); abort.Alive(info.PID, ""); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the twin (pid %d) still running a minute after SIGHUP", info.PID)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, twin.InfoFile)); err == nil {
		t.Errorf("the twin left %s behind: it was killed, not stopped", twin.InfoFile)
	}
	time.Sleep(time.Second) // the functions' processes are reaped as the twin closes them
	if left := functions(); len(left) > 0 {
		t.Errorf("the twin's function processes outlived it: %v", left)
	}
	if left := labProcesses(st.labDir); len(left) > 0 {
		t.Errorf("the twin's lab outlived it: %v", left)
	}
}
