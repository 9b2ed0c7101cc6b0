package lab

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/workload"
)

// startLab boots a real lab for a test, or skips when mariadbd is missing
// outside CI (in CI a missing server is a failure: `make test` installs it).
func startLab(t *testing.T, ctrl ControllerConfig) *Lab {
	t.Helper()
	bins, err := FindBinaries()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	tpl, err := EnsureTemplate(bins, CacheDir())
	if err != nil {
		t.Fatal(err)
	}
	// The lab's run directory lives on tmpfs (synced writes on disk make the
	// replica fall behind) inside this test's own parent directory, next to
	// the event log, and both go when the test ends.
	parent, err := os.MkdirTemp(shmOrTemp(), "drdrill-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(parent) })
	runDir := filepath.Join(parent, "lab")
	ev, err := OpenEventLog(filepath.Join(parent, "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ev.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	l, err := Up(ctx, Config{RunDir: runDir, CrossRegionLatency: 35 * time.Millisecond, Controller: ctrl,
		Bins: bins, Template: tpl, Events: ev, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Down)
	return l
}

func shmOrTemp() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

func appDB(t *testing.T, l *Lab, addr string) *sql.DB {
	t.Helper()
	m := mysql.NewConfig()
	m.User, m.Passwd = l.cfg.Template.Creds.AppUser, l.cfg.Template.Creds.AppPassword
	m.Net, m.Addr, m.DBName = "tcp", addr, "drdrill"
	m.Timeout, m.ReadTimeout, m.WriteTimeout = 2*time.Second, 2*time.Second, 2*time.Second
	db, err := sql.Open("mysql", m.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func insert(ctx context.Context, db *sql.DB, writer, seq int) error {
	_, err := db.ExecContext(ctx, "INSERT INTO writes (writer, seq, invoked_ns, origin_server_id, committed_at) VALUES (?, ?, ?, @@server_id, NOW(6))", writer, seq, time.Now().UnixNano())
	return err
}

func waitRow(t *testing.T, db *sql.DB, writer, seq int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM writes WHERE writer = ? AND seq = ?", writer, seq).Scan(&n); err == nil && n == 1 {
			return time.Since(start)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("row (%d,%d) not visible within %v", writer, seq, within)
	return 0
}

func endpoint(l *Lab, region string) string {
	r, _ := l.region(region)
	return r.client.Addr()
}

func TestWriteThroughWriterEndpointReachesSecondary(t *testing.T) {
	l := startLab(t, DefaultControllerConfig())
	ctx := context.Background()
	w := appDB(t, l, l.WriterAddr())
	if err := insert(ctx, w, 1, 1); err != nil {
		t.Fatal(err)
	}
	took := waitRow(t, appDB(t, l, endpoint(l, SecondaryRegion)), 1, 1, time.Second)
	t.Logf("write visible in %s after %v", SecondaryRegion, took)
	st := l.Status(ctx)
	if !st.Healthy || st.Primary != PrimaryRegion || st.Regions[0].Role != RolePrimary || st.Regions[1].Role != RoleSecondary {
		t.Fatalf("status after up: %+v", st)
	}
	if !st.Regions[0].Writable || st.Regions[1].Writable {
		t.Fatalf("writability: primary %v secondary %v", st.Regions[0].Writable, st.Regions[1].Writable)
	}
}

func TestPromotionMovesWriterAndFencedOldPrimaryRejectsApp(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: true})
	ctx := context.Background()
	oldPrimary := appDB(t, l, endpoint(l, PrimaryRegion))
	if err := insert(ctx, oldPrimary, 1, 1); err != nil {
		t.Fatal(err)
	}
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Switchover}); err != nil {
		t.Fatal(err)
	}
	if l.Primary() != SecondaryRegion {
		t.Fatalf("primary is %s after promotion", l.Primary())
	}
	var sid int
	w := appDB(t, l, l.WriterAddr())
	if err := w.QueryRow("SELECT @@server_id").Scan(&sid); err != nil {
		t.Fatal(err)
	}
	if want := l.regions[1].server.Config().ServerID; sid != want {
		t.Fatalf("writer endpoint reaches server_id %d, want %s's %d", sid, SecondaryRegion, want)
	}
	if err := insert(ctx, w, 1, 2); err != nil {
		t.Fatalf("write on new primary: %v", err)
	}
	err := insert(ctx, appDB(t, l, endpoint(l, PrimaryRegion)), 1, 3)
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1290 {
		t.Fatalf("write on fenced old primary returned %v, want error 1290 (read-only)", err)
	}
	// The old primary now replicates from the new one: switchover, RPO 0.
	waitRow(t, appDB(t, l, endpoint(l, PrimaryRegion)), 1, 2, 2*time.Second)
	if st := l.Status(ctx); !st.Healthy {
		t.Fatalf("not healthy after switchover: %+v", st)
	}
}

