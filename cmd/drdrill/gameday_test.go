package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/target"
)

// A scripted game day: `drdrill observe` runs in the background as a real
// process while faults are injected and rolled back from elsewhere, then
// Ctrl-C ends it; its report must measure each disruption as a drill of
// the same fault would.
//
// What "match" can mean. A drill and a game day are two runs: the
// controller's detection (probes every 100 ms), the writers' phase and the
// machine's load differ between them, and so do their RTOs by tens of ms —
// more than the RTO's resolution (one write interval). Comparing the
// observation's RTO with a second run's number would test that jitter, not
// the instrument. So each window is held instead to what the same run's
// own evidence, read without the checker, allows:
//
//   - its start is the instant the fault ledger recorded the fault — the
//     instant a drill of that fault measures from (fault.Handle.Recorded);
//   - the drill's checker, given this history cut to that one fault, as a
//     drill's scenario would have recorded it, gives the same RTO, lost
//     writes, RPO span and re-protection to the nanosecond;
//   - its RTO lies between the lab's promotion (stamped before the new
//     primary can take a write: no write can succeed earlier) and that
//     instant plus one write interval and the connect timeout (1 s: every
//     write invoked after the promotion reaches the new primary or fails
//     within it);
//   - its lost writes are exactly the acknowledged writes the new primary
//     lacks when the test reads it itself, acknowledged before the
//     promotion; a switchover loses none.
func TestGameDayOnTheLabMeasuresWhatWasInjectedByHand(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	reports := t.TempDir()
	obs := startObserve(t, nil, "--dir", dir, "--rate", "200", "--reports", reports)
	time.Sleep(1500 * time.Millisecond) // the baseline before the first fault

	// By hand, from other processes: a region outage and a planned
	// switchover, each rolled back, the stack back in sync between them.
	for _, f := range []struct{ name, hold string }{{"region-crash", "3s"}, {"planned-switchover", "2s"}} {
		mustRun(t, "fault", "inject", f.name, "--dir", dir, "--for", f.hold)
		waitLabInSync(t, dir, time.Minute)
		time.Sleep(check.DefaultStabilityWindow + time.Second) // apart: two disruptions, not one
	}
	code, out := obs.stop(t, syscall.SIGINT)
	if code != 0 || !strings.Contains(out, "verdict: PASS") {
		t.Fatalf("observe: exit %d\n%s", code, out)
	}
	runDir := onlyRun(t, reports)
	r, err := report.Load(filepath.Join(runDir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Mode != report.ModeObserve || r.Run.Status != report.StatusCompleted || !strings.HasPrefix(r.Run.Ended, "SIGINT after") {
		t.Fatalf("run.json: mode %q status %q ended %q; want an observation completed by SIGINT", r.Run.Mode, r.Run.Status, r.Run.Ended)
	}
	if len(r.Scenarios) != 1 || r.Scenarios[0].Result == nil {
		t.Fatalf("want one observed scenario, got %+v", r.Scenarios)
	}
	res := r.Scenarios[0].Result
	h, err := history.ReadFile(filepath.Join(runDir, "observe", "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	injected := ledgerInjections(t, dir)
	if len(injected) != 2 || len(res.Windows) != 2 {
		t.Fatalf("the ledger shows %d faults and the report %d windows, want 2 and 2: %+v", len(injected), len(res.Windows), res.Windows)
	}
	events := labEvents(dir)
	lostNow := lostOnThePrimary(t, dir, h)
	resolution := 1000 / h.Meta.RateHz
	for k, w := range res.Windows {
		e := injected[k]
		if w.Source != check.SourceLedger || len(w.Faults) != 1 || w.Faults[0].ID != e.ID {
			t.Fatalf("window %d: source %s, faults %+v; want the ledger's %s", k+1, w.Source, w.Faults, e.ID)
		}
		if at := float64(e.TimeNs-h.Meta.StartWall) / 1e6; math.Abs(w.StartMs-at) > 1e-6 {
			t.Errorf("window %d starts at %.6f ms, the ledger recorded %s at %.6f ms", k+1, w.StartMs, e.Fault, at)
		}
		if w.RTOMs == nil || w.ReprotectMs == nil {
			t.Fatalf("window %d (%s): RTO %v, re-protection %v, not judged: %v", k+1, e.Fault, w.RTOMs, w.ReprotectMs, w.NotJudged)
		}
		// The drill's checker on this fault alone.
		drill := check.Check(drillOf(h, res.Windows, k), check.Config{})
		if drill.FaultMs == nil || *drill.FaultMs != w.StartMs || drill.RTO.Ms != *w.RTOMs || drill.RPO.LostWrites != w.LostWrites ||
			drill.RPO.SpanMs != w.RPOMs || drill.ReprotectMs == nil || *drill.ReprotectMs != *w.ReprotectMs {
			t.Errorf("window %d (%s): observed RTO %v ms, %d lost over %v ms, re-protected %v ms; the drill's checker on the same fault: fault at %v, RTO %v ms, %d lost over %v ms, re-protected %v",
				k+1, e.Fault, *w.RTOMs, w.LostWrites, w.RPOMs, *w.ReprotectMs, deref(drill.FaultMs), drill.RTO.Ms, drill.RPO.LostWrites, drill.RPO.SpanMs, deref(drill.ReprotectMs))
		}
		// Bounded by the lab's own promotion.
		promote := firstAfter(events, "promote", e.TimeNs)
		if promote == 0 {
			t.Fatalf("window %d: the lab recorded no promotion after %s", k+1, e.Fault)
		}
		lo := float64(promote-e.TimeNs) / 1e6
		if hi := lo + resolution + float64(time.Second)/1e6; *w.RTOMs < lo || *w.RTOMs > hi {
			t.Errorf("window %d (%s): RTO %.1f ms, outside [%.1f, %.1f] ms: the lab promoted %.1f ms after the ledger recorded the fault",
				k+1, e.Fault, *w.RTOMs, lo, hi, lo)
		}
		switch e.Fault {
		case "region-crash":
			if w.LostWrites != len(lostNow) {
				t.Errorf("window %d: %d writes lost, the new primary lacks %d acknowledged writes", k+1, w.LostWrites, len(lostNow))
			}
			for _, op := range lostNow {
				if wall := h.Meta.StartWall + op.Complete; wall > promote {
					t.Errorf("lost write %d/%d was acknowledged %v after the promotion", op.Writer, op.Seq, time.Duration(wall-promote))
				}
			}
		case "planned-switchover":
			if w.LostWrites != 0 {
				t.Errorf("window %d: a planned switchover lost %d writes", k+1, w.LostWrites)
			}
		}
		t.Logf("window %d (%s): RTO %.1f ms (lab promotion at %.1f ms), %d lost over %.1f ms ±%.1f, re-protected after %.0f ms",
			k+1, e.Fault, *w.RTOMs, lo, w.LostWrites, w.RPOMs, w.RPOResolutionMs, *w.ReprotectMs)
	}
	if b, err := os.ReadFile(filepath.Join(runDir, report.JUnitFile)); err != nil || !strings.Contains(string(b), `name="window_rto_ms"`) {
		t.Errorf("junit.xml: %v\n%s", err, b)
	}
}

func deref(p *float64) any {
	if p == nil {
		return "none"
	}
	return *p
}

// observeProc is a `drdrill observe` running in the background.
type observeProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
	code int
}

// startObserve starts `drdrill observe ARGS` and returns once it observes.
func startObserve(t *testing.T, env []string, args ...string) *observeProc {
	t.Helper()
	p := &observeProc{cmd: exec.Command(bin, append([]string{"observe"}, args...)...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.out.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.HasPrefix(sc.Text(), "[phase] observing") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() {
		err := p.cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		}
		pw.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("observe exited %d before observing:\n%s", p.code, p.output())
	case <-time.After(time.Minute):
		t.Fatalf("observe did not start within a minute:\n%s", p.output())
	}
	return p
}

func (p *observeProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// stop sends sig and waits for observe to write its report and exit.
func (p *observeProc) stop(t *testing.T, sig syscall.Signal) (int, string) {
	t.Helper()
	if sig != 0 { // 0: it is ending on its own
		_ = p.cmd.Process.Signal(sig)
	}
	select {
	case <-p.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("observe did not end within 2 minutes of %v:\n%s", sig, p.output())
	}
	time.Sleep(50 * time.Millisecond) // the last lines through the pipe
	return p.code, p.output()
}

func onlyRun(t *testing.T, reports string) string {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(reports, "2*"))
	if len(runs) != 1 {
		t.Fatalf("want one run in %s, got %v", reports, runs)
	}
	return runs[0]
}

// waitLabInSync waits until the lab is healthy with every region in sync.
func waitLabInSync(t *testing.T, dir string, within time.Duration) {
	t.Helper()
	c, err := lab.Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := c.Status(ctx)
		cancel()
		synced := err == nil && st.Healthy
		for _, r := range st.Regions {
			synced = synced && r.InSync
		}
		if synced {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab is not healthy and in sync after %v: %v %+v", within, err, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ledgerInjections are the lab ledger's first line of each fault, in order.
func ledgerInjections(t *testing.T, dir string) []ledger.Entry {
	t.Helper()
	changes, _, err := ledger.Open(dir).Changes(0)
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Entry
	seen := map[string]bool{}
	for _, e := range changes {
		if !seen[e.ID] && e.State == ledger.Injecting {
			out = append(out, e)
		}
		seen[e.ID] = true
	}
	return out
}

func firstAfter(ev []lab.Event, kind string, ns int64) int64 {
	for _, e := range ev {
		if e.Kind == kind && e.TimeNs >= ns {
			return e.TimeNs
		}
	}
	return 0
}

// lostOnThePrimary reads the lab's primary itself: the history's
// acknowledged writes it lacks.
func lostOnThePrimary(t *testing.T, dir string, h *history.History) []history.Op {
	t.Helper()
	tg, err := target.Open(filepath.Join(dir, lab.OutputsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	db, err := tg.Writer()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first, n := 0, h.Meta.Writers
	fmt.Sscan(h.Meta.Labels["first_writer"], &first)
	rows, err := db.Query("SELECT writer, seq FROM writes WHERE writer >= ? AND writer < ?", first, first+n)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type key struct {
		w int
		s int64
	}
	there := map[key]bool{}
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.w, &k.s); err != nil {
			t.Fatal(err)
		}
		there[k] = true
	}
	var lost []history.Op
	for _, op := range h.Ops {
		if op.Outcome == history.OK && !there[key{op.Writer, op.Seq}] {
			lost = append(lost, op)
		}
	}
	return lost
}

// drillOf is the history a drill of window k's fault alone would have
// recorded: its ledger fault as the harness's own, the writes and
// control-plane events between the previous window's end and the next
// window's start (a drill's scenario begins after the stack is restored
// and ends before anything else is done to it), the final reads as they
// are.
func drillOf(obs *history.History, ws []check.Window, k int) *history.History {
	h := *obs
	h.Meta.Observed = false
	from, to := int64(math.MinInt64), int64(math.MaxInt64)
	if k > 0 && ws[k-1].EndMs != nil {
		from = int64(*ws[k-1].EndMs * 1e6)
	}
	if k+1 < len(ws) {
		to = int64(ws[k+1].StartMs * 1e6)
	}
	in := func(at int64) bool { return at > from && at < to }
	h.Ops = nil
	for _, op := range obs.Ops {
		if in(op.Invoke) {
			h.Ops = append(h.Ops, op)
		}
	}
	h.Events = nil
	for _, e := range obs.Events {
		switch {
		case e.Source == check.SourceLedger && e.ID == ws[k].Faults[0].ID && (e.Kind == "inject" || e.Kind == "rollback"):
			e.Source = check.SourceFault
			h.Events = append(h.Events, e)
		case e.Source == check.SourceController && in(e.At):
			h.Events = append(h.Events, e)
		}
	}
	return &h
}

// The same game day on the AWS twin, with the faults injected the way AWS
// FIS and ARC inject them: SDK calls straight to the AWS API, nothing
// through drdrill, so the ledger stays empty and every window comes from
// what the observation saw — the global cluster's transitions (polled,
// DRDRILL_AWS_POLL) and the writes that failed. A planned switchover (ARC
// Region switch's Aurora block: SwitchoverGlobalCluster), its switch back,
// and the primary region cut off for a moment (FIS
// aws:network:disrupt-connectivity: its subnets moved onto a deny-all
// network ACL, then back).
//
// Match, here: a drill measures from its own API call; the observation
// cannot see the call, only its first evidence, so its window starts at or
// after the call — by at most the poll and the call's own latency for a
// transition the global cluster shows, by at most a write interval after
// the cut for an isolation (a write already in flight when it came may
// start the window up to its 2 s timeout before). The recovery point the
// window measures (start + RTO) is the instant a drill's RTO ends too, and
// it is held to the test's own observation of the stack: after the
// writer's move it saw (no write succeeds on the read-only old writer) and
// within the DNS TTL and a connect timeout of it; after the restore began
// and within a connect timeout of its end. Nothing is lost.
func TestGameDayOnTheTwinMeasuresWhatTheAWSAPIDid(t *testing.T) {
	dir := startTwinCLI(t, "0.02")
	// twin status names the global cluster's writer, as its help says (it
	// printed only the lab's primary).
	if out := mustRun(t, "twin", "status", "--dir", dir); !strings.Contains(out, "global cluster writer us-east-1 (no failover under way)") {
		t.Errorf("twin status does not name the global cluster's writer:\n%s", out)
	}
	env := twinEnv(t, dir)
	outFile := filepath.Join(dir, "flat-outputs.json")
	out, err := outputs.Read(outFile)
	if err != nil {
		t.Fatal(err)
	}
	reports := t.TempDir()
	obs := startObserve(t, env, "--outputs", outFile, "--rate", "200", "--reports", reports)
	// The live view of the AWS target, into a file, for the whole game day.
	stopWatch := watchToFile(t, env, "status", "--watch", "--outputs", outFile, "--interval", "200ms")
	time.Sleep(1500 * time.Millisecond)

	ctx := context.Background()
	pri := twinConfig(t, env, out["PrimaryRegion"])
	rdsc := rds.NewFromConfig(pri)
	global := awssdk.String(out["GlobalClusterIdentifier"])
	// writerNow is the global cluster's writer, as the API says now.
	writerNow := func() (string, bool) {
		g, err := rdsc.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: global})
		if err != nil || len(g.GlobalClusters) != 1 {
			t.Fatalf("DescribeGlobalClusters: %v", err)
		}
		for _, m := range g.GlobalClusters[0].GlobalClusterMembers {
			if awssdk.ToBool(m.IsWriter) {
				return awssdk.ToString(m.DBClusterArn), g.GlobalClusters[0].FailoverState == nil
			}
		}
		return "", false
	}
	type cause struct {
		what         string
		call, lo, hi time.Time // the call; the recovery point's bounds
	}
	var causes []cause
	switchover := func(to string) {
		from, _ := writerNow()
		c := cause{what: "SwitchoverGlobalCluster to " + to, call: time.Now()}
		if _, err := rdsc.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: global,
			TargetDbClusterIdentifier: awssdk.String(out[to])}); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		before := time.Now()
		for {
			w, idle := writerNow()
			if w != from && c.lo.IsZero() {
				// The writer moved between the previous read and this one.
				c.lo, c.hi = before, time.Now().Add(100*time.Millisecond+time.Second+5*time.Millisecond)
			}
			if w == out[to] && idle {
				break
			}
			if time.Since(c.call) > 2*time.Minute {
				t.Fatalf("%s: not done after 2 minutes", c.what)
			}
			before = time.Now()
			time.Sleep(20 * time.Millisecond)
		}
		causes = append(causes, c)
	}
	settle := func() {
		waitTwinInSync(t, rdsc, global, time.Minute)
		time.Sleep(check.DefaultStabilityWindow + time.Second)
	}
	switchover("SecondaryClusterArn")
	settle()
	switchover("PrimaryClusterArn")
	settle()

	// FIS aws:network:disrupt-connectivity on the primary's database subnets.
	ec2c := ec2.NewFromConfig(pri)
	var subnets []string
	if err := json.Unmarshal([]byte(out["PrimaryDatabaseSubnetIds"]), &subnets); err != nil || len(subnets) == 0 {
		t.Fatalf("PrimaryDatabaseSubnetIds %q: %v", out["PrimaryDatabaseSubnetIds"], err)
	}
	assoc := func() map[string][2]string { // subnet → association, ACL
		acls, err := ec2c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{{Name: awssdk.String("association.subnet-id"), Values: subnets}}})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string][2]string{}
		for _, a := range acls.NetworkAcls {
			for _, as := range a.Associations {
				m[awssdk.ToString(as.SubnetId)] = [2]string{awssdk.ToString(as.NetworkAclAssociationId), awssdk.ToString(a.NetworkAclId)}
			}
		}
		return m
	}
	orig := assoc()
	vpc, err := ec2c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{orig[subnets[0]][1]}})
	if err != nil || len(vpc.NetworkAcls) != 1 {
		t.Fatalf("DescribeNetworkAcls: %v", err)
	}
	deny, err := ec2c.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: vpc.NetworkAcls[0].VpcId})
	if err != nil {
		t.Fatal(err)
	}
	// EC2 is eventually consistent ("Eventual consistency in the Amazon
	// EC2 API"): a new ACL, and a subnet's new association, are NotFound
	// for a while. The game day retries as AWS advises, as FIS does.
	eventually := func(what string, call func() error) {
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			err := call()
			var api smithy.APIError
			if err == nil {
				return
			}
			if !errors.As(err, &api) || !slices.Contains([]string{"InvalidNetworkAclID.NotFound", "InvalidAssociationID.NotFound", "DependencyViolation"}, api.ErrorCode()) || time.Now().After(deadline) {
				t.Fatalf("%s: %v", what, err)
			}
		}
	}
	eventually("the deny-all ACL to exist", func() error {
		_, err := ec2c.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{NetworkAclIds: []string{awssdk.ToString(deny.NetworkAcl.NetworkAclId)}})
		return err
	})
	current := map[string]string{} // subnet → its association id, as the calls returned it
	for sn, a := range assoc() {
		current[sn] = a[0]
	}
	replace := func(to func(subnet string) string) {
		for _, sn := range subnets {
			eventually("ReplaceNetworkAclAssociation "+sn, func() error {
				out, err := ec2c.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: awssdk.String(current[sn]), NetworkAclId: awssdk.String(to(sn))})
				if err == nil {
					current[sn] = awssdk.ToString(out.NewAssociationId)
				}
				return err
			})
		}
	}
	isolation := cause{what: "the primary's subnets on a deny-all network ACL", call: time.Now()}
	replace(func(string) string { return awssdk.ToString(deny.NetworkAcl.NetworkAclId) })
	isolated := time.Now()
	// Less than the trigger's three checks (no failover), counting the
	// restore's wait for the new associations to reach the API.
	time.Sleep(time.Second)
	isolation.lo = time.Now()
	replace(func(sn string) string { return orig[sn][1] })
	isolation.hi = time.Now().Add(time.Second + 5*time.Millisecond)
	eventually("DeleteNetworkAcl", func() error {
		_, err := ec2c.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: deny.NetworkAcl.NetworkAclId})
		return err
	})
	causes = append(causes, isolation)
	time.Sleep(check.DefaultStabilityWindow + time.Second)

	code, output := obs.stop(t, syscall.SIGINT)
	if code != 0 || !strings.Contains(output, "verdict: PASS") {
		t.Fatalf("observe: exit %d\n%s", code, output)
	}
	watched := strings.Join(changeLines(t, stopWatch()), "\n")
	for _, want := range []string{"aws writer us-east-1 healthy", "promotion: global cluster switching-over", "aws writer us-west-2", "health check ", "alarm ", "observe 2", "writes failing"} {
		if !strings.Contains(watched, want) {
			t.Errorf("status --watch never said %q:\n%s", want, watched)
		}
	}
	runDir := onlyRun(t, reports)
	r, err := report.Load(filepath.Join(runDir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	h, err := history.ReadFile(filepath.Join(runDir, "observe", "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	res := r.Scenarios[0].Result
	if len(res.Windows) != len(causes) {
		t.Fatalf("%d windows for %d disruptions by the AWS API: %+v", len(res.Windows), len(causes), res.Windows)
	}
	rel := func(at time.Time) float64 { return float64(at.UnixNano()-h.Meta.StartWall) / 1e6 }
	resolution := 1000 / h.Meta.RateHz
	poll, _ := time.ParseDuration(envValue(env, "DRDRILL_AWS_POLL"))
	for k, w := range res.Windows {
		c := causes[k]
		if w.Source == check.SourceLedger || w.Source == check.SourceFault || len(w.Faults) > 0 {
			t.Errorf("window %d (%s): source %s, faults %v; nothing went through drdrill", k+1, c.what, w.Source, w.Faults)
		}
		lo, hi := rel(c.call), rel(c.call)+float64(poll+500*time.Millisecond)/1e6
		if k == 2 {
			lo, hi = rel(c.call)-2000, rel(isolated)+2*resolution
		}
		if w.StartMs < lo || w.StartMs > hi {
			t.Errorf("window %d (%s) starts at %.1f ms, outside [%.1f, %.1f] ms: the call was at %.1f ms", k+1, c.what, w.StartMs, lo, hi, rel(c.call))
		}
		if w.RTOMs == nil {
			t.Fatalf("window %d (%s): RTO not judged: %v", k+1, c.what, w.NotJudged)
		}
		recovered := w.StartMs + *w.RTOMs
		if recovered < rel(c.lo)-resolution || recovered > rel(c.hi) {
			t.Errorf("window %d (%s): writes recovered at %.1f ms, outside [%.1f, %.1f] ms", k+1, c.what, recovered, rel(c.lo), rel(c.hi))
		}
		if w.LostWrites != 0 {
			t.Errorf("window %d (%s): %d writes lost", k+1, c.what, w.LostWrites)
		}
		if k < 2 && w.PromoteMs == nil {
			t.Errorf("window %d (%s): no promotion in it", k+1, c.what)
		}
		t.Logf("window %d (%s, source %s): starts %.1f ms after the call; RTO %.1f ms, a drill's from the call %.1f ms",
			k+1, c.what, w.Source, w.StartMs-rel(c.call), *w.RTOMs, recovered-rel(c.call))
	}
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// waitTwinInSync waits until the global cluster has no failover running
// and every member is in sync (SynchronizationStatus connected).
func waitTwinInSync(t *testing.T, c *rds.Client, global *string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		g, err := c.DescribeGlobalClusters(context.Background(), &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: global})
		ok := err == nil && len(g.GlobalClusters) == 1 && g.GlobalClusters[0].FailoverState == nil
		if ok {
			for _, m := range g.GlobalClusters[0].GlobalClusterMembers {
				ok = ok && (awssdk.ToBool(m.IsWriter) || m.SynchronizationStatus == rdstypes.GlobalClusterMemberSynchronizationStatusConnected)
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the global cluster is not idle and in sync after %v: %v", within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// How an observation ends, honestly: --for (completed, exit 0, "--for …
// elapsed"); `drdrill abort` from elsewhere (aborted, exit 130, no fault to
// roll back). A fault injected before the observation began is part of
// it: its window starts before the history, at the ledger's record, and is
// open while the fault stays.
func TestObserveEndsByForOrAbortAndTakesFaultsAlreadyInjected(t *testing.T) {
	needMariaDB(t)
	dir, _ := startLabE2E(t)
	mustRun(t, "fault", "inject", "wan-degradation", "--dir", dir, "--param", "latency_ms=300")
	t.Cleanup(func() { run(t, nil, "recover", "--dir", dir) })
	reports := t.TempDir()
	r := run(t, nil, "observe", "--dir", dir, "--for", "2s", "--rate", "100", "--reports", reports)
	// Begun mid-disruption, it has no baseline to judge the lag and the
	// read visibility before the fault by: breaches, said so, not a pass.
	if r.code != exitVerdict || !strings.Contains(r.out, "--for 2s elapsed") || !strings.Contains(r.out, "already injected when the observation began") ||
		!strings.Contains(r.out, "lag_p99_ms: not judged (no lag samples before the fault)") {
		t.Fatalf("observe --for 2s with a fault already injected: exit %d\n%s", r.code, r.out)
	}
	rep, err := report.Load(filepath.Join(onlyRun(t, reports), report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Run.Status != report.StatusCompleted || rep.Run.Ended != "--for 2s elapsed" {
		t.Errorf("status %q, ended %q", rep.Run.Status, rep.Run.Ended)
	}
	ws := rep.Scenarios[0].Result.Windows
	if len(ws) != 1 || ws[0].Source != check.SourceLedger || ws[0].Faults[0].Fault != "wan-degradation" || ws[0].StartMs >= 0 || ws[0].EndMs != nil {
		t.Fatalf("want one open window from the ledger's wan-degradation, begun before the observation: %+v", ws)
	}
	mustRun(t, "recover", "--dir", dir)

	aborted := t.TempDir()
	obs := startObserve(t, nil, "--dir", dir, "--rate", "100", "--reports", aborted)
	if out := mustRun(t, "abort", "--dir", dir, "--reason", "game day called off"); !strings.Contains(out, "drdrill observe") {
		t.Errorf("abort did not find the observation:\n%s", out)
	}
	code, out := obs.stop(t, 0)
	if code != exitAborted {
		t.Fatalf("observe after abort: exit %d, want %d\n%s", code, exitAborted, out)
	}
	rep, err = report.Load(filepath.Join(onlyRun(t, aborted), report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Run.Status != report.StatusAborted || !strings.Contains(rep.Run.StatusLine(), "aborted by") {
		t.Errorf("run status %q (%s), want aborted", rep.Run.Status, rep.Run.StatusLine())
	}
}
