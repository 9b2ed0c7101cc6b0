// Package heartbeat measures replication lag pt-heartbeat style: the
// primary's heartbeat row gets a fresh timestamp every 50 ms through the
// writer endpoint, and a reader per region samples its copy.
//
// Each sample is an interval known to hold the lag, from what was measured
// (docs/measures.md, "Replication lag"). When a reader first sees a new
// value ts, its lag — the value's arrival in the region minus its commit on
// the primary — lies between the previous read's invoke (the value was not
// there yet) minus the write's return (it was committed by then), and this
// read's end minus ts (it was sent no earlier): the write's round trip, the
// read's round trip and the spacing of reads are the error, and the sample
// records the midpoint and half the width. While no new value arrives but a
// newer write has returned on the primary, the reader records how long that
// write has been waiting, bounded the same way: a stall shows as it
// happens, and only a write known to be committed counts. Readers sample
// with random jitter: fixed periods phase-lock with the writer and skew the
// percentiles.
package heartbeat

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// RowID is the heartbeat row the harness owns (the lab's own uses 0).
const RowID = 1

// DefaultSample is the readers' mean sampling interval, and so the
// resolution of every lag sample they take.
const DefaultSample = 5 * time.Millisecond

// Config tunes the heartbeat.
type Config struct {
	Interval time.Duration // write interval (default 50 ms)
	Sample   time.Duration // mean read interval (default 5 ms, jittered ±50 %)
	Timeout  time.Duration // per query (default 300 ms)
	// Seed makes the readers' jitter reproducible (0: random).
	Seed int64
}

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = 50 * time.Millisecond
	}
	if c.Sample <= 0 {
		c.Sample = 5 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 300 * time.Millisecond
	}
}

// Heartbeat is a running writer and its readers.
type Heartbeat struct {
	cfg    Config
	rec    *history.Recorder
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	latest map[string]float64
	// written are the recent heartbeat writes that returned: each value
	// (its send time) and when its UPDATE returned, oldest first.
	written []write
	// startNs: values stamped earlier are stale rows (from an earlier run or
	// not yet replaced on a replica) and never count as samples.
	startNs int64
}

// Start clears any stale heartbeat row (an old row reads as a huge lag),
// then writes through writer and samples each region's reader.
func Start(ctx context.Context, writer *sql.DB, readers map[string]*sql.DB, rec *history.Recorder, cfg Config) (*Heartbeat, error) {
	cfg.defaults()
	startNs := time.Now().UnixNano()
	if _, err := writer.ExecContext(ctx, "DELETE FROM heartbeat WHERE id = ?", RowID); err != nil {
		return nil, err
	}
	if _, err := writer.ExecContext(ctx, "INSERT INTO heartbeat (id, ts_ns, origin_server_id) VALUES (?, ?, @@server_id)", RowID, time.Now().UnixNano()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Heartbeat{cfg: cfg, rec: rec, cancel: cancel, latest: map[string]float64{}, startNs: startNs}
	h.wg.Add(1 + len(readers))
	go h.write(ctx, writer)
	for region, db := range readers {
		seed := uint64(h.cfg.Seed)
		if seed == 0 {
			seed = rand.Uint64()
		}
		// Each region's reader has its own stream, keyed by the region's
		// name (map order is random, names are not).
		f := fnv.New64a()
		f.Write([]byte(region))
		go h.read(ctx, region, db, rand.New(rand.NewPCG(seed, f.Sum64())))
	}
	return h, nil
}

func (h *Heartbeat) write(ctx context.Context, db *sql.DB) {
	defer h.wg.Done()
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		qctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		if conn, err := db.Conn(qctx); err == nil {
			ts := time.Now().UnixNano()
			if _, err := conn.ExecContext(qctx, "UPDATE heartbeat SET ts_ns = ?, origin_server_id = @@server_id WHERE id = ?", ts, RowID); err != nil {
				// e.g. read-only after a failover: reconnect through the writer endpoint
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			} else {
				h.wrote(write{ts: ts, done: time.Now().UnixNano()})
			}
			_ = conn.Close()
		}
		cancel()
	}
}

