package check

import "github.com/drdrill/drdrill/internal/history"

// seqSet is a bitset of sequence numbers per writer: compact and fast for
// the dense (writer, 1..n) keys the workload produces.
type seqSet map[int][]uint64

func (s seqSet) add(w int, seq int64) (dup bool) {
	if seq < 0 || seq > 1<<34 {
		return false
	}
	b := s[w]
	i := int(seq >> 6)
	if i >= len(b) {
		nb := make([]uint64, max(i+1, 2*len(b)))
		copy(nb, b)
		b = nb
		s[w] = b
	}
	bit := uint64(1) << (seq & 63)
	dup = b[i]&bit != 0
	b[i] |= bit
	return dup
}

func (s seqSet) has(w int, seq int64) bool {
	b := s[w]
	if seq < 0 || int(seq>>6) >= len(b) {
		return false
	}
	return b[seq>>6]&(1<<(seq&63)) != 0
}

// bySeq holds an int32 per (writer, seq), dense: writers are a few
// consecutive ids, seqs run from 1. Lookups are on the checker's hot path,
// so no map.
type bySeq struct {
	base int       // the lowest writer id
	w    [][]int32 // per writer - base, per seq - 1
}

// maxSeqs is, for the writers base…, the highest seq of each.
func maxSeqs(ops []history.Op) (base int, top []int64) {
	if len(ops) == 0 {
		return 0, nil
	}
	lo, hi := ops[0].Writer, ops[0].Writer
	for _, op := range ops {
		lo, hi = min(lo, op.Writer), max(hi, op.Writer)
	}
	if hi-lo > 1<<16 {
		hi = lo + 1<<16 // not a drdrill workload; the rest are ignored
	}
	top = make([]int64, hi-lo+1)
	for _, op := range ops {
		if i := op.Writer - lo; i < len(top) && op.Seq > top[i] && op.Seq <= 1<<31 {
			top[i] = op.Seq
		}
	}
	return lo, top
}

func newBySeq(base int, top []int64) bySeq {
	b := bySeq{base: base, w: make([][]int32, len(top))}
	for i, n := range top {
		b.w[i] = make([]int32, n)
	}
	return b
}

func (b bySeq) slot(w int, seq int64) *int32 {
	i := w - b.base
	if i < 0 || i >= len(b.w) || seq < 1 || seq > int64(len(b.w[i])) {
		return nil
	}
	return &b.w[i][seq-1]
}

// opIndex finds an operation by (writer, seq). For a key written twice
// (a harness fault the checker reports) it is the acknowledged one with
// the earliest acknowledgement, or the last one if none was acknowledged:
// what "an acknowledged write acknowledged before t" asks about.
type opIndex struct {
	bySeq
	ops []history.Op
}

func indexOps(ops []history.Op, base int, top []int64) opIndex {
	x := opIndex{bySeq: newBySeq(base, top), ops: ops}
	for i, op := range ops {
		p := x.slot(op.Writer, op.Seq)
		if p == nil {
			continue
		}
		if *p != 0 {
			prev := ops[*p-1]
			if prev.Outcome == history.OK && (op.Outcome != history.OK || prev.Complete <= op.Complete) {
				continue
			}
		}
		*p = int32(i + 1)
	}
	return x
}

func (x opIndex) at(w int, seq int64) (history.Op, bool) {
	if p := x.slot(w, seq); p != nil && *p != 0 {
		return x.ops[*p-1], true
	}
	return history.Op{}, false
}

// firstSeen is, for one region, which of its successful reads (in invoke
// order) first returned each (writer, seq): an index into them, plus one
// (0: never).
type firstSeen struct {
	bySeq
	reads []*history.ReadOp
}

func (f firstSeen) mark(w int, seq int64, read int) {
	if p := f.slot(w, seq); p != nil && *p == 0 {
		*p = int32(read + 1)
	}
}

// read is the read that first returned (writer, seq), and its position.
func (f firstSeen) read(w int, seq int64) (*history.ReadOp, int) {
	if p := f.slot(w, seq); p != nil && *p != 0 {
		return f.reads[*p-1], int(*p - 1)
	}
	return nil, -1
}

// get is when (writer, seq) was first returned: its read's completion (0: never).
func (f firstSeen) get(w int, seq int64) int64 {
	if rd, _ := f.read(w, seq); rd != nil {
		return max(rd.Complete, 1)
	}
	return 0
}
