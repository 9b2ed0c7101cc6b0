package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drdrill/drdrill/internal/target"
)

// RegionIsolation swaps a region's database subnets onto a deny-all network
// ACL, like FIS aws:network:disrupt-connectivity, and restores the original
// ACL of every subnet on rollback. It cuts clients and Lambdas, not Aurora's
// storage replication: the region-outage scenario on AWS pairs it with
// unplanned-failover.
type RegionIsolation struct{}

func (RegionIsolation) Name() string { return "region-isolation" }
func (RegionIsolation) Description() string {
	return "AWS: put a region's database subnets on a deny-all network ACL (default: the primary); rollback restores the original ACLs"
}
func (RegionIsolation) Available(t target.Target) error {
	return has[target.SubnetIsolation](t, isolation)
}
func (RegionIsolation) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	si, err := capability[target.SubnetIsolation](t, isolation)
	if err != nil {
		return nil, err
	}
	if err := guard(ctx, t); err != nil {
		return nil, err
	}
	q, err := roles(ctx, t, p, "primary")
	if err != nil {
		return nil, err
	}
	iso, err := si.ResolveIsolation(ctx, q["region"])
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(iso)
	q["isolation"] = string(b)
	return q, nil
}

// isolationOf is the target's SubnetIsolation and the record in p.
func isolationOf(t target.Target, p Params) (target.SubnetIsolation, target.Isolation, error) {
	var iso target.Isolation
	si, err := capability[target.SubnetIsolation](t, isolation)
	if err != nil {
		return nil, iso, err
	}
	if err := json.Unmarshal([]byte(p["isolation"]), &iso); err != nil {
		return nil, iso, fmt.Errorf("ledger params hold no isolation record: %w", err)
	}
	return si, iso, nil
}
func (RegionIsolation) Inject(ctx context.Context, t target.Target, p Params) error {
	si, iso, err := isolationOf(t, p)
	if err != nil {
		return err
	}
	// The deny ACL's id is in the ledger before any subnet moves onto it,
	// and each move as it is made; the fault is in effect from the first.
	err = si.IsolateRegion(ctx, &iso, func(now target.Isolation) error {
		if now.CutAtNs != 0 {
			Effective(ctx, time.Unix(0, now.CutAtNs))
		}
		b, _ := json.Marshal(now)
		p["isolation"] = string(b)
		return Progress(ctx, p)
	})
	b, _ := json.Marshal(iso)
	p["isolation"] = string(b)
	return err
}
func (RegionIsolation) Rollback(ctx context.Context, t target.Target, p Params) error {
	si, iso, err := isolationOf(t, p)
	if err != nil {
		return err
	}
	return si.RestoreRegion(ctx, iso)
}
