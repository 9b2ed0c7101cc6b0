// Package target is the one interface the suites see: a deployed DR stack
// (the embedded lab, or AWS — a real account or the twin) described by its
// outputs file. Suites and faults never import the lab or AWS packages:
// they ask a Target for the capabilities they need (capability.go), like
// etcd's failpoints do on a cluster.
package target

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	drdaws "github.com/drdrill/drdrill/internal/aws"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/go-sql-driver/mysql"
)

// Region is one region's place in the topology.
type Region struct {
	Name        string   `json:"name"`
	Role        string   `json:"role"` // primary, secondary, fenced
	Reachable   bool     `json:"reachable"`
	Writable    bool     `json:"writable"`
	Replicating bool     `json:"replicating"`
	LagMs       *float64 `json:"lag_ms,omitempty"`
	Detail      string   `json:"detail,omitempty"`
}

// Topology is the stack's state as the target sees it.
type Topology struct {
	Primary string   `json:"primary"`
	Regions []Region `json:"regions"`
	// Healthy: the primary is writable, the secondary replicates, no fault is active.
	Healthy bool `json:"healthy"`
	// Detail explains an unhealthy topology in one line.
	Detail string `json:"detail,omitempty"`
}

// Event is a control-plane event: detect, promote, fence, rejoin, reseed, alarm.
type Event struct {
	Seq      int    `json:"seq"`
	TimeNs   int64  `json:"time_ns"`
	Kind     string `json:"kind"`
	Region   string `json:"region,omitempty"`
	Detail   string `json:"detail,omitempty"`
	ServerID uint32 `json:"server_id,omitempty"`
}

// Alarm is an alarm's current state.
type Alarm struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

// Target is a deployed DR stack.
type Target interface {
	// Kind is "lab" or "aws".
	Kind() string
	Outputs() outputs.Outputs
	// Regions lists the regions, primary region of the deployment first.
	Regions() []string
	Topology(ctx context.Context) (Topology, error)
	// Writer opens the application's view of the global writer endpoint.
	Writer() (*sql.DB, error)
	// Reader opens an application connection to one region's endpoint.
	Reader(region string) (*sql.DB, error)
	// Events returns control-plane events with Seq > after.
	Events(ctx context.Context, after int) ([]Event, error)
	Alarms(ctx context.Context) ([]Alarm, error)
	// Recover rolls back everything and returns the stack to a healthy
	// two-region topology, telling what it did.
	Recover(ctx context.Context) ([]string, error)
	// Failback recovers and then moves the primary back to the deployment's
	// original primary region by a planned switchover (RPO 0).
	Failback(ctx context.Context) ([]string, error)
	Close() error
}

// Observation is a measurement the platform itself reports (AWS: the lag
// metric, alarm states, Route 53 health), recorded beside the drill's own.
type Observation struct {
	Kind   string  `json:"kind"` // lag_ms, alarm, health_check
	Region string  `json:"region,omitempty"`
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	State  string  `json:"state,omitempty"`
	TimeNs int64   `json:"time_ns"`
}

// ObservedLagPeriod is the CloudWatch period of the lag an Observer
// reports (AuroraGlobalDBRPOLag at one-minute resolution): the resolution of
// every aws:<region> lag sample.
const ObservedLagPeriod = time.Minute

// Observer is a target that can report such measurements.
type Observer interface {
	Observe(ctx context.Context) []Observation
}

// Open reads an outputs file and returns the target it describes.
func Open(outputsPath string) (Target, error) {
	out, err := CheckOutputs(outputsPath)
	if err != nil {
		return nil, err
	}
	if out[outputs.TargetKind] == "lab" {
		return openLab(out)
	}
	// Outputs written by `make outputs` from Terraform; an older file
	// without TargetKind is taken as AWS (CheckOutputs refused any other).
	return openAWS(out)
}

// appDB opens a pool for the application user. Timeouts are short so a
// blackholed endpoint shows up as a timeout, never a hang.
func appDB(addr, user, password, db string) (*sql.DB, error) {
	m := mysql.NewConfig()
	m.User, m.Passwd = user, password
	m.Net, m.Addr, m.DBName = "tcp", addr, db
	m.Timeout, m.ReadTimeout, m.WriteTimeout = time.Second, 2*time.Second, 2*time.Second
	m.InterpolateParams = true
	c, err := mysql.NewConnector(m)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(dialLimit{Connector: c, sem: make(chan struct{}, MaxConcurrentDials)}), nil
}

// MaxConcurrentDials bounds the connections a pool opens at once. After a
// failover every pooled connection is dead, and a pool under 1000 writes/s
// would otherwise open hundreds at once: the handshakes starve two cores,
// every one of them times out, and the measured RTO becomes the herd's,
// not the stack's.
const MaxConcurrentDials = 8

// DialSlotHold is the longest a dial keeps its slot: one that hangs (into a
// blackholed region, until its connect timeout) must not stop the pool from
// reaching the new primary once the writer endpoint has moved.
const DialSlotHold = 50 * time.Millisecond

// dialLimit is a driver.Connector that starts at most cap(sem) dials at a
// time; a dial gives its slot back when it finishes or after DialSlotHold.
// Waiting for a turn honours the caller's deadline.
type dialLimit struct {
	driver.Connector
	sem chan struct{}
}

func (d dialLimit) Connect(ctx context.Context) (driver.Conn, error) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var once sync.Once
	release := func() { once.Do(func() { <-d.sem }) }
	t := time.AfterFunc(DialSlotHold, release)
	defer func() { t.Stop(); release() }()
	return d.Connector.Connect(ctx)
}

// CheckOutputs reads an outputs file and checks that it names a known target
// and carries every key that target needs, without connecting to anything:
// the drill command calls it before it starts a lab or Ginkgo, so a bad
// file is one line naming the file, the problem and the fix.
func CheckOutputs(outputsPath string) (outputs.Outputs, error) {
	out, err := outputs.Read(outputsPath)
	if err != nil {
		return nil, err
	}
	var need []string
	var fix string
	switch k := out[outputs.TargetKind]; k {
	case "lab":
		need = labOutputs
		fix = "start a lab with `drdrill lab up` and use the flat-outputs.json it prints"
	case "", "aws":
		// Outputs written by `make outputs` from Terraform; an older file
		// without TargetKind is taken as AWS.
		need = drdaws.RequiredOutputs
		fix = "regenerate it with `make outputs`"
	default:
		return nil, fmt.Errorf("outputs file %s: unknown %s %q (want lab or aws)", outputsPath, outputs.TargetKind, k)
	}
	if err := out.Require(need...); err != nil {
		return nil, fmt.Errorf("outputs file %s: %w: %s", outputsPath, err, fix)
	}
	return out, nil
}
