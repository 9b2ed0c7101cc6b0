package workload

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/history"
)

// failingConn is a driver connection whose every statement ends with err,
// after the statement was handed to it — what a session killed by the
// fence, or a connection lost after COMMIT, looks like to the workload.
type failingConn struct{ err error }

func (c failingConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not used") }
func (c failingConn) Close() error                        { return nil }
func (c failingConn) Begin() (driver.Tx, error)           { return nil, errors.New("not used") }
func (c failingConn) ExecContext(context.Context, string, []driver.NamedValue) (driver.Result, error) {
	return nil, c.err
}

type failingConnector struct{ err error }

func (f failingConnector) Connect(context.Context) (driver.Conn, error) { return failingConn(f), nil }
func (f failingConnector) Driver() driver.Driver                        { return nil }

// #23 item 5, through the workload's own write path: an error after the
// statement was handed to the driver is unknown unless the server refused
// the write. Before, a killed session (1927) and the driver's ErrBadConn
// were recorded as fail — a write that may have been applied, called
// certainly not.
func TestErrorsAfterSendingAreUnknown(t *testing.T) {
	rec, err := history.Create(filepath.Join(t.TempDir(), "h.jsonl"), history.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	for _, c := range []struct {
		err  error
		want history.Outcome
	}{
		{&mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, history.Info},
		{driver.ErrBadConn, history.Info},
		{mysql.ErrInvalidConn, history.Info},
		{&mysql.MySQLError{Number: 1290, Message: "read-only"}, history.Fail},
	} {
		db := sql.OpenDB(failingConnector{c.err})
		w := &Workload{db: db, rec: rec, cfg: Config{Timeout: time.Second, MaxInFlight: 1}}
		if op := w.do(1, 1); op.Outcome != c.want || op.Err == "" {
			t.Errorf("%v: recorded %v (%q), want %v", c.err, op.Outcome, op.Err, c.want)
		}
		db.Close()
	}
}
