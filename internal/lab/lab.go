// Package lab is drdrill's embedded two-region lab: two real mariadbd
// servers ("us-east-1" primary, "us-west-2" secondary) with GTID replication
// over fault-injecting links, a global writer endpoint, and a failover
// controller that uses the same decision package as the AWS Lambdas.
package lab

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/link"
)

// Region names, in the AWS stack's default order.
const (
	PrimaryRegion   = "us-east-1"
	SecondaryRegion = "us-west-2"
)

// Role is a region's place in the topology.
type Role string

const (
	RolePrimary   Role = "primary"
	RoleSecondary Role = "secondary"
	// RoleFenced is a former primary (or a restarted server) that must not take
	// writes and is not replicating yet; the controller rejoins it.
	RoleFenced Role = "fenced"
	// RoleDown has no running server.
	RoleDown Role = "down"
)

// Config configures a lab.
type Config struct {
	// RunDir holds the servers' datadirs and sockets; tmpfs when available.
	RunDir string
	// CrossRegionLatency is the one-way latency of the replication links.
	CrossRegionLatency time.Duration
	Controller         ControllerConfig
	Bins               Binaries
	Template           Template
	Events             *EventLog
	Logf               func(format string, args ...any)
}

// Region is one region: a server incarnation and its links.
type Region struct {
	Name        string
	index       int
	port        int
	incarnation int
	server      *Server
	role        Role
	frozen      bool
	sync        syncState
	// client carries application traffic to this region's server.
	client *link.Link
	// replIn carries this region's replication stream from the other region.
	replIn *link.Link
}

