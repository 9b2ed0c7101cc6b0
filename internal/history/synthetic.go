package history

import (
	"bufio"
	"os"
	"time"
)

// WriteSynthetic writes a history of writers × perWriter operations, one
// per millisecond per writer, with a region crash at the midpoint (300 ms of
// unknown outcomes, the 30 ms before it lost), a promotion, a failed write
// every 997th, a lag sample a second, a read of each region every 20 ms
// (us-east-1 until the crash, us-west-2 40 ms behind the primary), the
// fenced old primary serving stale reads for 200 ms after the promotion
// until it rejoins, its return in sync, and final reads of both regions,
// each section closed by its end marker. It is the fixed input of the
// checker's benchmark (`make bench`) and of its allocation budget test, so
// both measure the same thing, every pass of the checker included.
func WriteSynthetic(path string, writers, perWriter int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rec := NewEncoder(w, Meta{Run: "bench", Scenario: "generated", Target: "lab", RateHz: 1000, Writers: writers, PrimaryServerID: 10001,
		PrimaryRegion: "us-east-1", Regions: []string{"us-east-1", "us-west-2"}, ReadIntervalMs: 20})
	const step = int64(time.Millisecond)
	faultAt := int64(perWriter/2) * step
	promoteAt, rejoinAt := faultAt+300*step, faultAt+500*step
	var primary, old []Row
	for s := int64(1); s <= int64(perWriter); s++ {
		for w := 1; w <= writers; w++ {
			at := s*step + int64(w)
			op := Op{Writer: w, Seq: s, Invoke: at, Complete: at + step/2, Outcome: OK}
			switch {
			case at >= faultAt && at < promoteAt:
				op.Outcome = Info
			case s%997 == 0:
				op.Outcome = Fail
			}
			rec.Op(op)
			if op.Outcome == Fail {
				continue
			}
			row := Row{Writer: w, Seq: s, Origin: 10001, CommittedAt: at}
			if at > promoteAt {
				row.Origin = 20001
			}
			if at < faultAt-30*step || at > promoteAt {
				primary = append(primary, row)
			}
			if at < faultAt {
				old = append(old, row)
			}
		}
		if s%1000 == 0 {
			rec.Lag(LagSample{Region: "us-west-2", At: s * step, Ms: float64(30 + s%20), Err: 2.5})
		}
		if s%20 == 0 {
			at := s * step
			if at < faultAt || (at > promoteAt && at < rejoinAt) {
				// Before the crash the primary; after the promotion the
				// fenced old primary, which has nothing written since.
				upTo := min(s, faultAt/step-1)
				rec.Read(syntheticRead("us-east-1", 10001, at, writers, s, func(w int, q int64) bool { return q%997 != 0 && q <= upTo }))
			}
			// us-west-2 has what the primary had 40 ms ago: the old primary's
			// writes up to 30 ms before the crash, then the new primary's.
			upTo := s - 40
			rec.Read(syntheticRead("us-west-2", 20001, at, writers, upTo, func(w int, q int64) bool {
				t := q*step + int64(w)
				return q%997 != 0 && q <= upTo && (t < faultAt-30*step || t > promoteAt)
			}))
		}
	}
	end := int64(perWriter+1) * step
	rec.Event(Event{At: faultAt, Source: "fault", Kind: "inject", Fault: "region-crash"})
	rec.EndTraffic(end)
	rec.Rows(RowSet{Region: "us-east-1", Role: "fenced", ServerID: 10001, At: end, Rows: old})
	rec.Rows(RowSet{Region: "us-west-2", Role: "primary", ServerID: 20001, At: end, Rows: primary})
	rec.EndFinalRead(end, 2)
	controller := []Event{
		{At: faultAt + 200*step, Source: "controller", Kind: "detect", Region: "us-east-1"},
		{At: promoteAt, Source: "controller", Kind: "promote", Region: "us-west-2", ServerID: 20001},
		{At: rejoinAt, Source: "controller", Kind: "rejoin", Region: "us-east-1"},
		{At: rejoinAt + 100*step, Source: "controller", Kind: "in-sync", Region: "us-east-1"},
	}
	for _, e := range controller {
		rec.Event(e)
	}
	rec.EndControllerEvents(end, len(controller), nil)
	if err := rec.Err(); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syntheticRead is a read at `at` of the seqs from 100 below upTo on of
// every writer, returning those has(w, seq) says are there.
func syntheticRead(region string, sid uint32, at int64, writers int, upTo int64, has func(w int, seq int64) bool) ReadOp {
	rd := ReadOp{Region: region, ServerID: sid, Invoke: at, Complete: at + int64(time.Millisecond), Outcome: OK}
	for w := 1; w <= writers; w++ {
		from := max(1, upTo-100)
		rd.Asked = append(rd.Asked, int64(w), from, 0)
		run := int64(-1)
		for q := from; q <= upTo+1; q++ {
			if q <= upTo && has(w, q) {
				if run < 0 {
					run = q
				}
				continue
			}
			if run >= 0 {
				rd.Saw = append(rd.Saw, int64(w), run, q-1)
				run = -1
			}
		}
	}
	return rd
}
