package target

import (
	"slices"
	"testing"

	drdaws "github.com/drdrill/drdrill/internal/aws"
)

// The AWS target's events must let the drill wait for re-protection: a
// failover whose old primary is rebuilt reports that region out of sync
// (sync-lost) until its cluster is connected again (in-sync). Without the
// sync-lost events, OutOfSync saw every region in sync throughout the
// rebuild and the drill closed its history before the re-protection.
func TestGlobalWatchReportsARebuildAsOutOfSyncUntilConnected(t *testing.T) {
	w := &globalWatch{regions: []string{"us-east-1", "us-west-2"}, first: true}
	var events []Event
	add := func(kind, region, detail string) {
		events = append(events, Event{Seq: len(events) + 1, Kind: kind, Region: region, Detail: detail})
	}
	steps := []struct {
		state       drdaws.GlobalState
		outOfSync   []string
		description string
	}{
		{drdaws.GlobalState{Writer: "us-east-1"}, nil, "steady"},
		{drdaws.GlobalState{Writer: "us-east-1", FailoverState: "failing-over", FailoverTo: "us-west-2"}, nil, "failing over"},
		{drdaws.GlobalState{Writer: "us-west-2", FailoverState: "failing-over", Resyncing: []string{"us-east-1"}}, []string{"us-east-1"}, "writer moved"},
		{drdaws.GlobalState{Writer: "us-west-2", Resyncing: []string{"us-east-1"}}, []string{"us-east-1"}, "rebuilding"},
		{drdaws.GlobalState{Writer: "us-west-2"}, nil, "connected"},
	}
	for _, s := range steps {
		w.observe(s.state, add)
		if got := OutOfSync(events, s.state.Writer); !slices.Equal(got, s.outOfSync) {
			t.Fatalf("%s: out of sync %v, want %v (events %v)", s.description, got, s.outOfSync, events)
		}
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind+" "+e.Region)
	}
	want := []string{"failover-start us-east-1", "promote us-west-2", "sync-lost us-east-1", "failover-end us-west-2", "rejoin us-east-1", "in-sync us-east-1"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("events %q, want %q", kinds, want)
	}
}
