package target

import (
	"slices"
	"testing"

	"github.com/drdrill/drdrill/internal/lab"
)

// The lab's events are the target's: a region is out of sync from its
// latest loss until an in-sync after it, and the primary never is.
func TestOutOfSync(t *testing.T) {
	if lab.EventSyncLost != EventSyncLost || lab.EventInSync != EventInSync {
		t.Fatalf("the lab emits %q/%q, the target reads %q/%q", lab.EventSyncLost, lab.EventInSync, EventSyncLost, EventInSync)
	}
	ev := func(kind, region string) Event { return Event{Kind: kind, Region: region} }
	cases := []struct {
		name    string
		events  []Event
		primary string
		want    []string
	}{
		{"nothing lost", []Event{ev("promote", "b"), ev("rejoin", "a")}, "b", nil},
		{"demoted, not caught up", []Event{ev("promote", "b"), ev(EventSyncLost, "a"), ev("rejoin", "a")}, "b", []string{"a"}},
		{"demoted and caught up", []Event{ev(EventSyncLost, "a"), ev("reseed", "a"), ev(EventInSync, "a")}, "b", nil},
		{"caught up, then lost again by the switch-back", []Event{ev(EventSyncLost, "a"), ev(EventInSync, "a"), ev(EventSyncLost, "b"), ev("promote", "a")}, "a", []string{"b"}},
		{"lost, then promoted: the primary is the reference", []Event{ev(EventSyncLost, "b"), ev("promote", "b")}, "b", nil},
		{"an in-sync with no loss in the window", []Event{ev(EventInSync, "b")}, "a", nil},
		{"two regions, in the order they lost sync", []Event{ev(EventSyncLost, "c"), ev(EventSyncLost, "b")}, "a", []string{"c", "b"}},
	}
	for _, c := range cases {
		if got := OutOfSync(c.events, c.primary); !slices.Equal(got, c.want) {
			t.Errorf("%s: OutOfSync = %v, want %v", c.name, got, c.want)
		}
	}
}