// Lab is a running two-region lab. Methods are safe for concurrent use;
// topology changes are serialised.
type Lab struct {
	cfg     Config
	mu      sync.Mutex
	regions []*Region
	writer  *link.Link
	primary *Region
	ctrl    *controller
	hb      *labHeartbeat
	watch   *syncWatch
	// controlCut: the cross-region control path is cut (a partition that
	// takes the control plane with it), so the controller, which plays the
	// failover trigger in the deployment's secondary region, cannot fence
	// a server in the other region.
	controlCut bool

	// The last region snapshot, served by Status while a long operation
	// (a re-seed catching up, a switchover waiting) holds mu.
	snapMu   sync.Mutex
	lastSnap []regionSnap
	lastPrim string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (l *Lab) logf(format string, args ...any) {
	if l.cfg.Logf != nil {
		l.cfg.Logf(format, args...)
	}
}

func (l *Lab) event(kind, region, detail string) {
	if l.cfg.Events != nil {
		l.cfg.Events.Add(kind, region, detail)
	}
	l.logf("event %s %s %s", kind, region, detail)
}

// Up starts both regions, wires replication through the links and returns
// once a write on the primary has reached the secondary.
func Up(ctx context.Context, cfg Config) (l *Lab, err error) {
	if cfg.CrossRegionLatency < 0 {
		return nil, errors.New("cross-region latency must not be negative")
	}
	l = &Lab{cfg: cfg}
	defer func() {
		if err != nil {
			l.Down()
		}
	}()
	for i, name := range []string{PrimaryRegion, SecondaryRegion} {
		l.regions = append(l.regions, &Region{Name: name, index: i, role: RoleDown})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(l.regions))
	for i, r := range l.regions {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = l.startRegion(ctx, r, true) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return l, err
	}
	for _, r := range l.regions {
		if r.client, err = link.Listen("client-"+r.Name, "127.0.0.1:0", r.server.Addr()); err != nil {
			return l, err
		}
		other := l.other(r)
		if r.replIn, err = link.Listen("repl-"+r.Name, "127.0.0.1:0", other.server.Addr()); err != nil {
			return l, err
		}
		r.replIn.SetLatency(cfg.CrossRegionLatency)
	}
	p, s := l.regions[0], l.regions[1]
	for _, stmt := range Schema {
		if _, err := p.server.Admin().ExecContext(ctx, stmt); err != nil {
			return l, fmt.Errorf("%s: schema: %w", p.Name, err)
		}
	}
	if err := setReadOnly(ctx, p.server.Admin(), false); err != nil {
		return l, err
	}
	p.role, l.primary = RolePrimary, p
	if err := replicateFrom(ctx, s.server.Admin(), s.replIn.Addr(), cfg.Template.Creds, false); err != nil {
		return l, fmt.Errorf("%s: %w", s.Name, err)
	}
	s.role = RoleSecondary
	if l.writer, err = link.Listen("writer", "127.0.0.1:0", p.client.Addr()); err != nil {
		return l, err
	}
	if err := l.waitReplicating(ctx, 30*time.Second); err != nil {
		return l, err
	}
	p.sync.synced, s.sync.synced = true, true
	l.hb = startLabHeartbeat(l)
	l.ctrl = startController(l, cfg.Controller)
	l.watch = startSyncWatch(l)
	l.event("up", "", fmt.Sprintf("primary %s, secondary %s, writer %s", p.Name, s.Name, l.writer.Addr()))
	return l, nil
}

func (l *Lab) other(r *Region) *Region { return l.regions[1-r.index] }

// region returns the named region or an error naming the valid ones.
func (l *Lab) region(name string) (*Region, error) {
	for _, r := range l.regions {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("unknown region %q (the lab has %s and %s)", name, PrimaryRegion, SecondaryRegion)
}

// startRegion starts a new incarnation of r's server with a new server_id,
// retrying on a busy port (only on the first start: links point at the port).
func (l *Lab) startRegion(ctx context.Context, r *Region, fresh bool) error {
	for attempt := 0; ; attempt++ {
		if r.port == 0 {
			p, err := freePort()
			if err != nil {
				return err
			}
			r.port = p
		}
		r.incarnation++
		cfg := ServerConfig{Region: r.Name, Dir: filepath.Join(l.cfg.RunDir, r.Name), ServerID: (r.index+1)*10000 + r.incarnation,
			Port: r.port, Bins: l.cfg.Bins, Template: l.cfg.Template, Fresh: fresh}
		s, err := StartServer(ctx, cfg)
		if errors.Is(err, ErrPortInUse) && r.server == nil && attempt < 3 {
			r.port = 0
			continue
		}
		if err != nil {
			return err
		}
		r.server, r.frozen = s, false
		return nil
	}
}

// waitReplicating writes a token on the primary and waits for it on the secondary.
func (l *Lab) waitReplicating(ctx context.Context, timeout time.Duration) error {
	p, s := l.primary, l.other(l.primary)
	token := fmt.Sprintf("%d", time.Now().UnixNano())
	if _, err := p.server.Admin().ExecContext(ctx, "REPLACE INTO drdrill.probe (id, token) VALUES (1, ?)", token); err != nil {
		return fmt.Errorf("%s: probe write: %w", p.Name, err)
	}
	deadline := time.Now().Add(timeout)
	for {
		var got string
		err := s.server.Admin().QueryRowContext(ctx, "SELECT token FROM drdrill.probe WHERE id = 1").Scan(&got)
		if err == nil && got == token {
			return nil
		}
		if time.Now().After(deadline) {
			st, _ := replicaStatus(ctx, s.server.Admin())
			return fmt.Errorf("%s is not replicating from %s after %v (io=%s sql=%s %s%s)", s.Name, p.Name, timeout,
				st.IORunning, st.SQLRunning, st.LastIOError, st.LastSQLError)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Down stops the controller, the links and both servers.
func (l *Lab) Down() {
	if l.ctrl != nil {
		l.ctrl.stop()
	}
	if l.watch != nil {
		l.watch.stop()
	}
	if l.hb != nil {
		l.hb.stop()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writer != nil {
		l.writer.Close()
	}
	for _, r := range l.regions {
		for _, k := range []*link.Link{r.client, r.replIn} {
			if k != nil {
				k.Close()
			}
		}
	}
	var wg sync.WaitGroup
	for _, r := range l.regions {
		if r.server != nil {
			wg.Add(1)
			go func(s *Server) { defer wg.Done(); s.Shutdown(10 * time.Second) }(r.server)
		}
	}
	wg.Wait()
	_ = os.RemoveAll(l.cfg.RunDir)
}

// WriterAddr is the global writer endpoint.
func (l *Lab) WriterAddr() string { return l.writer.Addr() }

// Link returns a link by name: writer, client-<region> or repl-<region>.
func (l *Lab) Link(name string) (*link.Link, error) {
	if name == "writer" {
		return l.writer, nil
	}
	for _, r := range l.regions {
		if r.client.Name() == name {
			return r.client, nil
		}
		if r.replIn.Name() == name {
			return r.replIn, nil
		}
	}
	return nil, fmt.Errorf("unknown link %q (links: writer, client-%s, client-%s, repl-%s, repl-%s)", name,
		PrimaryRegion, SecondaryRegion, PrimaryRegion, SecondaryRegion)
}

// Links lists every link.
func (l *Lab) Links() []*link.Link {
	out := []*link.Link{l.writer}
	for _, r := range l.regions {
		out = append(out, r.client, r.replIn)
	}
	return out
}

// Primary is the current primary region's name.
func (l *Lab) Primary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.primary.Name
}
