package target

import "github.com/drdrill/drdrill/internal/lab"

// The events by which a target reports a region's protection (Event.Kind):
// a region other than the primary that loses sync with it — its server or
// the primary's is lost or replaced, it is fenced or demoted, its
// replication is cut — gets EventSyncLost, and EventInSync once it has
// caught up with the primary again (applied the primary's position as
// observed at or after it rejoined). A target that emits EventSyncLost for
// a region emits EventInSync when that region is a usable failover target
// again; time to re-protection ends with the last of them.
const (
	EventSyncLost = lab.EventSyncLost
	EventInSync   = lab.EventInSync
)

// OutOfSync lists, in the order they lost it, the regions other than
// primary whose latest sync event in events is EventSyncLost: those not yet
// re-protected. A region with no sync event in events is taken as in sync.
func OutOfSync(events []Event, primary string) []string {
	last := map[string]string{}
	var order []string
	for _, e := range events {
		if e.Kind != EventSyncLost && e.Kind != EventInSync {
			continue
		}
		if _, seen := last[e.Region]; !seen {
			order = append(order, e.Region)
		}
		last[e.Region] = e.Kind
	}
	var out []string
	for _, r := range order {
		if r != primary && last[r] == EventSyncLost {
			out = append(out, r)
		}
	}
	return out
}
