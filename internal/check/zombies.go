package check

import (
	"fmt"
	"math"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

// timeline is which server was the primary from when on.
type timeline struct {
	from []int64
	sid  []uint32
}

func (t timeline) at(ns int64) uint32 {
	i := sort.Search(len(t.from), func(i int) bool { return t.from[i] > ns }) - 1
	return t.sid[max(i, 0)]
}

// primaryTimeline builds the primary's server id over time from the
// starting primary and every promotion. A row whose origin is not the
// primary at its commit time was accepted by a server that should no longer
// (or not yet) take writes: a zombie, the split-brain evidence.
func primaryTimeline(m history.Meta, events []history.Event) (timeline, bool) {
	if m.PrimaryServerID == 0 {
		return timeline{}, false
	}
	t := timeline{from: []int64{math.MinInt64}, sid: []uint32{m.PrimaryServerID}}
	for _, e := range events {
		// A promotion moves the primary; a primary that restarts under a
		// new server id (nobody failed over) keeps the role under that id.
		if e.Source == "controller" && (e.Kind == "promote" || e.Kind == "primary-restart") {
			if e.ServerID == 0 {
				return timeline{}, false
			}
			t.from, t.sid = append(t.from, e.At), append(t.sid, e.ServerID)
		}
	}
	return t, true
}

// zombies: writes whose row, in any region's final read, was committed by
// a server that was not the primary at the time — each key once.
func zombies(a *analysis) {
	const key = "zombie_writes"
	if why := firstWhy(a.primaryWhy, a.finalReadWhy, a.controllerWhy); why != "" {
		a.notJudged(key, why)
		a.r.Notes = append(a.r.Notes, "zombie writes not judged: "+why)
		return
	}
	var isZombie func(history.Row) bool
	if tl, ok := primaryTimeline(a.h.Meta, a.events); ok {
		if sid := tl.at(a.primary.At); sid != a.primary.ServerID {
			why := fmt.Sprintf("the primary's timeline names server %d at the final read but the final primary is server %d: a promotion is missing from the history", sid, a.primary.ServerID)
			a.notJudged(key, why)
			a.r.Notes = append(a.r.Notes, "zombie writes not judged: "+why)
			return
		}
		isZombie = func(row history.Row) bool { return row.Origin != tl.at(row.CommittedAt) }
	} else if len(a.promotions) == 1 {
		// With one promotion and no server ids, every row committed after
		// it belongs to the final primary. With two (a failback), rows
		// written on the interim primary are legitimate and cannot be told
		// from zombies: not judged.
		p, sid := a.promotions[0].At, a.primary.ServerID
		a.r.Notes = append(a.r.Notes, "promotions carry no server ids: zombies judged as rows committed after the first promotion by a server other than the final primary")
		isZombie = func(row history.Row) bool { return row.CommittedAt > p && row.Origin != sid }
	} else {
		why := "the target does not report which server was the primary when"
		a.notJudged(key, why)
		a.r.Notes = append(a.r.Notes, "zombie writes not judged: "+why)
		return
	}
	a.r.ZombiesJudged = true
	counted := seqSet{}
	for _, region := range a.order {
		for _, row := range a.final[region].Rows {
			if !isZombie(row) {
				continue
			}
			if counted.add(row.Writer, row.Seq) {
				continue
			}
			a.r.ZombieCount++
			if len(a.r.Zombies) < a.cfg.Examples {
				a.r.Zombies = append(a.r.Zombies, rowRef(region, row))
			}
		}
	}
}

// divergence: rows other regions hold that the final primary lacks, and
// the primary's rows they lack.
func divergence(a *analysis) {
	if a.primaryWhy != "" {
		return
	}
	for _, region := range a.order {
		if region == a.primary.Region {
			continue
		}
		for _, row := range a.final[region].Rows {
			if !a.onPrimary.has(row.Writer, row.Seq) {
				a.r.Divergent[region]++
			}
		}
		for _, row := range a.primary.Rows {
			if !a.present[region].has(row.Writer, row.Seq) {
				a.r.Missing[region]++
			}
		}
	}
}
