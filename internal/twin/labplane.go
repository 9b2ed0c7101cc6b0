package twin

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/lab"
)

// RegionState is what the control plane can see of one region's cluster.
type RegionState struct {
	// Available: the cluster's servers run (RDS status "available").
	Available bool
	// LagMs is the replication lag into the region while it is a
	// secondary (what AuroraGlobalDBRPOLag reports); nil when unknown.
	LagMs *float64
}

// DataPlane is the lab underneath: which region holds the writer (read
// once, when the twin starts), each region's state, and a real promotion
// (switchover: fence, catch up, promote; failover: promote with what the
// secondary has).
type DataPlane interface {
	Primary(ctx context.Context) (string, error)
	Regions(ctx context.Context) (map[string]RegionState, error)
	Promote(ctx context.Context, region string, allowDataLoss bool) error
	// CatchUp waits until region has applied everything the writer had
	// committed when it was called: a switchover's synchronisation, which
	// takes as long as the region's lag. It fails after within.
	CatchUp(ctx context.Context, region string, within time.Duration) error
	// Rebuild replaces region's server (not the writer) with a fresh copy
	// replicating from the writer: Aurora rebuilds an old primary on a new
	// volume after a failover instead of resuming it.
	Rebuild(ctx context.Context, region string) error
	// InSync: region replicates from the writer without error.
	InSync(ctx context.Context, region string) (bool, error)
	// ClientPath is the address of region's database from its clients:
	// the path an isolation cuts.
	ClientPath(ctx context.Context, region string) (string, error)
	// Isolate cuts (or restores) a region's client path: nothing outside
	// the region reaches its cluster, while replication carries on.
	Isolate(ctx context.Context, region string, cut bool) error
	// InsideSubnet is the address of a region's database from inside its
	// database subnets: a path no isolation cuts, since a network ACL does
	// not filter traffic within a subnet.
	InsideSubnet(ctx context.Context, region string) (string, error)
}

// LabPlane is the lab as the twin's data plane, through its control socket.
type LabPlane struct {
	Client *lab.Client
	// isolated regions; the global writer endpoint is cut while it leads
	// into one of them.
	mu       *sync.Mutex
	isolated map[string]bool
	// The twin's many readers (RDS calls of the AWS target and of every
	// Lambda, the metric publisher) share one status read per statusTTL
	// instead of each querying both servers.
	cache *statusCache
}

type statusCache struct {
	mu sync.Mutex
	st lab.Status
	at time.Time
}

// statusTTL is how long a lab status read serves the twin's readers.
const statusTTL = 250 * time.Millisecond

// NewLabPlane is the lab behind c as a data plane.
func NewLabPlane(c *lab.Client) LabPlane {
	return LabPlane{Client: c, mu: &sync.Mutex{}, isolated: map[string]bool{}, cache: &statusCache{}}
}

// Isolate blackholes (or heals) the region's client link, and the global
// writer endpoint while the writer is in an isolated region.
func (p LabPlane) Isolate(ctx context.Context, region string, cut bool) error {
	p.mu.Lock()
	p.isolated[region] = cut
	p.mu.Unlock()
	if err := p.Client.SetLink(ctx, "client-"+region, lab.LinkFaults{Blackhole: &cut}); err != nil {
		return err
	}
	return p.writerPath(ctx)
}

