package workload

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/history"
)

// The Jepsen model rests on this: an error that proves the write was not
// applied is a fail; anything that leaves it unknown is info. Calling an
// unknown write failed would hide lost writes; calling a refused one
// unknown would inflate the info count.
func TestClassifyErrors(t *testing.T) {
	dialRefused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	readReset := &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	cases := []struct {
		name string
		err  error
		want history.Outcome
	}{
		{"server error: read-only", &mysql.MySQLError{Number: 1290, Message: "read-only"}, history.Fail},
		{"server error: duplicate key", &mysql.MySQLError{Number: 1062, Message: "Duplicate entry"}, history.Fail},
		{"server error wrapped", fmt.Errorf("insert: %w", &mysql.MySQLError{Number: 1213}), history.Fail},
		{"dial refused: nothing sent", dialRefused, history.Fail},
		{"dial refused wrapped", fmt.Errorf("connect: %w", dialRefused), history.Fail},
		{"timeout after sending", context.DeadlineExceeded, history.Info},
		{"connection reset while reading the reply", readReset, history.Info},
		{"connection closed mid-reply", io.ErrUnexpectedEOF, history.Info},
		{"driver: invalid connection", mysql.ErrInvalidConn, history.Info},
		// #23 item 5: a session the fence killed, or a statement ended from
		// outside, may have committed first.
		{"session killed by the fence", &mysql.MySQLError{Number: 1927, Message: "Connection was killed"}, history.Info},
		{"statement interrupted", &mysql.MySQLError{Number: 1317, Message: "Query execution was interrupted"}, history.Info},
		{"server shutting down", &mysql.MySQLError{Number: 1053, Message: "Server shutdown in progress"}, history.Info},
		{"max_statement_time exceeded", &mysql.MySQLError{Number: 1969}, history.Info},
		{"error during commit", &mysql.MySQLError{Number: 1180}, history.Info},
		{"lock wait timeout: rolled back", &mysql.MySQLError{Number: 1205}, history.Fail},
		{"driver: bad connection after the statement was handed over", driver.ErrBadConn, history.Info},
		{"bad connection wrapped", fmt.Errorf("exec: %w", driver.ErrBadConn), history.Info},
		{"anything else", errors.New("surprise"), history.Info},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %v, want %v", c.name, got, c.want)
		}
	}
	for n, want := range map[uint16]bool{1290: true, 1836: true, 1062: false} {
		if got := IsReadOnly(&mysql.MySQLError{Number: n}); got != want {
			t.Errorf("IsReadOnly(%d) = %v", n, got)
		}
	}
	if IsReadOnly(context.DeadlineExceeded) || IsReadOnly(nil) {
		t.Error("IsReadOnly of a non-MySQL error")
	}
}

func TestInFlightCoversRateTimesTimeout(t *testing.T) {
	for _, c := range []struct {
		rate float64
		want int
	}{{200, 200}, {1000, 1000}, {10, 64}, {5000, 1000}} {
		cfg := Config{Rate: c.rate}
		cfg.defaults()
		if cfg.MaxInFlight != c.want {
			t.Errorf("rate %g: MaxInFlight %d, want %d", c.rate, cfg.MaxInFlight, c.want)
		}
	}
}

// LastFailure is when a write last completed without success, fail or
// info alike: the drill's stability hold runs until the checker's window
// after it is in the history.
func TestLastFailureFollowsFailedAndUnknownWrites(t *testing.T) {
	rec, err := history.Create(filepath.Join(t.TempDir(), "h.jsonl"), history.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	w := &Workload{rec: rec, outcomes: newOutcomes(0, 1)}
	if !w.LastFailure().IsZero() {
		t.Fatal("a failure before any write")
	}
	w.record(history.Op{Writer: 0, Seq: 1, Outcome: history.OK})
	if !w.LastFailure().IsZero() {
		t.Fatal("a successful write counted as a failure")
	}
	for seq, out := range []history.Outcome{history.Fail, history.Info} {
		before := time.Now()
		w.record(history.Op{Writer: 0, Seq: int64(seq + 2), Outcome: out})
		if at := w.LastFailure(); at.Before(before) {
			t.Fatalf("after a %v write LastFailure is %v, before the write completed (%v)", out, at, before)
		}
	}
}
