// Package scenario runs one drill scenario's measurement around its faults:
// traffic and heartbeat into a history, fault and controller events into the
// same history, a final read of every region, and the check. The suites
// call it; it sees the stack only through the target interface.
package scenario

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/heartbeat"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/live"
	"github.com/drdrill/drdrill/internal/reads"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/workload"
)

// Options configure a scenario.
type Options struct {
	Dir       string // reports/<run>/<scenario>/
	Run       string
	Name      string
	Workload  workload.Config
	Heartbeat heartbeat.Config
	Reads     reads.Config
	Check     check.Config
	Ledger    *ledger.Ledger
	Logf      func(format string, args ...any)
	// ObserveEvery is how often a target that reports its own measurements
	// (AWS: lag metric, alarms, health checks) is sampled; default 30 s.
	ObserveEvery time.Duration
	// Observed marks the history as recorded by `drdrill observe`, which
	// injects nothing (history.Meta.Observed).
	Observed bool
	// Live, when set, is the ledger directory where the scenario publishes
	// its progress every second for `drdrill status` (internal/live),
	// starting from Progress (what runs, the scenario's place in the run).
	Live     string
	Progress live.Progress
}

// Scenario is a scenario in progress.
type Scenario struct {
	opt      Options
	t        target.Target
	rec      *history.Recorder
	writer   *sql.DB
	hbWriter *sql.DB
	readers  map[string]*sql.DB
	readDBs  map[string]*sql.DB // the readers' own pools, apart from the heartbeat's
	wl       *workload.Workload
	rd       *reads.Readers
	hb       *heartbeat.Heartbeat
	first    int
	base     int // controller events before the scenario
	handles  []*fault.Handle
	stopped  bool
	observe  chan struct{} // closed to stop the observer
	observed sync.WaitGroup
	// publishing: closed to stop publishing progress (Options.Live).
	publish   chan struct{}
	published sync.WaitGroup
}

// HistoryFile is the history's name in a scenario directory.
const HistoryFile = "history.jsonl"

// Start opens the endpoints, clears the stale heartbeat and starts traffic.
func Start(ctx context.Context, t target.Target, opt Options) (s *Scenario, err error) {
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	sc := &Scenario{opt: opt, t: t, readers: map[string]*sql.DB{}, readDBs: map[string]*sql.DB{}}
	s = sc
	defer func() {
		if err != nil {
			sc.close() // s is nil by now
		}
	}()
	if s.writer, err = t.Writer(); err != nil {
		return nil, err
	}
	if s.hbWriter, err = t.Writer(); err != nil {
		return nil, err
	}
	s.hbWriter.SetMaxOpenConns(1)
	s.hbWriter.SetConnMaxLifetime(2 * time.Second)
	for _, r := range t.Regions() {
		db, err := t.Reader(r)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(2)
		s.readers[r] = db
		if db, err = t.Reader(r); err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		s.readDBs[r] = db
	}
	// Writers get ids no earlier scenario used, so the final read can pick
	// this scenario's rows out of a table that earlier drills also filled.
	if err := s.writer.QueryRowContext(ctx, "SELECT COALESCE(MAX(writer), 0) + 1 FROM writes").Scan(&s.first); err != nil {
		return nil, fmt.Errorf("writer endpoint %s: %w", t.Outputs()["GlobalWriterEndpoint"], err)
	}
	opt.Workload.FirstWriter = s.first
	// The primary's identity is only worth recording when promotions will
	// name their new primary too; otherwise every write after a failover
	// would look like a zombie.
	var primarySID uint32
	if pr, ok := t.(target.ServerIDs); ok && pr.PromotionsCarryServerIDs() {
		if err := s.writer.QueryRowContext(ctx, "SELECT @@server_id").Scan(&primarySID); err != nil {
			return nil, fmt.Errorf("writer endpoint: %w", err)
		}
	}
	if ev, err := t.Events(ctx, 0); err == nil && len(ev) > 0 {
		s.base = ev[len(ev)-1].Seq
	}
	var primaryRegion string
	if topo, err := t.Topology(ctx); err == nil {
		primaryRegion = topo.Primary
	}
	w := opt.Workload
	if w.Rate <= 0 {
		w.Rate = 200
	}
	if w.Writers <= 0 {
		w.Writers = 4
	}
	s.opt.Workload = w
	sample := opt.Heartbeat.Sample
	if sample <= 0 {
		sample = heartbeat.DefaultSample
	}
	lagRes := map[string]float64{}
	for _, r := range t.Regions() {
		lagRes[r] = float64(sample) / 1e6
		if _, ok := t.(target.Observer); ok {
			lagRes["aws:"+r] = float64(target.ObservedLagPeriod) / 1e6
		}
	}
	s.rec, err = history.Create(filepath.Join(opt.Dir, HistoryFile), history.Meta{Run: opt.Run, Scenario: opt.Name,
		Target: t.Kind(), RateHz: w.Rate, Writers: w.Writers, PrimaryServerID: primarySID, Labels: map[string]string{"first_writer": strconv.Itoa(s.first)},
		LagResolutionMs: lagRes, PrimaryRegion: primaryRegion, Regions: t.Regions(), ReadIntervalMs: float64(readInterval(opt.Reads)) / 1e6,
		Observed: opt.Observed})
	if err != nil {
		return nil, err
	}
	if s.hb, err = heartbeat.Start(ctx, s.hbWriter, s.readers, s.rec, opt.Heartbeat); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	s.wl = workload.Start(s.writer, s.rec, w)
	rc := opt.Reads
	if rc.Seed == 0 {
		rc.Seed = w.Seed
	}
	s.rd = reads.Start(s.readDBs, s.wl, s.rec, rc)
	if ob, ok := t.(target.Observer); ok {
		s.startObserver(ob)
	}
	if opt.Live != "" {
		s.startPublishing()
	}
	return s, nil
}

