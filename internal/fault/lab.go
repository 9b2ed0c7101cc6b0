package fault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/target"
)

// labControl is what the lab target offers beyond the Target interface.
type labControl interface {
	Client() *lab.Client
}

var errNotLab = errors.New("needs process and network control of each region, which only the embedded lab offers")

func labOf(t target.Target) (*lab.Client, error) {
	if lc, ok := t.(labControl); ok {
		return lc.Client(), nil
	}
	return nil, errNotLab
}

type labFault struct{}

func (labFault) Available(t target.Target) error { _, err := labOf(t); return err }

// roles resolves p["region"] (default: the current primary) and the other region.
func roles(ctx context.Context, t target.Target, p Params, def string) (Params, error) {
	topo, err := t.Topology(ctx)
	if err != nil {
		return nil, err
	}
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	q["primary"] = topo.Primary
	if q["region"] == "" {
		q["region"] = topo.Primary
		if def == "secondary" {
			q["region"] = other(t, topo.Primary)
		}
	}
	valid := false
	for _, r := range t.Regions() {
		valid = valid || r == q["region"]
	}
	if !valid {
		return nil, fmt.Errorf("unknown region %q (regions: %v)", q["region"], t.Regions())
	}
	q["other"] = other(t, q["region"])
	return q, nil
}

func other(t target.Target, region string) string {
	for _, r := range t.Regions() {
		if r != region {
			return r
		}
	}
	return ""
}

func blackhole(ctx context.Context, c *lab.Client, on bool, links ...string) error {
	var errs []error
	for _, name := range links {
		errs = append(errs, c.SetLink(ctx, name, lab.LinkFaults{Blackhole: &on}))
	}
	return errors.Join(errs...)
}

// RegionCrash blackholes a region's links first and then SIGKILLs its
// server. The other order lets clients see the disconnect (a reset), and a
// failure is then detected faster than a real region loss allows.
type RegionCrash struct{ labFault }

func (RegionCrash) Name() string { return "region-crash" }
func (RegionCrash) Description() string {
	return "blackhole a region's client and replication links, then SIGKILL its server (default region: the primary)"
}
func (RegionCrash) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	return roles(ctx, t, p, "primary")
}
func crashLinks(p Params) []string {
	return []string{"client-" + p["region"], "repl-" + p["region"], "repl-" + p["other"]}
}
func (RegionCrash) Inject(ctx context.Context, t target.Target, p Params) error {
	c, _ := labOf(t)
	if err := blackhole(ctx, c, true, crashLinks(p)...); err != nil {
		return err
	}
	return c.Region(ctx, p["region"], "kill")
}
func (RegionCrash) Rollback(ctx context.Context, t target.Target, p Params) error {
	c, err := labOf(t)
	if err != nil {
		return err
	}
	if err := blackhole(ctx, c, false, crashLinks(p)...); err != nil {
		return err
	}
	// A restarted old primary boots read-only; the controller rejoins it,
	// re-seeding it if its history diverged.
	return c.Region(ctx, p["region"], "restart")
}

// RegionFreeze SIGSTOPs a region's server: connections stay open and say
// nothing. Rollback re-seeds a frozen server that lost its primary role
// rather than resuming it (a resumed old primary commits zombie writes).
type RegionFreeze struct{ labFault }

func (RegionFreeze) Name() string { return "region-freeze" }
func (RegionFreeze) Description() string {
	return "SIGSTOP a region's server (default: the primary); rollback re-seeds it unless it is still the primary"
}
func (RegionFreeze) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	return roles(ctx, t, p, "primary")
}
func (RegionFreeze) Inject(ctx context.Context, t target.Target, p Params) error {
	c, _ := labOf(t)
	return c.Region(ctx, p["region"], "freeze")
}
func (RegionFreeze) Rollback(ctx context.Context, t target.Target, p Params) error {
	c, err := labOf(t)
	if err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	for _, r := range st.Regions {
		if r.Name != p["region"] || !r.Frozen {
			continue
		}
		if st.Primary == r.Name {
			return c.Region(ctx, r.Name, "thaw")
		}
		return c.Region(ctx, r.Name, "reseed")
	}
	return nil
}

// Partition blackholes both cross-region replication links; both servers
// stay up. control_path=cut (the default) cuts the cross-region control
// path with it: the controller, in the secondary region like the failover
// trigger, cannot fence the old primary until the partition heals.
// control_path=survives keeps it, as a regional control plane that
// reaches both regions (AWS's) may.
type Partition struct{ labFault }

