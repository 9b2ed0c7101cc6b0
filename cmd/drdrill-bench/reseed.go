package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/drdrill/drdrill/internal/target"
)

// reseedRows are the table sizes re-seed time is measured at: an empty
// lab, and about what a REPEAT=10 drill at 1,000 writes/s leaves (600,000
// rows) rounded up. A re-seed that copies rows grows with them; one that
// copies tablespaces must not.
var reseedRows = []int{100_000, 1_000_000}

// benchReseed fills the lab's writes table to each size through the writer
// endpoint and times re-seeding the secondary (reseed_ms_at_<N>_rows, the
// median of three): a fresh server, the copy, replication caught up.
func benchReseed(t target.Target) {
	rs, ok := t.(target.RegionServers)
	if !ok {
		fail("the lab target offers no region server control")
	}
	db, err := t.Writer()
	if err != nil {
		fail("%v", err)
	}
	defer db.Close()
	ctx := context.Background()
	secondary := t.Regions()[1]
	have := 0
	for _, rows := range reseedRows {
		if err := fillWrites(ctx, db, have, rows); err != nil {
			fail("fill %d rows: %v", rows, err)
		}
		have = rows
		var took []time.Duration
		for i := 0; i < 3; i++ {
			start := time.Now()
			if err := rs.ServerAction(ctx, secondary, target.Reseed); err != nil {
				fail("re-seed %s at %d rows: %v", secondary, rows, err)
			}
			took = append(took, time.Since(start))
		}
		figure(fmt.Sprintf("reseed_ms_at_%d_rows", rows), float64(median(took).Milliseconds()), "ms")
	}
}

// benchWriter is the writer id the filler's rows carry.
const benchWriter = 999_999

// fillWrites inserts rows from..to-1 (as one writer no workload uses) in batches.
func fillWrites(ctx context.Context, db *sql.DB, from, to int) error {
	const batch = 1000
	for seq := from; seq < to; seq += batch {
		vals := make([]string, 0, batch)
		for k := seq; k < min(to, seq+batch); k++ {
			vals = append(vals, fmt.Sprintf("(%d, %d, %d, @@server_id, SYSDATE(6))", benchWriter, k+1, time.Now().UnixNano()))
		}
		if _, err := db.ExecContext(ctx, "INSERT INTO writes (writer, seq, invoked_ns, origin_server_id, committed_at) VALUES "+strings.Join(vals, ",")); err != nil {
			return err
		}
	}
	return nil
}
