package twin

import (
	"context"
	"database/sql"
	"log"
	"time"

	"github.com/go-sql-driver/mysql"
)

// After a failover with data loss Aurora does not resume the old primary:
// it keeps a snapshot of its volume (the writes the failover lost) and
// creates a new storage volume that resynchronises from the new primary
// before the cluster is a secondary again, which "can take from a few
// minutes to several hours" with the data size (Aurora User Guide, "Using
// switchover or failover in Amazon Aurora Global Database"; ANCHORS.md
// §2 fact 4 and "AWS at its documented worst"). Meanwhile the member's
// SynchronizationStatus is pending-resync, not connected (RDS API
// reference, GlobalClusterMember: "connected | pending-resync"), a
// switchover is refused (it needs every member synchronised) and the
// cluster has no volume to serve reads from: the twin closes its reader
// endpoint.
//
// The docs give no rate; the twin takes RebuildBase plus RebuildPerGiB of
// the writer's data, unscaled ("minutes" for the lab's megabytes, hours
// for a few hundred GiB), or Config.RebuildTime when set.
const (
	RebuildBase   = 5 * time.Minute
	RebuildPerGiB = time.Minute
)

// RebuildTime is how long the twin rebuilds an old primary holding bytes
// of data, unscaled.
func RebuildTime(bytes int64) time.Duration {
	return RebuildBase + time.Duration(float64(RebuildPerGiB)*float64(bytes)/(1<<30))
}

// rebuild takes region's cluster through its rebuild: reader endpoint
// closed, the lab's server re-seeded from the writer (a new volume), the
// rebuild time, then connected once it replicates.
func (s *rdsService) rebuild(region string) {
	defer s.async.Done()
	s.endpoints.setRebuilding(region, true)
	ctx, cancel := stopContext(s.stop)
	defer cancel()
	took := s.cfg.RebuildTime
	if took <= 0 {
		took = RebuildTime(s.dataBytes(ctx))
	}
	done := time.Now().Add(s.cfg.scaled(took))
	retry := s.cfg.scaled(10 * time.Second)
	for {
		err := s.data.Rebuild(ctx, region)
		if err == nil {
			break
		}
		log.Printf("AWS twin: rebuilding %s: %v (retrying in %v)", region, err, retry)
		if !s.sleep(retry) {
			return
		}
	}
	if !s.sleep(time.Until(done)) {
		return
	}
	for {
		if ok, err := s.data.InSync(ctx, region); err == nil && ok {
			break
		}
		if !s.sleep(retry) {
			return
		}
	}
	s.mu.Lock()
	delete(s.gc.resync, region)
	s.mu.Unlock()
	s.endpoints.setRebuilding(region, false)
}

// dataBytes is the size of the application's data on the writer, read
// as the stack's database user (0 when it cannot be read: the rebuild
// then takes RebuildBase).
func (s *rdsService) dataBytes(ctx context.Context) int64 {
	s.mu.Lock()
	writer := s.gc.writer
	s.mu.Unlock()
	addr, err := s.data.InsideSubnet(ctx, writer)
	if err != nil || s.secret.Username == "" {
		return 0
	}
	c := mysql.NewConfig()
	c.User, c.Passwd, c.Net, c.Addr = s.secret.Username, s.secret.Password, "tcp", addr
	c.Timeout, c.ReadTimeout = 5*time.Second, 5*time.Second
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return 0
	}
	defer db.Close()
	var n sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT SUM(data_length + index_length) FROM information_schema.tables "+
		"WHERE table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')").Scan(&n); err != nil {
		log.Printf("AWS twin: the data size for a rebuild: %v", err)
		return 0
	}
	return n.Int64
}
