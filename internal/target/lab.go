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
// the lab's fault primitives, which the fault catalogue looks for.
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

// Client is the lab's control API, for the fault catalogue.
func (l *Lab) Client() *lab.Client { return l.client }

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
