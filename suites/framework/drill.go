package framework

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/heartbeat"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/live"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/policy"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/runbook"
	"github.com/drdrill/drdrill/internal/scenario"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/workload"
)

// Environment the drill command passes to the suites.
const (
	RunDirEnv = "DRDRILL_RUN_DIR"
	PolicyEnv = "DRDRILL_POLICY"
	RateEnv   = "DRDRILL_RATE"
	SeedEnv   = "DRDRILL_SEED"
)

// FailedAttemptsDir keeps, inside a run directory, the histories of
// attempts that failed before a retry passed.
const FailedAttemptsDir = "failed-attempts"

// Drill is what every scenario needs: the target, the policy, where to
// write, and the fault ledger.
type Drill struct {
	Target target.Target
	Policy policy.Policy
	RunDir string
	Ledger *ledger.Ledger
	Rate   float64
	// Seed drives every scenario's schedule (see Schedule).
	Seed int64
	// schedule and current are the running scenario's; scenarios run one
	// at a time.
	schedule *Schedule
	current  *Scenario
	// eventSeq is the newest target event seen; scenarioEvents the newest
	// before the current (or last) scenario began.
	eventSeq, scenarioEvents int
	// stops turns every stop (signal, abort, drdrill gone) into one
	// interrupt (stop.go).
	stops *stopGuard
	// Plan is what this run of the suite runs (internal/runbook): where
	// each scenario stands, and the time left.
	Plan runbook.Plan
	// scenario is the running scenario's runbook entry; announced the
	// last scenario announced.
	scenario  runbook.Scenario
	announced string
	ledgerDir string
}

// PlanEnv names the plan file `drdrill drill` writes for the suites (the
// scenarios that run here, their expected durations); without it the
// suite plans from its own label filter and the target's typical
// durations.
const PlanEnv = "DRDRILL_PLAN"

// loadPlan reads $DRDRILL_PLAN, or plans from the label filter.
func (d *Drill) loadPlan() {
	if p := os.Getenv(PlanEnv); p != "" {
		b, err := os.ReadFile(p)
		Expect(err).NotTo(HaveOccurred(), "$%s", PlanEnv)
		Expect(json.Unmarshal(b, &d.Plan)).To(Succeed(), "$%s=%s", PlanEnv, p)
		return
	}
	e := runbook.LabExpectations
	if d.Target.Kind() == "aws" {
		e = runbook.AWSExpectations(d.Bounds().Detection/5, 1)
	}
	plan, err := runbook.Select(GinkgoLabelFilter(), d.Target.Kind(), func(name string) error {
		f, err := fault.Lookup(name)
		if err != nil {
			return err
		}
		return f.Available(d.Target)
	}, e)
	Expect(err).NotTo(HaveOccurred())
	d.Plan = plan
}

// Announce says, once per scenario, which scenario of how many begins and
// how long the run has left by its plan. Call it before each spec with
// the spec's labels (a scenario's first label is its name).
func (d *Drill) Announce(labels []string) {
	for _, l := range labels {
		sc, ok := runbook.Lookup(l)
		if !ok || l == d.announced {
			continue
		}
		d.announced = l
		i, n, left := d.Plan.Place(l)
		if n == 0 {
			By(fmt.Sprintf("scenario %s (not in this run's plan)", l))
			return
		}
		By(fmt.Sprintf("scenario %d/%d %s: about %v; about %v left in the run", i, n, sc.Name, round(sc.Expected(d.Plan.Expectations)), round(left)))
		return
	}
}

func round(d time.Duration) time.Duration {
	if d > time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}

// ScenarioLabels are a scenario's Ginkgo labels, from the runbook: the plan
// `drdrill drill --dry-run` prints selects scenarios by the same labels
// Ginkgo does.
func ScenarioLabels(scenario string) Labels {
	sc, ok := runbook.Lookup(scenario)
	if !ok {
		panic(fmt.Sprintf("scenario %q is not in internal/runbook: add it there (its labels, faults and phases) first", scenario))
	}
	return Label(sc.Labels...)
}

