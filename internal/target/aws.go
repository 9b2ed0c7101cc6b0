package target

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	drdaws "github.com/drdrill/drdrill/internal/aws"
	"github.com/drdrill/drdrill/internal/monitor"
	"github.com/drdrill/drdrill/internal/outputs"
)

// AWS is a deployed stack as a target. It reaches the databases through the
// endpoints in the outputs — which are private: run the drill inside the
// VPC, or set DRDRILL_WRITER_ENDPOINT / DRDRILL_PRIMARY_ENDPOINT /
// DRDRILL_SECONDARY_ENDPOINT to an SSM port-forward (see docs/aws.md).
type AWS struct {
	out   outputs.Outputs
	stack *drdaws.Stack

	credOnce sync.Once
	creds    monitor.Credentials
	credErr  error

	// The global cluster's transitions, watched from the first Events call.
	watchOnce sync.Once
	watchMu   sync.Mutex
	events    []Event
	stopWatch chan struct{}
	watchDone chan struct{}
}

func openAWS(out outputs.Outputs) (*AWS, error) {
	st, err := drdaws.NewStack(context.Background(), out)
	if err != nil {
		return nil, err
	}
	return &AWS{out: out, stack: st}, nil
}

// NewAWS wraps an existing stack (tests build one with intercepted clients).
func NewAWS(out outputs.Outputs, st *drdaws.Stack) *AWS { return &AWS{out: out, stack: st} }

// Kind is "aws".
func (a *AWS) Kind() string { return "aws" }

// Outputs are the deployment's outputs.
func (a *AWS) Outputs() outputs.Outputs { return a.out }

// Regions are the deployment's primary and secondary regions.
func (a *AWS) Regions() []string {
	return []string{a.out[outputs.PrimaryRegion], a.out[outputs.SecondaryRegion]}
}

// Topology reads roles and each member's sync from DescribeGlobalClusters
// and availability from DescribeDBClusters. Healthy: both clusters
// available and in sync, no failover pending.
func (a *AWS) Topology(ctx context.Context) (Topology, error) {
	g, err := a.stack.State(ctx)
	if err != nil {
		return Topology{}, err
	}
	writer, state := g.Writer, g.FailoverState
	t := Topology{Primary: writer, Healthy: state == ""}
	var why []string
	if state != "" {
		why = append(why, "global cluster failover state "+state)
	}
	for _, r := range a.Regions() {
		ok, status, err := a.stack.ClusterAvailable(ctx, r)
		resync := slices.Contains(g.Resyncing, r)
		reg := Region{Name: r, Role: "secondary", Reachable: ok, Writable: r == writer, Replicating: ok && r != writer && state == "" && !resync}
		if r == writer {
			reg.Role = "primary"
		}
		switch {
		case err != nil:
			reg.Detail = err.Error()
		case !ok:
			reg.Detail = "cluster status " + status
		case resync:
			reg.Detail = "pending-resync: rebuilt on a new volume after the failover, not in sync yet"
		}
		if reg.Detail != "" {
			why = append(why, r+": "+reg.Detail)
			t.Healthy = false
		}
		t.Regions = append(t.Regions, reg)
	}
	t.Detail = strings.Join(why, "; ")
	return t, nil
}

func (a *AWS) credentials(ctx context.Context) (monitor.Credentials, error) {
	a.credOnce.Do(func() {
		arn := a.out["DatabaseSecretArn"]
		// Read the secret in the primary region, or its replica in the secondary.
		for _, r := range []drdaws.Regional{a.stack.Primary, a.stack.Secondary} {
			id := arn
			if r.Region != a.stack.Primary.Region {
				id = strings.Replace(arn, ":"+a.stack.Primary.Region+":", ":"+r.Region+":", 1)
			}
			out, err := r.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
			if err != nil {
				a.credErr = err
				continue
			}
			a.creds, a.credErr = monitor.ParseCredentials(out.SecretString, id)
			if a.credErr == nil {
				return
			}
		}
	})
	return a.creds, a.credErr
}

func endpointOverride(env, value string) string {
	if v := os.Getenv(env); v != "" {
		return v
	}
	if !strings.Contains(value, ":") {
		value += ":3306"
	}
	return value
}