func TestCrashedPrimaryFailsOverAutomatically(t *testing.T) {
	l := startLab(t, DefaultControllerConfig())
	ctx := context.Background()
	for _, name := range []string{"client-" + PrimaryRegion, "repl-" + PrimaryRegion, "repl-" + SecondaryRegion} {
		b := true
		if err := l.SetLink(name, LinkFaults{Blackhole: &b}); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := l.Kill(PrimaryRegion); err != nil {
		t.Fatal(err)
	}
	for l.Primary() != SecondaryRegion {
		if time.Since(start) > 10*time.Second {
			t.Fatal("no automatic failover within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("failover after %v", time.Since(start))
	did, err := l.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recover: %v", did)
	st := l.Status(ctx)
	if !st.Healthy || st.Primary != SecondaryRegion {
		b, _ := fmt.Printf("%+v", st)
		t.Fatalf("after recover: healthy=%v primary=%s %d", st.Healthy, st.Primary, b)
	}
	if did, err := l.Recover(ctx); err != nil || len(did) != 0 {
		t.Fatalf("second recover did %v, %v; want nothing (idempotent)", did, err)
	}
}

// A partition, a failover without fencing and a write on the old primary
// leave diverged GTID histories; recovery must detect that and re-seed, and
// the zombie write must be gone from both regions afterwards.
func TestDivergedOldPrimaryIsReseeded(t *testing.T) {
	l := startLab(t, DefaultControllerConfig())
	ctx := context.Background()
	l.PauseController(true) // no automatic fencing: the zombie write must land
	b := true
	for _, name := range []string{"repl-" + PrimaryRegion, "repl-" + SecondaryRegion} {
		if err := l.SetLink(name, LinkFaults{Blackhole: &b}); err != nil {
			t.Fatal(err)
		}
	}
	old := appDB(t, l, endpoint(l, PrimaryRegion))
	if err := insert(ctx, old, 7, 1); err != nil { // an established session on the old primary
		t.Fatal(err)
	}
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Failover, NoFence: true}); err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, old, 7, 2); err != nil {
		t.Fatalf("zombie write on unfenced old primary should succeed: %v", err)
	}
	did, err := l.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("recover: %v", did)
	var sawDiverged bool
	for _, e := range l.cfg.Events.Since(0) {
		sawDiverged = sawDiverged || e.Kind == "diverged"
	}
	if !sawDiverged {
		t.Fatal("divergence was not detected")
	}
	// A re-seed waits for its catch-up and says so itself.
	if got := strings.Join(syncKinds(l, 0, PrimaryRegion), ", "); !strings.HasSuffix(got, "reseed, in-sync") {
		t.Fatalf("%s's events: %s; want the re-seed followed by in-sync", PrimaryRegion, got)
	}
	if st := l.Status(ctx); !st.Healthy || st.Primary != SecondaryRegion {
		t.Fatalf("not healthy after recover: %+v", st)
	}
	for _, region := range []string{PrimaryRegion, SecondaryRegion} {
		var n int
		if err := appDB(t, l, endpoint(l, region)).QueryRow("SELECT COUNT(*) FROM writes WHERE writer = 7 AND seq = 2").Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: zombie row count %d (%v), want 0 after re-seed", region, n, err)
		}
	}
}

func TestSameOrigin(t *testing.T) {
	cases := []struct {
		have, want string
		ok         bool
	}{
		{"0-20001-9", "0-20001-7", true},
		{"0-20001-7", "0-20001-7", true},
		{"0-10001-7", "0-20001-7", false}, // same seq, other server: a zombie, not the primary's write
		{"0-20001-6", "0-20001-7", false},
		{"", "0-20001-7", false},
		{"0-1-5,1-2-3", "0-1-5", true},
		{"0-1-5", "", true},
	}
	for _, c := range cases {
		if got := sameOrigin(c.have, c.want); got != c.ok {
			t.Errorf("sameOrigin(%q, %q) = %v", c.have, c.want, got)
		}
	}
}

