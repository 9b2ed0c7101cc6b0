package fault

import (
	"context"

	"github.com/drdrill/drdrill/internal/target"
)

// PlannedSwitchover fences the primary, waits for the secondary to catch up
// and promotes it (RPO must be 0). Rollback switches back.
type PlannedSwitchover struct{}

func (PlannedSwitchover) Name() string { return "planned-switchover" }
func (PlannedSwitchover) Description() string {
	return "fence the primary, wait for catch-up, promote the secondary (RPO 0); rollback switches back"
}
func (PlannedSwitchover) Available(t target.Target) error {
	return has[target.Promoter](t, promoter)
}
func (PlannedSwitchover) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	return resolvePromotion(ctx, t, p)
}
func (PlannedSwitchover) Inject(ctx context.Context, t target.Target, p Params) error {
	return promote(ctx, t, p, target.Promotion{})
}
func (PlannedSwitchover) Rollback(ctx context.Context, t target.Target, p Params) error {
	return switchBack(ctx, t, p)
}

// UnplannedFailover promotes the secondary with whatever it has (data loss
// allowed), like FailoverGlobalCluster with AllowDataLoss. no_fence=true
// skips fencing the old primary, to show what the checker finds then.
type UnplannedFailover struct{}

func (UnplannedFailover) Name() string { return "unplanned-failover" }
func (UnplannedFailover) Description() string {
	return "promote the secondary with data loss allowed (no_fence=true skips fencing the old primary); rollback rejoins and switches back"
}
func (UnplannedFailover) Available(t target.Target) error {
	return has[target.Promoter](t, promoter)
}
func (UnplannedFailover) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	return resolvePromotion(ctx, t, p)
}
func (UnplannedFailover) Inject(ctx context.Context, t target.Target, p Params) error {
	return promote(ctx, t, p, target.Promotion{AllowDataLoss: true, NoFence: p["no_fence"] == "true"})
}
func (UnplannedFailover) Rollback(ctx context.Context, t target.Target, p Params) error {
	return switchBack(ctx, t, p)
}

// resolvePromotion guards, then resolves the region to promote (default:
// the secondary) and records the primary to switch back to.
func resolvePromotion(ctx context.Context, t target.Target, p Params) (Params, error) {
	if err := guard(ctx, t); err != nil {
		return nil, err
	}
	return roles(ctx, t, p, "secondary")
}

func promote(ctx context.Context, t target.Target, p Params, how target.Promotion) error {
	pr, err := capability[target.Promoter](t, promoter)
	if err != nil {
		return err
	}
	return pr.Promote(ctx, p["region"], how)
}

// switchBack makes the primary of before the fault the writer again (RPO 0).
func switchBack(ctx context.Context, t target.Target, p Params) error {
	pr, err := capability[target.Promoter](t, promoter)
	if err != nil {
		return err
	}
	return pr.SwitchBack(ctx, p["primary"])
}
