// Package workload drives writes through the writer endpoint at a fixed rate
// and records each one in the history with a Jepsen outcome.
package workload

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/history"
)

// Config sets the write rate and concurrency.
type Config struct {
	// Rate is the total writes per second across writers (default 200).
	Rate float64
	// Writers is the number of independent writers (default 4). Each owns a
	// sequence of unique (writer, seq) rows.
	Writers int
	// MaxInFlight bounds concurrent operations (default: Rate × Timeout,
	// at least 64 and at most 1000). When it is reached, a scheduled write
	// is recorded as fail without being sent. It must cover every write
	// that can hang until its timeout during an outage: a smaller bound
	// stops the harness from sending after the failover, and the measured
	// RTO becomes the harness's timeout instead of the stack's recovery.
	MaxInFlight int
	// Timeout bounds one operation (default 1s); a timeout after sending is info.
	Timeout time.Duration
	// FirstWriter numbers writers from here, so several workloads can share a table.
	FirstWriter int
	// ConnMaxLifetime recycles pooled connections (default 30 s). After the
	// writer endpoint moves, only new connections reach the new primary,
	// as with a DNS-based endpoint: a short lifetime mixes both.
	ConnMaxLifetime time.Duration
	// Seed shifts the writers' common phase (they stay evenly spaced), so
	// a seeded schedule replays; 0 starts the first writer at once.
	Seed int64
}

func (c *Config) defaults() {
	if c.Rate <= 0 {
		c.Rate = 200
	}
	if c.Writers <= 0 {
		c.Writers = 4
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.ConnMaxLifetime <= 0 {
		c.ConnMaxLifetime = 30 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = min(1000, max(64, int(c.Rate*c.Timeout.Seconds())))
	}
}

// warmConns opens a few connections before the schedule starts, so that the
// first writes do not all pay for a handshake at once (at 1000 writes/s a
// cold pool falls behind and trips the in-flight bound).
func warmConns(db *sql.DB, n int, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var conns []*sql.Conn
	for i := 0; i < n; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			break
		}
		if c.PingContext(ctx) != nil {
			_ = c.Close()
			break
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.Close() // back to the idle pool
	}
}

// Stats summarises a finished workload.
type Stats struct {
	OK, Fail, Info int64
	Scheduled      int64
	Elapsed        time.Duration
}

// AckedPerSec is the acknowledged write rate.
func (s Stats) AckedPerSec() float64 { return float64(s.OK) / s.Elapsed.Seconds() }

// Workload is a running write workload.
type Workload struct {
	cfg    Config
	db     *sql.DB
	rec    *history.Recorder
	cancel context.CancelFunc
	wg     sync.WaitGroup
	ops    sync.WaitGroup
	sem    chan struct{}
	start  time.Time

	ok, fail, info, scheduled atomic.Int64
	lastDrop                  atomic.Int64
	lastFailure               atomic.Int64   // unix ns a write last completed without success
	frontier                  []atomic.Int64 // per writer: highest seq scheduled
	outcomes                  *outcomes

	// dropping is held across a dropIdle's two SetMaxIdleConns calls:
	// database/sql closes the idle connections it drops outside its lock,
	// from a slice that shares its array with the emptied idle list, so a
	// SetMaxIdleConns(n) from another writer during that loop lets
	// returned connections land in the slots still being closed — a
	// pooled connection is closed under its next user (a nil driver
	// connection: the drill's process panicked in the partition scenario).
	dropping sync.Mutex
}

// Insert is the statement every write runs. origin_server_id and
// committed_at are evaluated by the server that accepts the write.
// committed_at is SYSDATE(6), the time the row is built — after the
// server's read-only check and any lock wait — not NOW(6), the time the
// statement arrived: a statement that arrived a moment before a promotion
// (or a restarted primary's return) and passed its read-only check just
// after it would otherwise carry a time from before it, and be judged a
// zombie of a server that could not yet take writes. The binlog is ROW
// based, so the value replicates as written.
const Insert = "INSERT INTO writes (writer, seq, invoked_ns, origin_server_id, committed_at) VALUES (?, ?, ?, @@server_id, SYSDATE(6))"

