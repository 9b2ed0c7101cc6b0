package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
)

// ErrPortInUse means mariadbd could not bind its port; the caller picks another.
var ErrPortInUse = errors.New("port in use")

// ServerConfig describes one incarnation of one region's mariadbd.
type ServerConfig struct {
	Region   string
	Dir      string // this incarnation's directory, on tmpfs when available
	ServerID int    // new for every incarnation: a re-seeded server with its old id skips its own events
	Port     int
	Bins     Binaries
	Template Template
	// Fresh copies the template into Dir; otherwise Dir's datadir is reused
	// (a restart after a crash keeps its data, as a rebooted region would).
	Fresh bool
}

// Server is a running mariadbd. Control connections use its unix socket and
// never pass through the fault proxies.
type Server struct {
	cfg     ServerConfig
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	admin   *sql.DB
	probe   *sql.DB
}

func (c ServerConfig) socket() string  { return filepath.Join(c.Dir, "mysqld.sock") }
func (c ServerConfig) cnf() string     { return filepath.Join(c.Dir, "my.cnf") }
func (c ServerConfig) errLog() string  { return filepath.Join(c.Dir, "error.log") }
func (c ServerConfig) pidFile() string { return filepath.Join(c.Dir, "mariadbd.pid") }

// myCnf is a small-footprint config: about 55–70 MB RSS under load. Durable
// commits (flush at commit, sync_binlog) are kept because they cost little on
// tmpfs and RPO measurements must not depend on the lab being lax.
func (c ServerConfig) myCnf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[mariadbd]\n")
	if os.Geteuid() == 0 {
		b.WriteString("user=root\n")
	}
	fmt.Fprintf(&b, `datadir=%s
socket=%s
pid-file=%s
log-error=%s
port=%d
bind-address=127.0.0.1
server_id=%d
log_bin=binlog
binlog_format=ROW
log_slave_updates=ON
gtid_strict_mode=ON
read_only=ON
skip_slave_start=ON
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=64M
innodb_log_file_size=48M
innodb_log_buffer_size=2M
aria_pagecache_buffer_size=1M
key_buffer_size=1M
table_open_cache=200
thread_cache_size=16
max_connections=1200
max_binlog_size=16M
relay_log=relay-bin
slave_net_timeout=5
innodb_flush_log_at_trx_commit=1
sync_binlog=1
`, filepath.Join(c.Dir, "data"), c.socket(), c.pidFile(), c.errLog(), c.Port, c.ServerID)
	return b.String()
}

// StartServer starts mariadbd and returns once it accepts admin connections.
func StartServer(ctx context.Context, cfg ServerConfig) (*Server, error) {
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	data := filepath.Join(cfg.Dir, "data")
	if cfg.Fresh {
		_ = os.RemoveAll(data)
		if err := os.CopyFS(data, os.DirFS(cfg.Template.DataDir)); err != nil {
			return nil, fmt.Errorf("%s: copy template datadir: %w", cfg.Region, err)
		}
	}
	_ = os.Remove(cfg.socket())
	_ = os.Remove(cfg.errLog())
	if err := os.WriteFile(cfg.cnf(), []byte(cfg.myCnf()), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(cfg.Bins.Server, "--defaults-file="+cfg.cnf())
	// Own process group, and killed by the kernel if the supervisor dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start %s: %w", cfg.Region, cfg.Bins.Server, err)
	}
	s := &Server{cfg: cfg, cmd: cmd, exited: make(chan struct{})}
	go func() { s.waitErr = cmd.Wait(); close(s.exited) }()
	dsn := func(timeout time.Duration) string {
		m := mysql.NewConfig()
		m.User, m.Passwd = cfg.Template.Creds.AdminUser, cfg.Template.Creds.AdminPassword
		m.Net, m.Addr = "unix", cfg.socket()
		m.Timeout, m.ReadTimeout, m.WriteTimeout = timeout, timeout, timeout
		m.InterpolateParams = true
		return m.FormatDSN()
	}
	s.admin, _ = sql.Open("mysql", dsn(10*time.Second))
	s.admin.SetMaxIdleConns(2)
	s.admin.SetConnMaxLifetime(time.Minute)
	s.probe, _ = sql.Open("mysql", dsn(time.Second))
	s.probe.SetMaxIdleConns(0) // a probe must open its own connection, as a new client would

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-s.exited:
			s.closeDBs()
			log, _ := os.ReadFile(cfg.errLog())
			if strings.Contains(string(log), "Address already in use") || strings.Contains(string(log), "Do you already have another server running") {
				return nil, fmt.Errorf("%s: mariadbd could not bind 127.0.0.1:%d: %w", cfg.Region, cfg.Port, ErrPortInUse)
			}
			return nil, fmt.Errorf("%s: mariadbd exited during start (%v); %s says:\n%s", cfg.Region, s.waitErr, cfg.errLog(), tail(string(log), 1500))
		case <-ctx.Done():
			s.Kill()
			return nil, ctx.Err()
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := s.admin.PingContext(pctx)
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return nil, fmt.Errorf("%s: mariadbd did not accept connections within 60s: %v (see %s)", cfg.Region, err, cfg.errLog())
		}
		time.Sleep(15 * time.Millisecond)
	}
}

func (s *Server) closeDBs() {
	if s.admin != nil {
		s.admin.Close()
	}
	if s.probe != nil {
		s.probe.Close()
	}
}

// Config is the incarnation's configuration.
func (s *Server) Config() ServerConfig { return s.cfg }

// DataDir is the incarnation's datadir.
func (s *Server) DataDir() string { return filepath.Join(s.cfg.Dir, "data") }

// PID is the mariadbd process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Addr is the TCP address the server listens on (only links should dial it).
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.cfg.Port) }

// Admin is a pool of admin connections over the unix socket.
func (s *Server) Admin() *sql.DB { return s.admin }

// Exited is closed when the process has exited.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// Alive reports whether the process is still running (frozen counts as alive).
func (s *Server) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// Kill sends SIGKILL (a crash: nothing is flushed) and waits for the exit.
func (s *Server) Kill() {
	if s.Alive() {
		_ = s.cmd.Process.Signal(syscall.SIGKILL)
		<-s.exited
	}
	s.closeDBs()
}

// Freeze stops the process with SIGSTOP: sockets stay open and say nothing.
func (s *Server) Freeze() error { return s.cmd.Process.Signal(syscall.SIGSTOP) }

// Thaw resumes a frozen process.
func (s *Server) Thaw() error { return s.cmd.Process.Signal(syscall.SIGCONT) }

// Shutdown stops the server cleanly, killing it if it takes longer than grace.
func (s *Server) Shutdown(grace time.Duration) {
	if s.Alive() {
		_ = s.cmd.Process.Signal(syscall.SIGCONT) // a frozen server cannot shut down
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(grace):
			s.Kill()
		}
	}
	s.closeDBs()
}

// Probe is the controller's health check: a fresh connection over the socket
// and one query, bounded by timeout. It reports reachability and writability.
func (s *Server) Probe(ctx context.Context, timeout time.Duration) (reachable, writable bool, err error) {
	if !s.Alive() {
		return false, false, errors.New("process not running")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ro int
	if err := s.probe.QueryRowContext(ctx, "SELECT @@global.read_only").Scan(&ro); err != nil {
		return false, false, err
	}
	return true, ro == 0, nil
}
