// Package framework holds the helpers the drill suites share, so that specs
// read like a runbook: open the target, check the steady state, write and
// read through the endpoints.
package framework

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/internal/target"
)

// OutputsEnv names the outputs file the suites drill.
const OutputsEnv = "DRDRILL_OUTPUTS"

// OpenTarget opens the target named by $DRDRILL_OUTPUTS, failing the suite
// with a message that says how to run it otherwise.
func OpenTarget() target.Target {
	path := os.Getenv(OutputsEnv)
	if path == "" {
		// A plain `go test ./...` has no stack to drill: skip, and say how.
		Skip(fmt.Sprintf("$%s is not set: run the drill with `make drill`, or point it at a lab's flat-outputs.json (`drdrill lab up` prints it)", OutputsEnv))
	}
	t, err := target.Open(path)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(t.Close)
	return t
}

// DB opens a pool and closes it when the current node's scope ends.
func DB(open func() (*sql.DB, error)) *sql.DB {
	db, err := open()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close)
	return db
}

// ExpectSteadyState waits until the topology is healthy: both regions up,
// the secondary replicating, the writer endpoint writable.
func ExpectSteadyState(ctx context.Context, t target.Target, within time.Duration) target.Topology {
	var topo target.Topology
	Eventually(ctx, func(ctx context.Context) error {
		var err error
		topo, err = t.Topology(ctx)
		if err != nil {
			return err
		}
		if !topo.Healthy {
			return fmt.Errorf("not in steady state: %s", topo.Detail)
		}
		return nil
	}).WithTimeout(within).WithPolling(100 * time.Millisecond).Should(Succeed())
	return topo
}

// ProbeWrite inserts one uniquely keyed row through db and returns its key.
func ProbeWrite(ctx context.Context, db *sql.DB, writer int) (int64, error) {
	seq := time.Now().UnixNano()
	_, err := db.ExecContext(ctx, "INSERT INTO writes (writer, seq, invoked_ns, origin_server_id, committed_at) VALUES (?, ?, ?, @@server_id, SYSDATE(6))",
		writer, seq, seq)
	return seq, err
}

// RowVisible reports whether the row (writer, seq) exists in db.
func RowVisible(ctx context.Context, db *sql.DB, writer int, seq int64) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM writes WHERE writer = ? AND seq = ?", writer, seq).Scan(&n)
	return n == 1, err
}
