package fault

import (
	"context"

	"github.com/drdrill/drdrill/internal/target"
)

// promotionFault is what the promotion faults share: they need a Promoter,
// resolve the region to promote (default: the secondary) after the guard,
// and roll back by switching back to the primary of before.
type promotionFault struct{}

func (promotionFault) Available(t target.Target) error {
	return has[target.Promoter](t, promoter)
}
func (promotionFault) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	if err := guard(ctx, t); err != nil {
		return nil, err
	}
	return roles(ctx, t, p, "secondary")
}
func (promotionFault) Rollback(ctx context.Context, t target.Target, p Params) error {
	pr, err := capability[target.Promoter](t, promoter)
	if err != nil {
		return err
	}
	return pr.SwitchBack(ctx, p["primary"])
}

// PlannedSwitchover fences the primary, waits for the secondary to catch up
// and promotes it (RPO must be 0). Rollback switches back.
type PlannedSwitchover struct{ promotionFault }

func (PlannedSwitchover) Name() string { return "planned-switchover" }
func (PlannedSwitchover) Description() string {
	return "fence the primary, wait for catch-up, promote the secondary (RPO 0); rollback switches back"
}
func (PlannedSwitchover) Inject(ctx context.Context, t target.Target, p Params) error {
	return promote(ctx, t, p, target.Promotion{})
}

// UnplannedFailover promotes the secondary with whatever it has (data loss
// allowed), like FailoverGlobalCluster with AllowDataLoss. no_fence=true
// skips fencing the old primary, to show what the checker finds then.
type UnplannedFailover struct{ promotionFault }

func (UnplannedFailover) Name() string { return "unplanned-failover" }
func (UnplannedFailover) Description() string {
	return "promote the secondary with data loss allowed (no_fence=true skips fencing the old primary); rollback rejoins and switches back"
}
func (UnplannedFailover) Inject(ctx context.Context, t target.Target, p Params) error {
	return promote(ctx, t, p, target.Promotion{AllowDataLoss: true, NoFence: p["no_fence"] == "true"})
}

func promote(ctx context.Context, t target.Target, p Params, how target.Promotion) error {
	pr, err := capability[target.Promoter](t, promoter)
	if err != nil {
		return err
	}
	return pr.Promote(ctx, p["region"], how)
}