// DefaultRate and DefaultWriters give an acknowledged write every 1 ms
// across the writers, so the start of a loss window is known to about
// ±1 ms (the achieved resolution is measured and reported per scenario).
// It holds through REPEAT runs on two cores since a re-seed copies the
// primary's tablespaces, at a cost that does not grow with the drill.
const (
	DefaultRate    = 1000
	DefaultWriters = 8
)

// Setup opens everything once per suite (call it from BeforeSuite).
func Setup() *Drill {
	d := &Drill{Target: OpenTarget(), Rate: DefaultRate}
	d.RunDir = os.Getenv(RunDirEnv)
	if d.RunDir == "" {
		d.RunDir = filepath.Join(os.TempDir(), fmt.Sprintf("drdrill-run-%d", time.Now().UnixNano()))
	}
	if p := os.Getenv(PolicyEnv); p != "" {
		var err error
		d.Policy, err = policy.Load(p)
		Expect(err).NotTo(HaveOccurred())
	} else {
		d.Policy = policy.Default(d.Target.Kind())
	}
	d.Seed = GinkgoRandomSeed()
	if v := os.Getenv(SeedEnv); v != "" {
		_, err := fmt.Sscan(v, &d.Seed)
		Expect(err).NotTo(HaveOccurred(), "$%s=%q", SeedEnv, v)
	}
	AddReportEntry("seed", d.Seed)
	if v := os.Getenv(RateEnv); v != "" {
		_, err := fmt.Sscan(v, &d.Rate)
		Expect(err).NotTo(HaveOccurred(), "$%s=%q", RateEnv, v)
		Expect(d.Rate).To(BeNumerically(">", 0), "$%s must be a positive rate in writes/s", RateEnv)
	}
	// The lab keeps its ledger in its own directory, so `drdrill recover
	// --dir LAB` finds faults whichever process injected them.
	// A deployed stack's ledger sits beside its outputs file, where
	// `drdrill recover --outputs FILE` (and `fault` with --outputs) look.
	ledgerDir := filepath.Dir(os.Getenv(OutputsEnv))
	if dir := d.Target.Outputs()[outputs.LabDir]; dir != "" {
		ledgerDir = dir
	}
	d.Ledger = ledger.Open(ledgerDir)
	d.ledgerDir = ledgerDir
	recoverCmd := "drdrill recover --outputs " + absPath(os.Getenv(OutputsEnv))
	if dir := d.Target.Outputs()[outputs.LabDir]; dir != "" {
		recoverCmd = "drdrill recover --dir " + dir
	}
	Expect(os.MkdirAll(d.RunDir, 0o755)).To(Succeed())
	d.stops = guardStops(d, ledgerDir, recoverCmd)
	DeferCleanup(d.stops.finish)
	if sc, ok := d.Target.(target.StopConditions); ok {
		stopCheck = sc.CheckStopConditions
	}
	active, err := d.Ledger.Active()
	Expect(err).NotTo(HaveOccurred())
	Expect(active).To(BeEmpty(), "faults from an earlier run are still injected (%s): run `%s` first", d.Ledger.Path(), recoverCmd)
	d.loadPlan()
	d.warmUp()
	pb, _ := json.MarshalIndent(d.Policy, "", "  ")
	Expect(os.WriteFile(filepath.Join(d.RunDir, "policy.json"), pb, 0o644)).To(Succeed())
	AddReportEntry("policy", d.Policy.Source)
	return d
}

