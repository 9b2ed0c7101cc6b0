package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drdrill/drdrill/internal/outputs"
)

// Info is DIR/lab.json: where a running lab's parts are.
type Info struct {
	PID       int    `json:"pid"`
	Socket    string `json:"socket"`
	RunDir    string `json:"run_dir"`
	StartedNs int64  `json:"started_ns"`
	Ready     bool   `json:"ready"`
}

// Files in DIR.
const (
	infoFile    = "lab.json"
	pidFile     = "supervisor.pid"
	logFile     = "supervisor.log"
	eventsFile  = "events.jsonl"
	OutputsFile = "flat-outputs.json"
)

// ReadInfo reads DIR/lab.json of a running (or crashed) lab.
func ReadInfo(dir string) (Info, error) {
	b, err := os.ReadFile(filepath.Join(dir, infoFile))
	if errors.Is(err, os.ErrNotExist) {
		return Info{}, fmt.Errorf("no lab in %s: start one with `drdrill lab up --dir %s`", dir, dir)
	}
	if err != nil {
		return Info{}, err
	}
	var i Info
	if err := json.Unmarshal(b, &i); err != nil {
		return Info{}, fmt.Errorf("%s: corrupt (%v): run `drdrill lab down --dir %s` to clean up", filepath.Join(dir, infoFile), err, dir)
	}
	return i, nil
}

// runDirFor puts a lab's datadirs on tmpfs when available: synced writes on
// disk cost ~2 ms each and make the replica fall behind.
func runDirFor(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	base := os.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		base = "/dev/shm"
	}
	return filepath.Join(base, "drdrill-"+hex.EncodeToString(sum[:5]))
}

// socketPathFor keeps the control socket in DIR unless the path is too long
// for a unix socket (108 bytes), in which case it goes to the run dir.
func socketPathFor(dir, runDir string) string {
	p := filepath.Join(dir, "control.sock")
	if len(p) < 100 {
		return p
	}
	return filepath.Join(runDir, "control.sock")
}

// processMatches reports whether pid is alive and its command line contains
// marker: a PID from a pidfile is signalled only if it really is that lab's.
func processMatches(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+1:])); len(f) > 0 && f[0] == "Z" {
			return false // a zombie has exited; nothing to signal
		}
	}
	return strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker)
}

func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

func supervisorMarker(dir string) string { return "--dir " + dir }

// EmbeddedMarker is how a process that runs a lab inside itself (the AWS
// twin) names the lab's directory on its command line.
func EmbeddedMarker(dir string) string { return "--lab-dir " + dir }

// RunningPID returns the supervisor's PID if a lab is running in dir.
func RunningPID(dir string) int {
	pid := readPID(filepath.Join(dir, pidFile))
	if processMatches(pid, supervisorMarker(dir)) || processMatches(pid, EmbeddedMarker(dir)) {
		return pid
	}
	return 0
}

// Options configure a supervised lab.
type Options struct {
	Dir                string
	CrossRegionLatency time.Duration
	Controller         ControllerConfig
	// ExitWith, if set, is a PID whose exit stops the lab: a drill that
	// dies, even by SIGKILL, never leaves its lab running.
	ExitWith int
}

// cleanStale removes what a crashed lab left in dir: its servers (after
// checking each PID really is one of this lab's mariadbd), socket, run dir.
func cleanStale(dir string) []string {
	var did []string
	runDir := runDirFor(dir)
	if info, err := ReadInfo(dir); err == nil && info.RunDir != "" {
		runDir = info.RunDir
	}
	for _, region := range []string{PrimaryRegion, SecondaryRegion} {
		rd := filepath.Join(runDir, region)
		pid := readPID(filepath.Join(rd, "mariadbd.pid"))
		if processMatches(pid, "--defaults-file="+filepath.Join(rd, "my.cnf")) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			did = append(did, fmt.Sprintf("killed leftover mariadbd %d (%s)", pid, region))
			for i := 0; i < 100 && processMatches(pid, rd); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	if _, err := os.Stat(runDir); err == nil {
		_ = os.RemoveAll(runDir)
		did = append(did, "removed "+runDir)
	}
	for _, f := range []string{infoFile, pidFile, "control.sock"} {
		if err := os.Remove(filepath.Join(dir, f)); err == nil {
			did = append(did, "removed "+filepath.Join(dir, f))
		}
	}
	return did
}

// Supervise runs a lab in the foreground until ctx ends, SIGINT/SIGTERM
// arrives, or a shutdown request comes in; then it stops everything.
// ready, if set, is called once the lab replicates.
func Supervise(ctx context.Context, opt Options, ready func(Info, outputs.Outputs)) error {
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lab dir %s: %w", dir, err)
	}
	if pid := RunningPID(dir); pid != 0 {
		return fmt.Errorf("a lab is already running in %s (supervisor pid %d): use it, or stop it with `drdrill lab down --dir %s`", dir, pid, dir)
	}
	for _, d := range cleanStale(dir) {
		fmt.Fprintf(os.Stderr, "drdrill: stale lab in %s: %s\n", dir, d)
	}
	bins, err := FindBinaries()
	if err != nil {
		return err
	}
	tpl, err := EnsureTemplate(bins, CacheDir())
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, pidFile))
	runDir := runDirFor(dir)
	info := Info{PID: os.Getpid(), Socket: socketPathFor(dir, runDir), RunDir: runDir, StartedNs: time.Now().UnixNano()}
	if err := writeInfo(dir, info); err != nil {
		return err
	}
	defer os.Remove(filepath.Join(dir, infoFile))
	ev, err := OpenEventLog(filepath.Join(dir, eventsFile))
	if err != nil {
		return err
	}
	defer ev.Close()

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	upCtx, cancelUp := context.WithTimeout(ctx, 2*time.Minute)
	l, err := Up(upCtx, Config{RunDir: runDir, CrossRegionLatency: opt.CrossRegionLatency, Controller: opt.Controller,
		Bins: bins, Template: tpl, Events: ev})
	cancelUp()
	if err != nil {
		return err
	}
	defer l.Down()

	_ = os.Remove(info.Socket)
	ln, err := net.Listen("unix", info.Socket)
	if err != nil {
		return fmt.Errorf("control socket %s: %w", info.Socket, err)
	}
	defer os.Remove(info.Socket)
	shutdownCtx, shutdown := context.WithCancel(ctx)
	defer shutdown()
	if opt.ExitWith > 0 {
		go func() {
			for shutdownCtx.Err() == nil {
				if syscall.Kill(opt.ExitWith, 0) != nil {
					ev.Add("down", "", fmt.Sprintf("process %d that owns the lab has exited", opt.ExitWith))
					shutdown()
					return
				}
				time.Sleep(500 * time.Millisecond)
			}
		}()
	}
	srv := &http.Server{Handler: l.handler(shutdown)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	out := l.Outputs(dir, info.Socket)
	if err := out.Write(filepath.Join(dir, OutputsFile)); err != nil {
		return err
	}
	info.Ready = true
	if err := writeInfo(dir, info); err != nil {
		return err
	}
	if ready != nil {
		ready(info, out)
	}
	<-shutdownCtx.Done()
	ev.Add("down", "", "supervisor stopping")
	return nil
}