// Start begins writing through db (the writer endpoint) until Stop.
func Start(db *sql.DB, rec *history.Recorder, cfg Config) *Workload {
	cfg.defaults()
	db.SetMaxOpenConns(cfg.MaxInFlight)
	db.SetMaxIdleConns(cfg.MaxInFlight)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	warmConns(db, min(cfg.MaxInFlight, max(4, int(cfg.Rate/50))), cfg.Timeout)
	ctx, cancel := context.WithCancel(context.Background())
	w := &Workload{cfg: cfg, db: db, rec: rec, cancel: cancel, sem: make(chan struct{}, cfg.MaxInFlight), start: time.Now(),
		frontier: make([]atomic.Int64, cfg.Writers), outcomes: newOutcomes(cfg.FirstWriter, cfg.Writers)}
	// Each writer follows an absolute schedule: write k is due at
	// start + offset + k*period. A ticker would drop ticks under load and
	// silently lower the rate.
	period := time.Duration(float64(time.Second) * float64(cfg.Writers) / cfg.Rate)
	// Writers stay evenly spaced (that spacing is the RPO resolution); the
	// seed shifts them all within one spacing, so where the fault falls
	// between two writes replays with the seed.
	var shift time.Duration
	if cfg.Seed != 0 {
		spacing := int64(period) / int64(cfg.Writers)
		shift = time.Duration(rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed)).Int64N(max(1, spacing)))
	}
	for i := 0; i < cfg.Writers; i++ {
		offset := shift + period*time.Duration(i)/time.Duration(cfg.Writers)
		w.wg.Add(1)
		go w.writer(ctx, cfg.FirstWriter+i, offset, period)
	}
	return w
}

func (w *Workload) writer(ctx context.Context, id int, offset, period time.Duration) {
	defer w.wg.Done()
	for seq := int64(1); ; seq++ {
		due := w.start.Add(offset + time.Duration(seq-1)*period)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
		w.scheduled.Add(1)
		w.frontier[id-w.cfg.FirstWriter].Store(seq)
		select {
		case w.sem <- struct{}{}:
		default:
			now := w.rec.Now()
			w.record(history.Op{Writer: id, Seq: seq, Invoke: now, Complete: now, Outcome: history.Fail, Err: "not sent: in-flight limit reached"})
			continue
		}
		w.ops.Add(1)
		go func(seq int64) {
			defer w.ops.Done()
			defer func() { <-w.sem }()
			w.record(w.do(id, seq))
		}(seq)
	}
}

func (w *Workload) record(op history.Op) {
	switch op.Outcome {
	case history.OK:
		w.ok.Add(1)
	case history.Fail:
		w.fail.Add(1)
		w.lastFailure.Store(time.Now().UnixNano())
	default:
		w.info.Add(1)
		w.lastFailure.Store(time.Now().UnixNano())
	}
	w.outcomes.set(op.Writer, op.Seq, op.Outcome)
	w.rec.Op(op)
}

// do runs one write. Getting a connection sends nothing, so its failure is
// a certain fail; once the statement is handed to the driver only a server
// error that proves it was not applied is certain (Classify), anything
// else — a timeout, a lost connection, the driver's ErrBadConn, a session
// killed by the fence — is info.
func (w *Workload) do(writer int, seq int64) history.Op {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.Timeout)
	defer cancel()
	invoke := time.Now()
	op := history.Op{Writer: writer, Seq: seq, Invoke: w.rec.Rel(invoke)}
	conn, err := w.db.Conn(ctx)
	if err == nil {
		_, err = conn.ExecContext(ctx, Insert, writer, seq, invoke.UnixNano())
		if err != nil {
			op.Outcome = Classify(err)
		}
		if IsReadOnly(err) {
			// The connection reached a server that is no longer the primary
			// (it was opened just before the writer endpoint moved). A
			// well-behaved client drops it and reconnects through the
			// endpoint, as AWS advises for the global writer endpoint.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
		if err != nil {
			w.dropIdle()
		}
	} else {
		op.Outcome = history.Fail
	}
	op.Complete = w.rec.Now()
	if err == nil {
		op.Outcome = history.OK
	} else {
		op.Err = err.Error()
	}
	return op
}