func TestDivergedFrom(t *testing.T) {
	cases := []struct {
		have, primary string
		diverged      bool
	}{
		{"0-10001-7", "0-10001-6", true},  // ahead: a zombie the new primary never had
		{"0-10001-7", "0-20001-7", true},  // level, another server's transaction
		{"0-10001-6", "0-20001-9", false}, // behind: replication decides (1236 if the 6 differs)
		{"0-10001-6", "0-10001-6", false},
		{"", "0-20001-3", false}, // fresh copy
		{"0-20001-9", "0-20001-12", false},
	}
	for _, c := range cases {
		if got := divergedFrom(c.have, c.primary); got != c.diverged {
			t.Errorf("divergedFrom(%q, %q) = %v", c.have, c.primary, got)
		}
	}
}

func TestUnknownTo(t *testing.T) {
	cases := []struct {
		have, state string
		unknown     bool
	}{
		// A crashed old primary: its last writes 4986..5000 never replicated.
		{"0-10001-5000", "0-1-8,0-10001-4985,0-20001-5100", true},
		{"0-10001-4985", "0-1-8,0-10001-4985,0-20001-5100", false}, // caught up before the crash
		{"0-10002-12", "0-1-8,0-10001-4985,0-20001-5100", true},    // an incarnation the primary never heard from
		{"0-20001-5000", "0-1-8,0-10001-4985,0-20001-5100", false}, // a former replica, behind
		{"", "0-20001-3", false},
	}
	for _, c := range cases {
		if got := unknownTo(c.have, c.state); got != c.unknown {
			t.Errorf("unknownTo(%q, %q) = %v", c.have, c.state, got)
		}
	}
}

// A catch-up longer than the admin connection's 10 s read timeout (a
// re-seed replaying a long history at 1,000 writes/s) must be waited out,
// not fail as "invalid connection".
func TestWaitGTIDOutlastsTheReadTimeout(t *testing.T) {
	ctrl := DefaultControllerConfig()
	ctrl.AutoFailover = false
	l := startLab(t, ctrl)
	ctx := context.Background()
	sec, err := l.region(SecondaryRegion)
	if err != nil {
		t.Fatal(err)
	}
	pri := l.other(sec)
	if _, err := sec.server.Admin().ExecContext(ctx, "STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	if err := insert(ctx, appDB(t, l, l.WriterAddr()), 1, 1); err != nil {
		t.Fatal(err)
	}
	g, err := gtids(ctx, pri.server.Admin())
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(11 * time.Second)
		_, _ = sec.server.Admin().ExecContext(context.Background(), "START SLAVE SQL_THREAD")
	}()
	start := time.Now()
	if err := waitGTID(ctx, sec.server.Admin(), g.Binlog, 30*time.Second); err != nil {
		t.Fatalf("waited %v: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if took := time.Since(start); took < 10*time.Second {
		t.Fatalf("caught up after %v although the SQL thread was stopped for 11 s", took)
	}
}

// The controller plays the failover trigger in the secondary region: with
// the cross-region control path cut, its fence cannot reach the old
// primary, whose established sessions keep committing; once the path is
// restored, the controller fences it on its next check.
func TestFenceDoesNotCrossACutControlPath(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	old := appDB(t, l, endpoint(l, PrimaryRegion))
	if err := insert(ctx, old, 8, 1); err != nil {
		t.Fatal(err)
	}
	l.SetControlPath(true)
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Failover}); err != nil {
		t.Fatal(err)
	}
	var fenceFailed bool
	for _, e := range l.cfg.Events.Since(0) {
		fenceFailed = fenceFailed || (e.Kind == "fence-failed" && e.Region == PrimaryRegion && strings.Contains(e.Detail, "control path"))
	}
	if !fenceFailed {
		t.Fatalf("no fence-failed event naming the control path: %+v", l.cfg.Events.Since(0))
	}
	if err := insert(ctx, old, 8, 2); err != nil {
		t.Fatalf("the unfenced old primary refused a write: %v", err)
	}
	l.SetControlPath(false)
	deadline := time.Now().Add(5 * time.Second)
	for {
		ro, err := readOnly(ctx, l.regions[0])
		if err == nil && ro {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old primary was not fenced within 5 s of the control path's return (read_only %v, %v)", ro, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if did, err := l.Recover(ctx); err != nil {
		t.Fatalf("recover: %v (%v)", err, did)
	}
}

