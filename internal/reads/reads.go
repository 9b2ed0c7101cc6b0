// Package reads reads the written set back in every region while the
// workload writes, through each region's own endpoint, and records what
// each read returned. It is Jepsen's set-full workload on a DR stack: from
// these reads the checker tells how long an acknowledged write took to
// become visible in each region, whether a reader ever saw a write that
// later vanished, and whether a demoted region served stale reads.
//
// A read asks, per writer, for the recent tail (everything from a little
// below the highest seq it has seen) plus every acknowledged or in-flight
// seq it has not yet seen. The tail re-reads what was seen, so an element
// that vanishes is caught by the next read; the unseen ranges keep looking
// for a write until it shows up, however long the region lags, without
// re-reading the whole table.
package reads

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/history"
)

// Source is the running workload, as the readers need it.
type Source interface {
	// Writers are the writer ids: first … first+n-1.
	Writers() (first, n int)
	// Frontier is the highest seq scheduled so far for a writer.
	Frontier(writer int) int64
	// Outcome is a write's outcome so far (0 while in flight).
	Outcome(writer int, seq int64) history.Outcome
	// PerWriterRate is each writer's scheduled writes per second.
	PerWriterRate() float64
}

// Config tunes the readers.
type Config struct {
	// Interval between reads in one region (default 20 ms), jittered by
	// ±25 %: the resolution of visibility latency.
	Interval time.Duration
	// Tail is how far below the highest seen seq each read looks again
	// (default 100 ms of writes): how soon a vanished element is caught.
	Tail time.Duration
	// Timeout bounds one read (default 1 s).
	Timeout time.Duration
	// MaxRanges caps the unseen ranges asked per writer (default 32);
	// beyond it the closest ranges merge (the read returns a bit more).
	MaxRanges int
	// Seed drives the jitter, so a seeded schedule replays.
	Seed int64
}

// DefaultInterval is the readers' default interval.
const DefaultInterval = 20 * time.Millisecond

func (c *Config) defaults() {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Tail <= 0 {
		c.Tail = 100 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = time.Second
	}
	if c.MaxRanges <= 0 {
		c.MaxRanges = 32
	}
}

// Readers read every region until Stop.
type Readers struct {
	cfg    Config
	src    Source
	rec    *history.Recorder
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start reads each region through its pool in dbs.
func Start(dbs map[string]*sql.DB, src Source, rec *history.Recorder, cfg Config) *Readers {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Readers{cfg: cfg, src: src, rec: rec, cancel: cancel}
	regions := make([]string, 0, len(dbs))
	for name := range dbs {
		regions = append(regions, name)
	}
	slices.Sort(regions)
	for i, name := range regions {
		rd := newRegionReader(name, dbs[name], src, rec, cfg, uint64(cfg.Seed)+uint64(i))
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			rd.run(ctx)
		}()
	}
	return r
}

// Stop cuts short the reads in flight, makes one last read in every region
// that answered its previous one (so writes acknowledged at the end are
// looked for once more) and stops.
func (r *Readers) Stop() {
	r.cancel()
	r.wg.Wait()
}

type regionReader struct {
	region string
	db     *sql.DB
	src    Source
	rec    *history.Recorder
	cfg    Config
	rng    *rand.Rand
	tail   int64
	writer []writerState
}

// writerState is what one region's reader knows of one writer.
type writerState struct {
	hi      int64   // every seq ≤ hi is either seen, settled, or in unseen
	maxSeen int64   // the highest seq ever returned
	unseen  []int64 // acknowledged or in-flight seqs ≤ hi not yet seen, ascending
}

func newRegionReader(region string, db *sql.DB, src Source, rec *history.Recorder, cfg Config, seed uint64) *regionReader {
	_, n := src.Writers()
	tail := int64(math.Ceil(cfg.Tail.Seconds() * src.PerWriterRate()))
	return &regionReader{region: region, db: db, src: src, rec: rec, cfg: cfg,
		rng: rand.New(rand.NewPCG(seed, 0x4ead)), tail: max(tail, 1), writer: make([]writerState, n)}
}

func (r *regionReader) run(ctx context.Context) {
	next := time.Now()
	lastOK := false
	for {
		// An absolute schedule with jitter: a slow read does not shift
		// later ones, and readers in different regions do not align.
		jitter := time.Duration((r.rng.Float64() - 0.5) * 0.5 * float64(r.cfg.Interval))
		next = next.Add(r.cfg.Interval)
		d := time.Until(next.Add(jitter))
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		} else if d < -r.cfg.Interval {
			next = time.Now() // a read that hung: resume, do not burst
		}
		if ctx.Err() != nil {
			// One last look for the last acknowledgements — not in a region
			// that is not answering, where it would only wait out its timeout.
			if lastOK {
				r.readOnce(context.Background())
			}
			return
		}
		lastOK = r.readOnce(ctx)
	}
}