func (h *Heartbeat) read(ctx context.Context, region string, db *sql.DB, rng *rand.Rand) {
	defer h.wg.Done()
	var r reader
	for {
		jitter := time.Duration(float64(h.cfg.Sample) * (0.5 + rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter):
		}
		qctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		var ts int64
		invoke := time.Now()
		err := db.QueryRowContext(qctx, "SELECT ts_ns FROM heartbeat WHERE id = ?", RowID).Scan(&ts)
		cancel()
		now := time.Now()
		if err != nil || ts < h.startNs {
			continue
		}
		h.mu.Lock()
		s, ok := r.sample(invoke.UnixNano(), now.UnixNano(), ts, h.written)
		h.mu.Unlock()
		if !ok {
			continue
		}
		h.rec.Lag(history.LagSample{Region: region, At: h.rec.Rel(now), Ms: s.ms, Err: s.err})
		h.mu.Lock()
		h.latest[region] = s.ms
		h.mu.Unlock()
	}
}

// write is a heartbeat value and when the UPDATE that wrote it returned.
type write struct{ ts, done int64 }

// keepWrites bounds the writes remembered: a second of them at the
// default interval, more than any read is behind while it can still tell.
const keepWrites = 64

func (h *Heartbeat) wrote(w write) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.written) == keepWrites {
		copy(h.written, h.written[1:])
		h.written = h.written[:keepWrites-1]
	}
	h.written = append(h.written, w)
}

// reader is what one region's reader remembers between reads.
type reader struct {
	last       int64   // the newest value seen
	lastInvoke int64   // the invoke of the last successful read (0: none yet)
	lastMs     float64 // the last sample's figure
}

// sample is one lag sample: its figure and error bound, ms.
type sample struct{ ms, err float64 }

// bounded is the sample for the lag interval [lo, hi] ns.
func bounded(lo, hi int64) sample {
	lo = max(lo, 0)
	hi = max(hi, lo)
	return sample{ms: float64(lo+hi) / 2e6, err: float64(hi-lo) / 2e6}
}

// sample turns a read (invoked at invoke, ended at end, wall ns) that
// returned the value ts into a lag sample, given the writes that returned
// (oldest first); false when the read says nothing new. It is pure, so
// its bounds are tested without a database.
func (r *reader) sample(invoke, end, ts int64, written []write) (sample, bool) {
	prev := r.lastInvoke
	r.lastInvoke = invoke
	if ts != r.last {
		// First sight of ts: it arrived after the previous read's
		// snapshot (after its invoke) and by this read's end; it was
		// committed after it was sent (ts) and by its write's return (or
		// this read's end, if the write has not returned yet).
		done := end
		for _, w := range written {
			if w.ts == ts {
				done = min(done, w.done)
			}
		}
		r.last = ts
		var lo int64
		if prev != 0 {
			lo = prev - done
		}
		s := bounded(lo, end-ts)
		r.lastMs = s.ms
		return s, true
	}
	// Nothing new: the oldest write newer than ts that has returned on the
	// primary has been waiting since its return at least until this
	// read's invoke, and at most since it was sent until this read's end.
	for _, w := range written {
		if w.ts <= ts {
			continue
		}
		s := bounded(invoke-w.done, end-w.ts)
		if invoke-w.done <= 0 || float64(invoke-w.done)/1e6 <= r.lastMs {
			return sample{}, false // not overdue beyond what was last recorded
		}
		r.lastMs = s.ms
		return s, true
	}
	return sample{}, false
}

// Latest returns the newest lag per region in milliseconds.
func (h *Heartbeat) Latest() map[string]float64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := map[string]float64{}
	for k, v := range h.latest {
		out[k] = v
	}
	return out
}

// Stop ends the writer and readers.
func (h *Heartbeat) Stop() {
	h.cancel()
	h.wg.Wait()
}
