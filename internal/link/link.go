// Package link is the lab's network layer: a TCP proxy per region-to-region
// path that can add one-way latency, cap bandwidth and blackhole.
//
// A blackhole here behaves like a cut cable, not like a firewall reject: new
// connections are accepted but never reach the upstream, bytes already in
// flight are held, and nothing is refused or reset. Everything held is
// delivered when the link heals. Toxiproxy's timeout toxic drops data and still
// dials a dead upstream, which lets a killed region be detected far too fast,
// so the lab does not use it for blackholes.
package link

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// State is a snapshot of a link's faults and traffic, for status output.
type State struct {
	Name        string        `json:"name"`
	Listen      string        `json:"listen"`
	Upstream    string        `json:"upstream"`
	Latency     time.Duration `json:"latency_ns"`
	BytesPerSec int64         `json:"bytes_per_sec"`
	Blackholed  bool          `json:"blackholed"`
	Conns       int           `json:"conns"`
	BytesUp     int64         `json:"bytes_up"`
	BytesDown   int64         `json:"bytes_down"`
}

// Link is one proxied network path. The zero value is not usable; call Listen.
type Link struct {
	name string
	ln   net.Listener
	done chan struct{}

	mu        sync.Mutex
	upstream  string
	latency   time.Duration
	rate      int64
	blackhole bool
	healed    chan struct{} // closed while the link is open; replaced by Blackhole
	conns     map[net.Conn]struct{}
	closed    bool

	wg        sync.WaitGroup
	bytesUp   atomic.Int64
	bytesDown atomic.Int64
}

// Listen opens a link on addr (use "127.0.0.1:0" for a free port) that
// forwards to upstream.
func Listen(name, addr, upstream string) (*Link, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("link %s: listen on %s: %w (pick another port or stop what holds it)", name, addr, err)
	}
	healed := make(chan struct{})
	close(healed)
	l := &Link{name: name, ln: ln, done: make(chan struct{}), upstream: upstream,
		healed: healed, conns: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.acceptLoop()
	return l, nil
}

// Name is the link's name, e.g. "repl-us-west-2".
func (l *Link) Name() string { return l.name }

// Addr is the address clients dial.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// SetUpstream points new connections at addr. Existing connections keep
// their upstream, as with a DNS-based endpoint such as Aurora's global writer
// endpoint: fencing, not the endpoint, is what stops old sessions.
func (l *Link) SetUpstream(addr string) {
	l.mu.Lock()
	l.upstream = addr
	l.mu.Unlock()
}

// Upstream is where new connections go.
func (l *Link) Upstream() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.upstream
}

// SetLatency sets the one-way delay added in each direction.
func (l *Link) SetLatency(d time.Duration) {
	l.mu.Lock()
	l.latency = d
	l.mu.Unlock()
}

// SetBandwidth caps each direction of each connection at bytesPerSec (0 = no cap).
func (l *Link) SetBandwidth(bytesPerSec int64) {
	l.mu.Lock()
	l.rate = bytesPerSec
	l.mu.Unlock()
}

// Blackhole holds all traffic and new connections until Heal.
func (l *Link) Blackhole() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.blackhole {
		l.blackhole = true
		l.healed = make(chan struct{})
	}
}

// Heal releases everything a blackhole held.
func (l *Link) Heal() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.blackhole {
		l.blackhole = false
		close(l.healed)
	}
}

// Reset removes every fault: no latency, no cap, no blackhole.
func (l *Link) Reset() {
	l.SetLatency(0)
	l.SetBandwidth(0)
	l.Heal()
}

// DropConnections closes every proxied connection (both ends).
func (l *Link) DropConnections() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for c := range l.conns {
		_ = c.Close()
	}
}

// State reports the link's faults and traffic.
func (l *Link) State() State {
	l.mu.Lock()
	defer l.mu.Unlock()
	return State{Name: l.name, Listen: l.Addr(), Upstream: l.upstream, Latency: l.latency,
		BytesPerSec: l.rate, Blackholed: l.blackhole, Conns: len(l.conns) / 2,
		BytesUp: l.bytesUp.Load(), BytesDown: l.bytesDown.Load()}
}

// Close stops the listener and closes every connection; held bytes are dropped.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	err := l.ln.Close()
	for c := range l.conns {
		_ = c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

// gate blocks while the link is blackholed. It returns false once the link closes.
func (l *Link) gate() bool {
	l.mu.Lock()
	ch := l.healed
	l.mu.Unlock()
	select {
	case <-ch:
		return true
	case <-l.done:
		return false
	}
}

func (l *Link) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return false
	}
	l.conns[c] = struct{}{}
	return true
}

func (l *Link) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
	_ = c.Close()
}

func (l *Link) acceptLoop() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: back off, do not spin
			continue
		}
		if !l.track(c) {
			return
		}
		l.wg.Add(1)
		go l.serve(c)
	}
}

func (l *Link) serve(client net.Conn) {
	defer l.wg.Done()
	defer l.untrack(client)
	// A blackholed link accepts the connection but never dials: the client
	// sees a connection that says nothing, as across a dead WAN.
	if !l.gate() {
		return
	}
	server, err := net.DialTimeout("tcp", l.Upstream(), 5*time.Second)
	if err != nil {
		return // the upstream refused: behave as the upstream does
	}
	if !l.track(server) {
		return
	}
	defer l.untrack(server)
	var pumps sync.WaitGroup
	pumps.Add(2)
	go func() { defer pumps.Done(); l.pump(client, server, &l.bytesUp) }()
	go func() { defer pumps.Done(); l.pump(server, client, &l.bytesDown) }()
	pumps.Wait()
}

type chunk struct {
	data []byte
	at   time.Time
	err  error
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pump copies src to dst. A reader goroutine stamps each chunk with its
// arrival time and the writer releases it at arrival+latency, so latency
// delays bytes without limiting throughput to one chunk per delay.
func (l *Link) pump(src, dst net.Conn, counter *atomic.Int64) {
	queue := make(chan chunk, 64)
	go func() {
		defer close(queue)
		for {
			bp := bufPool.Get().(*[]byte)
			n, err := src.Read(*bp)
			if n > 0 {
				data := make([]byte, n)
				copy(data, (*bp)[:n])
				queue <- chunk{data: data, at: time.Now()}
			}
			bufPool.Put(bp)
			if err != nil {
				queue <- chunk{err: err}
				return
			}
		}
	}()
	var nextFree time.Time
	for c := range queue {
		if !l.gate() {
			break
		}
		if c.err != nil {
			if tc, ok := dst.(*net.TCPConn); ok && c.err == io.EOF {
				_ = tc.CloseWrite() // pass the half-close on
				for range queue {
				}
				return
			}
			break
		}
		l.mu.Lock()
		latency, rate := l.latency, l.rate
		l.mu.Unlock()
		if latency > 0 {
			if wait := time.Until(c.at.Add(latency)); wait > 0 {
				time.Sleep(wait)
			}
		}
		if rate > 0 {
			now := time.Now()
			if nextFree.Before(now) {
				nextFree = now
			}
			nextFree = nextFree.Add(time.Duration(float64(len(c.data)) / float64(rate) * float64(time.Second)))
			time.Sleep(time.Until(nextFree))
		}
		if _, err := dst.Write(c.data); err != nil {
			break
		}
		counter.Add(int64(len(c.data)))
	}
	// An error either way ends the whole connection, as TCP would.
	_ = src.Close()
	_ = dst.Close()
	for range queue {
	}
}
