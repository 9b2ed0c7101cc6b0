package lab

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ReplicaStatus is the part of SHOW SLAVE STATUS the lab uses.
type ReplicaStatus struct {
	Configured      bool   `json:"configured"`
	IOState         string `json:"io_state,omitempty"`
	MasterPort      int    `json:"master_port,omitempty"`
	IORunning       string `json:"io_running,omitempty"`
	SQLRunning      string `json:"sql_running,omitempty"`
	LastIOErrno     int    `json:"last_io_errno,omitempty"`
	LastIOError     string `json:"last_io_error,omitempty"`
	LastSQLErrno    int    `json:"last_sql_errno,omitempty"`
	LastSQLError    string `json:"last_sql_error,omitempty"`
	GTIDIOPos       string `json:"gtid_io_pos,omitempty"`
	SecondsBehind   *int   `json:"seconds_behind_master,omitempty"`
	SQLRunningState string `json:"sql_running_state,omitempty"`
}

// Healthy reports whether both replication threads run without error.
func (r ReplicaStatus) Healthy() bool {
	return r.Configured && r.IORunning == "Yes" && r.SQLRunning == "Yes" && r.LastIOErrno == 0 && r.LastSQLErrno == 0
}

// Connecting reports a replica whose IO thread is still on its first
// attempt to connect and handshake with the master ("Connecting", then
// "Preparing" while it checks the master's version and settings): no
// error yet, the SQL thread running.
func (r ReplicaStatus) Connecting() bool {
	return r.Configured && (r.IORunning == "Connecting" || r.IORunning == "Preparing") && r.SQLRunning == "Yes" &&
		r.LastIOErrno == 0 && r.LastSQLErrno == 0
}