func (a *AWS) open(env, endpoint string) (*sql.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := a.credentials(ctx)
	if err != nil {
		return nil, fmt.Errorf("database credentials from %s: %w", a.out["DatabaseSecretArn"], err)
	}
	return appDB(endpointOverride(env, endpoint), c.Username, c.Password, a.out[outputs.DatabaseName])
}

// Writer opens the global writer endpoint.
func (a *AWS) Writer() (*sql.DB, error) {
	return a.open("DRDRILL_WRITER_ENDPOINT", a.out[outputs.GlobalWriterEndpoint])
}

// Reader opens a region's reader endpoint: it reaches the region's
// cluster in either role, where a cluster's writer endpoint is inactive
// while the cluster is a secondary ("All secondary Regions also have
// writer endpoints, but they're inactive"; "The reader endpoint isn't
// affected after a global database failover": AWS Database Blog,
// "Automate Amazon Aurora Global Database endpoint management").
func (a *AWS) Reader(region string) (*sql.DB, error) {
	switch region {
	case a.out[outputs.PrimaryRegion]:
		return a.open("DRDRILL_PRIMARY_ENDPOINT", a.out["PrimaryReaderEndpoint"])
	case a.out[outputs.SecondaryRegion]:
		return a.open("DRDRILL_SECONDARY_ENDPOINT", a.out["SecondaryReaderEndpoint"])
	}
	return nil, fmt.Errorf("unknown region %q (regions: %v)", region, a.Regions())
}

