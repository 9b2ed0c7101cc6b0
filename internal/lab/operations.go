package lab

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/drdrill/drdrill/internal/link"
)

// PromoteMode says whether a promotion may lose data.
type PromoteMode string

const (
	// Switchover waits for the secondary to catch up after fencing the
	// primary: RPO 0, like SwitchoverGlobalCluster.
	Switchover PromoteMode = "switchover"
	// Failover promotes what the secondary has, like FailoverGlobalCluster
	// with AllowDataLoss.
	Failover PromoteMode = "failover"
)

// PromoteOptions controls a promotion.
type PromoteOptions struct {
	Mode PromoteMode `json:"mode"`
	// NoFence skips the best-effort fencing of a reachable old primary during
	// a failover; used to demonstrate zombie writes. The controller still
	// fences on its next check unless it is paused.
	NoFence bool `json:"no_fence,omitempty"`
}

func (l *Lab) regionLocked(name string) (*Region, error) { return l.region(name) }

// Kill SIGKILLs a region's server (a crash). Links are not touched: faults
// that model a region outage blackhole the links first.
func (l *Lab) Kill(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	if r.server == nil || !r.server.Alive() {
		return fmt.Errorf("%s: server is not running", name)
	}
	r.server.Kill()
	r.frozen = false
	l.event("kill", name, fmt.Sprintf("SIGKILL mariadbd pid %d", r.server.PID()))
	l.serverLost(r, "killed")
	return nil
}

// Freeze SIGSTOPs a region's server.
func (l *Lab) Freeze(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	if r.server == nil || !r.server.Alive() {
		return fmt.Errorf("%s: server is not running", name)
	}
	if err := r.server.Freeze(); err != nil {
		return err
	}
	r.frozen = true
	l.event("freeze", name, fmt.Sprintf("SIGSTOP mariadbd pid %d", r.server.PID()))
	l.serverLost(r, "frozen")
	return nil
}

// Thaw SIGCONTs a frozen server. Faults roll back a freeze by re-seeding
// instead (a resumed old primary commits zombie writes); Thaw is for the
// primary when no failover happened.
func (l *Lab) Thaw(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	if r.server == nil || !r.frozen {
		return nil
	}
	r.frozen = false
	l.event("thaw", name, "SIGCONT")
	return r.server.Thaw()
}

// Restart starts a crashed region again on its old data, with a new
// server_id. It boots read-only; a region that is still the primary (nobody
// failed over) becomes writable again, any other is rejoined by the controller.
func (l *Lab) Restart(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	return l.restartLocked(ctx, r)
}

func (l *Lab) restartLocked(ctx context.Context, r *Region) error {
	if r.server != nil && r.server.Alive() {
		return nil
	}
	if err := l.startRegion(ctx, r, false); err != nil {
		return err
	}
	l.event("restart", r.Name, fmt.Sprintf("server_id %d", r.server.Config().ServerID))
	if r == l.primary {
		// Nobody failed over: the restarted server resumes as the primary,
		// under its new server_id. The event is stamped before it becomes
		// writable: its first writes must not predate the new identity.
		at := time.Now().UnixNano()
		if err := setReadOnly(ctx, r.server.Admin(), false); err != nil {
			return err
		}
		sid := uint32(r.server.Config().ServerID)
		if l.cfg.Events != nil {
			l.cfg.Events.AddEvent(Event{TimeNs: at, Kind: "primary-restart", Region: r.Name, ServerID: sid,
				Detail: fmt.Sprintf("restarted primary writable again (server_id %d)", sid)})
		}
		return nil
	}
	r.role = RoleFenced
	return nil
}

// Reseed replaces a non-primary region's server with a fresh copy of the
// template (new server_id) replicating everything from the primary: the
// only cure for GTID divergence.
func (l *Lab) Reseed(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	return l.reseedLocked(ctx, r)
}

