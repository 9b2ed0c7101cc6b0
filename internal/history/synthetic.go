package history

import "time"

// WriteSynthetic writes a history of writers × perWriter operations, one
// per millisecond per writer, with a region crash at the midpoint (300 ms of
// unknown outcomes, the 30 ms before it lost), a promotion, a failed write
// every 997th, a lag sample a second, and final reads of both regions. It
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
	}
	rec.Event(Event{At: faultAt, Source: "fault", Kind: "inject", Fault: "region-crash"})
	rec.Event(Event{At: faultAt + 300*step, Source: "controller", Kind: "promote", ServerID: 20001})
	rec.Rows(RowSet{Region: "us-east-1", Role: "fenced", ServerID: 10001, Rows: old})
	rec.Rows(RowSet{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: primary})
	return rec.Close()
}
