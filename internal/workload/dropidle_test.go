package workload

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gatedDriver is a database/sql driver whose connections only count: the
// first Close of a connection blocks until gate is closed, so a test can
// hold database/sql inside its loop that closes dropped idle connections.
// (A real server cannot make a client's close wait on cue.)
type gatedDriver struct {
	mu      sync.Mutex
	conns   []*gatedConn
	closing chan struct{} // closed when the first Close starts
	gate    chan struct{}
	gated   bool
}

func (d *gatedDriver) Connect(context.Context) (driver.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := &gatedConn{d: d, id: len(d.conns) + 1}
	d.conns = append(d.conns, c)
	return c, nil
}
func (d *gatedDriver) Driver() driver.Driver { return nil }

type gatedConn struct {
	d      *gatedDriver
	id     int
	mu     sync.Mutex
	closed bool
}

func (c *gatedConn) Close() error {
	c.d.mu.Lock()
	first := !c.d.gated
	c.d.gated = true
	c.d.mu.Unlock()
	if first {
		close(c.d.closing)
		<-c.d.gate
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}
func (c *gatedConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (c *gatedConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

// Two writers failing at once both drop the pool's idle connections
// (dropIdle, 100 ms apart). While the first is still closing the ones it
// dropped, the second must not give the pool its idle capacity back: the
// connections then returned would be stored in the slots the first is
// still closing, and a closed connection handed to the next write (the
// drill's panic: a nil driver connection in ExecContext).
func TestDropIdleNeverClosesAPooledConnection(t *testing.T) {
	d := &gatedDriver{closing: make(chan struct{}), gate: make(chan struct{})}
	db := sql.OpenDB(d)
	defer db.Close()
	w := &Workload{db: db, cfg: Config{MaxInFlight: 8}}
	db.SetMaxIdleConns(w.cfg.MaxInFlight)
	ctx := context.Background()
	hold := func(n int) []*sql.Conn {
		var cs []*sql.Conn
		for i := 0; i < n; i++ {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		return cs
	}
	release := func(cs []*sql.Conn) {
		for _, c := range cs {
			_ = c.Close()
		}
	}
	release(hold(3)) // three idle connections

	first := make(chan struct{})
	go func() { defer close(first); w.dropIdle() }() // closes the three, blocked on the first
	<-d.closing
	w.lastDrop.Store(time.Now().Add(-time.Second).UnixNano()) // the next writer's failure, past the spacing
	w.dropIdle()
	release(hold(2)) // writes finishing while the first drop is still closing
	close(d.gate)
	<-first

	d.mu.Lock()
	for _, c := range d.conns[:3] {
		c.mu.Lock()
		if !c.closed {
			t.Errorf("idle connection %d was dropped from the pool but never closed", c.id)
		}
		c.mu.Unlock()
	}
	d.mu.Unlock()
	for _, c := range hold(db.Stats().Idle) {
		err := c.Raw(func(dc any) error {
			gc, _ := dc.(*gatedConn)
			if gc == nil {
				return errors.New("the pool handed out a connection database/sql had already closed (driver connection nil)")
			}
			gc.mu.Lock()
			defer gc.mu.Unlock()
			if gc.closed {
				return fmt.Errorf("the pool handed out driver connection %d, closed while it sat in the pool", gc.id)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		_ = c.Close()
	}
}