func (l *Lab) reseedLocked(ctx context.Context, r *Region) error {
	if r == l.primary {
		return fmt.Errorf("%s is the primary; promote the other region before re-seeding it", r.Name)
	}
	l.loseSync(r, "re-seeding from "+l.primary.Name)
	if r.server != nil {
		r.server.Kill()
	}
	t0 := time.Now()
	if err := l.startRegion(ctx, r, true); err != nil {
		return err
	}
	t1 := time.Now()
	// Copy the primary's tablespaces and replicate from their position,
	// rather than replaying its binlog or its rows (see cloneFrom).
	c, err := cloneFrom(ctx, l.primary.server, r.server)
	if err != nil {
		return fmt.Errorf("re-seed %s from %s: %w", r.Name, l.primary.Name, err)
	}
	// MariaDB 10.11 does not recover what is written to an imported
	// tablespace before the server restarts: a crash lost every write the
	// re-seeded server acknowledged (TestReseededServerKeepsItsWritesThroughACrash).
	// A clean restart, on a datadir this small, costs a fraction of a second.
	restarted := time.Now()
	r.server.Shutdown(30 * time.Second)
	if err := l.startRegion(ctx, r, false); err != nil {
		return fmt.Errorf("re-seed %s: restart after the import: %w", r.Name, err)
	}
	c.Restart = time.Since(restarted)
	if err := replicateFrom(ctx, r.server.Admin(), r.replIn.Addr(), l.cfg.Template.Creds, false); err != nil {
		return fmt.Errorf("%s: %w", r.Name, err)
	}
	// Until it has caught up it is not a usable secondary: promoting it
	// would lose far more than lag.
	t2 := time.Now()
	g, err := gtids(ctx, l.primary.server.Admin())
	if err != nil {
		return fmt.Errorf("re-seed %s: primary %s: %w", r.Name, l.primary.Name, err)
	}
	if err := waitGTID(ctx, r.server.Admin(), g.Binlog, time.Minute); err != nil {
		return fmt.Errorf("re-seeded %s did not catch up with %s: %w", r.Name, l.primary.Name, err)
	}
	caught := time.Now()
	r.role = RoleSecondary
	// The phase times say where a slow re-seed spent its time.
	l.event("reseed", r.Name, fmt.Sprintf("fresh datadir, server_id %d, caught up with %s (start %v, copy %v: %s; catch-up %v)",
		r.server.Config().ServerID, l.primary.Name, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), c,
		caught.Sub(t2).Round(time.Millisecond)))
	// Stamped after the reseed event it follows (by microseconds).
	l.caughtUp(r, time.Now(), g.Binlog)
	return nil
}

// Promote makes the named region the primary and points the writer endpoint at it.
func (l *Lab) Promote(ctx context.Context, name string, opt PromoteOptions) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	return l.promoteLocked(ctx, r, opt)
}

