package scenario

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/fault"
	"github.com/drdrill/drdrill/internal/labtest"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/workload"
)

func waitPrimary(t *testing.T, tgt target.Target, region string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if topo, err := tgt.Topology(context.Background()); err == nil && topo.Primary == region {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not become primary within %v", region, within)
}

// groundTruthLost recomputes the lost writes without the history package or
// the checker: acknowledged writes from the raw JSON lines, surviving rows
// straight from the new primary.
func groundTruthLost(t *testing.T, historyPath string, tgt target.Target, region string, first, writers int) int {
	t.Helper()
	f, err := os.Open(historyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type key struct {
		w int
		s int64
	}
	acked := map[key]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var line struct {
			T string `json:"t"`
			W int    `json:"w"`
			S int64  `json:"s"`
			R string `json:"r"`
		}
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.T == "op" && line.R == "ok" {
			acked[key{line.W, line.S}] = true
		}
	}
	for k := range serverRows(t, tgt, region, first, writers) {
		delete(acked, key(k))
	}
	return len(acked)
}

// A SIGKILLed primary under 200 writes/s over a 35 ms link loses the writes
// acknowledged in the last ~35 ms. The checker must count exactly the writes
// the servers say are missing.
func TestCheckerMatchesGroundTruthAfterPrimaryCrash(t *testing.T) {
	dir, tgt := labtest.Start(t)
	ctx := context.Background()
	l := ledger.Open(dir)
	sdir := filepath.Join(t.TempDir(), "region-crash")
	s, err := Start(ctx, tgt, Options{Dir: sdir, Run: "test", Name: "region-crash", Ledger: l,
		Workload: workload.Config{Rate: 200, Writers: 4}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	h, err := s.Inject(ctx, "region-crash", fault.Params{})
	if err != nil {
		t.Fatal(err)
	}
	waitPrimary(t, tgt, "us-west-2", 10*time.Second)
	time.Sleep(3 * time.Second) // let writes succeed for more than the stability window
	if err := s.FinalRead(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(ctx, h); err != nil {
		t.Fatal(err)
	}
	res, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checker: %s; detect %v ms, promote %v ms", res.Summary(), deref(res.RTO.DetectMs), deref(res.RTO.PromoteMs))
	truth := groundTruthLost(t, filepath.Join(sdir, HistoryFile), tgt, "us-west-2", s.first, 4)
	if truth == 0 {
		// With 35 ms of replication latency and a write every 5 ms a crash
		// always strands some acknowledged writes; if it did not, comparing
		// counts would pass for a checker that always says 0.
		t.Fatalf("the servers show no lost write: the crash did not exercise the checker (checker: %s)", res.Summary())
	}
	if !res.RPO.Judged || res.RPO.LostWrites != truth {
		t.Fatalf("checker says %d lost writes, the servers say %d", res.RPO.LostWrites, truth)
	}
	if !res.RTO.Recovered || res.RTO.DetectMs == nil || res.RTO.PromoteMs == nil {
		t.Fatalf("RTO %+v: expected a detected, promoted, recovered outage", res.RTO)
	}
	// The RTO against bounds the checker does not compute: no write can be
	// acknowledged on the new primary before the controller promoted it or
	// before the first row that server committed (both straight from the
	// target); and the first write acknowledged after the last failed one
	// (from the raw history lines) began a clean window.
	lo, hi := groundTruthRTO(t, filepath.Join(sdir, HistoryFile), tgt, "us-west-2", s.first, 4)
	t.Logf("RTO %.1f ms; from the servers and the raw history it lies in [%.1f, %.1f] ms", res.RTO.Ms, lo, hi)
	if res.RTO.Ms < lo-clockSlackMs || res.RTO.Ms > hi {
		t.Fatalf("RTO %.1f ms is outside [%.1f, %.1f] ms: the new primary's first commit or its promotion, and the first acknowledgement after the last failed write", res.RTO.Ms, lo, hi)
	}
	if res.UnexpectedCount != 0 || res.DuplicateRows != 0 || res.DuplicateOps != 0 {
		t.Fatalf("anomalies: unexpected %d, duplicate rows %d, duplicate ops %d", res.UnexpectedCount, res.DuplicateRows, res.DuplicateOps)
	}
	if did, err := fault.Recover(ctx, tgt, l); err != nil {
		t.Fatalf("recover: %v (%v)", err, did)
	}
	if a, _ := l.Active(); len(a) != 0 {
		t.Fatalf("faults left in the ledger: %+v", a)
	}
}

// clockSlackMs: the servers' commit times are wall-clock, the history's
// monotonic from a wall-clock start; on one machine they agree to well
// under this.
const clockSlackMs = 5

// groundTruthRTO bounds the RTO without the checker: from below by the
// later of the controller's promotion of region and the first row its
// server committed (no write after the outage could be acknowledged
// anywhere else), from above by the first acknowledgement of a write
// invoked after the last failed one (nothing failed in its window).
func groundTruthRTO(t *testing.T, historyPath string, tgt target.Target, region string, first, writers int) (lo, hi float64) {
	t.Helper()
	f, err := os.Open(historyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var start, fault int64 = 0, -1
	type op struct{ i, c int64 }
	var ok []op
	var lastFail int64 = -1
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	for _, b := range lines {
		var l struct {
			T      string `json:"t"`
			Start  int64  `json:"start_wall_ns"`
			At     int64  `json:"at"`
			Source string `json:"source"`
			Kind   string `json:"kind"`
		}
		if json.Unmarshal(b, &l) == nil && l.T == "meta" {
			start = l.Start
		}
		if l.T == "event" && l.Source == "fault" && l.Kind == "inject" && fault < 0 {
			fault = l.At
		}
	}
	for _, b := range lines {
		var l struct {
			T string `json:"t"`
			I int64  `json:"i"`
			C int64  `json:"c"`
			R string `json:"r"`
		}
		if json.Unmarshal(b, &l) != nil || l.T != "op" || l.I < fault {
			continue
		}
		if l.R == "ok" {
			ok = append(ok, op{l.I, l.C})
		} else {
			lastFail = max(lastFail, l.I)
		}
	}
	var promoted int64
	ev, err := tgt.Events(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev {
		if e.Kind == "promote" && e.Region == region {
			promoted = e.TimeNs - start
		}
	}
	db, err := tgt.Reader(region)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sid uint32
	var firstCommit string
	if err := db.QueryRow("SELECT @@server_id").Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT UNIX_TIMESTAMP(MIN(committed_at)) FROM writes WHERE writer >= ? AND writer < ? AND origin_server_id = ?", first, first+writers, sid).Scan(&firstCommit); err != nil {
		t.Fatal(err)
	}
	committed := parseUnixDecimal(firstCommit) - start
	after := int64(-1)
	for _, o := range ok {
		if o.i > lastFail && (after < 0 || o.c < after) {
			after = o.c
		}
	}
	if fault < 0 || promoted == 0 || after < 0 {
		t.Fatalf("no ground truth: fault %d, promotion %d, first acknowledgement after the last failure %d", fault, promoted, after)
	}
	return float64(max(promoted, committed)-fault) / 1e6, float64(after-fault) / 1e6
}

type rowKey struct {
	w int
	s int64
}

// serverRows reads a region's rows straight from its server.
func serverRows(t *testing.T, tgt target.Target, region string, first, writers int) map[rowKey]bool {
	t.Helper()
	db, err := tgt.Reader(region)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT writer, seq FROM writes WHERE writer >= ? AND writer < ?", first, first+writers)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[rowKey]bool{}
	for rows.Next() {
		var k rowKey
		if err := rows.Scan(&k.w, &k.s); err != nil {
			t.Fatal(err)
		}
		out[k] = true
	}
	return out
}

// groundTruthReads recounts, from the raw history lines and the servers'
// own contents (read before anything heals), what the read checks must
// find: rows some reader returned that the new primary does not hold
// (vanished), and reads of the demoted region after the promotion that
// lacked an acknowledged write its server does not hold (stale). Every
// acknowledged write lies in what a read asks for (its seq was scheduled
// before the read began), so coverage needs no recount.
func groundTruthReads(t *testing.T, historyPath, demoted string, promotedWallNs int64, demotedRows, primaryRows map[rowKey]bool) (vanished, stale int) {
	t.Helper()
	f, err := os.Open(historyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	type line struct {
		T     string  `json:"t"`
		Start int64   `json:"start_wall_ns"`
		W     int     `json:"w"`
		S     int64   `json:"s"`
		C     int64   `json:"c"`
		I     int64   `json:"i"`
		R     string  `json:"r"`
		G     string  `json:"g"`
		V     []int64 `json:"v"`
	}
	var start int64
	var acked []line
	var reads []line
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var l line
		if json.Unmarshal(sc.Bytes(), &l) != nil {
			continue
		}
		switch {
		case l.T == "meta":
			start = l.Start
		case l.T == "op" && l.R == "ok":
			acked = append(acked, l)
		case l.T == "read" && l.R == "ok":
			reads = append(reads, l)
		}
	}
	gone := map[rowKey]bool{}
	for _, rd := range reads {
		for i := 0; i+2 < len(rd.V); i += 3 {
			for s := rd.V[i+1]; s <= rd.V[i+2]; s++ {
				if k := (rowKey{int(rd.V[i]), s}); !primaryRows[k] {
					gone[k] = true
				}
			}
		}
	}
	promoted := promotedWallNs - start
	for _, rd := range reads {
		if rd.G != demoted || rd.I < promoted {
			continue
		}
		for _, op := range acked {
			if op.C < rd.I && !demotedRows[rowKey{op.W, op.S}] {
				stale++
				break
			}
		}
	}
	return len(gone), stale
}

func deref(p *float64) float64 {
	if p == nil {
		return -1
	}
	return *p
}

// Split brain on the lab: a partition, the controller paused (nobody
// fences), and a failover without fencing. Pooled connections keep
// committing on the old primary after the promotion: zombie writes. The
// checker's count must equal the count read straight from the old primary.
// Readers in the old primary's region see those writes, which the new
// primary never has (vanished reads), and keep reading the old primary
// while new connections commit on the new one (stale reads): both counts
// must equal what the two servers' contents imply.
func TestCheckerFindsExactlyTheZombieWrites(t *testing.T) {
	dir, tgt := labtest.Start(t)
	ctx := context.Background()
	l := ledger.Open(dir)
	sdir := filepath.Join(t.TempDir(), "split-brain")
	// Connections live 300 ms: after the promotion new ones reach the new
	// primary while older ones still commit on the old one.
	s, err := Start(ctx, tgt, Options{Dir: sdir, Run: "test", Name: "split-brain", Ledger: l,
		Workload: workload.Config{Rate: 200, Writers: 4, ConnMaxLifetime: 300 * time.Millisecond}, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	for _, f := range []struct {
		name string
		p    fault.Params
	}{{"monitor-failure", nil}, {"partition", nil}, {"unplanned-failover", fault.Params{"region": "us-west-2", "no_fence": "true"}}} {
		if _, err := s.Inject(ctx, f.name, f.p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(1500 * time.Millisecond)
	if err := s.FinalRead(ctx); err != nil {
		t.Fatal(err)
	}
	// Ground truth, straight from the old primary: rows it accepted after
	// the promotion instant, read before anything is rolled back.
	var promotedAt int64
	var oldServer uint32
	ev, _ := tgt.Events(ctx, 0)
	for _, e := range ev {
		if e.Kind == "promote" && e.Region == "us-west-2" {
			promotedAt = e.TimeNs
		}
	}
	db, err := tgt.Reader("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow("SELECT @@server_id").Scan(&oldServer); err != nil {
		t.Fatal(err)
	}
	var truth int
	if err := db.QueryRow("SELECT COUNT(*) FROM writes WHERE writer >= ? AND writer < ? AND origin_server_id = ? AND committed_at > FROM_UNIXTIME(? / 1e9)",
		s.first, s.first+4, oldServer, promotedAt).Scan(&truth); err != nil {
		t.Fatal(err)
	}
	oldRows := serverRows(t, tgt, "us-east-1", s.first, 4)
	newRows := serverRows(t, tgt, "us-west-2", s.first, 4)
	if err := s.RollbackAll(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := s.Finish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("checker: %s; zombies %d, ground truth %d; not judged: %v", res.Summary(), res.ZombieCount, truth, res.NotJudged)
	if truth == 0 {
		t.Fatal("no zombie write happened: the scenario did not create a split brain")
	}
	if res.ZombieCount != truth {
		t.Fatalf("checker found %d zombie writes, the old primary holds %d", res.ZombieCount, truth)
	}
	vanished, stale := groundTruthReads(t, filepath.Join(sdir, HistoryFile), "us-east-1", promotedAt, oldRows, newRows)
	t.Logf("reads: %s; ground truth: %d vanished, %d stale", res.Reads.Summary(), vanished, stale)
	if vanished == 0 || stale == 0 {
		t.Fatalf("ground truth has %d vanished and %d stale reads: the split brain did not exercise the read checks", vanished, stale)
	}
	if res.Reads.Vanished != vanished || res.Reads.StaleAfterPromotion != stale {
		t.Fatalf("checker: %d vanished, %d stale reads; the servers say %d and %d", res.Reads.Vanished, res.Reads.StaleAfterPromotion, vanished, stale)
	}
	if did, err := fault.Recover(ctx, tgt, l); err != nil {
		t.Fatalf("recover: %v (%v)", err, did)
	}
}