func writeInfo(dir string, i Info) error {
	b, _ := json.MarshalIndent(i, "", "  ")
	tmp := filepath.Join(dir, infoFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, infoFile))
}

// Outputs is the lab's flat-outputs.json: the AWS stack's names where they
// apply, plus lab-only keys.
func (l *Lab) Outputs(dir, socket string) outputs.Outputs {
	p, s := l.regions[0], l.regions[1]
	return outputs.Outputs{
		outputs.TargetKind:                 "lab",
		outputs.GlobalClusterIdentifier:    "drdrill-lab-global",
		outputs.PrimaryClusterIdentifier:   "drdrill-lab-" + p.Name,
		outputs.SecondaryClusterIdentifier: "drdrill-lab-" + s.Name,
		outputs.PrimaryClusterEndpoint:     p.client.Addr(),
		outputs.SecondaryClusterEndpoint:   s.client.Addr(),
		outputs.GlobalWriterEndpoint:       l.writer.Addr(),
		outputs.ReplicationLagAlarmName:    ReplicationLagAlarmName,
		outputs.PrimaryRegion:              p.Name,
		outputs.SecondaryRegion:            s.Name,
		outputs.DatabaseName:               "drdrill",
		outputs.LabDir:                     dir,
		outputs.LabControlSocket:           socket,
		outputs.LabAppUser:                 l.cfg.Template.Creds.AppUser,
		outputs.LabAppPassword:             l.cfg.Template.Creds.AppPassword,
	}
}

// StartBackground starts a supervisor for dir as a detached process (its own
// session) running exe with args, and returns once the lab replicates. If
// the supervisor fails, its log's tail is in the error.
func StartBackground(dir string, exe string, args []string, timeout time.Duration) (Info, error) {
	if pid := RunningPID(dir); pid != 0 {
		return Info{}, fmt.Errorf("a lab is already running in %s (supervisor pid %d): use it, or stop it with `drdrill lab down --dir %s`", dir, pid, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Info{}, err
	}
	logPath := filepath.Join(dir, logFile)
	lf, err := os.Create(logPath)
	if err != nil {
		return Info{}, err
	}
	defer lf.Close()
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return Info{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(timeout)
	for {
		if i, err := ReadInfo(dir); err == nil && i.Ready && i.PID == cmd.Process.Pid {
			return i, nil
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(logPath)
			return Info{}, fmt.Errorf("lab supervisor exited (%v): %s", err, strings.TrimSpace(tail(string(log), 1500)))
		case <-deadline:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			return Info{}, fmt.Errorf("lab did not become ready within %v; see %s", timeout, logPath)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop stops the lab in dir: politely through the control socket, then by
// signal, then by killing leftovers found through pidfiles. It is safe to
// call on a stopped or crashed lab and reports what it did.
func Stop(dir string, timeout time.Duration) ([]string, error) {
	var did []string
	pid := RunningPID(dir)
	if pid != 0 {
		if c, err := Connect(dir); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if c.Shutdown(ctx) == nil {
				did = append(did, fmt.Sprintf("asked supervisor %d to stop", pid))
			}
			cancel()
		}
		if !waitGone(pid, dir, timeout) {
			_ = syscall.Kill(pid, syscall.SIGTERM)
			did = append(did, fmt.Sprintf("sent SIGTERM to supervisor %d", pid))
			if !waitGone(pid, dir, 10*time.Second) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				did = append(did, fmt.Sprintf("sent SIGKILL to supervisor %d", pid))
				waitGone(pid, dir, 5*time.Second)
			}
		}
	}
	did = append(did, cleanStale(dir)...)
	if RunningPID(dir) != 0 {
		return did, fmt.Errorf("lab supervisor in %s is still running", dir)
	}
	return did, nil
}

func waitGone(pid int, dir string, timeout time.Duration) bool {
	end := time.Now().Add(timeout)
	for time.Now().Before(end) {
		if !processMatches(pid, supervisorMarker(dir)) && !processMatches(pid, EmbeddedMarker(dir)) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}
