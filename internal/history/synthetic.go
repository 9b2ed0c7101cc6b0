package history

import "time"

// WriteSynthetic writes a history of writers × perWriter operations, one
// per millisecond per writer, with a region crash at the midpoint (300 ms of
// unknown outcomes, the 30 ms before it lost), a promotion, a failed write
// every 997th, a lag sample a second, a read of each region every 20 ms
// (us-east-1 until the crash, us-west-2 40 ms behind the primary), and
// final reads of both regions. It
// is the fixed input of the checker's benchmark (`make bench`) and of its
// allocation budget test, so both measure the same thing.
func WriteSynthetic(path string, writers, perWriter int) error {
	rec, err := Create(path, Meta{Run: "bench", Scenario: "generated", Target: "lab", RateHz: 1000, Writers: writers, PrimaryServerID: 10001})
	if err != nil {
		return err
	}
	const step = int64(time.Millisecond)
	faultAt := int64(perWriter/2) * step
	var primary, old []Row
	for s := int64(1); s <= int64(perWriter); s++ {
		for w := 1; w <= writers; w++ {
			at := s*step + int64(w)
			op := Op{Writer: w, Seq: s, Invoke: at, Complete: at + step/2, Outcome: OK}
			switch {
			case at >= faultAt && at < faultAt+300*step:
				op.Outcome = Info
			case s%997 == 0:
				op.Outcome = Fail
			}
			rec.Op(op)
			if op.Outcome == Fail {
				continue
			}
			row := Row{Writer: w, Seq: s, Origin: 10001, CommittedAt: at}
			if at > faultAt+300*step {
				row.Origin = 20001
			}
			if at < faultAt-30*step || at > faultAt+300*step {
				primary = append(primary, row)
			}
			if at < faultAt {
				old = append(old, row)
			}
		}
		if s%1000 == 0 {
			rec.Lag(LagSample{Region: "us-west-2", At: s * step, Ms: float64(30 + s%20)})
		}
		if s%20 == 0 {
			at := s * step
			if at < faultAt {
				rec.Read(syntheticRead("us-east-1", 10001, at, writers, s, func(w int, q int64) bool { return q%997 != 0 }))
			}
			// us-west-2 has what the primary had 40 ms ago: the old primary's
			// writes up to 30 ms before the crash, then the new primary's.
			upTo := s - 40
			rec.Read(syntheticRead("us-west-2", 20001, at, writers, upTo, func(w int, q int64) bool {
				t := q*step + int64(w)
				return q%997 != 0 && (t < faultAt-30*step || t > faultAt+300*step)
			}))
		}
	}
	rec.Event(Event{At: faultAt, Source: "fault", Kind: "inject", Fault: "region-crash"})
	rec.Event(Event{At: faultAt + 300*step, Source: "controller", Kind: "promote", ServerID: 20001})
	rec.Rows(RowSet{Region: "us-east-1", Role: "fenced", ServerID: 10001, Rows: old})
	rec.Rows(RowSet{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: primary})
	return rec.Close()
}

// syntheticRead is a read at `at` of the last 100 seqs of every writer,
// returning those up to upTo that has(w, seq) says are there.
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