func (Partition) Name() string { return "partition" }
func (Partition) Description() string {
	return "blackhole the cross-region replication links in both directions; both regions stay up (control_path=cut|survives: whether fencing still reaches the other region; default cut)"
}
func (Partition) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	q := Params{}
	for k, v := range p {
		q[k] = v
	}
	switch q["control_path"] {
	case "":
		q["control_path"] = "cut"
	case "cut", "survives":
	default:
		return nil, fmt.Errorf("partition: control_path=%q: use cut (no fencing across the partition) or survives", q["control_path"])
	}
	return q, nil
}
func partitionLinks(t target.Target) []string {
	var out []string
	for _, r := range t.Regions() {
		out = append(out, "repl-"+r)
	}
	return out
}
func (Partition) Inject(ctx context.Context, t target.Target, p Params) error {
	c, _ := labOf(t)
	if p["control_path"] != "survives" {
		if err := c.SetControlPath(ctx, true); err != nil {
			return err
		}
	}
	return blackhole(ctx, c, true, partitionLinks(t)...)
}
func (Partition) Rollback(ctx context.Context, t target.Target, p Params) error {
	c, err := labOf(t)
	if err != nil {
		return err
	}
	return errors.Join(blackhole(ctx, c, false, partitionLinks(t)...), c.SetControlPath(ctx, false))
}

// WANDegradation adds latency and/or caps bandwidth on the link that feeds
// the secondary (or p["region"]), restoring the previous values on rollback.
type WANDegradation struct{ labFault }

func (WANDegradation) Name() string { return "wan-degradation" }
func (WANDegradation) Description() string {
	return "add one-way latency (latency_ms, default 700) and/or a bandwidth cap (bytes_per_sec) on the replication link into a region (default: the secondary)"
}
func (WANDegradation) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	q, err := roles(ctx, t, p, "secondary")
	if err != nil {
		return nil, err
	}
	if q["latency_ms"] == "" && q["bytes_per_sec"] == "" {
		q["latency_ms"] = "700"
	}
	for _, k := range []string{"latency_ms", "bytes_per_sec"} {
		if v := q[k]; v != "" {
			if f, err := strconv.ParseFloat(v, 64); err != nil || f < 0 {
				return nil, fmt.Errorf("%s=%q: want a non-negative number", k, v)
			}
		}
	}
	c, _ := labOf(t)
	st, err := c.Status(ctx)
	if err != nil {
		return nil, err
	}
	link := "repl-" + q["region"]
	for _, k := range st.Links {
		if k.Name == link {
			q["link"] = link
			q["restore_latency_ms"] = strconv.FormatFloat(float64(k.Latency)/float64(time.Millisecond), 'f', -1, 64)
			q["restore_bytes_per_sec"] = strconv.FormatInt(k.BytesPerSec, 10)
		}
	}
	if q["link"] == "" {
		return nil, fmt.Errorf("no link %s in the lab", link)
	}
	return q, nil
}
func (WANDegradation) Inject(ctx context.Context, t target.Target, p Params) error {
	c, _ := labOf(t)
	var f lab.LinkFaults
	if v := p["latency_ms"]; v != "" {
		ms, _ := strconv.ParseFloat(v, 64)
		f.LatencyMs = &ms
	}
	if v := p["bytes_per_sec"]; v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		f.BytesPerSec = &n
	}
	return c.SetLink(ctx, p["link"], f)
}
func (WANDegradation) Rollback(ctx context.Context, t target.Target, p Params) error {
	c, err := labOf(t)
	if err != nil {
		return err
	}
	ms, _ := strconv.ParseFloat(p["restore_latency_ms"], 64)
	n, _ := strconv.ParseInt(p["restore_bytes_per_sec"], 10, 64)
	return c.SetLink(ctx, p["link"], lab.LinkFaults{LatencyMs: &ms, BytesPerSec: &n})
}

// PlannedSwitchover fences the primary, waits for the secondary to catch up
// and promotes it (RPO must be 0). Rollback switches back.
type PlannedSwitchover struct{}