// Events are the global cluster's transitions as DescribeGlobalClusters
// shows them, polled from the first call on (every DRDRILL_AWS_POLL, which
// is their resolution): "failover-start" when a FailoverState appears,
// "promote" when the writer member changes, "failover-end" when the state
// clears; after a promotion, "sync-lost" for each other region, then
// "rejoin" and "in-sync" for each
// once its cluster is a synchronised secondary of the new writer (its
// SynchronizationStatus connected: after a failover Aurora first rebuilds
// the old primary on a new volume, pending-resync, for minutes to hours),
// and "sync-lost" then "in-sync" for a region seen pending-resync
// otherwise (when the watch began, say);
// and "detect" at each moment the stack's failover trigger decided to fail
// over (its FailoverDecisions metric, to the second), which splits the RTO
// into detection and promotion as on the lab.
func (a *AWS) Events(ctx context.Context, after int) ([]Event, error) {
	a.watchOnce.Do(a.startWatch)
	a.watchMu.Lock()
	defer a.watchMu.Unlock()
	var out []Event
	for _, e := range a.events {
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, nil
}

// decisionLookback is how far back each poll reads the trigger's decisions.
const decisionLookback = 5 * time.Minute

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// globalWatch turns successive reads of the global cluster into events.
type globalWatch struct {
	regions   []string
	prev      drdaws.GlobalState
	first     bool
	moved     bool            // the writer moved since the FailoverState appeared
	awaiting  map[string]bool // regions to see in sync after the last promotion
	resyncing map[string]bool // regions seen pending-resync, not yet in sync again
}

// observe returns the events between the last read and g, in order.
func (w *globalWatch) observe(g drdaws.GlobalState, add func(kind, region, detail string)) {
	if w.awaiting == nil {
		w.awaiting, w.resyncing = map[string]bool{}, map[string]bool{}
	}
	if !w.first {
		p := w.prev
		if g.FailoverState != "" && p.FailoverState == "" {
			// A promotion starts only with every member in sync: one that
			// got in sync between two polls is reported before it.
			w.flush(g, add)
			w.moved = false
			add("failover-start", g.Writer, "global cluster FailoverState "+g.FailoverState)
		}
		if g.Writer != p.Writer {
			w.moved = true
			add("promote", g.Writer, "the global writer is now the "+g.Writer+" cluster")
			for r := range w.awaiting {
				delete(w.awaiting, r)
			}
			for _, r := range w.regions {
				if r != g.Writer {
					// Until it is a synchronised secondary of the new
					// writer, this region is no failover target.
					add(EventSyncLost, r, "no longer in sync: the writer moved to the "+g.Writer+" cluster")
					w.awaiting[r] = true
				}
			}
		}
		if g.FailoverState == "" && p.FailoverState != "" {
			detail := "FailoverState cleared"
			if !w.moved {
				detail += " without moving the writer (cancelled)"
			}
			add("failover-end", g.Writer, detail)
		}
	}
	for _, r := range g.Resyncing {
		if !w.resyncing[r] && !w.awaiting[r] {
			add(EventSyncLost, r, "pending-resync: rebuilt before it can be a failover target")
		}
		w.resyncing[r] = true
	}
	if g.FailoverState == "" {
		w.flush(g, add)
	}
	w.prev, w.first = g, false
}

// flush reports the regions awaited since the last promotion that are
// synchronised secondaries in g, and any other that is connected again.
func (w *globalWatch) flush(g drdaws.GlobalState, add func(kind, region, detail string)) {
	for _, r := range slices.Sorted(maps.Keys(w.awaiting)) {
		if r == g.Writer || slices.Contains(g.Resyncing, r) {
			continue
		}
		add("rejoin", r, "a secondary of the "+g.Writer+" cluster, in sync (SynchronizationStatus connected)")
		add(EventInSync, r, "caught up with the "+g.Writer+" cluster after the promotion")
		delete(w.awaiting, r)
		delete(w.resyncing, r)
	}
	for _, r := range slices.Sorted(maps.Keys(w.resyncing)) {
		if r != g.Writer && !slices.Contains(g.Resyncing, r) {
			add(EventInSync, r, "connected again after pending-resync")
			delete(w.resyncing, r)
		}
	}
}

func (a *AWS) startWatch() {
	a.stopWatch, a.watchDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(a.watchDone)
		w := &globalWatch{first: true, regions: a.Regions()}
		since := time.Now()
		decided := map[int64]bool{}
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			g, err := a.stack.State(ctx)
			cancel()
			if err == nil {
				now := time.Now().UnixNano()
				w.observe(g, func(kind, region, detail string) {
					a.watchMu.Lock()
					a.events = append(a.events, Event{Seq: len(a.events) + 1, TimeNs: now, Kind: kind, Region: region, Detail: detail})
					a.watchMu.Unlock()
				})
			}
			ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
			// Each poll reads back a few minutes (a datapoint can show up
			// in CloudWatch a little after its time), not the whole drill:
			// the decisions already seen are kept in decided.
			at, err := a.stack.FailoverDecisions(ctx, later(since, time.Now().Add(-decisionLookback)))
			cancel()
			if err == nil {
				for _, t := range at {
					if !decided[t.UnixNano()] {
						decided[t.UnixNano()] = true
						a.watchMu.Lock()
						a.events = append(a.events, Event{Seq: len(a.events) + 1, TimeNs: t.UnixNano(), Kind: "detect", Region: a.stack.Secondary.Region,
							Detail: "the failover trigger decided to fail over"})
						a.watchMu.Unlock()
					}
				}
			}
			select {
			case <-a.stopWatch:
				return
			case <-time.After(a.stack.PollInterval()):
			}
		}
	}()
}

// Alarms returns the replication-lag alarms' states in both regions.
func (a *AWS) Alarms(ctx context.Context) ([]Alarm, error) {
	name := a.out[outputs.ReplicationLagAlarmName]
	names := []string{name, strings.TrimSuffix(name, "-secondary") + "-primary"}
	states, err := a.stack.AlarmStates(ctx, names)
	if err != nil {
		return nil, err
	}
	// The lag alarm is ALARM if either region's twin is: the metric lives in
	// whichever region is secondary now.
	state := "OK"
	for _, s := range states {
		if s == "ALARM" {
			state = "ALARM"
		} else if s == "INSUFFICIENT_DATA" && state != "ALARM" && len(states) == 1 {
			state = s
		}
	}
	return []Alarm{{Name: name, State: state}}, nil
}

