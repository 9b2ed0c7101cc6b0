package fault

import (
	"context"

	"github.com/drdrill/drdrill/internal/target"
)

// MonitorFailure stops the health monitoring the failover decision rests
// on: no automatic failover can happen, which a drill must report as
// "would not have recovered on its own".
type MonitorFailure struct{}

func (MonitorFailure) Name() string { return "monitor-failure" }
func (MonitorFailure) Description() string {
	return "stop the health monitoring the failover decision rests on (lab: the controller's probes; AWS: PutFunctionConcurrency 0 on the secondary region's health monitor, whose probe of the primary the trigger reads)"
}
func (MonitorFailure) Available(t target.Target) error {
	return has[target.MonitorControl](t, monitors)
}
func (MonitorFailure) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	mc, err := capability[target.MonitorControl](t, monitors)
	if err != nil {
		return nil, err
	}
	if err := guard(ctx, t); err != nil {
		return nil, err
	}
	m, err := mc.ResolveMonitor(ctx, p["region"])
	if err != nil {
		return nil, err
	}
	if m.Region == "" {
		return p, nil // the target's one monitor
	}
	q := p.clone()
	q["region"] = m.Region
	if q, err = roles(ctx, t, q, "primary"); err != nil {
		return nil, err
	}
	q["function"] = m.Function
	return q, nil
}
func monitorOf(p Params) target.Monitor {
	return target.Monitor{Region: p["region"], Function: p["function"]}
}
func (MonitorFailure) Inject(ctx context.Context, t target.Target, p Params) error {
	mc, err := capability[target.MonitorControl](t, monitors)
	if err != nil {
		return err
	}
	// What the rollback must restore is in the ledger before the monitor stops.
	prev, err := mc.PauseMonitor(ctx, monitorOf(p), func(prev string) error {
		p["prev_concurrency"] = prev
		return Progress(ctx, p)
	})
	if prev != "" {
		p["prev_concurrency"] = prev
	}
	return err
}
func (MonitorFailure) Rollback(ctx context.Context, t target.Target, p Params) error {
	mc, err := capability[target.MonitorControl](t, monitors)
	if err != nil {
		return err
	}
	return mc.ResumeMonitor(ctx, monitorOf(p), p["prev_concurrency"])
}
