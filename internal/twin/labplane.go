package twin

import (
	"context"
	"fmt"
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
	if dataLoss {
		// After a managed failover Aurora makes the old primary a
		// secondary of the new one once it can reach it, rebuilding it if
		// it diverged. Here that is now, over the replication path (an
		// isolation cuts clients, not that); a region that is down is
		// rejoined when it is recovered.
		st, err := p.Client.Status(ctx)
		if err == nil {
			for _, r := range st.Regions {
				if r.Name != region && r.Running && !r.Frozen {
					_ = p.Client.Region(ctx, r.Name, "rejoin")
				}
			}
		}
	}
	// The writer endpoint now leads into another region: reachable unless
	// that one is isolated.
	return p.writerPath(ctx)
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
