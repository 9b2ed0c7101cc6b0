package refcheck_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/drdrill/drdrill/internal/history"
)

const msNs = int64(1e6)

// genRegions are the generated histories' regions; "a" is the first primary.
var genRegions = []string{"a", "b", "c"}

// line is one history line to write at a time (the recorder writes a
// line when the thing it records completes).
type line struct {
	at    int64
	write func(e *history.Encoder)
}

// generate writes a random history for seed: faults at any time, outages
// that start late or flap, 0, 1 or 2 promotions (with or without server ids
// and regions), split brain, writes that time out, fail or complete out of
// order, reads in every region with lag, vanishing and stale reads, lag
// series with stalls, in-sync events, version 1 histories and torn tails.
// It returns the file's bytes and, in words, the shape it chose.
func generate(seed uint64) ([]byte, string) {
	rng := rand.New(rand.NewPCG(seed, 0xd1ff))
	g := &gen{rng: rng, mayTear: true}
	return g.history()
}

// generateWhole is generate without version 1 histories and torn tails.
func generateWhole(seed uint64) ([]byte, string) {
	rng := rand.New(rand.NewPCG(seed, 0xd1ff))
	g := &gen{rng: rng}
	return g.history()
}

type gen struct {
	rng     *rand.Rand
	mayTear bool
	lines   []line
	shape   []string
}

func (g *gen) chance(p float64) bool { return g.rng.Float64() < p }
func (g *gen) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + g.rng.Int64N(hi-lo+1)
}
func (g *gen) note(format string, args ...any) {
	g.shape = append(g.shape, fmt.Sprintf(format, args...))
}
func (g *gen) add(at int64, fn func(e *history.Encoder)) {
	g.lines = append(g.lines, line{at: at, write: fn})
}

type incarnation struct {
	from   int64
	region string
	sid    uint32
}

type key struct {
	w int
	s int64
}

