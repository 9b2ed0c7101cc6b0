package target

import (
	"context"
	"time"

	drdaws "github.com/drdrill/drdrill/internal/aws"
)

// Capabilities are what a target offers beyond Target. The faults and the
// suites ask a Target for the ones they need (t.(target.Promoter)), the way
// etcd's failpoints ask a cluster for what they need, and never for the
// implementation behind it: a third way to run a stack (the AWS twin is one
// behind the AWS target) needs only to offer them.
//
// The lab offers RegionServers, NetworkLinks, ControlPath, Promoter,
// MonitorControl and ServerIDs; AWS offers Guarded, Promoter,
// MonitorControl, SubnetIsolation, AlarmPathProof, StopConditions,
// MonitorWatcher and Observer.

// Guarded is a target whose faults and failbacks pass a safety guard
// first (AWS: allow-listed account, tagged global cluster, no stop alarm
// firing). A refused fault never reaches the ledger.
type Guarded interface {
	Guard(ctx context.Context) error
}

// Promotion says how a Promoter moves the writer.
type Promotion struct {
	// AllowDataLoss promotes the secondary with whatever it has
	// (FailoverGlobalCluster with AllowDataLoss); otherwise the primary is
	// fenced and the secondary catches up first (RPO 0).
	AllowDataLoss bool
	// NoFence leaves the old primary writable (where the target can), to
	// show what the checker finds then.
	NoFence bool
}

// Promoter moves the writer between regions.
type Promoter interface {
	// Promote makes region the writer and returns once it has moved.
	Promote(ctx context.Context, region string, how Promotion) error
	// SwitchBack makes region the writer again by a planned switchover,
	// once no promotion is running; it refuses a region its clients still
	// cannot reach, and does nothing if region is already the writer.
	SwitchBack(ctx context.Context, region string) error
}

// Monitor names one health monitor a MonitorControl can stop. An empty
// Region is the target's single monitor (the lab's controller).
type Monitor struct {
	Region   string
	Function string
}

// MonitorControl stops and restarts the health monitoring a failover
// decision rests on.
type MonitorControl interface {
	// ResolveMonitor names the monitor in region, or, when region is
	// empty, the one whose failure leaves the failover decision blind.
	ResolveMonitor(ctx context.Context, region string) (Monitor, error)
	// PauseMonitor stops it; saved receives what ResumeMonitor must
	// restore as soon as it is known (before anything changes), and the
	// same value is returned.
	PauseMonitor(ctx context.Context, m Monitor, saved func(prev string) error) (prev string, err error)
	ResumeMonitor(ctx context.Context, m Monitor, prev string) error
}

// ServerAction is what RegionServers can do to a region's database server.
type ServerAction string

// The server actions.
const (
	Kill    ServerAction = "kill"    // SIGKILL
	Restart ServerAction = "restart" // start a killed server again
	Freeze  ServerAction = "freeze"  // SIGSTOP
	Thaw    ServerAction = "thaw"    // SIGCONT
	Reseed  ServerAction = "reseed"  // replace it with a fresh copy of the primary
)

// RegionServers is process control of each region's database server.
type RegionServers interface {
	ServerAction(ctx context.Context, region string, a ServerAction) error
	// Frozen tells whether region's server is stopped by Freeze.
	Frozen(ctx context.Context, region string) (bool, error)
}

// LinkFaults change a network path; nil fields are left as they are.
type LinkFaults struct {
	LatencyMs   *float64
	BytesPerSec *int64
	Blackhole   *bool
}

// LinkState is a network path's current faults.
type LinkState struct {
	Latency     time.Duration
	BytesPerSec int64
	Blackholed  bool
}

// NetworkLinks are the stack's network paths by name: "client-<region>"
// (applications to a region's database) and "repl-<region>" (replication
// into a region).
type NetworkLinks interface {
	SetLink(ctx context.Context, name string, f LinkFaults) error
	// Link returns a path's current faults; an unknown name is an error.
	Link(ctx context.Context, name string) (LinkState, error)
}

// ControlPath cuts the failover controller's path to the other region, so
// it cannot fence across a partition.
type ControlPath interface {
	SetControlPath(ctx context.Context, cut bool) error
}

// Isolation is the record of a region's database subnets moved onto a
// deny-all network ACL: what SubnetIsolation changed and must put back.
type Isolation = drdaws.Isolation

// SubnetIsolation cuts a region off at its network ACLs, like FIS
// aws:network:disrupt-connectivity.
type SubnetIsolation interface {
	// ResolveIsolation finds what IsolateRegion will change (read-only).
	ResolveIsolation(ctx context.Context, region string) (Isolation, error)
	// IsolateRegion applies it; progress receives the record after each
	// change, before the next one.
	IsolateRegion(ctx context.Context, iso *Isolation, progress func(Isolation) error) error
	RestoreRegion(ctx context.Context, iso Isolation) error
}

// AlarmProof is the record of a forced alarm and the temporary queue that
// proves its notification is delivered.
type AlarmProof = drdaws.AlarmProof

// AlarmPathProof forces the replication-lag alarm and proves its
// notification arrives.
type AlarmPathProof interface {
	ResolveAlarmPath(ctx context.Context) (AlarmProof, error)
	// InjectAlarmPath creates what it needs, handing each new resource to
	// progress as soon as it exists, and waits up to wait for delivery.
	InjectAlarmPath(ctx context.Context, p *AlarmProof, wait time.Duration, progress func(AlarmProof) error) error
	RollbackAlarmPath(ctx context.Context, p AlarmProof) error
}

// StopConditions is a target with stop conditions (AWS:
// DRDRILL_STOP_ALARMS): a firing one aborts the scenario.
type StopConditions interface {
	CheckStopConditions(ctx context.Context) error
}

// MonitorWatcher is a target whose own health monitoring drdrill can read
// (AWS: the health-monitor Lambdas' metrics).
type MonitorWatcher interface {
	// WaitMonitorsHealthy waits until the monitors see region healthy in
	// datapoints newer than since.
	WaitMonitorsHealthy(ctx context.Context, region string, since time.Time, within time.Duration) error
}

// ServerIDs is a target whose promote events name the new primary's
// server_id, which lets the checker judge zombie writes.
type ServerIDs interface {
	PromotionsCarryServerIDs() bool
}

// What each implementation offers: a method whose signature drifts from its
// capability would otherwise make every fault needing it silently
// unavailable, and the drill would skip instead of fail.
var (
	_ RegionServers  = (*Lab)(nil)
	_ NetworkLinks   = (*Lab)(nil)
	_ ControlPath    = (*Lab)(nil)
	_ Promoter       = (*Lab)(nil)
	_ MonitorControl = (*Lab)(nil)
	_ ServerIDs      = (*Lab)(nil)

	_ Guarded         = (*AWS)(nil)
	_ Promoter        = (*AWS)(nil)
	_ MonitorControl  = (*AWS)(nil)
	_ SubnetIsolation = (*AWS)(nil)
	_ AlarmPathProof  = (*AWS)(nil)
	_ StopConditions  = (*AWS)(nil)
	_ MonitorWatcher  = (*AWS)(nil)
	_ Observer        = (*AWS)(nil)
)