// Begin starts a scenario's measurement; traffic stops when the spec ends.
func (d *Drill) Begin(ctx context.Context, name string) *Scenario {
	sc, ok := runbook.Lookup(name)
	Expect(ok).To(BeTrue(), "scenario %q is not in internal/runbook: add it there (its labels, faults and phases)", name)
	d.scenario = sc
	d.schedule = NewSchedule(d.Seed, name)
	AddReportEntry("seed", d.Seed)
	dir := filepath.Join(d.RunDir, name)
	if attempt := CurrentSpecReport().NumAttempts; attempt > 1 {
		// A retry (--flake-attempts): the failed attempt's history is kept
		// for the record, out of the scenario's own place in the run.
		if _, err := os.Stat(dir); err == nil {
			keep := filepath.Join(d.RunDir, FailedAttemptsDir, fmt.Sprintf("%s-attempt-%d", name, attempt-1))
			Expect(os.MkdirAll(filepath.Dir(keep), 0o755)).To(Succeed())
			Expect(os.Rename(dir, keep)).To(Succeed())
		}
	}
	d.scenarioEvents = d.lastEvent(ctx)
	By(fmt.Sprintf("starting %.0f writes/s through the writer endpoint and the lag heartbeat", d.Rate))
	m, err := scenario.Start(ctx, d.Target, scenario.Options{Dir: dir, Run: filepath.Base(d.RunDir),
		Name: name, Ledger: d.Ledger, Workload: workload.Config{Rate: d.Rate, Writers: DefaultWriters, Seed: d.schedule.Derive("writers")},
		Heartbeat: heartbeat.Config{Seed: d.schedule.Derive("readers")},
		Logf:      func(f string, a ...any) { GinkgoWriter.Printf(f+"\n", a...) },
		Live:      d.ledgerDir, Progress: d.progress(name)})
	Expect(err).NotTo(HaveOccurred())
	s := &Scenario{Scenario: m, d: d, events: d.scenarioEvents}
	d.current = s
	// A spec that failed midway stops its traffic here, without the
	// holds: nothing of it will be judged.
	DeferCleanup(func() { m.StopTraffic(); d.current = nil })
	return s
}

// progress is what a scenario publishes for `drdrill status`.
func (d *Drill) progress(name string) live.Progress {
	i, n, left := d.Plan.Place(name)
	return live.Progress{What: "drill " + filepath.Base(d.RunDir), Index: i, Total: n, RemainingS: left.Seconds()}
}

// WarmUp is how long the drill writes at its rate before the first
// scenario, unmeasured: a freshly started server's first second at 1,000
// writes/s (pool, buffers, tablespace growth) would otherwise show up as
// failed writes in whichever scenario runs first.
const WarmUp = 1500 * time.Millisecond