func (g *gen) history() ([]byte, string) {
	nRegions := 2
	if g.chance(0.2) {
		nRegions = 3
	}
	regions := genRegions[:nRegions]
	writers := int(g.between(1, 3))
	perWriter := g.between(0, 40)
	period := []int64{5, 10, 20}[g.rng.IntN(3)] * msNs
	span := perWriter * period
	meta := history.Meta{Run: "gen", Scenario: "gen", Target: "lab", Writers: writers}
	if g.chance(0.9) {
		meta.RateHz = float64(writers) * 1e9 / float64(period)
	}
	if g.chance(0.85) {
		meta.PrimaryServerID = 10001
	}
	if g.chance(0.85) {
		meta.PrimaryRegion = "a"
	}
	if g.chance(0.7) {
		meta.Regions = regions
	}
	if g.chance(0.5) {
		meta.LagResolutionMs = map[string]float64{"b": []float64{1, 5}[g.rng.IntN(2)]}
	}
	g.note("%d regions, %d writers × %d writes every %d ms", nRegions, writers, perWriter, period/msNs)

	// The fault, its rollback, and the outage writes see (which may start
	// long after the fault, and flap).
	hasFault := g.chance(0.85)
	// An observed history (drdrill observe): its faults are in the ledger,
	// or nowhere (AWS FIS), and its windows come from every source.
	observed := g.chance(0.3)
	source, faultID, seen := "fault", "", true
	if observed {
		meta.Observed = true
		source, faultID, seen = "ledger", "L1", g.chance(0.6)
		g.note("observed (fault %s)", map[bool]string{true: "in the ledger", false: "unseen"}[seen])
	}
	var fault, rollback int64 = -1, -1
	if hasFault {
		fault = g.between(0, span)
		if seen {
			g.add(fault, func(e *history.Encoder) {
				e.Event(history.Event{At: fault, Source: source, Kind: "inject", Fault: "gen", ID: faultID})
			})
		}
		g.note("fault at %d ms", fault/msNs)
		if g.chance(0.6) {
			rollback = fault + g.between(0, span)
			g.note("rollback at %d ms", rollback/msNs)
		}
	}
	outageFrom, outageTo := int64(-1), int64(-1)
	if hasFault && g.chance(0.8) {
		outageFrom = fault + g.between(0, span/2)
		if g.chance(0.3) {
			outageFrom = fault + g.between(span/2, span) // a late outage
		}
		outageTo = outageFrom + g.between(0, span/2)
		g.note("outage %d–%d ms", outageFrom/msNs, outageTo/msNs)
	}
	flap := g.chance(0.3)

	// Promotions: none, one or two after the fault (now and then one
	// before it), each naming the promoted region and a new server id,
	// or not.
	incs := []incarnation{{from: -1 << 62, region: "a", sid: 10001}}
	var promotions []history.Event
	nPromotions := 0
	if hasFault {
		nPromotions = []int{0, 1, 1, 2}[g.rng.IntN(4)]
	}
	at := fault
	noIDs, noRegion := g.chance(0.1), g.chance(0.05)
	for i := 0; i < nPromotions; i++ {
		at += g.between(0, span/2)
		cur := incs[len(incs)-1]
		next := regions[(indexOf(regions, cur.region)+1+g.rng.IntN(len(regions)-1))%len(regions)]
		sid := uint32(10000*(indexOf(regions, next)+1) + len(incs) + 1)
		incs = append(incs, incarnation{from: at, region: next, sid: sid})
		ev := history.Event{At: at, Source: "controller", Kind: "promote", Region: next, ServerID: sid}
		if noIDs {
			ev.ServerID = 0
		}
		if noRegion {
			ev.Region = ""
		}
		promotions = append(promotions, ev)
	}
	if hasFault && g.chance(0.1) {
		// The primary restarts under a new server id, keeping the role.
		cur := incs[len(incs)-1]
		at := max(cur.from, fault) + g.between(0, span/4)
		if len(promotions) == 0 || at > promotions[len(promotions)-1].At {
			incs = append(incs, incarnation{from: at, region: cur.region, sid: cur.sid + 100})
			promotions = append(promotions, history.Event{At: at, Source: "controller", Kind: "primary-restart", Region: cur.region, ServerID: cur.sid + 100})
		}
	}
	g.note("%d promotions", nPromotions)
	finalPrimary := incs[len(incs)-1]
	primaryAt := func(t int64) incarnation {
		inc := incs[0]
		for _, x := range incs {
			if x.from <= t {
				inc = x
			}
		}
		return inc
	}
	splitBrain := nPromotions > 0 && g.chance(0.4)

	// Writes: out of order, some timing out, failing, or unknown.
	type write struct {
		op        history.Op
		committed int64
		origin    uint32
		applied   bool
	}
	var writes []write
	for w := 1; w <= writers; w++ {
		offset := g.between(0, period-1)
		for s := int64(1); s <= perWriter; s++ {
			inv := offset + (s-1)*period + g.between(0, 2*msNs)
			op := history.Op{Writer: w, Seq: s, Invoke: inv, Outcome: history.OK}
			inOutage := outageFrom >= 0 && inv >= outageFrom && inv <= outageTo
			switch {
			case inOutage && !(flap && g.chance(0.3)):
				op.Outcome = []history.Outcome{history.Fail, history.Info}[g.rng.IntN(2)]
			case g.chance(0.04):
				op.Outcome = []history.Outcome{history.Fail, history.Info}[g.rng.IntN(2)]
			}
			lat := g.between(0, 5*msNs)
			if op.Outcome == history.Info && g.chance(0.5) {
				lat = g.between(50*msNs, 300*msNs) // a timeout
			}
			op.Complete = inv + lat
			if op.Outcome != history.OK {
				op.Err = "generated"
			}
			wr := write{op: op, committed: inv + g.between(0, lat)}
			inc := primaryAt(wr.committed)
			wr.origin = inc.sid
			if splitBrain && wr.committed >= promotions[0].At && g.chance(0.3) {
				wr.origin = incs[0].sid // the old primary kept committing
			}
			switch op.Outcome {
			case history.OK:
				wr.applied = true
			case history.Info:
				wr.applied = g.chance(0.5)
			case history.Fail:
				wr.applied = g.chance(0.05)
			}
			writes = append(writes, wr)
		}
	}
	if g.chance(0.05) && len(writes) > 0 {
		dup := writes[g.rng.IntN(len(writes))]
		dup.op.Invoke, dup.op.Complete = dup.op.Complete, dup.op.Complete+msNs
		writes = append(writes, dup) // the same key written twice
	}
	for _, wr := range writes {
		op := wr.op
		g.add(op.Complete, func(e *history.Encoder) { e.Op(op) })
	}

	// Which region holds which write in the end: the final primary lacks
	// writes lost near the promotions; other regions lag and diverge.
	lostNear := func(t int64) bool {
		for _, p := range promotions {
			if p.Kind == "promote" && t <= p.At && t >= p.At-g.between(0, 30*msNs) {
				return true
			}
		}
		return false
	}
	holds := map[string]map[key]write{}
	for _, r := range regions {
		holds[r] = map[key]write{}
	}
	for _, wr := range writes {
		if !wr.applied {
			continue
		}
		k := key{wr.op.Writer, wr.op.Seq}
		lost := lostNear(wr.committed) || (wr.origin != primaryAt(wr.committed).sid)
		if !lost || g.chance(0.1) {
			holds[finalPrimary.region][k] = wr
		}
		for _, r := range regions {
			if r == finalPrimary.region {
				continue
			}
			if _, ok := holds[finalPrimary.region][k]; (ok && g.chance(0.9)) || (!ok && g.chance(0.5)) {
				holds[r][k] = wr
			}
		}
	}
	applied := map[key]write{}
	for _, wr := range writes {
		if wr.applied {
			applied[key{wr.op.Writer, wr.op.Seq}] = wr
		}
	}
	lagOf := map[string]int64{}
	for _, r := range regions {
		lagOf[r] = g.between(0, 40*msNs)
	}

	// Reads in every region: each asks for a tail and some closed ranges,
	// and returns what had reached its region by its snapshot.
	for _, r := range regions {
		if g.chance(0.1) {
			continue
		}
		t := g.between(0, 10*msNs)
		for t < span+50*msNs {
			inv := t
			done := inv + g.between(0, 3*msNs)
			rd := history.ReadOp{Region: r, ServerID: 1, Invoke: inv, Complete: done, Outcome: history.OK}
			for w := 1; w <= writers; w++ {
				if g.chance(0.3) {
					lo := g.between(1, perWriter+1)
					rd.Asked = append(rd.Asked, int64(w), lo, lo+g.between(0, 5))
				}
				rd.Asked = append(rd.Asked, int64(w), g.between(1, max(1, (inv/period)-5)), 0)
			}
			if g.chance(0.05) {
				rd.Outcome, rd.Err, rd.ServerID = history.Fail, "generated", 0
			} else {
				snapshot := inv + g.between(0, done-inv)
				for w := 1; w <= writers; w++ {
					var seqs []int64
					for s := int64(1); s <= perWriter+1; s++ {
						wr, ok := holds[r][key{w, s}]
						visibleOld := false
						if !ok && r == "a" && nPromotions > 0 && snapshot < promotions[0].At {
							// The old primary showed writes the new one lost.
							if x, was := applied[key{w, s}]; was && x.committed <= snapshot {
								wr, visibleOld = x, true
							}
						}
						if !ok && !visibleOld {
							continue
						}
						if wr.committed+lagOf[r] <= snapshot && rd.Covers(w, s) && !g.chance(0.02) {
							seqs = append(seqs, s)
						}
					}
					rd.Saw = appendRuns(rd.Saw, int64(w), seqs)
				}
			}
			g.add(done, func(e *history.Encoder) { e.Read(rd) })
			t += g.between(2*msNs, 30*msNs)
		}
	}

	// Lag series: a sample every few ms, some with error bounds, some
	// stalls sampled densely; now and then a CloudWatch-style series.
	for _, series := range []string{"a", "b", "aws:b"} {
		if series == "aws:b" && !g.chance(0.3) || g.chance(0.15) {
			continue
		}
		t := g.between(0, 20*msNs)
		for t < span {
			s := history.LagSample{Region: series, At: t, Ms: float64(g.between(0, 80)) / 2}
			if g.chance(0.5) {
				s.Err = float64(g.between(1, 8)) / 2
			}
			g.add(t, func(e *history.Encoder) { e.Lag(s) })
			if g.chance(0.05) {
				t += g.between(0, 3*msNs) // a stall: dense samples
			} else {
				t += g.between(10*msNs, 60*msNs)
			}
		}
	}

	// Write the traffic in time order, then the end of the traffic, the
	// final reads, the rollback and the controller events.
	sort.SliceStable(g.lines, func(i, j int) bool { return g.lines[i].at < g.lines[j].at })
	var buf bytes.Buffer
	e := history.NewEncoder(&buf, meta)
	v1 := g.mayTear && g.chance(0.1)
	if !v1 {
		e.Chunk = int(g.between(1, 12)) // a final read over many lines
	}
	for _, l := range g.lines {
		l.write(e)
	}
	end := span + 400*msNs
	e.EndTraffic(end)
	read := 0
	for _, r := range regions {
		if g.chance(0.1) {
			e.Event(history.Event{At: end, Source: "harness", Kind: "final-read-skipped", Detail: r})
			continue
		}
		role := "replica"
		sid := uint32(10000*(indexOf(regions, r)+1) + 99)
		if r == finalPrimary.region {
			role, sid = "primary", finalPrimary.sid
		}
		var rows []history.Row
		for _, wr := range writes {
			if _, ok := holds[r][key{wr.op.Writer, wr.op.Seq}]; ok {
				rows = append(rows, history.Row{Writer: wr.op.Writer, Seq: wr.op.Seq, Origin: wr.origin, CommittedAt: wr.committed})
			}
		}
		if g.chance(0.03) {
			rows = append(rows, history.Row{Writer: 99, Seq: 1, Origin: sid, CommittedAt: end}) // nobody wrote it
		}
		if g.chance(0.03) && len(rows) > 0 {
			rows = append(rows, rows[0]) // twice in one read
		}
		e.Rows(history.RowSet{Region: r, Role: role, ServerID: sid, At: end, Rows: rows})
		read++
	}
	e.EndFinalRead(end, read)
	if rollback >= 0 && seen {
		e.Event(history.Event{At: rollback, Source: source, Kind: "rollback", Fault: "gen", ID: faultID})
	}
	if observed && g.chance(0.4) {
		// A second fault someone injected, rolled back or not.
		at := g.between(0, span+100*msNs)
		e.Event(history.Event{At: at, Source: "ledger", Kind: "inject", Fault: "gen2", ID: "L2"})
		if g.chance(0.2) {
			e.Event(history.Event{At: at, Source: "ledger", Kind: "inject", Fault: "gen2", ID: "L2"}) // its progress, again
		}
		if g.chance(0.7) {
			e.Event(history.Event{At: at + g.between(0, span/2), Source: "ledger", Kind: "rollback", Fault: "gen2", ID: "L2"})
		}
		g.note("a second ledger fault at %d ms", at/msNs)
	}
	var controller []history.Event
	if hasFault && len(promotions) > 0 && g.chance(0.8) {
		controller = append(controller, history.Event{At: promotions[0].At - g.between(0, 20*msNs), Source: "controller", Kind: "detect", Region: "a"})
	}
	if observed && hasFault && g.chance(0.5) {
		controller = append(controller, history.Event{At: fault + g.between(0, span/4), Source: "controller", Kind: []string{"failover-start", "switchover-start", "fence"}[g.rng.IntN(3)], Region: "a"})
	}
	controller = append(controller, promotions...)
	for i, p := range promotions {
		if p.Kind != "promote" {
			continue
		}
		demoted := incs[i].region
		if g.chance(0.6) {
			controller = append(controller, history.Event{At: p.At + g.between(0, span/3), Source: "controller", Kind: []string{"rejoin", "reseed"}[g.rng.IntN(2)], Region: demoted})
		}
	}
	if len(promotions) > 0 {
		last := promotions[len(promotions)-1].At
		for _, r := range regions {
			if r != finalPrimary.region && g.chance(0.7) {
				controller = append(controller, history.Event{At: last + g.between(0, span), Source: "controller", Kind: "in-sync", Region: r})
			}
		}
	}
	if g.chance(0.1) && len(controller) > 0 {
		controller = controller[:g.rng.IntN(len(controller))] // a target that lost some
	}
	sort.SliceStable(controller, func(i, j int) bool { return controller[i].At < controller[j].At })
	for _, ev := range controller {
		e.Event(ev)
	}
	if g.chance(0.05) {
		e.EndControllerEvents(end, 0, fmt.Errorf("generated: events unavailable"))
	} else {
		e.EndControllerEvents(end, len(controller), nil)
	}
	b := buf.Bytes()
	if !g.mayTear {
		return b, fmt.Sprint(g.shape)
	}
	if v1 {
		b = asVersion1(b)
		g.note("version 1")
	}
	if g.chance(0.15) && len(b) > 0 {
		cut := int(g.between(int64(len(b)*6/10), int64(len(b)-1)))
		if g.chance(0.5) {
			for cut > 0 && b[cut-1] != '\n' {
				cut--
			}
		}
		b = b[:max(cut, bytes.IndexByte(b, '\n')+1)]
		g.note("torn at byte %d", cut)
	}
	return b, fmt.Sprint(g.shape)
}

// asVersion1 drops the end markers and the regions and marks the meta line
// version 1, as a drdrill before the markers wrote it.
func asVersion1(b []byte) []byte {
	var out [][]byte
	for i, l := range bytes.SplitAfter(b, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(`{"t":"end"`)) {
			continue
		}
		if i == 0 {
			l = bytes.Replace(l, []byte(`"version":2`), []byte(`"version":1`), 1)
			if j := bytes.Index(l, []byte(`,"regions":[`)); j >= 0 {
				k := bytes.IndexByte(l[j:], ']')
				l = append(append([]byte(nil), l[:j]...), l[j+k+1:]...)
			}
		}
		out = append(out, l)
	}
	return bytes.Join(out, nil)
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return 0
}

func appendRuns(dst []int64, w int64, seqs []int64) []int64 {
	for j := 0; j < len(seqs); {
		k := j
		for k+1 < len(seqs) && seqs[k+1] == seqs[k]+1 {
			k++
		}
		dst = append(dst, w, seqs[j], seqs[k])
		j = k + 1
	}
	return dst
}