func (l *Lab) promoteLocked(ctx context.Context, t *Region, opt PromoteOptions) error {
	if t == l.primary {
		return fmt.Errorf("%s is already the primary", t.Name)
	}
	if t.server == nil || !t.server.Alive() || t.frozen {
		return fmt.Errorf("cannot promote %s: its server is not running", t.Name)
	}
	old := l.primary
	switch opt.Mode {
	case Switchover:
		if old.server == nil || !old.server.Alive() || old.frozen {
			return fmt.Errorf("switchover needs a reachable primary; %s is down (use a failover)", old.Name)
		}
		l.event("switchover-start", t.Name, "fence primary, wait for catch-up")
		if err := l.fenceLocked(ctx, old); err != nil {
			return fmt.Errorf("fence %s: %w", old.Name, err)
		}
		g, err := gtids(ctx, old.server.Admin())
		if err != nil {
			return fmt.Errorf("%s: read GTID position: %w", old.Name, err)
		}
		if err := waitGTID(ctx, t.server.Admin(), g.Binlog, 30*time.Second); err != nil {
			// Undo the fence so a failed switchover does not leave no writer.
			_ = setReadOnly(ctx, old.server.Admin(), false)
			old.role = RolePrimary
			return fmt.Errorf("switchover to %s: %w", t.Name, err)
		}
	case Failover:
		l.event("failover-start", t.Name, "fence the old primary if reachable, drain relay log, promote with data loss allowed")
		// Fence before promoting: once the new primary takes writes, any
		// write the old one still accepts is a zombie. Best effort and
		// bounded, as Aurora's own write fencing is: a dead or frozen old
		// primary cannot be fenced and is fenced when it returns.
		if !opt.NoFence && old.server != nil && old.server.Alive() && !old.frozen {
			fctx, cancel := context.WithTimeout(ctx, time.Second)
			if err := l.fenceLocked(fctx, old); err != nil {
				l.event("fence-failed", old.Name, err.Error())
			}
			cancel()
		}
		if err := drainRelay(ctx, t.server.Admin(), 5*time.Second); err != nil {
			l.event("drain-incomplete", t.Name, err.Error())
		}
	default:
		return fmt.Errorf("unknown promotion mode %q (use %s or %s)", opt.Mode, Switchover, Failover)
	}
	// Stamped before the new primary can take a write (see primary-restart).
	promotedAt := time.Now().UnixNano()
	if err := becomePrimary(ctx, t.server.Admin()); err != nil {
		return fmt.Errorf("promote %s: %w", t.Name, err)
	}
	l.writer.SetUpstream(t.client.Addr())
	t.role, l.primary = RolePrimary, t
	old.role = RoleFenced
	t.becomesPrimary()
	sid := uint32(t.server.Config().ServerID)
	if l.cfg.Events != nil {
		l.cfg.Events.AddEvent(Event{TimeNs: promotedAt, Kind: "promote", Region: t.Name, ServerID: sid,
			Detail: fmt.Sprintf("%s; writer endpoint now routes to %s (server_id %d)", opt.Mode, t.Name, sid)})
	}
	l.logf("event promote %s %s", t.Name, opt.Mode)
	l.loseSync(old, "demoted: "+t.Name+" is the primary")
	if opt.Mode == Switchover {
		if err := replicateFrom(ctx, old.server.Admin(), old.replIn.Addr(), l.cfg.Template.Creds, true); err != nil {
			return fmt.Errorf("%s: rejoin as secondary: %w", old.Name, err)
		}
		old.role = RoleSecondary
		l.event("rejoin", old.Name, "replicating from "+t.Name)
	}
	return nil
}

// Fence makes a region read-only and kills its application sessions.
func (l *Lab) Fence(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	if r == l.primary {
		return fmt.Errorf("%s is the primary; fencing it would leave no writer", name)
	}
	return l.fenceLocked(ctx, r)
}

func (l *Lab) fenceLocked(ctx context.Context, r *Region) error {
	if r.server == nil || !r.server.Alive() {
		return errors.New("server not running")
	}
	if home := l.controlRegion(); l.controlCut && r != home {
		return fmt.Errorf("the control path from %s to %s is cut: %s keeps taking writes until the partition heals", home.Name, r.Name, r.Name)
	}
	if err := setReadOnly(ctx, r.server.Admin(), true); err != nil {
		return err
	}
	n, err := killSessions(ctx, r.server.Admin(), l.cfg.Template.Creds.AppUser)
	if err != nil {
		return err
	}
	l.event("fence", r.Name, fmt.Sprintf("read_only on, %d application sessions killed", n))
	if r != l.primary {
		r.role = RoleFenced
		l.loseSync(r, "fenced")
	}
	return nil
}

// Rejoin makes a fenced region replicate from the primary again, re-seeding
// it when its GTID history has diverged (it holds writes the primary never saw).
func (l *Lab) Rejoin(ctx context.Context, name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.regionLocked(name)
	if err != nil {
		return err
	}
	return l.rejoinLocked(ctx, r, 5*time.Second)
}