// startPublishing writes the scenario's progress every second: the
// writes and failed writes of the last second, and the totals.
func (s *Scenario) startPublishing() {
	s.publish = make(chan struct{})
	s.published.Add(1)
	go func() {
		defer s.published.Done()
		defer live.Remove(s.opt.Live)
		p := s.opt.Progress
		p.Scenario = s.opt.Name
		start := time.Now()
		remaining := p.RemainingS
		var prev workload.Stats
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			st := s.wl.Stats()
			p.OK, p.Failed = st.OK, st.Fail+st.Info
			p.WritesPerS = float64(st.OK - prev.OK)
			p.ErrorsPerS = float64(st.Fail + st.Info - prev.Fail - prev.Info)
			if remaining > 0 {
				p.RemainingS = max(0, remaining-time.Since(start).Seconds())
			}
			p.UpdatedNs = 0
			_ = live.Publish(s.opt.Live, p)
			prev = st
			select {
			case <-s.publish:
				return
			case <-tick.C:
			}
		}
	}()
}

// startObserver records the platform's own view beside the drill's:
// lag samples as their own series ("aws:<region>"), alarm and health-check
// states as events.
func (s *Scenario) startObserver(ob target.Observer) {
	every := s.opt.ObserveEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	s.observe = make(chan struct{})
	s.observed.Add(1)
	go func() {
		defer s.observed.Done()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			s.recordObservations(ob.Observe(ctx))
			cancel()
			select {
			case <-s.observe:
				return
			case <-time.After(every):
			}
		}
	}()
}

func (s *Scenario) recordObservations(obs []target.Observation) {
	for _, o := range obs {
		at := s.rec.WallToRel(o.TimeNs)
		switch o.Kind {
		case "lag_ms":
			// A datapoint stamped before this scenario began is the
			// previous scenario's (on AWS the newest one may be minutes
			// old): judged here it would be the "before" lag of a stack
			// this scenario has not touched yet.
			if at < 0 {
				continue
			}
			s.rec.Lag(history.LagSample{Region: "aws:" + o.Region, At: at, Ms: o.Value})
		default:
			s.rec.Event(history.Event{At: at, Source: "aws", Kind: o.Kind, Region: o.Region,
				Detail: fmt.Sprintf("%s %s %.2f", o.Name, o.State, o.Value)})
		}
	}
}

// Recorder is the scenario's history recorder.
func (s *Scenario) Recorder() *history.Recorder { return s.rec }

// Workload is the running workload.
func (s *Scenario) Workload() *workload.Workload { return s.wl }

// LatestLag is the newest heartbeat lag per region (ms).
func (s *Scenario) LatestLag() map[string]float64 { return s.hb.Latest() }

