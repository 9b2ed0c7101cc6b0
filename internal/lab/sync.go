package lab

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// The events by which the lab reports a region's protection: a non-primary
// region that loses sync with the primary (its server or the primary's is
// killed, frozen or replaced, it is fenced or demoted, its replication link
// is cut) gets EventSyncLost, and EventInSync once it has applied the
// primary's position as observed at or after it rejoined. Time to
// re-protection is the fault until every region's EventInSync; a second
// disaster before then finds a region that cannot take over.
const (
	EventSyncLost = "sync-lost"
	EventInSync   = "in-sync"
)

// syncState is a region's protection, guarded by Lab.mu. The primary is in
// sync by definition (it is what the others follow).
type syncState struct {
	synced bool
	// gen changes with every loss, so that a catch-up the watcher observed
	// across a loss is not reported.
	gen int
	// target is the primary's GTID position the watcher took once the
	// region was replicating again; reaching it is catching up.
	target string
}

// loseSync marks r out of sync (the caller holds l.mu), recording why once
// per loss.
func (l *Lab) loseSync(r *Region, why string) {
	r.sync.gen++
	r.sync.target = ""
	if r.sync.synced {
		r.sync.synced = false
		l.event(EventSyncLost, r.Name, why)
	}
}

// serverLost: r's server stopped serving (killed, frozen), so r is out of
// sync — or, when r is the primary, the region following it.
func (l *Lab) serverLost(r *Region, what string) {
	if r == l.primary {
		l.loseSync(l.other(r), fmt.Sprintf("its primary %s was %s", r.Name, what))
		return
	}
	l.loseSync(r, "server "+what)
}

// caughtUp marks a non-primary r in sync (the caller holds l.mu), stamped
// at when it was seen to have applied pos.
func (l *Lab) caughtUp(r *Region, at time.Time, pos string) {
	if r.sync.synced || r == l.primary {
		return
	}
	r.sync.synced = true
	r.sync.target = ""
	detail := fmt.Sprintf("applied primary %s's position %s", l.primary.Name, pos)
	if l.cfg.Events != nil {
		l.cfg.Events.AddEvent(Event{TimeNs: at.UnixNano(), Kind: EventInSync, Region: r.Name, Detail: detail})
	}
	l.logf("event %s %s %s", EventInSync, r.Name, detail)
}

// becomesPrimary: a promoted region is the reference the others follow.
func (r *Region) becomesPrimary() {
	r.sync.synced = true
	r.sync.gen++
	r.sync.target = ""
}

// syncWatch notices the catch-ups nothing waits for: an old primary that
// a switchover rejoined, a secondary whose primary came back or whose
// replication link healed. Rejoins and re-seeds, which wait for the catch-up
// themselves, report it directly.
type syncWatch struct {
	l    *Lab
	done chan struct{}
	wg   sync.WaitGroup
}

// syncWatchEvery is how often an out-of-sync region is looked at; the
// catch-up itself is timed by MASTER_GTID_WAIT within one period.
const syncWatchEvery = 100 * time.Millisecond

func startSyncWatch(l *Lab) *syncWatch {
	w := &syncWatch{l: l, done: make(chan struct{})}
	w.wg.Add(1)
	go w.run()
	return w
}

func (w *syncWatch) stop() {
	close(w.done)
	w.wg.Wait()
}

func (w *syncWatch) run() {
	defer w.wg.Done()
	t := time.NewTicker(syncWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		w.check()
	}
}

// pending is a secondary as seen under the lab's lock: out of sync and
// perhaps catching up, or in sync and to be checked it still replicates.
type pending struct {
	r               *Region
	gen             int
	synced          bool
	target          string
	replica, source *sql.DB
}

func (w *syncWatch) check() {
	l := w.l
	// A topology change in progress (a re-seed, a switchover) reports its
	// own outcome; the watcher does not queue behind it.
	if !l.mu.TryLock() {
		return
	}
	var todo []pending
	p := l.primary
	for _, r := range l.regions {
		if r == p || r.role != RoleSecondary || !running(r) || !running(p) || r.replIn.State().Blackholed {
			continue
		}
		todo = append(todo, pending{r: r, gen: r.sync.gen, synced: r.sync.synced, target: r.sync.target, replica: r.server.Admin(), source: p.server.Admin()})
	}
	l.mu.Unlock()
	for _, pd := range todo {
		w.follow(pd)
	}
}

func running(r *Region) bool { return r.server != nil && r.server.Alive() && !r.frozen }

// follow takes the primary's position once r replicates without error, and
// reports r in sync once it has applied it.
func (w *syncWatch) follow(pd pending) {
	l := w.l
	ctx, cancel := context.WithTimeout(context.Background(), 2*syncWatchEvery+time.Second)
	defer cancel()
	st, err := replicaStatus(ctx, pd.replica)
	if err != nil {
		return
	}
	if pd.synced {
		// Applying stopped (an error, or a history the primary does not
		// share): the region can no longer take over without losing what
		// it has not applied. A reconnecting IO thread is not a loss.
		if st.Configured && (st.SQLRunning != "Yes" || st.LastSQLErrno != 0 || st.Diverged()) {
			l.mu.Lock()
			if pd.r.sync.gen == pd.gen {
				l.loseSync(pd.r, fmt.Sprintf("replication stopped (io %d %s; sql %s %d %s)", st.LastIOErrno, st.LastIOError, st.SQLRunning, st.LastSQLErrno, st.LastSQLError))
			}
			l.mu.Unlock()
		}
		return
	}
	if !st.Healthy() {
		return
	}
	if pd.target == "" {
		g, err := gtids(ctx, pd.source)
		if err != nil {
			return
		}
		l.mu.Lock()
		same := pd.r.sync.gen == pd.gen
		if same && pd.r.sync.target == "" {
			pd.r.sync.target = g.Binlog
		}
		pd.target = pd.r.sync.target
		l.mu.Unlock()
		if !same {
			return
		}
	}
	if waitGTID(ctx, pd.replica, pd.target, syncWatchEvery) != nil {
		return
	}
	at := time.Now()
	// MASTER_GTID_WAIT compares sequence numbers only (see sameOrigin).
	if g, err := gtids(ctx, pd.replica); err != nil || !sameOrigin(g.Current, pd.target) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if pd.r.sync.gen == pd.gen {
		l.caughtUp(pd.r, at, pd.target)
	}
}

// InSync reports whether region is in sync with the primary (the primary
// always is).
func (l *Lab) InSync(region string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := l.region(region)
	if err != nil {
		return false, err
	}
	return r == l.primary || r.sync.synced, nil
}
