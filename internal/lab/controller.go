package lab

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drdrill/drdrill/internal/decision"
)

// ControllerConfig tunes the failover controller.
type ControllerConfig struct {
	Interval     time.Duration `json:"interval_ns"`
	Timeout      time.Duration `json:"timeout_ns"`
	Threshold    int           `json:"threshold"`
	AutoFailover bool          `json:"auto_failover"`
}

// DefaultControllerConfig probes every 100 ms with a 300 ms timeout and fails
// over after 3 consecutive failures.
func DefaultControllerConfig() ControllerConfig {
	return ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: true}
}

// ControllerState is the controller's view, for status output.
type ControllerState struct {
	Config       ControllerConfig           `json:"config"`
	Paused       bool                       `json:"paused"`
	Streak       int                        `json:"primary_fail_streak"`
	LastDecision decision.Decision          `json:"last_decision"`
	Health       map[string]decision.Health `json:"health"`
}

// controller is the lab's stand-in for the health-monitor and
// failover-trigger Lambdas, running the same decision code.
type controller struct {
	l      *Lab
	cfg    ControllerConfig
	paused atomic.Bool
	done   chan struct{}
	wg     sync.WaitGroup

	mu         sync.Mutex
	streak     decision.Streak
	streakN    int
	last       decision.Decision
	health     map[string]decision.Health
	lastRejoin map[string]time.Time
}

func startController(l *Lab, cfg ControllerConfig) *controller {
	if cfg.Interval <= 0 {
		cfg = DefaultControllerConfig()
	}
	c := &controller{l: l, cfg: cfg, done: make(chan struct{}), health: map[string]decision.Health{}, lastRejoin: map[string]time.Time{}}
	c.wg.Add(1)
	go c.run()
	return c
}

func (c *controller) stop() {
	close(c.done)
	c.wg.Wait()
}

func (c *controller) state() ControllerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := map[string]decision.Health{}
	for k, v := range c.health {
		h[k] = v
	}
	return ControllerState{Config: c.cfg, Paused: c.paused.Load(), Streak: c.streakN, LastDecision: c.last, Health: h}
}

func (c *controller) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		if c.paused.Load() {
			continue // a broken monitor: no probes, so no decisions
		}
		c.check()
	}
}

func (c *controller) probe(r *Region, s *Server) decision.Health {
	h := decision.Health{Region: r.Name, Known: true}
	if s == nil {
		return h
	}
	h.Reachable, h.Writable, _ = s.Probe(context.Background(), c.cfg.Timeout)
	return h
}

func (c *controller) check() {
	l := c.l
	l.mu.Lock()
	p, s := l.primary, l.other(l.primary)
	ps, ss := p.server, s.server
	sRole := s.role
	l.mu.Unlock()

	var ph, sh decision.Health
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ph = c.probe(p, ps) }()
	go func() { defer wg.Done(); sh = c.probe(s, ss) }()
	wg.Wait()

	c.mu.Lock()
	n := c.streak.Observe(ph)
	d := decision.Decide(decision.Input{Primary: ph, Secondary: sh, PrimaryFailStreak: n,
		FailureThreshold: c.cfg.Threshold, AutoFailover: c.cfg.AutoFailover})
	prevAction := c.last.Action
	c.streakN, c.last = n, d
	c.health[p.Name], c.health[s.Name] = ph, sh
	c.mu.Unlock()

	if n == 1 && prevAction != decision.Wait {
		l.event("suspect", p.Name, "primary probe failed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	switch d.Action {
	case decision.Failover:
		l.event("detect", p.Name, d.String())
		l.mu.Lock()
		if l.primary == p { // nobody else promoted meanwhile
			if err := l.promoteLocked(ctx, s, PromoteOptions{Mode: Failover}); err != nil {
				l.event("promote-failed", s.Name, err.Error())
			}
		}
		l.mu.Unlock()
		c.mu.Lock()
		c.streak.Reset()
		c.mu.Unlock()
	case decision.Fence:
		l.mu.Lock()
		if r, err := l.region(d.Target); err == nil && r != l.primary {
			if err := l.fenceLocked(ctx, r); err != nil {
				l.event("fence-failed", r.Name, err.Error())
			}
		}
		l.mu.Unlock()
	case decision.None:
		// A fenced region that is reachable again rejoins as secondary,
		// re-seeded if its history diverged. Never a failback.
		// Not across a blackholed replication link: a re-seed there could
		// not catch up, and the partition's rollback will trigger this again.
		if sRole == RoleFenced && sh.Reachable && !s.replIn.State().Blackholed && time.Since(c.lastRejoin[s.Name]) > 2*time.Second {
			c.lastRejoin[s.Name] = time.Now()
			l.mu.Lock()
			if s.role == RoleFenced && s != l.primary {
				if err := l.rejoinLocked(ctx, s, 3*time.Second); err != nil {
					l.event("rejoin-pending", s.Name, err.Error())
				}
			}
			l.mu.Unlock()
		}
	}
}

// PauseController stops (true) or resumes (false) the controller's probing.
func (l *Lab) PauseController(paused bool) {
	if l.ctrl.paused.Swap(paused) != paused {
		kind := "controller-resumed"
		if paused {
			kind = "controller-paused"
		}
		l.event(kind, "", "")
	}
}
