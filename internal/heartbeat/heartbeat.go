// Package heartbeat measures replication lag pt-heartbeat style: the
// primary's heartbeat row gets a fresh timestamp every 50 ms through the
// writer endpoint, and a reader per region samples its copy.
//
// A sample is taken when a reader first sees a new heartbeat value: lag is
// then the time since that value was written, accurate to the reader's
// sampling interval (not the 50 ms write interval, which pt-heartbeat's
// "now minus last timestamp" would add). While no new value arrives, the
// reader reports a growing lower bound — now minus the last value minus one
// write interval — so stalls show up as they happen. Readers sample with
// random jitter: fixed periods phase-lock with the writer and skew the
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
			if _, err := conn.ExecContext(qctx, "UPDATE heartbeat SET ts_ns = ?, origin_server_id = @@server_id WHERE id = ?", time.Now().UnixNano(), RowID); err != nil {
				// e.g. read-only after a failover: reconnect through the writer endpoint
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			_ = conn.Close()
		}
		cancel()
	}
}

func (h *Heartbeat) read(ctx context.Context, region string, db *sql.DB, rng *rand.Rand) {
	defer h.wg.Done()
	var last int64
	var lastLag float64
	for {
		jitter := time.Duration(float64(h.cfg.Sample) * (0.5 + rng.Float64()))
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter):
		}
		qctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		var ts int64
		err := db.QueryRowContext(qctx, "SELECT ts_ns FROM heartbeat WHERE id = ?", RowID).Scan(&ts)
		cancel()
		now := time.Now()
		if err != nil || ts < h.startNs {
			continue
		}
		var lag float64
		switch {
		case ts != last:
			lag = float64(now.UnixNano()-ts) / 1e6
			last = ts
		default:
			bound := float64(now.UnixNano()-ts-int64(h.cfg.Interval)) / 1e6
			if bound <= lastLag {
				continue // nothing new and not overdue: no sample
			}
			lag = bound
		}
		if lag < 0 {
			lag = 0
		}
		lastLag = lag
		h.rec.Lag(history.LagSample{Region: region, At: h.rec.Rel(now), Ms: lag})
		h.mu.Lock()
		h.latest[region] = lag
		h.mu.Unlock()
	}
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