// waitConnected polls a connecting replica until it is healthy, stops
// connecting (an error) or within passes, and returns its last status.
func waitConnected(ctx context.Context, db *sql.DB, within time.Duration) ReplicaStatus {
	deadline := time.Now().Add(within)
	for {
		st, err := replicaStatus(ctx, db)
		if err != nil || !st.Connecting() || time.Now().After(deadline) {
			return st
		}
		select {
		case <-ctx.Done():
			return st
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Diverged reports the errors that mean this server holds transactions its
// master never had (GTID divergence): only a re-seed fixes that.
func (r ReplicaStatus) Diverged() bool {
	switch r.LastIOErrno {
	case 1236: // "could not find GTID state requested by slave in any binlog files"
		return true
	}
	switch r.LastSQLErrno {
	case 1950, 1951: // GTID strict mode: out-of-order sequence numbers
		return true
	}
	return false
}

func replicaStatus(ctx context.Context, db *sql.DB) (ReplicaStatus, error) {
	rows, err := db.QueryContext(ctx, "SHOW SLAVE STATUS")
	if err != nil {
		return ReplicaStatus{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return ReplicaStatus{}, err
	}
	if !rows.Next() {
		return ReplicaStatus{}, rows.Err()
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return ReplicaStatus{}, err
	}
	m := map[string]string{}
	for i, c := range cols {
		m[c] = vals[i].String
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	st := ReplicaStatus{Configured: true, IOState: m["Slave_IO_State"], MasterPort: atoi(m["Master_Port"]),
		IORunning: m["Slave_IO_Running"], SQLRunning: m["Slave_SQL_Running"],
		LastIOErrno: atoi(m["Last_IO_Errno"]), LastIOError: m["Last_IO_Error"],
		LastSQLErrno: atoi(m["Last_SQL_Errno"]), LastSQLError: m["Last_SQL_Error"],
		GTIDIOPos: m["Gtid_IO_Pos"], SQLRunningState: m["Slave_SQL_Running_State"]}
	if v := m["Seconds_Behind_Master"]; v != "" {
		n := atoi(v)
		st.SecondsBehind = &n
	}
	return st, nil
}

// Streaming reports that the master accepted the replica's start position
// and is sending events: a diverged start position is refused (1236) before
// the IO thread ever reaches this state.
func (r ReplicaStatus) Streaming() bool {
	return r.Healthy() && r.IOState == "Waiting for master to send event"
}

// gtid is one GTID of a MariaDB GTID list: domain-server-seq.
type gtid struct {
	domain, server string
	seq            int64
}

// parseGTIDs reads a GTID list ("0-10001-57,1-20001-3"), skipping empty
// or malformed parts.
func parseGTIDs(s string) []gtid {
	var out []gtid
	for _, part := range strings.Split(s, ",") {
		f := strings.Split(strings.TrimSpace(part), "-")
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseInt(f[2], 10, 64)
		out = append(out, gtid{f[0], f[1], n})
	}
	return out
}

// sameOrigin reports whether have ends, in every domain of want, with a
// transaction from the same server at a sequence number at least as high.
// MASTER_GTID_WAIT compares sequence numbers only, which a diverged replica
// can satisfy with a zombie transaction of its own.
func sameOrigin(have, want string) bool {
	h := map[string]gtid{}
	for _, g := range parseGTIDs(have) {
		h[g.domain] = g
	}
	for _, w := range parseGTIDs(want) {
		g, ok := h[w.domain]
		if !ok || g.seq < w.seq || (g.seq == w.seq && g.server != w.server) {
			return false
		}
	}
	return true
}

// divergedFrom reports whether a read-only server whose binlog ends at have
// holds a transaction the primary (binlog at primary) never had: it is ahead
// in some domain, or level with it under another server's id. The master
// does not refuse a replica that is merely ahead until it writes more.
func divergedFrom(have, primary string) bool {
	return strings.TrimSpace(have) != "" && !sameOrigin(primary, have)
}

// unknownTo reports whether a server at position have holds a transaction
// that a primary with binlog state state never had: the state keeps the
// last seq of every (domain, server) it logged, so a have GTID beyond it —
// or from a server it never logged — is one the primary lacks. That is the
// divergence of a crashed old primary whose last writes never replicated
// (its position is behind the primary's, so divergedFrom cannot see it),
// found without first waiting for replication to fail with error 1236. It
// may say "diverged" for a server that is not (a state reset by a re-seed
// forgets old server ids): that costs a re-seed, never data.
func unknownTo(have, state string) bool {
	last := map[[2]string]int64{}
	for _, g := range parseGTIDs(state) {
		last[[2]string{g.domain, g.server}] = g.seq
	}
	for _, g := range parseGTIDs(have) {
		if seen, ok := last[[2]string{g.domain, g.server}]; !ok || seen < g.seq {
			return true
		}
	}
	return false
}

// GTIDs are a server's GTID positions.
type GTIDs struct {
	Binlog  string `json:"gtid_binlog_pos"`
	Current string `json:"gtid_current_pos"`
	Slave   string `json:"gtid_slave_pos"`
}

func gtids(ctx context.Context, db *sql.DB) (GTIDs, error) {
	var g GTIDs
	err := db.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos, @@global.gtid_current_pos, @@global.gtid_slave_pos").Scan(&g.Binlog, &g.Current, &g.Slave)
	return g, err
}

func setReadOnly(ctx context.Context, db *sql.DB, on bool) error {
	v := "OFF"
	if on {
		v = "ON"
	}
	_, err := db.ExecContext(ctx, "SET GLOBAL read_only = "+v)
	return err
}

// killSessions closes every connection of user: after read_only is set,
// this is what stops an open application session from committing more.
func killSessions(ctx context.Context, db *sql.DB, user string) (int, error) {
	rows, err := db.QueryContext(ctx, "SELECT id FROM information_schema.processlist WHERE user = ?", user)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	n := 0
	for _, id := range ids {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err == nil {
			n++
		}
	}
	return n, nil
}

// replicateFrom points the server at a master address (always a link, so
// faults apply to replication) and starts both threads. With fromOwnBinlog
// the server resumes from everything in its own binlog (a former primary or a
// restarted server). MASTER_USE_GTID=current_pos cannot be used for that:
// every incarnation has a new server_id, and current_pos then falls back to
// the empty slave position and replays history from the start.
func replicateFrom(ctx context.Context, db *sql.DB, addr string, c Credentials, fromOwnBinlog bool) error {
	host, port, ok := strings.Cut(addr, ":")
	if !ok {
		return fmt.Errorf("bad master address %q", addr)
	}
	stmts := []string{"STOP SLAVE", "RESET SLAVE ALL"}
	if fromOwnBinlog {
		stmts = append(stmts, "SET GLOBAL gtid_slave_pos = @@global.gtid_binlog_pos")
	}
	stmts = append(stmts,
		fmt.Sprintf("CHANGE MASTER TO MASTER_HOST='%s', MASTER_PORT=%s, MASTER_USER='%s', MASTER_PASSWORD='%s', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
			host, port, c.ReplUser, c.ReplPassword),
		"START SLAVE")
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(s, " MASTER_PASSWORD", 2)[0], err)
		}
	}
	return nil
}

// drainRelay stops fetching from the master and waits until everything
// already received has been applied: the promoted server then holds every
// transaction that reached its region, and nothing more can arrive.
func drainRelay(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	if _, err := db.ExecContext(ctx, "STOP SLAVE IO_THREAD"); err != nil {
		return err
	}
	st, err := replicaStatus(ctx, db)
	if err != nil || !st.Configured || st.GTIDIOPos == "" {
		return err
	}
	var res sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", st.GTIDIOPos, timeout.Seconds()).Scan(&res); err != nil {
		return err
	}
	if !res.Valid || res.Int64 != 0 {
		return fmt.Errorf("relay log not applied within %v (SQL thread: %s %s)", timeout, st.SQLRunning, st.LastSQLError)
	}
	return nil
}

// waitGTID waits until the server has applied pos.
func waitGTID(ctx context.Context, db *sql.DB, pos string, timeout time.Duration) error {
	if pos == "" {
		return nil
	}
	// MASTER_GTID_WAIT blocks the connection: wait in slices shorter than
	// the admin connection's read timeout (10 s), or a catch-up that takes
	// longer (a re-seed replaying a long history) fails as "invalid
	// connection" instead of waiting out its timeout.
	deadline := time.Now().Add(timeout)
	for {
		slice := min(waitGTIDSlice, time.Until(deadline))
		if slice <= 0 {
			return fmt.Errorf("did not reach GTID %s within %v", pos, timeout)
		}
		var res sql.NullInt64
		if err := db.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, ?)", pos, slice.Seconds()).Scan(&res); err != nil {
			return err
		}
		if !res.Valid {
			return fmt.Errorf("GTID wait for %s: the server is not a replica (MASTER_GTID_WAIT returned NULL)", pos)
		}
		if res.Int64 == 0 {
			return nil
		}
	}
}

