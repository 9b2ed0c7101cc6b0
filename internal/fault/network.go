package fault

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/drdrill/drdrill/internal/target"
)

// Partition blackholes both cross-region replication links; both servers
// stay up. control_path=cut (the default) cuts the cross-region control
// path with it: the controller, in the secondary region like the failover
// trigger, cannot fence the old primary until the partition heals.
// control_path=survives keeps it, as a regional control plane that
// reaches both regions (AWS's) may.
type Partition struct{}

func (Partition) Name() string { return "partition" }
func (Partition) Description() string {
	return "blackhole the cross-region replication links in both directions; both regions stay up (control_path=cut|survives: whether fencing still reaches the other region; default cut)"
}
func (Partition) Available(t target.Target) error {
	_, _, err := linksAndControl(t)
	return err
}
func linksAndControl(t target.Target) (target.NetworkLinks, target.ControlPath, error) {
	n, err := capability[target.NetworkLinks](t, links)
	if err != nil {
		return nil, nil, err
	}
	c, err := capability[target.ControlPath](t, control)
	return n, c, err
}
func (Partition) Resolve(ctx context.Context, t target.Target, p Params) (Params, error) {
	q := p.clone()
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
	n, c, err := linksAndControl(t)
	if err != nil {
		return err
	}
	if p["control_path"] != "survives" {
		if err := c.SetControlPath(ctx, true); err != nil {
			return err
		}
	}
	return blackhole(ctx, n, true, partitionLinks(t)...)
}
func (Partition) Rollback(ctx context.Context, t target.Target, p Params) error {
	n, c, err := linksAndControl(t)
	if err != nil {
		return err
	}
	return errors.Join(blackhole(ctx, n, false, partitionLinks(t)...), c.SetControlPath(ctx, false))
}

// WANDegradation adds latency and/or caps bandwidth on the link that feeds
// the secondary (or p["region"]), restoring the previous values on rollback.
type WANDegradation struct{}

func (WANDegradation) Name() string { return "wan-degradation" }
func (WANDegradation) Description() string {
	return "add one-way latency (latency_ms, default 700) and/or a bandwidth cap (bytes_per_sec) on the replication link into a region (default: the secondary)"
}
func (WANDegradation) Available(t target.Target) error {
	return has[target.NetworkLinks](t, links)
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
	n, err := capability[target.NetworkLinks](t, links)
	if err != nil {
		return nil, err
	}
	link := "repl-" + q["region"]
	now, err := n.Link(ctx, link)
	if err != nil {
		return nil, err
	}
	q["link"] = link
	q["restore_latency_ms"] = strconv.FormatFloat(float64(now.Latency)/float64(time.Millisecond), 'f', -1, 64)
	q["restore_bytes_per_sec"] = strconv.FormatInt(now.BytesPerSec, 10)
	return q, nil
}
func (WANDegradation) Inject(ctx context.Context, t target.Target, p Params) error {
	n, err := capability[target.NetworkLinks](t, links)
	if err != nil {
		return err
	}
	var f target.LinkFaults
	if v := p["latency_ms"]; v != "" {
		ms, _ := strconv.ParseFloat(v, 64)
		f.LatencyMs = &ms
	}
	if v := p["bytes_per_sec"]; v != "" {
		n, _ := strconv.ParseInt(v, 10, 64)
		f.BytesPerSec = &n
	}
	return n.SetLink(ctx, p["link"], f)
}
func (WANDegradation) Rollback(ctx context.Context, t target.Target, p Params) error {
	n, err := capability[target.NetworkLinks](t, links)
	if err != nil {
		return err
	}
	ms, _ := strconv.ParseFloat(p["restore_latency_ms"], 64)
	bps, _ := strconv.ParseInt(p["restore_bytes_per_sec"], 10, 64)
	return n.SetLink(ctx, p["link"], target.LinkFaults{LatencyMs: &ms, BytesPerSec: &bps})
}
