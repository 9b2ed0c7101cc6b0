package target

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/outputs"
)

// Lab is the embedded lab as a target. Besides the Target methods it offers
// the lab's fault primitives as capabilities (capability.go): process and
// network control of each region, promotions and the controller.
type Lab struct {
	out    outputs.Outputs
	client *lab.Client
}

// labOutputs are the keys a lab's outputs file must carry.
var labOutputs = []string{outputs.LabDir, outputs.GlobalWriterEndpoint, outputs.PrimaryClusterEndpoint,
	outputs.SecondaryClusterEndpoint, outputs.LabAppUser, outputs.LabAppPassword}

// openLab connects to the lab of outputs CheckOutputs has accepted.
func openLab(out outputs.Outputs) (*Lab, error) {
	c, err := lab.Connect(out[outputs.LabDir])
	if err != nil {
		return nil, err
	}
	return &Lab{out: out, client: c}, nil
}

// Kind is "lab".
func (l *Lab) Kind() string { return "lab" }

// Outputs are the lab's flat outputs.
func (l *Lab) Outputs() outputs.Outputs { return l.out }

// Regions are us-east-1 and us-west-2.
func (l *Lab) Regions() []string {
	return []string{l.out[outputs.PrimaryRegion], l.out[outputs.SecondaryRegion]}
}

func (l *Lab) endpoint(region string) (string, error) {
	switch region {
	case l.out[outputs.PrimaryRegion]:
		return l.out[outputs.PrimaryClusterEndpoint], nil
	case l.out[outputs.SecondaryRegion]:
		return l.out[outputs.SecondaryClusterEndpoint], nil
	}
	return "", fmt.Errorf("unknown region %q (regions: %s)", region, strings.Join(l.Regions(), ", "))
}

// Writer opens the global writer endpoint as the application user.
func (l *Lab) Writer() (*sql.DB, error) {
	return appDB(l.out[outputs.GlobalWriterEndpoint], l.out[outputs.LabAppUser], l.out[outputs.LabAppPassword], l.out[outputs.DatabaseName])
}

// Reader opens a region's endpoint as the application user.
func (l *Lab) Reader(region string) (*sql.DB, error) {
	ep, err := l.endpoint(region)
	if err != nil {
		return nil, err
	}
	return appDB(ep, l.out[outputs.LabAppUser], l.out[outputs.LabAppPassword], l.out[outputs.DatabaseName])
}

// Topology converts the lab's status.
func (l *Lab) Topology(ctx context.Context) (Topology, error) {
	st, err := l.client.Status(ctx)
	if err != nil {
		return Topology{}, err
	}
	return TopologyFromLab(st), nil
}

// TopologyFromLab maps a lab status to the target's view.
func TopologyFromLab(st lab.Status) Topology {
	t := Topology{Primary: st.Primary, Healthy: st.Healthy}
	var why []string
	for _, r := range st.Regions {
		reg := Region{Name: r.Name, Role: string(r.Role), Reachable: r.Reachable, Writable: r.Writable, LagMs: r.LagMs,
			Replicating: r.Replication != nil && r.Replication.Healthy()}
		switch {
		case r.Frozen:
			reg.Detail = "frozen"
		case !r.Running:
			reg.Detail = "server down"
		case r.Error != "":
			reg.Detail = r.Error
		case r.Replication != nil && !r.Replication.Healthy():
			reg.Detail = fmt.Sprintf("replication io=%s sql=%s %s%s", r.Replication.IORunning, r.Replication.SQLRunning, r.Replication.LastIOError, r.Replication.LastSQLError)
		}
		if reg.Detail != "" {
			why = append(why, r.Name+": "+reg.Detail)
		}
		t.Regions = append(t.Regions, reg)
	}
	for _, k := range st.Links {
		if k.Blackholed {
			why = append(why, "link "+k.Name+" blackholed")
		}
	}
	if st.Controller.Paused {
		why = append(why, "failover controller paused")
	}
	t.Detail = strings.Join(why, "; ")
	return t
}

// Events returns the lab's control-plane events.
func (l *Lab) Events(ctx context.Context, after int) ([]Event, error) {
	ev, err := l.client.Events(ctx, after)
	if err != nil {
		return nil, err
	}
	out := make([]Event, len(ev))
	for i, e := range ev {
		out[i] = Event(e)
	}
	return out, nil
}