// Inject injects a fault and records it in the history; the fault's time
// (the start of RTO) is the moment the ledger recorded it, just before its
// injection began (after its parameters were resolved: on AWS that reads
// the topology and passes the safety guard, which injects nothing) — the
// instant `drdrill observe` takes for a fault it finds in the ledger — or,
// for a fault that says when its effect began, that moment (a region
// isolation's first subnet cut, after the calls that prepare it, which EC2's
// eventual consistency can make seconds long).
func (s *Scenario) Inject(ctx context.Context, name string, p fault.Params) (*fault.Handle, error) {
	h, err := fault.Inject(ctx, s.t, s.opt.Ledger, name, p, "suite")
	if err != nil {
		return nil, err
	}
	at := s.rec.WallToRel(h.Recorded.UnixNano())
	if !h.Effective.IsZero() {
		at = s.rec.WallToRel(h.Effective.UnixNano())
	}
	s.rec.Event(history.Event{At: at, Source: "fault", Kind: "inject", Fault: name, ID: h.ID, Region: h.Params["region"], Detail: fmt.Sprint(map[string]string(h.Params))})
	s.handles = append(s.handles, h)
	s.opt.Logf("injected %s (%s) %v", name, h.ID, map[string]string(h.Params))
	return h, nil
}

// Rollback undoes a fault and records it.
func (s *Scenario) Rollback(ctx context.Context, h *fault.Handle) error {
	at := s.rec.Now()
	err := h.Rollback(ctx)
	detail := ""
	if err != nil {
		detail = err.Error()
	}
	s.rec.Event(history.Event{At: at, Source: "fault", Kind: "rollback", Fault: h.Fault.Name(), ID: h.ID, Detail: detail})
	s.opt.Logf("rolled back %s (%s): %v", h.Fault.Name(), h.ID, err)
	return err
}

// Mark records a harness event (a phase boundary, an observation).
func (s *Scenario) Mark(kind, detail string) {
	s.rec.Event(history.Event{At: s.rec.Now(), Source: "harness", Kind: kind, Detail: detail})
}

// StopTraffic stops the workload and heartbeat; every invoked write is
// then in the history, and the traffic section's end marker says how many
// (a history cut before it is not judged on its traffic).
func (s *Scenario) StopTraffic() workload.Stats {
	if s.stopped {
		return s.wl.Stats()
	}
	s.stopped = true
	st := s.wl.Stop()
	s.rd.Stop() // after the writes: its last reads look for the last acknowledgements
	s.hb.Stop()
	if s.observe != nil {
		close(s.observe)
		s.observed.Wait()
	}
	if s.publish != nil {
		close(s.publish)
		s.published.Wait()
	}
	if err := s.rec.EndTraffic(); err != nil {
		s.opt.Logf("history: %v", err)
	}
	s.opt.Logf("traffic stopped: %s", st)
	return st
}

// FinalRead reads this scenario's rows from every reachable region, with
// each region's role, into the history. A region the topology reports
// unreachable is skipped and one that cannot be read is noted, neither is
// fatal; the primary must be readable. Each region's rows end with their
// count, and the whole final read with an end marker once every region is
// recorded: a kill mid-read leaves a history that says what it lacks.
func (s *Scenario) FinalRead(ctx context.Context) error {
	s.StopTraffic()
	topo, err := s.t.Topology(ctx)
	if err != nil {
		return err
	}
	var errs []error
	read := 0
	for _, r := range topo.Regions {
		if !r.Reachable && r.Name != topo.Primary {
			// A crashed or frozen region would only make the read wait out
			// its timeouts (seconds per scenario) to learn what the
			// topology already says.
			s.Mark("final-read-skipped", r.Name+": unreachable")
			continue
		}
		rs, err := s.readRegion(ctx, r)
		if err != nil {
			s.Mark("final-read-failed", r.Name+": "+err.Error())
			if r.Name == topo.Primary {
				errs = append(errs, fmt.Errorf("final read of primary %s: %w", r.Name, err))
			}
			continue
		}
		if err := s.rec.Rows(rs); err != nil {
			errs = append(errs, err)
			continue
		}
		read++
	}
	if len(errs) == 0 {
		errs = append(errs, s.rec.EndFinalRead(read))
	}
	return errors.Join(errs...)
}

