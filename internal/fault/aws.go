package fault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	drdaws "github.com/drdrill/drdrill/internal/aws"
	"github.com/drdrill/drdrill/internal/target"
)

// awsControl is what the AWS target offers beyond the Target interface.
type awsControl interface {
	Stack() *drdaws.Stack
}

var errNotAWS = errors.New("needs an AWS stack (the lab has no network ACLs or Route 53 health checks)")

func awsOf(t target.Target) (*drdaws.Stack, bool) {
	if a, ok := t.(awsControl); ok {
		return a.Stack(), true
	}
	return nil, false
}

// labOrAWS is Available for faults both targets implement.
func labOrAWS(t target.Target) error {
	if _, err := labOf(t); err == nil {
		return nil
	}
	if _, ok := awsOf(t); ok {
		return nil
	}
	return errors.New("needs the lab or an AWS stack")
}

// promotionTimeout bounds an Aurora switchover or failover (minutes on AWS).
var promotionTimeout = target.AWSBounds.Promotion

// awsResolve guards first: a refused fault never reaches the ledger.
func awsResolve(ctx context.Context, st *drdaws.Stack) error {
	return st.Guard(ctx)
}

// awsRoles guards, then resolves the region (default: the primary).
func awsRoles(ctx context.Context, t target.Target, p Params) (*drdaws.Stack, Params, error) {
	st, ok := awsOf(t)
	if !ok {
		return nil, nil, errNotAWS
	}
	if err := awsResolve(ctx, st); err != nil {
		return nil, nil, err
	}
	q, err := roles(ctx, t, p, "primary")
	return st, q, err
}

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
	if _, ok := awsOf(t); ok {
		return nil
	}
	return errNotAWS
}
func (RegionIsolation) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	st, q, err := awsRoles(ctx, t, p)
	if err != nil {
		return nil, err
	}
	iso, err := st.ResolveIsolation(ctx, q["region"])
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(iso)
	q["isolation"] = string(b)
	return q, nil
}
func isolationOf(p Params) (drdaws.Isolation, error) {
	var iso drdaws.Isolation
	if err := json.Unmarshal([]byte(p["isolation"]), &iso); err != nil {
		return iso, fmt.Errorf("ledger params hold no isolation record: %w", err)
	}
	return iso, nil
}
func (RegionIsolation) Inject(ctx context.Context, t target.Target, p Params) error {
	st, _ := awsOf(t)
	iso, err := isolationOf(p)
	if err != nil {
		return err
	}
	// The deny ACL's id is in the ledger before any subnet moves onto it.
	err = st.IsolateRegion(ctx, &iso, func(now drdaws.Isolation) error {
		b, _ := json.Marshal(now)
		p["isolation"] = string(b)
		return Progress(ctx, p)
	})
	b, _ := json.Marshal(iso)
	p["isolation"] = string(b)
	return err
}
func (RegionIsolation) Rollback(ctx context.Context, t target.Target, p Params) error {
	st, ok := awsOf(t)
	if !ok {
		return errNotAWS
	}
	iso, err := isolationOf(p)
	if err != nil {
		return err
	}
	return st.RestoreRegion(ctx, iso)
}

// awsPromote and awsSwitchBack are the AWS halves of the promotion faults.
func awsPromote(ctx context.Context, st *drdaws.Stack, region string, allowDataLoss bool) error {
	return st.PromoteWatching(ctx, region, allowDataLoss, promotionTimeout)
}

// awsSwitchBack decides on the writer only once no promotion is running:
// while the switchover it undoes is still in progress the writer has not
// moved yet, and "already back" would be reported before it moves away.
func awsSwitchBack(ctx context.Context, st *drdaws.Stack, region string) error {
	w, err := st.WaitIdle(ctx, promotionTimeout)
	if err != nil {
		return err
	}
	if w != region {
		// Never move the writer into a region its clients cannot reach:
		// writes would stop, and the failover trigger, seeing the new
		// primary down, would fail over again.
		cut, err := st.IsolatedSubnets(ctx, region)
		if err != nil {
			return err
		}
		if len(cut) > 0 {
			return fmt.Errorf("not switching back to %s: its database subnets are still cut off (%s); roll back region-isolation first",
				region, strings.Join(cut, ", "))
		}
	}
	if w == region {
		return nil
	}
	return st.Promote(ctx, region, false, promotionTimeout)
}

// awsMonitorResolve picks the health monitor to stop. By default it is the
// one the failover trigger decides on: the secondary region's monitor,
// whose probe of the primary (PeerHealthy) is the trigger's evidence.
// Stopping the primary's own monitor would leave the trigger able to fail
// over, and the drill would prove nothing about a broken monitor.
func awsMonitorResolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	if p["region"] == "" {
		q := Params{}
		for k, v := range p {
			q[k] = v
		}
		q["region"] = t.Regions()[1] // where infra/aws runs the trigger and the monitor it reads
		p = q
	}
	_, q, err := awsRoles(ctx, t, p)
	if err != nil {
		return nil, err
	}
	key := "PrimaryHealthMonitorFunctionName"
	if q["region"] == t.Regions()[1] {
		key = "SecondaryHealthMonitorFunctionName"
	}
	if q["function"] = t.Outputs()[key]; strings.TrimSpace(q["function"]) == "" {
		return nil, fmt.Errorf("outputs lack %s (FIS emptyTargetResolutionMode=fail)", key)
	}
	return q, nil
}

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
	if _, ok := awsOf(t); ok {
		return nil
	}
	return errNotAWS
}
func (AlarmPath) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	st, _ := awsOf(t)
	if err := awsResolve(ctx, st); err != nil {
		return nil, err
	}
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	if q["wait"] == "" {
		q["wait"] = "2m"
	}
	if d, err := time.ParseDuration(q["wait"]); err != nil || d <= 0 {
		return nil, fmt.Errorf("wait=%q: want a positive duration", q["wait"])
	}
	proof, err := st.ResolveAlarmPath(ctx)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(proof)
	q["proof"] = string(b)
	return q, nil
}
func proofOf(p Params) (drdaws.AlarmProof, error) {
	var proof drdaws.AlarmProof
	if err := json.Unmarshal([]byte(p["proof"]), &proof); err != nil {
		return proof, fmt.Errorf("ledger params hold no alarm-path record: %w", err)
	}
	return proof, nil
}
func (AlarmPath) Inject(ctx context.Context, t target.Target, p Params) error {
	st, _ := awsOf(t)
	proof, err := proofOf(p)
	if err != nil {
		return err
	}
	wait, _ := time.ParseDuration(p["wait"])
	// The queue and the subscription are in the ledger as soon as each exists.
	err = st.InjectAlarmPath(ctx, &proof, wait, func(now drdaws.AlarmProof) error {
		b, _ := json.Marshal(now)
		p["proof"] = string(b)
		return Progress(ctx, p)
	})
	b, _ := json.Marshal(proof)
	p["proof"] = string(b)
	return err
}
func (AlarmPath) Rollback(ctx context.Context, t target.Target, p Params) error {
	st, ok := awsOf(t)
	if !ok {
		return errNotAWS
	}
	proof, err := proofOf(p)
	if err != nil {
		return err
	}
	return st.RollbackAlarmPath(ctx, proof)
}

func init() {
	register(RegionIsolation{})
	register(AlarmPath{})
}