func (PlannedSwitchover) Name() string { return "planned-switchover" }
func (PlannedSwitchover) Description() string {
	return "fence the primary, wait for catch-up, promote the secondary (RPO 0); rollback switches back"
}
func (PlannedSwitchover) Available(t target.Target) error { return labOrAWS(t) }
func (PlannedSwitchover) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	if st, ok := awsOf(t); ok {
		if err := awsResolve(ctx, st); err != nil {
			return nil, err
		}
	}
	return roles(ctx, t, p, "secondary")
}
func (PlannedSwitchover) Inject(ctx context.Context, t target.Target, p Params) error {
	if st, ok := awsOf(t); ok {
		return awsPromote(ctx, st, p["region"], false)
	}
	c, _ := labOf(t)
	return c.Promote(ctx, p["region"], lab.PromoteOptions{Mode: lab.Switchover})
}
func (PlannedSwitchover) Rollback(ctx context.Context, t target.Target, p Params) error {
	return switchBack(ctx, t, p["primary"])
}

// switchBack recovers the lab and makes region the primary again (RPO 0).
func switchBack(ctx context.Context, t target.Target, region string) error {
	if st, ok := awsOf(t); ok {
		return awsSwitchBack(ctx, st, region)
	}
	c, err := labOf(t)
	if err != nil {
		return err
	}
	if _, err := c.Recover(ctx); err != nil {
		return err
	}
	st, err := c.Status(ctx)
	if err != nil {
		return err
	}
	if st.Primary == region {
		return nil
	}
	return c.Promote(ctx, region, lab.PromoteOptions{Mode: lab.Switchover})
}

// UnplannedFailover promotes the secondary with whatever it has (data loss
// allowed), like FailoverGlobalCluster with AllowDataLoss. no_fence=true
// skips fencing the old primary, to show what the checker finds then.
type UnplannedFailover struct{}

func (UnplannedFailover) Name() string { return "unplanned-failover" }
func (UnplannedFailover) Description() string {
	return "promote the secondary with data loss allowed (no_fence=true skips fencing the old primary); rollback rejoins and switches back"
}
func (UnplannedFailover) Available(t target.Target) error { return labOrAWS(t) }
func (UnplannedFailover) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	if st, ok := awsOf(t); ok {
		if err := awsResolve(ctx, st); err != nil {
			return nil, err
		}
	}
	return roles(ctx, t, p, "secondary")
}
func (UnplannedFailover) Inject(ctx context.Context, t target.Target, p Params) error {
	if st, ok := awsOf(t); ok {
		return awsPromote(ctx, st, p["region"], true)
	}
	c, _ := labOf(t)
	return c.Promote(ctx, p["region"], lab.PromoteOptions{Mode: lab.Failover, NoFence: p["no_fence"] == "true"})
}
func (UnplannedFailover) Rollback(ctx context.Context, t target.Target, p Params) error {
	return switchBack(ctx, t, p["primary"])
}

// MonitorFailure stops the controller's probing: no automatic failover can
// happen, which a drill must report as "would not have recovered on its own".
type MonitorFailure struct{}

func (MonitorFailure) Name() string { return "monitor-failure" }
func (MonitorFailure) Description() string {
	return "stop the health monitoring the failover decision rests on (lab: the controller's probes; AWS: PutFunctionConcurrency 0 on the secondary region's health monitor, whose probe of the primary the trigger reads)"
}
func (MonitorFailure) Available(t target.Target) error { return labOrAWS(t) }
func (MonitorFailure) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	if _, ok := awsOf(t); ok {
		return awsMonitorResolve(ctx, t, p)
	}
	return Params(p), nil
}
func (MonitorFailure) Inject(ctx context.Context, t target.Target, p Params) error {
	if st, ok := awsOf(t); ok {
		prev, err := st.PauseMonitor(ctx, p["region"], p["function"], func(prev string) error {
			p["prev_concurrency"] = prev
			return Progress(ctx, p)
		})
		p["prev_concurrency"] = prev
		return err
	}
	c, _ := labOf(t)
	return c.PauseController(ctx, true)
}
func (MonitorFailure) Rollback(ctx context.Context, t target.Target, p Params) error {
	if st, ok := awsOf(t); ok {
		return st.ResumeMonitor(ctx, p["region"], p["function"], p["prev_concurrency"])
	}
	c, err := labOf(t)
	if err != nil {
		return err
	}
	return c.PauseController(ctx, false)
}

func init() {
	for _, f := range []Failpoint{RegionCrash{}, RegionFreeze{}, Partition{}, WANDegradation{}, PlannedSwitchover{}, UnplannedFailover{}, MonitorFailure{}} {
		register(f)
	}
}