func (p LabPlane) writerPath(ctx context.Context) error {
	st, err := p.Client.Status(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	cut := p.isolated[st.Primary]
	p.mu.Unlock()
	return p.Client.SetLink(ctx, "writer", lab.LinkFaults{Blackhole: &cut})
}

// Primary is the lab's primary region.
func (p LabPlane) Primary(ctx context.Context) (string, error) {
	st, err := p.Client.Status(ctx)
	return st.Primary, err
}

// Regions reads each region's availability and lag.
func (p LabPlane) Regions(ctx context.Context) (map[string]RegionState, error) {
	st, err := p.cachedStatus(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]RegionState{}
	for _, r := range st.Regions {
		out[r.Name] = RegionState{Available: r.Running && !r.Frozen, LagMs: r.LagMs}
	}
	return out, nil
}

func (p LabPlane) cachedStatus(ctx context.Context) (lab.Status, error) {
	if p.cache == nil {
		return p.Client.Status(ctx)
	}
	p.cache.mu.Lock()
	defer p.cache.mu.Unlock()
	if time.Since(p.cache.at) < statusTTL {
		return p.cache.st, nil
	}
	st, err := p.Client.Status(ctx)
	if err != nil {
		return st, err
	}
	p.cache.st, p.cache.at = st, time.Now()
	return st, nil
}

// Promote runs the lab's switchover or failover.
func (p LabPlane) Promote(ctx context.Context, region string, dataLoss bool) error {
	mode := lab.Switchover
	if dataLoss {
		mode = lab.Failover
	}
	if err := p.Client.Promote(ctx, region, lab.PromoteOptions{Mode: mode}); err != nil {
		return fmt.Errorf("lab promotion of %s: %w", region, err)
	}
	// After a failover the old primary is not resumed: the twin's rebuild
	// (rebuild.go) re-seeds it. The lab's own writer endpoint now leads into another region: reachable unless
	// that one is isolated.
	return p.writerPath(ctx)
}

// CatchUp polls the lab until region's applied position covers the
// writer's binlog position as it was when called.
func (p LabPlane) CatchUp(ctx context.Context, region string, within time.Duration) error {
	st, err := p.Client.Status(ctx)
	if err != nil {
		return err
	}
	want := ""
	for _, r := range st.Regions {
		if r.Name == st.Primary && r.GTIDs != nil {
			want = r.GTIDs.Binlog
		}
	}
	if want == "" {
		return fmt.Errorf("the writer %s's position cannot be read", st.Primary)
	}
	deadline := time.Now().Add(within)
	for {
		have := ""
		for _, r := range st.Regions {
			if r.Name == region && r.GTIDs != nil {
				have = r.GTIDs.Current
			}
		}
		if covers(have, want) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not catch up with %s within %v (at %q, the writer was at %q)", region, st.Primary, within.Round(time.Millisecond), have, want)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if st, err = p.Client.Status(ctx); err != nil {
			return err
		}
	}
}

// covers: position have is at or beyond want in every replication domain
// of want (MariaDB GTIDs domain-server-seq; sequence numbers grow within a
// domain across servers).
func covers(have, want string) bool {
	seq := func(s string) map[string]int64 {
		out := map[string]int64{}
		for _, part := range strings.Split(s, ",") {
			f := strings.Split(strings.TrimSpace(part), "-")
			if len(f) == 3 {
				n, _ := strconv.ParseInt(f[2], 10, 64)
				out[f[0]] = n
			}
		}
		return out
	}
	h := seq(have)
	for d, n := range seq(want) {
		if h[d] < n {
			return false
		}
	}
	return true
}

// Rebuild re-seeds region from the writer (a fresh datadir and server_id).
func (p LabPlane) Rebuild(ctx context.Context, region string) error {
	if err := p.Client.Region(ctx, region, "reseed"); err != nil {
		return fmt.Errorf("rebuild %s: %w", region, err)
	}
	return nil
}

// InSync: region's replication from the writer runs without error.
func (p LabPlane) InSync(ctx context.Context, region string) (bool, error) {
	st, err := p.Client.Status(ctx)
	if err != nil {
		return false, err
	}
	for _, r := range st.Regions {
		if r.Name == region {
			return r.Name != st.Primary && r.Running && !r.Frozen && r.Replication != nil && r.Replication.Healthy(), nil
		}
	}
	return false, fmt.Errorf("the lab has no region %s", region)
}

// ClientPath is the region's client link (an isolation blackholes it).
func (p LabPlane) ClientPath(ctx context.Context, region string) (string, error) {
	st, err := p.Client.Status(ctx)
	if err != nil {
		return "", err
	}
	for _, r := range st.Regions {
		if r.Name == region {
			return r.Endpoint, nil
		}
	}
	return "", fmt.Errorf("the lab has no region %s", region)
}

// InsideSubnet is the region's server itself, behind its client link
// (the path an isolation blackholes).
func (p LabPlane) InsideSubnet(ctx context.Context, region string) (string, error) {
	st, err := p.Client.Status(ctx)
	if err != nil {
		return "", err
	}
	for _, k := range st.Links {
		if k.Name == "client-"+region {
			return k.Upstream, nil
		}
	}
	return "", fmt.Errorf("the lab has no client link for %s", region)
}