// Alarms returns the lab's alarm states.
func (l *Lab) Alarms(ctx context.Context) ([]Alarm, error) {
	st, err := l.client.Status(ctx)
	if err != nil {
		return nil, err
	}
	var out []Alarm
	for _, a := range st.Alarms {
		out = append(out, Alarm{Name: a.Name, State: a.State})
	}
	return out, nil
}

// Recover heals the lab.
func (l *Lab) Recover(ctx context.Context) ([]string, error) { return l.client.Recover(ctx) }

// Failback recovers the lab and switches the primary back to us-east-1.
func (l *Lab) Failback(ctx context.Context) ([]string, error) { return l.client.Failback(ctx) }

// PromotionsCarryServerIDs: the lab's promote events name the new
// primary's server_id, which lets the checker judge zombie writes.
func (l *Lab) PromotionsCarryServerIDs() bool { return true }

// Close releases nothing: the lab's lifetime is the supervisor's.
func (l *Lab) Close() error { return nil }

// ServerAction runs a process action on region's server.
func (l *Lab) ServerAction(ctx context.Context, region string, a ServerAction) error {
	return l.client.Region(ctx, region, string(a))
}

// Frozen tells whether region's server is SIGSTOPped.
func (l *Lab) Frozen(ctx context.Context, region string) (bool, error) {
	st, err := l.client.Status(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range st.Regions {
		if r.Name == region {
			return r.Frozen, nil
		}
	}
	return false, fmt.Errorf("unknown region %q (regions: %s)", region, strings.Join(l.Regions(), ", "))
}

// SetLink changes one of the lab's proxied links.
func (l *Lab) SetLink(ctx context.Context, name string, f LinkFaults) error {
	return l.client.SetLink(ctx, name, lab.LinkFaults{LatencyMs: f.LatencyMs, BytesPerSec: f.BytesPerSec, Blackhole: f.Blackhole})
}

// Link reads one of the lab's links.
func (l *Lab) Link(ctx context.Context, name string) (LinkState, error) {
	st, err := l.client.Status(ctx)
	if err != nil {
		return LinkState{}, err
	}
	var names []string
	for _, k := range st.Links {
		if k.Name == name {
			return LinkState{Latency: k.Latency, BytesPerSec: k.BytesPerSec, Blackholed: k.Blackholed}, nil
		}
		names = append(names, k.Name)
	}
	return LinkState{}, fmt.Errorf("no link %s in the lab (links: %s)", name, strings.Join(names, ", "))
}

// SetControlPath cuts or restores the controller's cross-region path.
func (l *Lab) SetControlPath(ctx context.Context, cut bool) error {
	return l.client.SetControlPath(ctx, cut)
}

// Promote makes region the primary: a switchover, or a failover with data
// loss allowed.
func (l *Lab) Promote(ctx context.Context, region string, how Promotion) error {
	opt := lab.PromoteOptions{Mode: lab.Switchover}
	if how.AllowDataLoss {
		opt = lab.PromoteOptions{Mode: lab.Failover, NoFence: how.NoFence}
	}
	return l.client.Promote(ctx, region, opt)
}

// SwitchBack heals the lab and makes region the primary again by a
// switchover (RPO 0).
func (l *Lab) SwitchBack(ctx context.Context, region string) error {
	if _, err := l.client.Recover(ctx); err != nil {
		return err
	}
	st, err := l.client.Status(ctx)
	if err != nil {
		return err
	}
	if st.Primary == region {
		return nil
	}
	return l.client.Promote(ctx, region, lab.PromoteOptions{Mode: lab.Switchover})
}

// ResolveMonitor: the lab has one monitor, its controller, which probes
// both regions and decides.
func (l *Lab) ResolveMonitor(ctx context.Context, region string) (Monitor, error) {
	return Monitor{}, nil
}

// PauseMonitor pauses the controller's probes.
func (l *Lab) PauseMonitor(ctx context.Context, m Monitor, saved func(prev string) error) (string, error) {
	return "", l.client.PauseController(ctx, true)
}

// ResumeMonitor resumes the controller.
func (l *Lab) ResumeMonitor(ctx context.Context, m Monitor, prev string) error {
	return l.client.PauseController(ctx, false)
}
