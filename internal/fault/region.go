package fault

import (
	"context"
	"errors"

	"github.com/drdrill/drdrill/internal/target"
)

func blackhole(ctx context.Context, n target.NetworkLinks, on bool, links ...string) error {
	var errs []error
	for _, name := range links {
		errs = append(errs, n.SetLink(ctx, name, target.LinkFaults{Blackhole: &on}))
	}
	return errors.Join(errs...)
}

// RegionCrash blackholes a region's links first and then SIGKILLs its
// server. The other order lets clients see the disconnect (a reset), and a
// failure is then detected faster than a real region loss allows.
type RegionCrash struct{}

func (RegionCrash) Name() string { return "region-crash" }
func (RegionCrash) Description() string {
	return "blackhole a region's client and replication links, then SIGKILL its server (default region: the primary)"
}
func (RegionCrash) Available(t target.Target) error {
	_, _, err := serversAndLinks(t)
	return err
}
func (RegionCrash) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	return roles(ctx, t, p, "primary")
}
func crashLinks(p Params) []string {
	return []string{"client-" + p["region"], "repl-" + p["region"], "repl-" + p["other"]}
}
func serversAndLinks(t target.Target) (target.RegionServers, target.NetworkLinks, error) {
	s, err := capability[target.RegionServers](t, servers)
	if err != nil {
		return nil, nil, err
	}
	n, err := capability[target.NetworkLinks](t, links)
	return s, n, err
}
func (RegionCrash) Inject(ctx context.Context, t target.Target, p Params) error {
	s, n, err := serversAndLinks(t)
	if err != nil {
		return err
	}
	if err := blackhole(ctx, n, true, crashLinks(p)...); err != nil {
		return err
	}
	return s.ServerAction(ctx, p["region"], target.Kill)
}
func (RegionCrash) Rollback(ctx context.Context, t target.Target, p Params) error {
	s, n, err := serversAndLinks(t)
	if err != nil {
		return err
	}
	if err := blackhole(ctx, n, false, crashLinks(p)...); err != nil {
		return err
	}
	// A restarted old primary boots read-only; the controller rejoins it,
	// re-seeding it if its history diverged.
	return s.ServerAction(ctx, p["region"], target.Restart)
}

// RegionFreeze SIGSTOPs a region's server: connections stay open and say
// nothing. Rollback re-seeds a frozen server that lost its primary role
// rather than resuming it (a resumed old primary commits zombie writes).
type RegionFreeze struct{}

func (RegionFreeze) Name() string { return "region-freeze" }
func (RegionFreeze) Description() string {
	return "SIGSTOP a region's server (default: the primary); rollback re-seeds it unless it is still the primary"
}
func (RegionFreeze) Available(t target.Target) error {
	return has[target.RegionServers](t, servers)
}
func (RegionFreeze) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	return roles(ctx, t, p, "primary")
}
func (RegionFreeze) Inject(ctx context.Context, t target.Target, p Params) error {
	s, err := capability[target.RegionServers](t, servers)
	if err != nil {
		return err
	}
	return s.ServerAction(ctx, p["region"], target.Freeze)
}
func (RegionFreeze) Rollback(ctx context.Context, t target.Target, p Params) error {
	s, err := capability[target.RegionServers](t, servers)
	if err != nil {
		return err
	}
	frozen, err := s.Frozen(ctx, p["region"])
	if err != nil || !frozen {
		return err
	}
	topo, err := t.Topology(ctx)
	if err != nil {
		return err
	}
	if topo.Primary == p["region"] {
		return s.ServerAction(ctx, p["region"], target.Thaw)
	}
	return s.ServerAction(ctx, p["region"], target.Reseed)
}
