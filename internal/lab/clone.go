package lab

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"
)

// cloneBatch is how many rows one INSERT carries.
const cloneBatch = 1000

// cloneFrom copies the drdrill schema from src (the primary) into dst (a
// fresh server from the template) at one consistent snapshot, and makes
// dst's GTID state that snapshot's position, so that replicating from src
// with MASTER_USE_GTID=slave_pos continues exactly after it.
//
// A re-seed used to replay the primary's whole binlog into the fresh
// server; that grows with every scenario, and at 1,000 writes/s through
// REPEAT runs the replica fell seconds behind. A copy costs one pass over
// the rows, whatever the history. It is what mariadb-dump
// --single-transaction --gtid does, without the binary.
func cloneFrom(ctx context.Context, src, dst *sql.DB) (pos string, err error) {
	sc, err := src.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer discard(sc)
	dc, err := dst.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer discard(dc)
	for _, s := range []string{"SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", "START TRANSACTION WITH CONSISTENT SNAPSHOT"} {
		if _, err := sc.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("source: %s: %w", s, err)
		}
	}
	// The binlog coordinates of the snapshot (MariaDB keeps them for a
	// transaction started WITH CONSISTENT SNAPSHOT), as a GTID position.
	var file string
	var off int64
	if err := sc.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'BINLOG_SNAPSHOT_FILE'").Scan(&file); err != nil {
		return "", fmt.Errorf("source: snapshot binlog file: %w", err)
	}
	if err := sc.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'BINLOG_SNAPSHOT_POSITION'").Scan(&off); err != nil {
		return "", fmt.Errorf("source: snapshot binlog position: %w", err)
	}
	var gp sql.NullString
	if err := sc.QueryRowContext(ctx, "SELECT BINLOG_GTID_POS(?, ?)", file, off).Scan(&gp); err != nil || !gp.Valid {
		return "", fmt.Errorf("source: GTID position of %s:%d: %v", file, off, err)
	}
	pos = gp.String

	// The copy is not binlogged on dst: its GTID history is the source's,
	// set below, never transactions of its own.
	if _, err := dc.ExecContext(ctx, "SET SESSION sql_log_bin = 0"); err != nil {
		return "", err
	}
	for _, s := range Schema {
		if _, err := dc.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("target: schema: %w", err)
		}
	}
	tables, err := sc.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'drdrill' AND table_type = 'BASE TABLE'")
	if err != nil {
		return "", fmt.Errorf("source: list tables: %w", err)
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			tables.Close()
			return "", err
		}
		names = append(names, n)
	}
	if err := tables.Err(); err != nil {
		return "", fmt.Errorf("source: list tables: %w", err)
	}
	tables.Close()
	for _, table := range names {
		if err := copyTable(ctx, sc, dc, table); err != nil {
			return "", err
		}
	}
	for _, s := range []string{"STOP SLAVE", "RESET SLAVE ALL", "RESET MASTER",
		fmt.Sprintf("SET GLOBAL gtid_binlog_state = '%s'", pos), fmt.Sprintf("SET GLOBAL gtid_slave_pos = '%s'", pos)} {
		if _, err := dc.ExecContext(ctx, s); err != nil {
			return "", fmt.Errorf("target: %s: %w", s, err)
		}
	}
	return pos, nil
}

// discard closes a connection instead of returning it to the pool: its
// session settings (sql_log_bin = 0, an open snapshot) must not leak into
// the next statement that borrows it — a probe written with sql_log_bin = 0
// never replicates.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}

// copyTable copies one drdrill table in batches of multi-row INSERTs.
func copyTable(ctx context.Context, sc, dc *sql.Conn, table string) error {
	rows, err := sc.QueryContext(ctx, "SELECT * FROM drdrill."+table)
	if err != nil {
		return fmt.Errorf("source: read %s: %w", table, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if _, err := dc.ExecContext(ctx, "DELETE FROM drdrill."+table); err != nil {
		return fmt.Errorf("target: clear %s: %w", table, err)
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(cols)), ",") + ")"
	var args []any
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		q := "INSERT INTO drdrill." + table + " VALUES " + strings.TrimSuffix(strings.Repeat(one+",", n), ",")
		if _, err := dc.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("target: copy %s: %w", table, err)
		}
		args, n = args[:0], 0
		return nil
	}
	for rows.Next() {
		vals := make([]sql.RawBytes, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		for _, v := range vals {
			if v == nil {
				args = append(args, nil)
			} else {
				args = append(args, string(v))
			}
		}
		if n++; n == cloneBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("source: read %s: %w", table, err)
	}
	return flush()
}
