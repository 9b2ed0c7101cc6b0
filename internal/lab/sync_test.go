package lab

import (
	"context"
	"strings"
	"testing"
	"time"
)

// waitEvent waits for an event of kind for region with Seq > after and
// returns it.
func waitEvent(t *testing.T, l *Lab, after int, kind, region string, within time.Duration) Event {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, e := range l.cfg.Events.Since(after) {
			if e.Kind == kind && e.Region == region {
				return e
			}
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var got []string
	for _, e := range l.cfg.Events.Since(after) {
		got = append(got, e.Kind+" "+e.Region)
	}
	t.Fatalf("no %s event for %s within %v; events: %s", kind, region, within, strings.Join(got, ", "))
	return Event{}
}

func lastSeq(l *Lab) int {
	ev := l.cfg.Events.Since(0)
	if len(ev) == 0 {
		return 0
	}
	return ev[len(ev)-1].Seq
}

// syncKinds lists region's sync, rejoin and re-seed events after seq, in
// order.
func syncKinds(l *Lab, after int, region string) []string {
	var out []string
	for _, e := range l.cfg.Events.Since(after) {
		switch e.Kind {
		case EventSyncLost, EventInSync, "rejoin", "reseed":
			if e.Region == region {
				out = append(out, e.Kind)
			}
		}
	}
	return out
}

// writeOn keeps writing through the writer endpoint until the test ends,
// so that every catch-up has something to catch up with.
func writeOn(t *testing.T, l *Lab) {
	w := appDB(t, l, l.writer.Addr())
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for seq := 1; ; seq++ {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = insert(context.Background(), w, 13, seq)
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
}

// A switchover demotes the old primary: it is out of sync from the
// promotion until it has applied the new primary's position as it was
// once it replicated again — not at the rejoin, which only starts the
// replication handshake.
func TestOldPrimaryIsInSyncOnceCaughtUpAfterASwitchover(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	writeOn(t, l)
	before := lastSeq(l)
	if err := l.Promote(ctx, SecondaryRegion, PromoteOptions{Mode: Switchover}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.InSync(PrimaryRegion); ok {
		t.Fatalf("%s reported in sync right after its demotion", PrimaryRegion)
	}
	in := waitEvent(t, l, before, EventInSync, PrimaryRegion, 10*time.Second)
	got := strings.Join(syncKinds(l, before, PrimaryRegion), ", ")
	if want := "sync-lost, rejoin, in-sync"; !strings.HasPrefix(got, want) {
		t.Fatalf("%s's events after the switchover: %s; want %s first", PrimaryRegion, got, want)
	}
	rejoin := waitEvent(t, l, before, "rejoin", PrimaryRegion, 0)
	if in.TimeNs <= rejoin.TimeNs {
		t.Fatalf("in-sync at %d is not after the rejoin at %d", in.TimeNs, rejoin.TimeNs)
	}
	pos := in.Detail[strings.LastIndex(in.Detail, " ")+1:]
	g, err := gtids(ctx, l.regions[0].server.Admin())
	if err != nil || !sameOrigin(g.Current, pos) {
		t.Fatalf("in-sync names position %q, but %s is at %q (%v)", pos, PrimaryRegion, g.Current, err)
	}
	if ok, _ := l.InSync(PrimaryRegion); !ok {
		t.Fatal("InSync says no after the in-sync event")
	}
	if st := l.Status(ctx); !st.Regions[0].InSync || !st.Regions[1].InSync {
		t.Fatalf("status after the catch-up: in sync %v / %v", st.Regions[0].InSync, st.Regions[1].InSync)
	}
}

// A crashed primary that nobody failed over from (the monitor was down)
// takes its secondary's protection with it until it is back and the
// secondary has caught up with it.
func TestSecondaryLosesSyncWhileItsPrimaryIsDown(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	ctx := context.Background()
	writeOn(t, l)
	before := lastSeq(l)
	if err := l.Kill(PrimaryRegion); err != nil {
		t.Fatal(err)
	}
	lost := waitEvent(t, l, before, EventSyncLost, SecondaryRegion, time.Second)
	if !strings.Contains(lost.Detail, PrimaryRegion) {
		t.Fatalf("sync-lost detail %q does not name the killed primary", lost.Detail)
	}
	time.Sleep(500 * time.Millisecond)
	if ok, _ := l.InSync(SecondaryRegion); ok {
		t.Fatal("the secondary reported in sync while its primary was down")
	}
	if err := l.Restart(ctx, PrimaryRegion); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, l, lost.Seq, EventInSync, SecondaryRegion, 15*time.Second)
	for _, e := range l.cfg.Events.Since(before) {
		if e.Region == PrimaryRegion && (e.Kind == EventSyncLost || e.Kind == EventInSync) {
			t.Fatalf("the primary itself got %s: only the regions following it lose sync", e.Kind)
		}
	}
}

// A cut replication link loses sync at once; healed, the region is in
// sync again once it has applied what it missed.
func TestCutReplicationLinkLosesSyncUntilHealedAndCaughtUp(t *testing.T) {
	l := startLab(t, ControllerConfig{Interval: 100 * time.Millisecond, Timeout: 300 * time.Millisecond, Threshold: 3, AutoFailover: false})
	writeOn(t, l)
	before := lastSeq(l)
	on, off := true, false
	if err := l.SetLink("repl-"+SecondaryRegion, LinkFaults{Blackhole: &on}); err != nil {
		t.Fatal(err)
	}
	if ok, _ := l.InSync(SecondaryRegion); ok {
		t.Fatal("in sync across a cut replication link")
	}
	time.Sleep(time.Second) // writes it will have to catch up on
	if err := l.SetLink("repl-"+SecondaryRegion, LinkFaults{Blackhole: &off}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, l, before, EventInSync, SecondaryRegion, 15*time.Second)
	if got := strings.Join(syncKinds(l, before, SecondaryRegion), ", "); got != "sync-lost, in-sync" {
		t.Fatalf("events for %s: %s; want sync-lost, in-sync", SecondaryRegion, got)
	}
}