func (d *Drill) warmUp() {
	if d.Target.Kind() != "lab" {
		return // a deployed stack is warm; writing to it is not free
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := scenario.WarmUp(ctx, d.Target, d.Ledger, workload.Config{Rate: d.Rate, Writers: DefaultWriters}, WarmUp)
	Expect(err).NotTo(HaveOccurred(), "warm-up writes through the writer endpoint")
	GinkgoWriter.Printf("warm-up: %s\n", st)
}

// Inject injects a fault with its rollback registered before it starts.
// A stop may come at any instant of an injection: the interrupt cancels
// ctx, fault.Inject then undoes what it had done, and the cleanup —
// which waits for the injection to return before it rolls back what is
// left — runs even if Ginkgo gave up waiting for the spec. Once the drill
// is stopping, no fault is injected.
func (d *Drill) Inject(ctx context.Context, s *Scenario, name string, p fault.Params) *fault.Handle {
	f, err := fault.Lookup(name)
	Expect(err).NotTo(HaveOccurred())
	if !d.scenario.Injects(name) {
		Fail(fmt.Sprintf("scenario %s injects %s, which its entry in internal/runbook does not name: add it there, so that --dry-run shows it", d.scenario.Name, name))
	}
	if err := f.Available(d.Target); err != nil {
		// Skipping here would leave traffic started and a history without
		// a final read: a scenario names its faults up front (Requires).
		Fail(fmt.Sprintf("fault %s is not available on the %s target (%v), and the scenario did not say it needs it before starting: name it in beginScenario/Requires", name, d.Target.Kind(), err))
	}
	d.stops.refuseNewFault(name)
	var h *fault.Handle
	returned := make(chan struct{})
	DeferCleanup(func(ctx SpecContext) {
		select {
		case <-returned:
		case <-ctx.Done():
			Fail(fmt.Sprintf("the injection of %s did not return in time to be rolled back: run %s", name, d.stops.recoverCmd))
		}
		if h != nil {
			Expect(s.Rollback(ctx, h)).To(Succeed())
		}
	}, NodeTimeout(d.Bounds().Inject+d.Bounds().Rollback))
	By("injecting " + name)
	h, err = s.Inject(ctx, name, p)
	close(returned)
	Expect(err).NotTo(HaveOccurred())
	return h
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// Restore returns the stack to its original, healthy topology after a
// scenario and checks the steady state again. Register it first in a spec
// so it runs after every rollback.
func (d *Drill) Restore() {
	DeferCleanup(func(ctx SpecContext) {
		By("restoring the original topology")
		did, err := d.Target.Failback(ctx)
		Expect(err).NotTo(HaveOccurred())
		if len(did) > 0 {
			GinkgoWriter.Printf("restore: %s\n", strings.Join(did, "; "))
		}
		ExpectSteadyState(ctx, d.Target, d.Bounds().Restore)
		d.WaitReplicated(ctx, d.Bounds().Restore)
		// Every scenario starts re-protected, so that the next one's
		// in-sync events are its own.
		d.WaitReprotected(ctx, d.scenarioEvents)
	}, NodeTimeout(d.Bounds().Restore+2*d.Bounds().Promotion+d.Bounds().Reprotect))
}

// WaitReplicated writes a probe row through the writer endpoint and waits
// until every region's endpoint returns it. The steady state a scenario
// starts from is replication caught up, not only roles restored: on AWS a
// switch-back is complete once the writer has moved, while its new
// secondary may still be reconnecting, and the next scenario's "before"
// lag would measure that instead of the steady state.
func (d *Drill) WaitReplicated(ctx context.Context, within time.Duration) time.Duration {
	writer, err := d.Target.Writer()
	Expect(err).NotTo(HaveOccurred())
	defer func() { writer.Close() }()
	readers := map[string]*sql.DB{}
	for _, region := range d.Target.Regions() {
		db, err := d.Target.Reader(region)
		Expect(err).NotTo(HaveOccurred())
		defer db.Close()
		readers[region] = db
	}
	var seq int64
	return WaitFor(ctx, "a probe write to reach every region", within, func(ctx context.Context) (bool, string, error) {
		if seq == 0 {
			if seq, err = ProbeWrite(ctx, writer, 0); err != nil {
				seq = 0
				// A connection the pool made while the writer endpoint
				// still led to the old writer (the DNS TTL after a
				// switch-back) stays there, read-only, for as long as the
				// pool keeps it: the next probe dials afresh.
				if fresh, oerr := d.Target.Writer(); oerr == nil {
					writer.Close()
					writer = fresh
				}
				return false, "probe write through the writer endpoint: " + err.Error(), err
			}
		}
		for region, db := range readers {
			if ok, err := RowVisible(ctx, db, 0, seq); err != nil || !ok {
				return false, "not yet in " + region, err
			}
		}
		return true, "", nil
	})
}

// Bounds are the target's limits for every wait (target.Bounds).
func (d *Drill) Bounds() target.Bounds { return target.BoundsOf(d.Target) }

// ScenarioTimeout is a scenario spec's limit, for its SpecTimeout: the
// spec tree is built before the target is opened, so it is read from the
// outputs file's kind.
func ScenarioTimeout() time.Duration {
	return target.BoundsForOutputs(os.Getenv(OutputsEnv)).Scenario
}

// stopCheck, when set, runs during every wait: a firing stop alarm fails the
// spec at once, and the DeferCleanup rollbacks undo its faults (AWS FIS
// stop-condition semantics).
var stopCheck func(context.Context) error

func checkStop(ctx context.Context) {
	if stopCheck == nil {
		return
	}
	if err := stopCheck(ctx); err != nil {
		Fail("aborting the scenario: " + err.Error())
	}
}

// Requires skips the spec unless every fault is available on the target,
// before anything starts.
func (d *Drill) Requires(faults ...string) {
	for _, name := range faults {
		f, err := fault.Lookup(name)
		Expect(err).NotTo(HaveOccurred())
		if err := f.Available(d.Target); err != nil {
			Skip(fmt.Sprintf("fault %s is not available on the %s target: %v", name, d.Target.Kind(), err))
		}
	}
}

// PreFaultHold is the nominal traffic before a fault: with the seed's
// ±25 % it is at least the second before the fault that the checker reads
// for the RPO resolution and the baseline lag and visibility (300+ lag
// samples per region, 50+ reads per region). Longer measures nothing more.
const PreFaultHold = 1400 * time.Millisecond

// HoldBeforeFault keeps traffic running for the scenario's seeded share of
// a window around nominal (±25 %): when the fault lands relative to the
// writers' and readers' phases comes from the seed, and the same seed
// replays it.
func (d *Drill) HoldBeforeFault(ctx context.Context, why string, nominal time.Duration) {
	hold := nominal
	if d.schedule != nil {
		hold = d.schedule.Within(nominal*3/4, nominal*5/4)
		Record("hold_before_fault_ms", hold.Milliseconds())
	}
	d.Hold(ctx, why, hold)
}

// Hold keeps traffic running for a while, printing progress. The hold is
// marked in the scenario's history: it is deliberate time (a baseline, a
// stability window), which the run's wall-time accounting tells apart
// from waits that measure nothing (report.WallTime).
func (d *Drill) Hold(ctx context.Context, why string, dur time.Duration) {
	By(fmt.Sprintf("holding %v: %s", dur, why))
	if s := d.current; s != nil {
		s.Mark(report.HoldStart, why)
		defer s.Mark(report.HoldEnd, why)
	}
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			Fail("interrupted while " + why)
		case <-time.After(min(time.Until(end), 2*time.Second)):
		}
		if left := time.Until(end); left > 0 {
			GinkgoWriter.Printf("[hold] %s: %.1f s left\n", why, left.Seconds())
		}
		checkStop(ctx)
	}
}

