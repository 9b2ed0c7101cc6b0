package lab

import (
	"context"
	"time"

	"github.com/drdrill/drdrill/internal/link"
)

// RegionStatus is one region as `drdrill lab status` shows it.
type RegionStatus struct {
	Name        string         `json:"name"`
	Role        Role           `json:"role"`
	Running     bool           `json:"running"`
	Frozen      bool           `json:"frozen"`
	Reachable   bool           `json:"reachable"`
	Writable    bool           `json:"writable"`
	PID         int            `json:"pid,omitempty"`
	ServerID    int            `json:"server_id,omitempty"`
	Incarnation int            `json:"incarnation"`
	ServerAddr  string         `json:"server_addr,omitempty"`
	Endpoint    string         `json:"endpoint"`
	Replication *ReplicaStatus `json:"replication,omitempty"`
	GTIDs       *GTIDs         `json:"gtids,omitempty"`
	LagMs       *float64       `json:"lag_ms,omitempty"`
	// InSync: the primary, or a secondary that has caught up with it since
	// it last lost sync (EventInSync).
	InSync bool   `json:"in_sync"`
	Error  string `json:"error,omitempty"`
}

// Status is a snapshot of the whole lab.
type Status struct {
	TimeNs     int64           `json:"time_ns"`
	Primary    string          `json:"primary"`
	Writer     link.State      `json:"writer"`
	Regions    []RegionStatus  `json:"regions"`
	Links      []link.State    `json:"links"`
	Controller ControllerState `json:"controller"`
	Alarms     []Alarm         `json:"alarms"`
	// Healthy is true when the primary is writable and the secondary
	// replicates without error: the steady state every drill starts from.
	Healthy bool `json:"healthy"`
	// Busy is true while a topology change is in progress; roles are then
	// from just before it.
	Busy bool `json:"busy,omitempty"`
}

type regionSnap struct {
	r         *Region
	s         *Server
	role      Role
	frozen    bool
	synced    bool
	inc, port int
}

// snapshot copies the regions' state, waiting at most briefly for a
// topology change to finish before falling back to the last copy.
func (l *Lab) snapshot() ([]regionSnap, string, bool) {
	deadline := time.Now().Add(300 * time.Millisecond)
	for !l.mu.TryLock() {
		if time.Now().After(deadline) {
			l.snapMu.Lock()
			defer l.snapMu.Unlock()
			return l.lastSnap, l.lastPrim, true
		}
		time.Sleep(5 * time.Millisecond)
	}
	var snaps []regionSnap
	for _, r := range l.regions {
		snaps = append(snaps, regionSnap{r, r.server, r.role, r.frozen, r == l.primary || r.sync.synced, r.incarnation, r.port})
	}
	primary := l.primary.Name
	l.mu.Unlock()
	l.snapMu.Lock()
	l.lastSnap, l.lastPrim = snaps, primary
	l.snapMu.Unlock()
	return snaps, primary, false
}

// Status reads every region over its control socket (bounded by short timeouts).
func (l *Lab) Status(ctx context.Context) Status {
	snaps, primary, busy := l.snapshot()

	lag, alarm := l.hb.snapshot()
	st := Status{TimeNs: time.Now().UnixNano(), Primary: primary, Writer: l.writer.State(),
		Controller: l.ctrl.state(), Alarms: []Alarm{alarm}}
	for _, k := range l.Links() {
		st.Links = append(st.Links, k.State())
	}
	healthy := true
	for _, sn := range snaps {
		rs := RegionStatus{Name: sn.r.Name, Role: sn.role, Frozen: sn.frozen, InSync: sn.synced, Incarnation: sn.inc, Endpoint: sn.r.client.Addr()}
		if v, ok := lag[sn.r.Name]; ok {
			ms := float64(v.Microseconds()) / 1000
			rs.LagMs = &ms
		}
		if sn.s != nil && sn.s.Alive() {
			rs.Running, rs.PID, rs.ServerID, rs.ServerAddr = true, sn.s.PID(), sn.s.Config().ServerID, sn.s.Addr()
		}
		if rs.Running && !sn.frozen {
			qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			var err error
			rs.Reachable, rs.Writable, err = sn.s.Probe(qctx, 500*time.Millisecond)
			if err == nil {
				if rep, err := replicaStatus(qctx, sn.s.Admin()); err == nil && rep.Configured {
					rs.Replication = &rep
				}
				if g, err := gtids(qctx, sn.s.Admin()); err == nil {
					rs.GTIDs = &g
				}
			} else {
				rs.Error = err.Error()
			}
			cancel()
		}
		switch sn.role {
		case RolePrimary:
			healthy = healthy && rs.Reachable && rs.Writable
		default:
			healthy = healthy && rs.Reachable && !rs.Writable && sn.role == RoleSecondary && rs.Replication != nil && rs.Replication.Healthy()
		}
		st.Regions = append(st.Regions, rs)
	}
	for _, k := range st.Links {
		healthy = healthy && !k.Blackholed
	}
	st.Busy = busy
	st.Healthy = healthy && !st.Controller.Paused && !busy
	return st
}