// dropIdle closes the pool's idle connections after a failed write, at most
// every 100 ms: after a failover each of them still leads to the old
// primary and would cost a timeout when its turn comes (seconds later, as
// the pool reuses the newest first). Reconnecting on error is what AWS
// advises clients of the global writer endpoint to do.
func (w *Workload) dropIdle() {
	now := time.Now().UnixNano()
	last := w.lastDrop.Load()
	if now-last < int64(100*time.Millisecond) || !w.lastDrop.CompareAndSwap(last, now) {
		return
	}
	if !w.dropping.TryLock() {
		return // another writer is dropping them (closing a thousand takes a while)
	}
	defer w.dropping.Unlock()
	w.db.SetMaxIdleConns(0)
	w.db.SetMaxIdleConns(w.cfg.MaxInFlight)
}

// IsReadOnly reports a read-only refusal (MySQL/MariaDB error 1290, and
// 1836 for a read-only transaction).
func IsReadOnly(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1290 || me.Number == 1836)
}

// endedFromOutside are the server errors that end a statement from
// outside it — a kill (the fence's KILL CONNECTION), an interruption, a
// shutdown, a statement timeout, a failed commit — after which the insert
// may or may not have been committed: a session killed after its commit
// was written reports the kill, not the commit.
var endedFromOutside = map[uint16]string{
	1053: "ER_SERVER_SHUTDOWN",
	1180: "ER_ERROR_DURING_COMMIT",
	1317: "ER_QUERY_INTERRUPTED",
	1927: "ER_CONNECTION_KILLED",
	1969: "ER_STATEMENT_TIMEOUT",
	3024: "ER_QUERY_TIMEOUT",
}

// Classify maps an error from a statement handed to the driver to a
// Jepsen outcome: fail only when the write was certainly not applied (the
// server refused it, or the connection was never dialled), info otherwise.
func Classify(err error) history.Outcome {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		if _, unknown := endedFromOutside[me.Number]; unknown {
			return history.Info
		}
		return history.Fail // the server refused it: an autocommit insert that errors is rolled back
	}
	var ne *net.OpError
	if errors.As(err, &ne) && ne.Op == "dial" {
		return history.Fail
	}
	// A timeout, a connection lost after sending, the driver's
	// ErrBadConn: nothing says the server did not apply it.
	return history.Info
}

// Stop ends the workload and waits for in-flight operations (each bounded
// by the timeout) so that every invoked operation is in the history.
func (w *Workload) Stop() Stats {
	w.cancel()
	w.wg.Wait()
	w.ops.Wait()
	return w.Stats()
}

// LastFailure is when a write last completed without success (failed or
// unknown); zero if none has.
func (w *Workload) LastFailure() time.Time {
	if ns := w.lastFailure.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Stats are the counts so far.
func (w *Workload) Stats() Stats {
	return Stats{OK: w.ok.Load(), Fail: w.fail.Load(), Info: w.info.Load(), Scheduled: w.scheduled.Load(), Elapsed: time.Since(w.start)}
}

func (s Stats) String() string {
	return fmt.Sprintf("%d scheduled: %d ok, %d fail, %d info in %v (%.0f acked/s)", s.Scheduled, s.OK, s.Fail, s.Info, s.Elapsed.Round(time.Millisecond), s.AckedPerSec())
}