// binlogBytes is the total size of a server's binary logs.
func binlogBytes(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	rows, err := db.Query("SHOW BINARY LOGS")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var total int64
	for rows.Next() {
		var name string
		var size int64
		dest := []any{&name, &size}
		for len(dest) < len(cols) {
			dest = append(dest, new(sql.RawBytes))
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		total += size
	}
	return total
}

// A re-seed copies the primary's rows at a snapshot instead of replaying
// its binlog (which grows with every drill): the fresh server holds every
// row, its own binlog holds only what came after the snapshot, and GTID
// replication carries on both ways through later switchovers.
func TestReseedCopiesTheDataAndReplicatesOnward(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	w := appDB(t, l, l.writer.Addr())
	for i := 0; i < 40; i++ { // 2,000 rows
		vals := make([]string, 0, 50)
		for j := 0; j < 50; j++ {
			vals = append(vals, fmt.Sprintf("(9, %d, 0, @@server_id, NOW(6))", i*50+j+1))
		}
		if _, err := w.ExecContext(ctx, "INSERT INTO writes (writer, seq, invoked_ns, origin_server_id, committed_at) VALUES "+strings.Join(vals, ",")); err != nil {
			t.Fatal(err)
		}
	}
	primaryLog := binlogBytes(t, l.regions[0].server.Admin())
	if err := l.Reseed(ctx, SecondaryRegion); err != nil {
		t.Fatal(err)
	}
	sec := l.regions[1].server.Admin()
	var n int
	if err := sec.QueryRow("SELECT COUNT(*) FROM drdrill.writes WHERE writer = 9").Scan(&n); err != nil || n != 2000 {
		t.Fatalf("re-seeded secondary holds %d of 2000 rows (%v)", n, err)
	}
	if got := binlogBytes(t, sec); got*2 > primaryLog {
		t.Fatalf("the re-seeded secondary's binlog is %d bytes against the primary's %d: it replayed the history instead of copying it", got, primaryLog)
	}
	for i, to := range []string{SecondaryRegion, PrimaryRegion} {
		if err := l.Promote(ctx, to, PromoteOptions{Mode: Switchover}); err != nil {
			t.Fatalf("switchover to %s after the re-seed: %v", to, err)
		}
		if err := insert(ctx, w, 10, i+1); err != nil {
			t.Fatal(err)
		}
		other := PrimaryRegion
		if to == PrimaryRegion {
			other = SecondaryRegion
		}
		waitRow(t, appDB(t, l, endpoint(l, other)), 10, i+1, 5*time.Second)
	}
	if st := l.Status(ctx); !st.Healthy {
		t.Fatalf("not healthy after re-seed and two switchovers: %+v", st)
	}
}

// A re-seed copies the primary's tablespaces while writes go on: the
// GTID position taken under the copy's lock must be exactly the files'
// content, or the replica would apply a write twice (a duplicate key
// stops replication) or never (a row missing for good).
func TestReseedUnderWritesMissesAndRepeatsNothing(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	w := appDB(t, l, l.writer.Addr())
	stop := make(chan struct{})
	wrote := make(chan int)
	go func() {
		n := 0
		defer func() { wrote <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := insert(ctx, w, 12, n+1); err != nil {
				t.Errorf("write %d: %v", n+1, err)
				return
			}
			n++
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := l.Reseed(ctx, SecondaryRegion); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	n := <-wrote
	if err := l.waitReplicating(ctx, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	sum := func(db *sql.DB) (count int, seqs int64) {
		if err := db.QueryRow("SELECT COUNT(*), COALESCE(SUM(seq), 0) FROM drdrill.writes WHERE writer = 12").Scan(&count, &seqs); err != nil {
			t.Fatal(err)
		}
		return count, seqs
	}
	pc, ps := sum(l.regions[0].server.Admin())
	sc, ss := sum(l.regions[1].server.Admin())
	if pc != n || sc != pc || ss != ps {
		t.Fatalf("after a re-seed under writes: %d written, primary holds %d (seq sum %d), re-seeded secondary %d (seq sum %d)", n, pc, ps, sc, ss)
	}
	st, err := replicaStatus(ctx, l.regions[1].server.Admin())
	if err != nil || !st.Healthy() {
		t.Fatalf("re-seeded secondary's replication: %+v (%v)", st, err)
	}
	t.Logf("%d writes across the re-seed, every one on both servers once", n)
}

// A re-seeded server that later becomes the primary and crashes must keep
// every write it acknowledged: its imported tablespace goes through the
// crash recovery of a server with its own, younger redo log.
func TestReseededServerKeepsItsWritesThroughACrash(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	w := appDB(t, l, l.writer.Addr())
	for i := 0; i < 20; i++ { // history on the source: its LSN runs ahead of a fresh server's
		vals := make([]string, 0, 500)
		for j := 0; j < 500; j++ {
			vals = append(vals, fmt.Sprintf("(14, %d, 0, @@server_id, NOW(6))", i*500+j+1))
		}
		if _, err := w.ExecContext(ctx, "INSERT INTO writes (writer, seq, invoked_ns, origin_server_id, committed_at) VALUES "+strings.Join(vals, ",")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Reseed(ctx, SecondaryRegion); err != nil {
		t.Fatal(err)
	}
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Switchover}); err != nil {
		t.Fatal(err)
	}
	acked := 0
	for seq := 1; seq <= 300; seq++ {
		if err := insert(ctx, w, 15, seq); err != nil {
			t.Fatalf("write %d on the re-seeded primary: %v", seq, err)
		}
		acked++
	}
	if err := l.Kill(SecondaryRegion); err != nil {
		t.Fatal(err)
	}
	if err := l.Restart(ctx, SecondaryRegion); err != nil {
		t.Fatal(err)
	}
	var n, old int
	if err := l.regions[1].server.Admin().QueryRow("SELECT COUNT(*) FROM drdrill.writes WHERE writer = 15").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := l.regions[1].server.Admin().QueryRow("SELECT COUNT(*) FROM drdrill.writes WHERE writer = 14").Scan(&old); err != nil {
		t.Fatal(err)
	}
	if n != acked || old != 10000 {
		t.Fatalf("after a crash the re-seeded primary holds %d of %d acknowledged writes and %d of the 10000 copied rows", n, acked, old)
	}
}

// The copy's session settings must not leak: after a re-seed, a write on
// the re-seeded server's admin pool is binlogged and replicates as usual.
func TestReseedLeavesNoSessionSettingsBehind(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	if err := l.Reseed(ctx, SecondaryRegion); err != nil {
		t.Fatal(err)
	}
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Switchover}); err != nil {
		t.Fatal(err)
	}
	// Every connection of the pool the copy used, not just one.
	admin := l.regions[1].server.Admin()
	for i := 0; i < 4; i++ {
		var on int
		if err := admin.QueryRowContext(ctx, "SELECT @@session.sql_log_bin").Scan(&on); err != nil || on != 1 {
			t.Fatalf("admin session %d has sql_log_bin=%d (%v): the copy's setting leaked", i, on, err)
		}
	}
	if err := l.waitReplicating(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
}

// committed_at must be when the server built the row, not when the
// statement arrived: a write that waited (here for a table lock; during a
// promotion, across the read-only switch) must not carry a time from
// before the moment the server could take it, or the checker judges the
// new primary's first writes zombies.
func TestCommittedAtIsWhenTheServerTookTheWrite(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	lock, err := l.regions[0].server.Admin().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if _, err := lock.ExecContext(ctx, "LOCK TABLES drdrill.writes WRITE"); err != nil {
		t.Fatal(err)
	}
	app := appDB(t, l, endpoint(l, PrimaryRegion))
	done := make(chan error, 1)
	go func() {
		_, err := app.ExecContext(ctx, workload.Insert, 11, 1, time.Now().UnixNano())
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	unlocked := time.Now()
	if _, err := lock.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var ts string
	if err := app.QueryRowContext(ctx, "SELECT UNIX_TIMESTAMP(committed_at) FROM writes WHERE writer = 11 AND seq = 1").Scan(&ts); err != nil {
		t.Fatal(err)
	}
	sec, frac, _ := strings.Cut(ts, ".")
	s, _ := strconv.ParseInt(sec, 10, 64)
	us, _ := strconv.ParseInt((frac + "000000")[:6], 10, 64)
	committed := time.Unix(s, us*1000)
	if committed.Before(unlocked.Add(-time.Millisecond)) {
		t.Fatalf("committed_at %v is %v before the write could be taken (%v): it is the statement's arrival, not the row's", committed, unlocked.Sub(committed), unlocked)
	}
}

// Right after a switchover the old primary is still in the replication
// handshake with the new one (about a second over the 35 ms link). A
// Recover then must wait for it, not rejoin it and start the handshake
// again (which cost a drill's restore two seconds per failover).
func TestRecoverWaitsForAReplicaStillConnecting(t *testing.T) {
	l := startLab(t, DefaultControllerConfig())
	ctx := context.Background()
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Switchover}); err != nil {
		t.Fatal(err)
	}
	old, _ := l.region(PrimaryRegion)
	st, err := replicaStatus(ctx, old.server.Admin())
	if err != nil {
		t.Fatal(err)
	}
	if !st.Connecting() {
		t.Fatalf("the old primary should still be connecting right after the switchover (io=%s sql=%s, state %q)", st.IORunning, st.SQLRunning, st.IOState)
	}
	did, err := l.Recover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(did) != 0 {
		t.Fatalf("Recover on a lab whose replica was still connecting did %q, want nothing", did)
	}
	if st := l.Status(ctx); !st.Healthy {
		t.Fatalf("not healthy after Recover: %+v", st)
	}
}
