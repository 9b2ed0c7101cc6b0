package twin

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/link"
)

// DNSTTL is how long a client keeps a resolved Aurora endpoint: "Aurora
// DNS zones use a short time-to-live (TTL) of 5 seconds" (AWS re:Post
// Knowledge Center, "Why is my connection redirected to the reader instance
// when I try to connect to my Amazon Aurora writer endpoint?"; ANCHORS.md,
// the Aurora endpoint TTL). Many clients cache longer; the twin takes the
// record's own TTL, under the time scale: after the global writer endpoint
// is moved, every new connection reaches the old writer for this long.
const DNSTTL = 5 * time.Second

// EndpointRef names an Aurora endpoint a function's environment holds: a
// regional cluster's writer (cluster) endpoint or its reader endpoint.
type EndpointRef struct {
	Region string
	Writer bool
}

// endpointKind is the kind of a twin endpoint.
type endpointKind int

const (
	readerEndpoint endpointKind = iota
	clusterWriterEndpoint
	globalWriterEndpoint
)

// endpoint is one address the twin hands out for an Aurora endpoint: its
// own proxy in front of a path into the lab (the region's client link,
// which an isolation cuts, or the server itself from inside a subnet).
type endpoint struct {
	kind   endpointKind
	region string            // reader and cluster writer endpoints
	paths  map[string]string // region → path: one for a regional endpoint, every region's for the global one
	l      *link.Link
}

// endpoints are the Aurora endpoints of the global database as the twin
// serves them, and what they lead to:
//
//   - a cluster's writer (cluster) endpoint leads to its writer only while
//     the cluster is the global writer: "The primary Region contains the only
//     writer instance and also contains the only active writer endpoint …
//     All secondary Regions also have writer endpoints, but they're
//     inactive" (AWS Database Blog, "Automate Amazon Aurora Global Database
//     endpoint management"). A client of an inactive one gets no server:
//     the name does not resolve ("lookup …rds.amazonaws.com: no such host",
//     gravitational/teleport#16079); the twin closes the connection at
//     once, the same fast failure to a client;
//   - a reader endpoint "isn't affected after a global database failover"
//     (same blog) and works in either role, except while the cluster is
//     being rebuilt on a new volume (rebuild.go): it has nothing to serve;
//   - the global writer endpoint follows the writer by DNS (Aurora User
//     Guide, "Connecting to Amazon Aurora Global Database"): a new record at
//     each promotion, seen by clients only when their cached one expires
//     (DNSTTL); until then they reach the old writer.
type endpoints struct {
	cfg     Config
	refuser net.Listener // accepts and closes at once: an endpoint with nothing behind it

	mu         sync.Mutex
	writer     string          // the region whose cluster endpoint is active
	rebuilding map[string]bool // regions whose cluster has no volume to serve yet
	record     string          // the global writer's DNS record now
	seen       string          // … and as clients resolve it (record, DNSTTL later)
	recordSeq  int
	list       []*endpoint
	closed     bool
}

func newEndpoints(cfg Config, writer string) (*endpoints, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("AWS twin: the inactive endpoint's listener: %w", err)
	}
	e := &endpoints{cfg: cfg, refuser: ln, writer: writer, record: writer, seen: writer, rebuilding: map[string]bool{}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, not an orderly close
			}
			_ = c.Close()
		}
	}()
	return e, nil
}

// upstream is where an endpoint's new connections go now.
func (e *endpoints) upstream(ep *endpoint) string {
	switch ep.kind {
	case clusterWriterEndpoint:
		if ep.region != e.writer {
			return e.refuser.Addr().String()
		}
	case readerEndpoint:
		if e.rebuilding[ep.region] {
			return e.refuser.Addr().String()
		}
	case globalWriterEndpoint:
		return ep.paths[e.seen]
	}
	return ep.paths[ep.region]
}

func (e *endpoints) applyLocked() {
	for _, ep := range e.list {
		ep.l.SetUpstream(e.upstream(ep))
	}
}

// regional is the twin's address of region's reader or cluster writer
// endpoint over path (the one per path and kind is shared).
func (e *endpoints) regional(ref EndpointRef, path string) (string, error) {
	kind := readerEndpoint
	if ref.Writer {
		kind = clusterWriterEndpoint
	}
	return e.add(&endpoint{kind: kind, region: ref.Region, paths: map[string]string{ref.Region: path}})
}

// global is the twin's global writer endpoint over each region's path.
func (e *endpoints) global(paths map[string]string) (string, error) {
	return e.add(&endpoint{kind: globalWriterEndpoint, paths: paths})
}

func (e *endpoints) add(ep *endpoint) (string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, have := range e.list {
		if have.kind == ep.kind && have.region == ep.region && fmt.Sprint(have.paths) == fmt.Sprint(ep.paths) {
			return have.l.Addr(), nil
		}
	}
	name := map[endpointKind]string{readerEndpoint: "reader-" + ep.region, clusterWriterEndpoint: "cluster-writer-" + ep.region,
		globalWriterEndpoint: "global-writer"}[ep.kind]
	l, err := link.Listen(name, "127.0.0.1:0", "")
	if err != nil {
		return "", err
	}
	ep.l = l
	l.SetUpstream(e.upstream(ep))
	e.list = append(e.list, ep)
	return l.Addr(), nil
}

// moveWriter makes region's cluster endpoint the active one and points the
// global writer's record at it; clients see the new record DNSTTL (scaled)
// later.
func (e *endpoints) moveWriter(region string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.writer, e.record = region, region
	e.recordSeq++
	seq := e.recordSeq
	e.applyLocked()
	time.AfterFunc(e.cfg.scaled(DNSTTL), func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if seq == e.recordSeq && !e.closed {
			e.seen = region
			e.applyLocked()
		}
	})
}

// setRebuilding closes (or opens) region's reader endpoint while its
// cluster is rebuilt.
func (e *endpoints) setRebuilding(region string, on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.rebuilding[region] = on
	e.applyLocked()
}

func (e *endpoints) close() {
	e.mu.Lock()
	e.closed = true
	list := e.list
	e.mu.Unlock()
	for _, ep := range list {
		_ = ep.l.Close()
	}
	_ = e.refuser.Close()
}

// clientPaths are the lab's client paths of every member region (what an
// isolation cuts), for the endpoints the outputs file names.
func clientPaths(ctx context.Context, data DataPlane, members []Member) (map[string]string, error) {
	paths := map[string]string{}
	for _, m := range members {
		p, err := data.ClientPath(ctx, m.Region)
		if err != nil {
			return nil, err
		}
		paths[m.Region] = p
	}
	return paths, nil
}
