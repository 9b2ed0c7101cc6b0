package lab

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Clone is what a re-seed's copy cost, for its event and the benchmark.
type Clone struct {
	Tables int
	Bytes  int64
	// Locked is how long the source's drdrill tables were locked (its
	// writes waited): the flush and the file copy.
	Locked time.Duration
	// Import is how long the destination took to import the files, and
	// Restart to restart after it (see reseedLocked).
	Import, Restart time.Duration
}

func (c Clone) String() string {
	return fmt.Sprintf("%d tables, %.1f MB, source locked %v, import %v, restart %v", c.Tables, float64(c.Bytes)/1e6,
		c.Locked.Round(time.Millisecond), c.Import.Round(time.Millisecond), c.Restart.Round(time.Millisecond))
}

// cloneLockWait bounds the wait for the source's table locks: an
// application transaction left open on the primary must fail the re-seed
// with a message, not hang it (lock_wait_timeout defaults to a year).
const cloneLockWait = 10 * time.Second

// cloneFrom copies the drdrill schema from src (the primary) into dst (a
// fresh server from the template) physically, as InnoDB transportable
// tablespaces, and makes dst's GTID state the copy's position, so that
// replicating from src with MASTER_USE_GTID=slave_pos continues exactly
// after it.
//
// The source's tables are locked by FLUSH TABLES ... FOR EXPORT, which
// waits for every transaction on them to end (commit included, binlog and
// engine) and writes their pages out; the GTID position read under that
// lock is therefore exactly the files' content. The lock holds for the
// flush and a file copy on tmpfs (tens of milliseconds at a million rows),
// during which the primary's writes wait; the import happens after it.
//
// Re-seeding by replaying the primary's whole binlog grew with every
// scenario; copying rows with INSERTs at a snapshot grew with the table
// (about 5 µs a row: 3 s at 600,000 rows, the table a REPEAT=8 drill
// reaches, paid by every re-seed of every iteration). Copying the files
// costs a memory copy and a page pass at import.
func cloneFrom(ctx context.Context, src, dst *Server) (c Clone, err error) {
	sc, err := src.Admin().Conn(ctx)
	if err != nil {
		return c, err
	}
	defer discard(sc)
	dc, err := dst.Admin().Conn(ctx)
	if err != nil {
		return c, err
	}
	defer discard(dc)

	tables, err := drdrillTables(ctx, sc)
	if err != nil {
		return c, fmt.Errorf("source: %w", err)
	}
	if len(tables) == 0 {
		return c, fmt.Errorf("source: no drdrill tables to copy")
	}
	c.Tables = len(tables)
	// dst's tables are created as the source's exactly (the import checks
	// the definition against the .cfg) and emptied of their tablespace.
	// None of it is binlogged on dst: its GTID history is the source's,
	// set below, never transactions of its own.
	for _, s := range []string{"SET SESSION sql_log_bin = 0", "CREATE DATABASE IF NOT EXISTS drdrill"} {
		if _, err := dc.ExecContext(ctx, s); err != nil {
			return c, fmt.Errorf("destination: %s: %w", s, err)
		}
	}
	for _, t := range tables {
		var name, create string
		if err := sc.QueryRowContext(ctx, "SHOW CREATE TABLE drdrill."+t).Scan(&name, &create); err != nil {
			return c, fmt.Errorf("source: SHOW CREATE TABLE %s: %w", t, err)
		}
		for _, s := range []string{"DROP TABLE IF EXISTS drdrill." + t, "USE drdrill", create, "ALTER TABLE drdrill." + t + " DISCARD TABLESPACE"} {
			if _, err := dc.ExecContext(ctx, s); err != nil {
				return c, fmt.Errorf("destination: %s: %w", firstLine(s), err)
			}
		}
	}

	// The lock is taken by this session and held until UNLOCK TABLES or
	// the session ends (discard closes it on every error path).
	list := "drdrill." + strings.Join(tables, ", drdrill.")
	for _, s := range []string{"SET SESSION sql_log_bin = 0", fmt.Sprintf("SET SESSION lock_wait_timeout = %d", int(cloneLockWait.Seconds()))} {
		if _, err := sc.ExecContext(ctx, s); err != nil {
			return c, fmt.Errorf("source: %s: %w", s, err)
		}
	}
	locked := time.Now()
	if _, err := sc.ExecContext(ctx, "FLUSH TABLES "+list+" FOR EXPORT"); err != nil {
		return c, fmt.Errorf("source: FLUSH TABLES %s FOR EXPORT (an open transaction on the primary holds them?): %w", list, err)
	}
	var pos string
	if err := sc.QueryRowContext(ctx, "SELECT @@global.gtid_binlog_pos").Scan(&pos); err != nil {
		return c, fmt.Errorf("source: GTID position: %w", err)
	}
	srcDir, dstDir := filepath.Join(src.DataDir(), "drdrill"), filepath.Join(dst.DataDir(), "drdrill")
	for _, t := range tables {
		for _, ext := range []string{".ibd", ".cfg"} {
			n, err := copyFile(filepath.Join(srcDir, t+ext), filepath.Join(dstDir, t+ext))
			if err != nil {
				return c, fmt.Errorf("copy %s%s: %w", t, ext, err)
			}
			c.Bytes += n
		}
	}
	if _, err := sc.ExecContext(ctx, "UNLOCK TABLES"); err != nil {
		return c, fmt.Errorf("source: UNLOCK TABLES: %w", err)
	}
	c.Locked = time.Since(locked)

	imported := time.Now()
	for _, t := range tables {
		if _, err := dc.ExecContext(ctx, "ALTER TABLE drdrill."+t+" IMPORT TABLESPACE"); err != nil {
			return c, fmt.Errorf("destination: import %s: %w", t, err)
		}
		_ = os.Remove(filepath.Join(dstDir, t+".cfg"))
	}
	c.Import = time.Since(imported)
	for _, s := range []string{"STOP SLAVE", "RESET SLAVE ALL", "RESET MASTER",
		fmt.Sprintf("SET GLOBAL gtid_binlog_state = '%s'", pos), fmt.Sprintf("SET GLOBAL gtid_slave_pos = '%s'", pos)} {
		if _, err := dc.ExecContext(ctx, s); err != nil {
			return c, fmt.Errorf("destination: %s: %w", s, err)
		}
	}
	return c, nil
}

// drdrillTables lists the drdrill schema's base tables.
func drdrillTables(ctx context.Context, c *sql.Conn) ([]string, error) {
	rows, err := c.QueryContext(ctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'drdrill' AND table_type = 'BASE TABLE' ORDER BY table_name")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// copyFile copies src to dst (created or truncated), returning the bytes
// copied; io.Copy between files uses copy_file_range, in the kernel.
func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o660)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// discard closes a connection instead of returning it to the pool: its
// session settings (sql_log_bin = 0, a table lock) must not leak into the
// next statement that borrows it — a probe written with sql_log_bin = 0
// never replicates.
func discard(c *sql.Conn) {
	_ = c.Raw(func(any) error { return driver.ErrBadConn })
	_ = c.Close()
}