// StabilityWindow is how long writes must keep succeeding for a recovery to
// count (the checker's default); Scenario covers it before the traffic
// stops.
const StabilityWindow = 2 * time.Second

// WaitFor polls cond until it holds, printing progress every 2 s.
func WaitFor(ctx context.Context, what string, within time.Duration, cond func(ctx context.Context) (bool, string, error)) time.Duration {
	By("waiting for " + what)
	start := time.Now()
	last := start
	for {
		ok, status, err := cond(ctx)
		if ok && err == nil {
			GinkgoWriter.Printf("[wait] %s after %v\n", what, time.Since(start).Round(time.Millisecond))
			return time.Since(start)
		}
		if time.Since(start) > within {
			Fail(fmt.Sprintf("%s did not happen within %v (last: %s %v)", what, within, status, err))
		}
		if time.Since(last) >= 2*time.Second {
			last = time.Now()
			checkStop(ctx)
			GinkgoWriter.Printf("[wait] %s: %.1f s of %v, %s\n", what, time.Since(start).Seconds(), within, status)
		}
		select {
		case <-ctx.Done():
			Fail("interrupted while waiting for " + what)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// WaitCaughtUp waits, with traffic stopped, until every region's endpoint
// holds as many writes as the writer endpoint: the replicas have applied
// everything, so a final read compares like with like. (It replaced a
// fixed one-second hold, which measured nothing and could still be short.)
func (d *Drill) WaitCaughtUp(ctx context.Context, within time.Duration) time.Duration {
	count := func(ctx context.Context, db *sql.DB) (n int64, err error) {
		err = db.QueryRowContext(ctx, "SELECT COUNT(*) FROM writes").Scan(&n)
		return n, err
	}
	writer := DB(d.Target.Writer)
	readers := map[string]*sql.DB{}
	for _, region := range d.Target.Regions() {
		readers[region] = DB(func() (*sql.DB, error) { return d.Target.Reader(region) })
	}
	return WaitFor(ctx, "every region to hold every write", within, func(ctx context.Context) (bool, string, error) {
		want, err := count(ctx, writer)
		if err != nil {
			return false, "writer", err
		}
		for region, db := range readers {
			got, err := count(ctx, db)
			if err != nil || got != want {
				return false, fmt.Sprintf("%s has %d of %d writes", region, got, want), err
			}
		}
		return true, "", nil
	})
}

// WaitMonitorsHealthy waits, on a target with its own health monitoring,
// until it sees region healthy in datapoints newer than since; elsewhere
// it returns at once.
func (d *Drill) WaitMonitorsHealthy(ctx context.Context, region string, since time.Time) {
	mw, ok := d.Target.(target.MonitorWatcher)
	if !ok {
		return
	}
	By("waiting for the stack's health monitors to see " + region + " healthy")
	start := time.Now()
	Expect(mw.WaitMonitorsHealthy(ctx, region, since, d.Bounds().Promotion)).To(Succeed())
	GinkgoWriter.Printf("[wait] health monitors see %s healthy after %v\n", region, time.Since(start).Round(time.Millisecond))
}

// WaitPrimary waits until region is the primary.
func (d *Drill) WaitPrimary(ctx context.Context, region string, within time.Duration) time.Duration {
	return WaitFor(ctx, region+" to become the primary", within, func(ctx context.Context) (bool, string, error) {
		topo, err := d.Target.Topology(ctx)
		return err == nil && topo.Primary == region, "primary " + topo.Primary, err
	})
}

// WaitAlarm waits until the named alarm is in state.
func (d *Drill) WaitAlarm(ctx context.Context, name, state string, within time.Duration) time.Duration {
	return WaitFor(ctx, fmt.Sprintf("alarm %s to go to %s", name, state), within, func(ctx context.Context) (bool, string, error) {
		alarms, err := d.Target.Alarms(ctx)
		for _, a := range alarms {
			if a.Name == name {
				return a.State == state, a.State, err
			}
		}
		return false, "alarm not found", err
	})
}

// Record attaches a measured value; Ginkgo writes it as a JUnit property.
func Record(name string, value any) { AddReportEntry(name, value) }

// Judge attaches every measurement to the report and fails the spec on a
// breach of the policy, naming value, target and resolution.
func (d *Drill) Judge(name string, res check.Result) {
	GinkgoWriter.Printf("check: %s\n", res.Summary())
	for _, n := range res.Notes {
		GinkgoWriter.Printf("note: %s\n", n)
	}
	ms, breaches := d.Policy.For(name).Judge(name, res)
	for _, m := range ms {
		if m.Unmeasured {
			Record(m.Check, "not judged: "+m.NotJudged)
			continue
		}
		Record(m.Check, m.Measured)
	}
	Record("ops_ok", res.Ops.OK)
	Record("ops_fail", res.Ops.Fail)
	Record("ops_info", res.Ops.Info)
	Record("rpo_resolution_ms", res.RPO.ResolutionMs)
	Record("rpo_scheduled_resolution_ms", res.RPO.ScheduledResolutionMs)
	for phase, v := range res.AckedPerSecond {
		Record("acked_per_s_"+phase, v)
	}
	if hy := res.Hypothesis; hy != nil {
		// AWS's failover hypothesis, checked on this failover.
		Record("rpo_lag_hypothesis", hy.Verdict)
		Record("rpo_lag_consistent", hy.Consistent)
		if !hy.NoLagReading {
			Record("last_lag_before_fault_ms", hy.LastLagMs)
		}
		if hy.UnderByMs > 0 {
			Record("lag_under_reported_by_ms", hy.UnderByMs)
		}
		GinkgoWriter.Printf("rpo vs lag: %s\n", hy.Verdict)
	}
	for region, phases := range res.Lag {
		for phase, p := range phases {
			Record(fmt.Sprintf("lag_p99_ms_%s_%s", phase, region), p.P99)
			Record(fmt.Sprintf("lag_p99_err_ms_%s_%s", phase, region), p.P99Err)
		}
	}
	if rd := res.Reads; rd.Judged {
		GinkgoWriter.Printf("reads: %s\n", rd.Summary())
		Record("reads", rd.Total)
		Record("reads_failed", rd.Failed)
		Record("never_seen_writes", rd.NeverSeen)
		if rd.StaleAfterPromotion > 0 {
			Record("stale_read_max_behind_ms", rd.StaleMaxBehindMs)
		}
		for region, phases := range rd.Visibility {
			for phase, p := range phases {
				Record(fmt.Sprintf("read_visibility_p99_ms_%s_%s", phase, region), p.P99)
				Record(fmt.Sprintf("read_visibility_p99_err_ms_%s_%s", phase, region), p.P99Err)
			}
			Record("read_resolution_ms_"+region, rd.ResolutionMs[region])
		}
	}
	var msgs []string
	for _, b := range breaches {
		msgs = append(msgs, b.Message)
	}
	Expect(msgs).To(BeEmpty(), "SLO policy %s breached:\n%s", d.Policy.Source, strings.Join(msgs, "\n"))
}
