package lab

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

// Alarm is a CloudWatch-like alarm evaluated by the lab.
type Alarm struct {
	Name      string  `json:"name"`
	State     string  `json:"state"` // OK, ALARM, INSUFFICIENT_DATA
	Threshold float64 `json:"threshold_ms"`
	Value     float64 `json:"value_ms"`
	Since     int64   `json:"since_ns"`
}

// ReplicationLagAlarmName is the lab's counterpart of the stack's lag alarm.
const ReplicationLagAlarmName = "drdrill-lab-replication-lag"

// labHeartbeat keeps the lab's own lag figure for status and the lag alarm:
// the app user writes a timestamp through the writer endpoint every 100 ms
// (so read_only fences it like any application), and the secondary's copy is
// read over the control socket. The harness runs its own, finer heartbeat.
type labHeartbeat struct {
	l    *Lab
	db   *sql.DB
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	lag    map[string]time.Duration
	alarm  Alarm
	breach int
	ok     int
}

const (
	hbInterval      = 100 * time.Millisecond
	alarmThreshold  = 500 * time.Millisecond
	alarmDatapoints = 3
)

func startLabHeartbeat(l *Lab) *labHeartbeat {
	m := mysql.NewConfig()
	m.User, m.Passwd = l.cfg.Template.Creds.AppUser, l.cfg.Template.Creds.AppPassword
	m.Net, m.Addr = "tcp", l.writer.Addr()
	m.Timeout, m.ReadTimeout, m.WriteTimeout = time.Second, time.Second, time.Second
	m.InterpolateParams = true
	db, _ := sql.Open("mysql", m.FormatDSN())
	db.SetMaxOpenConns(1)
	db.SetConnMaxLifetime(5 * time.Second) // follow the writer endpoint after a failover
	h := &labHeartbeat{l: l, db: db, done: make(chan struct{}), lag: map[string]time.Duration{},
		alarm: Alarm{Name: ReplicationLagAlarmName, State: "INSUFFICIENT_DATA", Threshold: float64(alarmThreshold.Milliseconds()), Since: time.Now().UnixNano()}}
	h.wg.Add(2)
	go h.write()
	go h.read()
	return h
}

func (h *labHeartbeat) stop() {
	close(h.done)
	h.wg.Wait()
	h.db.Close()
}

func (h *labHeartbeat) write() {
	defer h.wg.Done()
	t := time.NewTicker(hbInterval)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if conn, err := h.db.Conn(ctx); err == nil {
			if _, err := conn.ExecContext(ctx, "REPLACE INTO drdrill.heartbeat (id, ts_ns, origin_server_id) VALUES (0, ?, @@server_id)", time.Now().UnixNano()); err != nil {
				// e.g. read-only after a failover: reconnect through the writer endpoint
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			_ = conn.Close()
		}
		cancel()
	}
}

func (h *labHeartbeat) read() {
	defer h.wg.Done()
	t := time.NewTicker(hbInterval)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
		}
		h.l.mu.Lock()
		p := h.l.primary
		s := h.l.other(p)
		srv, frozen := s.server, s.frozen
		h.l.mu.Unlock()
		h.mu.Lock()
		delete(h.lag, p.Name) // a primary has no replication lag; drop its old figure
		h.mu.Unlock()
		if srv == nil || !srv.Alive() || frozen {
			h.evaluate(s.Name, -1)
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		var ts int64
		err := srv.Admin().QueryRowContext(ctx, "SELECT ts_ns FROM drdrill.heartbeat WHERE id = 0").Scan(&ts)
		cancel()
		if err != nil {
			h.evaluate(s.Name, -1)
			continue
		}
		h.evaluate(s.Name, time.Since(time.Unix(0, ts)))
	}
}

// evaluate updates the lag and the alarm: ALARM after 3 datapoints above the
// threshold, OK after 3 below, like a CloudWatch alarm with 3 of 3 datapoints.
func (h *labHeartbeat) evaluate(region string, lag time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if lag < 0 {
		delete(h.lag, region)
		return
	}
	h.lag[region] = lag
	h.alarm.Value = float64(lag.Microseconds()) / 1000
	if lag > alarmThreshold {
		h.breach, h.ok = h.breach+1, 0
	} else {
		h.ok, h.breach = h.ok+1, 0
	}
	set := func(state string) {
		if h.alarm.State != state {
			h.alarm.State, h.alarm.Since = state, time.Now().UnixNano()
			go h.l.event("alarm", region, h.alarm.Name+" -> "+state)
		}
	}
	if h.breach >= alarmDatapoints {
		set("ALARM")
	} else if h.ok >= alarmDatapoints {
		set("OK")
	}
}

func (h *labHeartbeat) snapshot() (map[string]time.Duration, Alarm) {
	h.mu.Lock()
	defer h.mu.Unlock()
	lag := map[string]time.Duration{}
	for k, v := range h.lag {
		lag[k] = v
	}
	return lag, h.alarm
}