// waitGTIDSlice is one MASTER_GTID_WAIT call's timeout.
const waitGTIDSlice = 5 * time.Second

func becomePrimary(ctx context.Context, db *sql.DB) error {
	for _, s := range []string{"STOP SLAVE", "RESET SLAVE ALL", "SET GLOBAL read_only = OFF"} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

// Schema is what the lab creates on the first primary; it replicates.
var Schema = []string{
	"CREATE DATABASE IF NOT EXISTS drdrill",
	// One row per acknowledged-or-attempted write. origin_server_id and
	// committed_at are evaluated on the server that accepted the write and
	// travel with the row (ROW binlog), which is what lets the checker tell
	// which region accepted a write and when.
	`CREATE TABLE IF NOT EXISTS drdrill.writes (
		writer INT NOT NULL,
		seq BIGINT NOT NULL,
		invoked_ns BIGINT NOT NULL,
		origin_server_id INT UNSIGNED NOT NULL,
		committed_at DATETIME(6) NOT NULL,
		payload VARCHAR(64) NOT NULL DEFAULT '',
		PRIMARY KEY (writer, seq)
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS drdrill.heartbeat (
		id INT NOT NULL PRIMARY KEY,
		ts_ns BIGINT NOT NULL,
		origin_server_id INT UNSIGNED NOT NULL
	) ENGINE=InnoDB`,
	`CREATE TABLE IF NOT EXISTS drdrill.probe (
		id INT NOT NULL PRIMARY KEY,
		token VARCHAR(64) NOT NULL
	) ENGINE=InnoDB`,
}
