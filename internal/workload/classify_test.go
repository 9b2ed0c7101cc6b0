package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

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
