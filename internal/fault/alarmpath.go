package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drdrill/drdrill/internal/target"
)

// AlarmPath forces the replication-lag alarm to ALARM and proves the
// notification is delivered, through a temporary SQS queue subscribed to the
// alarm's topic for the drill. Rollback sets the alarm back to OK and
// removes the subscription and the queue.
type AlarmPath struct{}

func (AlarmPath) Name() string { return "alarm-path" }
func (AlarmPath) Description() string {
	return "AWS: SetAlarmState ALARM on the lag alarm and prove SNS delivers it, via a temporary SQS queue (wait, default 2m)"
}
func (AlarmPath) Available(t target.Target) error {
	return has[target.AlarmPathProof](t, alarmPath)
}
func (AlarmPath) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	ap, err := capability[target.AlarmPathProof](t, alarmPath)
	if err != nil {
		return nil, err
	}
	if err := guard(ctx, t); err != nil {
		return nil, err
	}
	q := p.clone()
	if q["wait"] == "" {
		q["wait"] = "2m"
	}
	if d, err := time.ParseDuration(q["wait"]); err != nil || d <= 0 {
		return nil, fmt.Errorf("wait=%q: want a positive duration", q["wait"])
	}
	proof, err := ap.ResolveAlarmPath(ctx)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(proof)
	q["proof"] = string(b)
	return q, nil
}

// proofOf is the target's AlarmPathProof and the record in p.
func proofOf(t target.Target, p Params) (target.AlarmPathProof, target.AlarmProof, error) {
	var proof target.AlarmProof
	ap, err := capability[target.AlarmPathProof](t, alarmPath)
	if err != nil {
		return nil, proof, err
	}
	if err := json.Unmarshal([]byte(p["proof"]), &proof); err != nil {
		return nil, proof, fmt.Errorf("ledger params hold no alarm-path record: %w", err)
	}
	return ap, proof, nil
}
func (AlarmPath) Inject(ctx context.Context, t target.Target, p Params) error {
	ap, proof, err := proofOf(t, p)
	if err != nil {
		return err
	}
	wait, _ := time.ParseDuration(p["wait"])
	// The queue and the subscription are in the ledger as soon as each exists.
	err = ap.InjectAlarmPath(ctx, &proof, wait, func(now target.AlarmProof) error {
		b, _ := json.Marshal(now)
		p["proof"] = string(b)
		return Progress(ctx, p)
	})
	b, _ := json.Marshal(proof)
	p["proof"] = string(b)
	return err
}
func (AlarmPath) Rollback(ctx context.Context, t target.Target, p Params) error {
	ap, proof, err := proofOf(t, p)
	if err != nil {
		return err
	}
	return ap.RollbackAlarmPath(ctx, proof)
}