// Recover: on AWS every fault is undone through the ledger; there is no
// lab process to heal. What is left is to wait for AWS: a promotion still
// running, and an old primary rebuilt after a failover (pending-resync).
func (a *AWS) Recover(ctx context.Context) ([]string, error) {
	var did []string
	if _, err := a.stack.WaitIdle(ctx, AWSBounds.Promotion); err != nil {
		return nil, fmt.Errorf("recover: waiting for the promotion in progress: %w", err)
	}
	waited, err := a.stack.WaitInSync(ctx, AWSBounds.Reprotect, "recover")
	if err != nil {
		return nil, err
	}
	if waited >= a.stack.PollInterval() {
		did = append(did, fmt.Sprintf("waited %v for the global cluster's members to be in sync (an old primary rebuilt after a failover)", waited.Round(time.Millisecond)))
	}
	topo, err := a.Topology(ctx)
	if err != nil {
		return did, err
	}
	if !topo.Healthy {
		return did, fmt.Errorf("stack not healthy after rolling back the ledger: %s", topo.Detail)
	}
	return did, nil
}

// Failback switches the writer back to the deployment's primary region (RPO 0).
func (a *AWS) Failback(ctx context.Context) ([]string, error) {
	primary := a.out[outputs.PrimaryRegion]
	// Decided once no promotion runs: a switchover still in progress has
	// not moved the writer yet, and "already back" would be wrong.
	writer, err := a.stack.WaitIdle(ctx, AWSBounds.Promotion)
	if err != nil {
		return nil, err
	}
	if writer == primary {
		return nil, nil
	}
	// A failback is a switchover: it passes the same guard as every fault
	// (allow-listed account, tagged global cluster, no stop alarm firing).
	if err := a.stack.Guard(ctx); err != nil {
		return nil, err
	}
	var did []string
	moved, err := a.switchBack(ctx, primary, "failing back", func(s string) { did = append(did, s) })
	if err != nil || !moved {
		return did, err
	}
	return append(did, "switched the global writer back to "+primary), nil
}

// SwitchBack makes region the writer again by a global switchover. It
// decides on the writer only once no promotion is running: while the
// switchover it undoes is still in progress the writer has not moved yet,
// and "already back" would be reported before it moves away.
func (a *AWS) SwitchBack(ctx context.Context, region string) error {
	_, err := a.switchBack(ctx, region, "switching back", nil)
	return err
}

// switchBack switches the writer over to region once no promotion runs,
// region's subnets are not cut off and every member is in sync (a
// switchover needs every member synchronised: after a failover the old
// primary is rebuilt first). said, if not nil, hears what it waited for.
func (a *AWS) switchBack(ctx context.Context, region, doing string, said func(string)) (bool, error) {
	w, err := a.stack.WaitIdle(ctx, AWSBounds.Promotion)
	if err != nil {
		return false, err
	}
	if w == region {
		return false, nil
	}
	// Never move the writer into a region its clients cannot reach:
	// writes would stop, and the failover trigger, seeing the new primary
	// down, would fail over again.
	cut, err := a.stack.IsolatedSubnets(ctx, region)
	if err != nil {
		return false, err
	}
	if len(cut) > 0 {
		return false, fmt.Errorf("not %s to %s: its database subnets are still cut off (%s); roll back region-isolation first",
			doing, region, strings.Join(cut, ", "))
	}
	waited, err := a.stack.WaitInSync(ctx, AWSBounds.Reprotect, doing+" to "+region)
	if err != nil {
		return false, err
	}
	if said != nil && waited >= a.stack.PollInterval() {
		said(fmt.Sprintf("waited %v for every member to be in sync (an old primary rebuilt after a failover) before %s", waited.Round(time.Millisecond), doing))
	}
	return true, a.stack.Promote(ctx, region, false, AWSBounds.Promotion)
}

// Promote switches the global writer over to region (or fails it over
// with data loss allowed), watching the stop conditions while it runs. It
// first waits for every member to be in sync (a switchover is refused
// while an old primary is rebuilt after a failover).
func (a *AWS) Promote(ctx context.Context, region string, how Promotion) error {
	doing := map[bool]string{false: "switching over", true: "failing over"}[how.AllowDataLoss] + " to " + region
	if _, err := a.stack.WaitInSync(ctx, AWSBounds.Reprotect, doing); err != nil {
		return err
	}
	return a.stack.PromoteWatching(ctx, region, how.AllowDataLoss, AWSBounds.Promotion)
}

// Guard: allow-listed account, tagged global cluster, no stop alarm firing.
func (a *AWS) Guard(ctx context.Context) error { return a.stack.Guard(ctx) }