func (s *Scenario) readRegion(ctx context.Context, r target.Region) (history.RowSet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db := s.readers[r.Name]
	rs := history.RowSet{Region: r.Name, Role: r.Role, At: s.rec.Now()}
	var sid uint32
	if err := db.QueryRowContext(ctx, "SELECT @@server_id").Scan(&sid); err != nil {
		return rs, err
	}
	rs.ServerID = sid
	rows, err := db.QueryContext(ctx, "SELECT writer, seq, origin_server_id, UNIX_TIMESTAMP(committed_at) FROM writes WHERE writer >= ? AND writer < ?",
		s.first, s.first+s.opt.Workload.Writers)
	if err != nil {
		return rs, err
	}
	defer rows.Close()
	for rows.Next() {
		var row history.Row
		var ts string
		if err := rows.Scan(&row.Writer, &row.Seq, &row.Origin, &ts); err != nil {
			return rs, err
		}
		row.CommittedAt = s.rec.WallToRel(parseUnixDecimal(ts))
		rs.Rows = append(rs.Rows, row)
	}
	return rs, rows.Err()
}

// parseUnixDecimal turns "1764409812.123456" into nanoseconds without float rounding.
func parseUnixDecimal(s string) int64 {
	sec, frac, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(sec, 10, 64)
	frac = (frac + "000000000")[:9]
	f, _ := strconv.ParseInt(frac, 10, 64)
	return n*1e9 + f
}

// RollbackAll rolls back every fault not yet rolled back, newest first.
func (s *Scenario) RollbackAll(ctx context.Context) error {
	var errs []error
	for i := len(s.handles) - 1; i >= 0; i-- {
		errs = append(errs, s.Rollback(ctx, s.handles[i]))
	}
	return errors.Join(errs...)
}

// Finish copies the controller's events into the history, with their end
// marker (or, when the target cannot list them, the reason), closes it,
// reads it back from disk and checks it — the same path `drdrill report`
// takes.
func (s *Scenario) Finish(ctx context.Context) (check.Result, error) {
	s.StopTraffic()
	ev, err := s.t.Events(ctx, s.base)
	if err == nil {
		for _, e := range ev {
			s.rec.Event(history.Event{At: s.rec.WallToRel(e.TimeNs), Source: "controller", Kind: e.Kind, Region: e.Region, Detail: e.Detail, ServerID: e.ServerID})
		}
	} else {
		s.opt.Logf("controller events unavailable: %v", err)
	}
	if err := s.rec.EndControllerEvents(len(ev), err); err != nil {
		return check.Result{}, err
	}
	if err := s.rec.Close(); err != nil {
		return check.Result{}, err
	}
	s.close()
	h, err := history.ReadFile(filepath.Join(s.opt.Dir, HistoryFile))
	if err != nil {
		return check.Result{}, err
	}
	res := check.Check(h, s.opt.Check)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(filepath.Join(s.opt.Dir, "check.json"), b, 0o644); err != nil {
		return res, err
	}
	return res, nil
}

// Discard stops the traffic and closes everything without reading back or
// checking the history (a warm-up measures nothing).
func (s *Scenario) Discard() workload.Stats {
	st := s.StopTraffic()
	_ = s.rec.Close()
	s.close()
	return st
}

func (s *Scenario) close() {
	for _, db := range []*sql.DB{s.writer, s.hbWriter} {
		if db != nil {
			db.Close()
		}
	}
	for _, db := range s.readers {
		db.Close()
	}
	for _, db := range s.readDBs {
		db.Close()
	}
}

func readInterval(c reads.Config) time.Duration {
	if c.Interval > 0 {
		return c.Interval
	}
	return reads.DefaultInterval
}

// WarmUp writes through t's writer endpoint at w for d, unmeasured (its
// history goes to a temporary directory): a freshly started server's
// first second at 1,000 writes/s (pool, buffers, tablespace growth) would
// otherwise show up as failed writes in whichever scenario runs first.
func WarmUp(ctx context.Context, t target.Target, l *ledger.Ledger, w workload.Config, d time.Duration) (workload.Stats, error) {
	dir, err := os.MkdirTemp("", "drdrill-warmup-")
	if err != nil {
		return workload.Stats{}, err
	}
	defer os.RemoveAll(dir)
	s, err := Start(ctx, t, Options{Dir: dir, Run: "warm-up", Name: "warm-up", Ledger: l, Workload: w, Logf: func(string, ...any) {}})
	if err != nil {
		return workload.Stats{}, err
	}
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	return s.Discard(), nil
}