func (l *Lab) rejoinLocked(ctx context.Context, r *Region, wait time.Duration) error {
	if r == l.primary {
		return nil
	}
	if r.server == nil || !r.server.Alive() || r.frozen {
		return fmt.Errorf("%s: server not running", r.Name)
	}
	if err := setReadOnly(ctx, r.server.Admin(), true); err != nil {
		return err
	}
	// Read the fenced server's position first (it can no longer change),
	// then the primary's: a server ahead of the primary diverged.
	mine, err := gtids(ctx, r.server.Admin())
	if err != nil {
		return err
	}
	theirs, err := gtids(ctx, l.primary.server.Admin())
	if err != nil {
		return fmt.Errorf("primary %s: %w", l.primary.Name, err)
	}
	if divergedFrom(mine.Binlog, theirs.Binlog) {
		l.event("diverged", r.Name, fmt.Sprintf("binlog %s holds transactions primary %s (at %s) never had", mine.Binlog, l.primary.Name, theirs.Binlog))
		return l.reseedLocked(ctx, r)
	}
	var state string
	if err := l.primary.server.Admin().QueryRowContext(ctx, "SELECT @@global.gtid_binlog_state").Scan(&state); err == nil && unknownTo(mine.Binlog, state) {
		l.event("diverged", r.Name, fmt.Sprintf("last transaction %s is not in primary %s's binlog state %s", mine.Binlog, l.primary.Name, state))
		return l.reseedLocked(ctx, r)
	}
	if err := replicateFrom(ctx, r.server.Admin(), r.replIn.Addr(), l.cfg.Template.Creds, true); err != nil {
		return fmt.Errorf("%s: %w", r.Name, err)
	}
	// Rejoined means: both threads run and the server has applied the
	// primary's binlog position as it was when replication restarted. That
	// also proves the histories did not diverge; a diverged server stops
	// with error 1236 (or a strict-mode error) instead.
	target, err := gtids(ctx, l.primary.server.Admin())
	if err != nil {
		return fmt.Errorf("primary %s: %w", l.primary.Name, err)
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := replicaStatus(ctx, r.server.Admin())
		if err != nil {
			return err
		}
		if st.Diverged() {
			l.event("diverged", r.Name, fmt.Sprintf("io %d %s; sql %d %s", st.LastIOErrno, st.LastIOError, st.LastSQLErrno, st.LastSQLError))
			return l.reseedLocked(ctx, r)
		}
		if st.Streaming() && waitGTID(ctx, r.server.Admin(), target.Binlog, 200*time.Millisecond) == nil {
			if g, err := gtids(ctx, r.server.Admin()); err != nil || !sameOrigin(g.Current, target.Binlog) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			r.role = RoleSecondary
			l.event("rejoin", r.Name, "replicating from "+l.primary.Name)
			// Stamped after the rejoin it follows (by microseconds).
			l.caughtUp(r, time.Now(), target.Binlog)
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not replicating from %s after %v (io=%s %s)", r.Name, l.primary.Name, wait, st.IORunning, st.LastIOError)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SetLink applies faults to a link.
type LinkFaults struct {
	LatencyMs   *float64 `json:"latency_ms,omitempty"`
	BytesPerSec *int64   `json:"bytes_per_sec,omitempty"`
	Blackhole   *bool    `json:"blackhole,omitempty"`
}

// SetLink changes a link's faults; fields left nil are unchanged.
func (l *Lab) SetLink(name string, f LinkFaults) error {
	k, err := l.Link(name)
	if err != nil {
		return err
	}
	if f.LatencyMs != nil {
		if *f.LatencyMs < 0 {
			return fmt.Errorf("latency_ms must not be negative")
		}
		k.SetLatency(time.Duration(*f.LatencyMs * float64(time.Millisecond)))
	}
	if f.BytesPerSec != nil {
		if *f.BytesPerSec < 0 {
			return fmt.Errorf("bytes_per_sec must not be negative")
		}
		k.SetBandwidth(*f.BytesPerSec)
	}
	if f.Blackhole != nil {
		if *f.Blackhole {
			k.Blackhole()
		} else {
			k.Heal()
		}
	}
	l.event("link", name, fmt.Sprintf("%+v", k.State()))
	if f.Blackhole != nil && *f.Blackhole {
		l.mu.Lock()
		for _, r := range l.regions {
			if r.replIn == k && r != l.primary {
				l.loseSync(r, "replication link "+name+" cut")
			}
		}
		l.mu.Unlock()
	}
	return nil
}

func (l *Lab) defaultLatency(k *link.Link) time.Duration {
	for _, r := range l.regions {
		if k == r.replIn {
			return l.cfg.CrossRegionLatency
		}
	}
	return 0
}

// controlRegion is where the controller runs: the deployment's secondary
// region, as the failover-trigger Lambda does.
func (l *Lab) controlRegion() *Region { return l.regions[len(l.regions)-1] }

// SetControlPath cuts (or restores) the cross-region control path: while
// it is cut the controller cannot fence the other region. The controller's
// health probes stay local (the lab's monitor stands for health checks
// from outside the partition), so only fencing is affected.
func (l *Lab) SetControlPath(cut bool) {
	l.mu.Lock()
	changed := l.controlCut != cut
	l.controlCut = cut
	l.mu.Unlock()
	if changed {
		detail := "restored"
		if cut {
			detail = "cut: no fencing across regions"
		}
		l.event("control-path", "", detail)
	}
}

// ControlPathCut reports whether the cross-region control path is cut.
func (l *Lab) ControlPathCut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.controlCut
}

// Recover returns the lab to a healthy two-region topology from any state
// the faults can leave: links healed and reset, frozen secondaries re-seeded,
// crashed servers restarted, fenced regions rejoined, the controller resumed.
// It returns what it did; on a healthy lab it does nothing.
func (l *Lab) Recover(ctx context.Context) ([]string, error) {
	var did []string
	for _, k := range l.Links() {
		st := k.State()
		def := l.defaultLatency(k)
		if st.Blackholed || st.BytesPerSec != 0 || st.Latency != def {
			k.Reset()
			k.SetLatency(def)
			did = append(did, "reset link "+k.Name())
		}
	}
	if l.ctrl.paused.Load() {
		l.ctrl.paused.Store(false)
		did = append(did, "resumed the failover controller")
	}
	if l.ControlPathCut() {
		l.SetControlPath(false)
		did = append(did, "restored the control path")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.regions {
		switch {
		case r.frozen && r == l.primary:
			r.frozen = false
			_ = r.server.Thaw()
			did = append(did, "thawed primary "+r.Name)
		case r.frozen:
			if err := l.reseedLocked(ctx, r); err != nil {
				return did, err
			}
			did = append(did, "re-seeded frozen "+r.Name)
		case r.server == nil || !r.server.Alive():
			if err := l.restartLocked(ctx, r); err != nil {
				return did, err
			}
			did = append(did, "restarted "+r.Name)
		}
	}
	p := l.primary
	if ro, err := readOnly(ctx, p); err != nil {
		return did, fmt.Errorf("primary %s: %w", p.Name, err)
	} else if ro {
		if err := setReadOnly(ctx, p.server.Admin(), false); err != nil {
			return did, err
		}
		did = append(did, "made primary "+p.Name+" writable")
	}
	s := l.other(p)
	st, err := replicaStatus(ctx, s.server.Admin())
	if err != nil {
		return did, err
	}
	if s.role == RoleSecondary && st.Connecting() {
		// A replica that has just been pointed at the primary is still in
		// the replication handshake (about a second of round trips over the
		// cross-region link). Rejoining it would only start the handshake
		// again; wait for it, and rejoin only if it does not get there.
		st = waitConnected(ctx, s.server.Admin(), 5*time.Second)
	}
	if s.role != RoleSecondary || !st.Healthy() {
		if err := l.rejoinLocked(ctx, s, 10*time.Second); err != nil {
			return did, err
		}
		did = append(did, "rejoined "+s.Name+" as secondary")
	}
	if err := l.waitReplicating(ctx, 30*time.Second); err != nil {
		return did, err
	}
	if len(did) > 0 {
		l.event("recover", "", fmt.Sprint(did))
	}
	return did, nil
}

// Failback recovers and then switches the primary back to us-east-1 (RPO 0).
func (l *Lab) Failback(ctx context.Context) ([]string, error) {
	did, err := l.Recover(ctx)
	if err != nil {
		return did, err
	}
	if l.Primary() != PrimaryRegion {
		if err := l.Promote(ctx, PrimaryRegion, PromoteOptions{Mode: Switchover}); err != nil {
			return did, err
		}
		did = append(did, "switched the primary back to "+PrimaryRegion)
	}
	return did, nil
}

func readOnly(ctx context.Context, r *Region) (bool, error) {
	var ro int
	err := r.server.Admin().QueryRowContext(ctx, "SELECT @@global.read_only").Scan(&ro)
	return ro == 1, err
}