// ResolveMonitor names a region's health-monitor function. By default it
// is the one the failover trigger decides on: the secondary region's
// monitor, whose probe of the primary (PeerHealthy) is the trigger's
// evidence. Stopping the primary's own monitor would leave the trigger
// able to fail over, and the drill would prove nothing about a broken
// monitor.
func (a *AWS) ResolveMonitor(ctx context.Context, region string) (Monitor, error) {
	if region == "" {
		region = a.Regions()[1] // where infra/aws runs the trigger and the monitor it reads
	}
	key := "PrimaryHealthMonitorFunctionName"
	switch region {
	case a.Regions()[0]:
	case a.Regions()[1]:
		key = "SecondaryHealthMonitorFunctionName"
	default:
		return Monitor{}, fmt.Errorf("unknown region %q (regions: %v)", region, a.Regions())
	}
	fn := strings.TrimSpace(a.out[key])
	if fn == "" {
		return Monitor{}, fmt.Errorf("outputs lack %s (FIS emptyTargetResolutionMode=fail)", key)
	}
	return Monitor{Region: region, Function: fn}, nil
}

// PauseMonitor sets the function's reserved concurrency to 0; saved gets
// the previous setting before it changes.
func (a *AWS) PauseMonitor(ctx context.Context, m Monitor, saved func(prev string) error) (string, error) {
	return a.stack.PauseMonitor(ctx, m.Region, m.Function, saved)
}

// ResumeMonitor restores the function's previous reserved concurrency.
func (a *AWS) ResumeMonitor(ctx context.Context, m Monitor, prev string) error {
	return a.stack.ResumeMonitor(ctx, m.Region, m.Function, prev)
}

// ResolveIsolation finds region's database subnets and their ACLs.
func (a *AWS) ResolveIsolation(ctx context.Context, region string) (Isolation, error) {
	return a.stack.ResolveIsolation(ctx, region)
}

// IsolateRegion moves the subnets onto a deny-all network ACL.
func (a *AWS) IsolateRegion(ctx context.Context, iso *Isolation, progress func(Isolation) error) error {
	return a.stack.IsolateRegion(ctx, iso, progress)
}

// RestoreRegion puts every subnet back on its original ACL.
func (a *AWS) RestoreRegion(ctx context.Context, iso Isolation) error {
	return a.stack.RestoreRegion(ctx, iso)
}

// ResolveAlarmPath checks the lag alarm and its topic (read-only).
func (a *AWS) ResolveAlarmPath(ctx context.Context) (AlarmProof, error) {
	return a.stack.ResolveAlarmPath(ctx)
}

// InjectAlarmPath forces the alarm and proves delivery through a queue.
func (a *AWS) InjectAlarmPath(ctx context.Context, p *AlarmProof, wait time.Duration, progress func(AlarmProof) error) error {
	return a.stack.InjectAlarmPath(ctx, p, wait, progress)
}

// RollbackAlarmPath sets the alarm back and removes the queue.
func (a *AWS) RollbackAlarmPath(ctx context.Context, p AlarmProof) error {
	return a.stack.RollbackAlarmPath(ctx, p)
}

// Observe reports the AWS-side lag metric, alarm states and health checks.
func (a *AWS) Observe(ctx context.Context) []Observation {
	var out []Observation
	for _, o := range a.stack.Observe(ctx) {
		out = append(out, Observation(o))
	}
	return out
}

// WaitMonitorsHealthy waits until the stack's health monitors see region
// healthy in datapoints newer than since.
func (a *AWS) WaitMonitorsHealthy(ctx context.Context, region string, since time.Time, within time.Duration) error {
	return a.stack.WaitMonitorsHealthy(ctx, region, since, within)
}

// CheckStopConditions fails when a stop-condition alarm is in ALARM.
func (a *AWS) CheckStopConditions(ctx context.Context) error { return a.stack.CheckStopConditions(ctx) }

// Close stops watching the global cluster.
func (a *AWS) Close() error {
	a.watchOnce.Do(func() {}) // no watch starts after Close
	if a.stopWatch != nil {
		close(a.stopWatch)
		<-a.watchDone
	}
	return nil
}