// asked builds the ranges to read for each writer: (writer, from, to), to = 0 open.
func (r *regionReader) asked(frontier []int64) []int64 {
	first, _ := r.src.Writers()
	var q []int64
	for i := range r.writer {
		ws := &r.writer[i]
		w := int64(first + i)
		from := max(1, min(ws.hi+1, ws.maxSeen-r.tail+1))
		if from > frontier[i] && ws.maxSeen == 0 && len(ws.unseen) == 0 {
			continue // nothing written yet
		}
		rs := ranges(ws.unseen, from)
		for len(rs) > 2*r.cfg.MaxRanges {
			rs = mergeClosest(rs)
		}
		for j := 0; j < len(rs); j += 2 {
			q = append(q, w, rs[j], rs[j+1])
		}
		q = append(q, w, from, 0)
	}
	return q
}

// ranges turns the ascending seqs below from into [a, b] pairs.
func ranges(seqs []int64, from int64) []int64 {
	var out []int64
	for _, s := range seqs {
		if s >= from {
			break
		}
		if n := len(out); n > 0 && out[n-1]+1 == s {
			out[n-1] = s
			continue
		}
		out = append(out, s, s)
	}
	return out
}

// mergeClosest joins the two neighbouring ranges with the smallest gap.
func mergeClosest(rs []int64) []int64 {
	best, gap := -1, int64(math.MaxInt64)
	for j := 2; j < len(rs); j += 2 {
		if g := rs[j] - rs[j-1]; g < gap {
			best, gap = j, g
		}
	}
	rs[best-1] = rs[best+1]
	return append(rs[:best], rs[best+2:]...)
}

// query is the SQL for the asked ranges: one statement, so one snapshot.
// The first row carries the answering server's id.
func query(asked []int64) string {
	var b strings.Builder
	b.WriteString("SELECT -1, @@server_id")
	if len(asked) > 0 {
		b.WriteString(" UNION ALL SELECT writer, seq FROM writes WHERE ")
		for i := 0; i < len(asked); i += 3 {
			if i > 0 {
				b.WriteString(" OR ")
			}
			w, from, to := asked[i], asked[i+1], asked[i+2]
			fmt.Fprintf(&b, "(writer = %d AND seq ", w)
			if to == 0 {
				b.WriteString(">= " + strconv.FormatInt(from, 10) + ")")
			} else {
				fmt.Fprintf(&b, "BETWEEN %d AND %d)", from, to)
			}
		}
	}
	return b.String()
}

// readOnce reads once and records it; a read cut short by stop (ctx) says
// nothing about the region and is not recorded.
func (r *regionReader) readOnce(stop context.Context) (ok bool) {
	first, _ := r.src.Writers()
	frontier := make([]int64, len(r.writer))
	for i := range frontier {
		frontier[i] = r.src.Frontier(first + i)
	}
	asked := r.asked(frontier)
	ctx, cancel := context.WithTimeout(stop, r.cfg.Timeout)
	defer cancel()
	op := history.ReadOp{Region: r.region, Invoke: r.rec.Now(), Asked: asked}
	seen := make([][]int64, len(r.writer))
	rows, err := r.db.QueryContext(ctx, query(asked))
	if err == nil {
		for rows.Next() {
			var w, s int64
			if err = rows.Scan(&w, &s); err != nil {
				break
			}
			if w == -1 {
				op.ServerID = uint32(s)
				continue
			}
			if i := int(w) - first; i >= 0 && i < len(seen) {
				seen[i] = append(seen[i], s)
			}
		}
		if err == nil {
			err = rows.Err()
		}
		_ = rows.Close()
	}
	op.Complete = r.rec.Now()
	if err != nil {
		if stop.Err() != nil {
			return false
		}
		op.Outcome, op.Err, op.ServerID = history.Fail, err.Error(), 0
		r.rec.Read(op)
		return false
	}
	op.Outcome = history.OK
	for i := range seen {
		slices.Sort(seen[i])
		op.Saw = appendRuns(op.Saw, int64(first+i), seen[i])
		r.settle(i, first+i, frontier[i], seen[i])
	}
	r.rec.Read(op)
	return true
}

// appendRuns appends (writer, from, to) for each run of consecutive seqs.
func appendRuns(dst []int64, w int64, seqs []int64) []int64 {
	for j := 0; j < len(seqs); {
		k := j
		for k+1 < len(seqs) && seqs[k+1] <= seqs[k]+1 {
			k++
		}
		dst = append(dst, w, seqs[j], seqs[k])
		j = k + 1
	}
	return dst
}

// settle updates what the reader still has to look for after a read that
// returned seen (ascending) for writer i, whose frontier was f when the
// read was built: seqs up to f that are neither seen nor certainly
// unwritten (fail, info) stay to be looked for.
func (r *regionReader) settle(i, writer int, f int64, seen []int64) {
	ws := &r.writer[i]
	if n := len(seen); n > 0 {
		ws.maxSeen = max(ws.maxSeen, seen[n-1])
	}
	has := func(s int64) bool { _, ok := slices.BinarySearch(seen, s); return ok }
	keep := func(s int64) bool {
		if has(s) {
			return false
		}
		switch r.src.Outcome(writer, s) {
		case history.Fail, history.Info:
			return false // never written, or not ours to wait for
		}
		return true
	}
	unseen := ws.unseen[:0]
	for _, s := range ws.unseen {
		if keep(s) {
			unseen = append(unseen, s)
		}
	}
	for s := ws.hi + 1; s <= f; s++ {
		if keep(s) {
			unseen = append(unseen, s)
		}
	}
	ws.unseen = unseen
	ws.hi = max(ws.hi, f)
}
