package history

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// ReadFile reads a history file; see Read.
func ReadFile(path string) (*History, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("history %s does not exist: was the scenario run? (reports/<run-id>/<scenario>/history.jsonl)", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// A first pass counts operations and rows, so that both are allocated
	// once at their exact size: growing them by appending costs up to twice
	// the memory at the peak, and a guess from the file size overshoots.
	ops, rows, err := countLines(f)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	h, err := read(f, ops, rows)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	return h, nil
}

// Read parses a history. A cut-off last line (a crash mid-write) is dropped
// and reported in Torn/TornNote; any other malformed line is an error that
// names the line.
func Read(r io.Reader) (*History, error) { return read(r, 0, 0) }

// bufferFor sizes the line reader's buffer: 1 MB, or less for an
// in-memory history that is smaller (generated histories are read by the
// thousand in tests).
func bufferFor(r io.Reader) int {
	if l, ok := r.(interface{ Len() int }); ok {
		return min(1<<20, max(4096, l.Len()+1))
	}
	return 1 << 20
}

// countLines counts operation lines and row entries (an upper bound: a
// torn or odd line may count without parsing).
func countLines(r io.Reader) (ops, rows int, err error) {
	br := bufio.NewReaderSize(r, 1<<20)
	opPrefix, rowsPrefix := []byte(`{"t":"op"`), []byte(`{"t":"rows"`)
	inRows := false
	start := true
	for {
		line, err := br.ReadSlice('\n')
		if start {
			inRows = bytes.HasPrefix(line, rowsPrefix)
			if bytes.HasPrefix(line, opPrefix) {
				ops++
			}
		}
		if inRows {
			rows += bytes.Count(line, []byte{'['})
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			start = false // the same line goes on
		case err != nil:
			if errors.Is(err, io.EOF) {
				return ops, rows, nil
			}
			return 0, 0, err
		default:
			start = true
		}
	}
}

func read(r io.Reader, opsHint, rowsHint int) (*History, error) {
	br := bufio.NewReaderSize(r, bufferFor(r))
	h := &History{Ops: make([]Op, 0, opsHint), arena: make([]Row, 0, rowsHint)}
	var acc []byte
	sawMeta := false
	for n := 1; ; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			acc = append(acc[:0], line...)
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = br.ReadSlice('\n')
				acc = append(acc, line...)
			}
			line = acc
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		last := errors.Is(err, io.EOF)
		complete := len(line) > 0 && line[len(line)-1] == '\n'
		body := bytes.TrimSpace(line)
		if len(body) > 0 {
			h.lineNo = n
			if perr := h.parseLine(body, &sawMeta); perr != nil {
				if last && !complete {
					h.Torn = true
					h.TornNote = fmt.Sprintf("line %d was cut off (%d bytes, no newline): the recorder stopped mid-write; it is ignored", n, len(body))
				} else {
					return nil, fmt.Errorf("line %d: %w", n, perr)
				}
			} else {
				h.lastParsed = n
			}
		}
		if last {
			break
		}
	}
	if !sawMeta {
		return nil, errors.New("no meta line: not a drdrill history (or empty)")
	}
	h.arena = nil
	h.assess()
	h.setLines = nil
	return h, nil
}

func (h *History) parseLine(b []byte, sawMeta *bool) error {
	if op, ok := parseOpFast(b); ok {
		if !*sawMeta {
			return errors.New("operation before the meta line")
		}
		h.Ops = append(h.Ops, op)
		return nil
	}
	if *sawMeta {
		if rd, ok := h.parseReadFast(b); ok {
			h.Reads = append(h.Reads, rd)
			return nil
		}
	}
	var head struct {
		T string `json:"t"`
	}
	if t, ok := lineType(b); ok {
		// Each kind's own parse below validates the whole line: decoding a
		// 20,000-row line twice cost a third of reading a history.
		head.T = t
	} else if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	if head.T != "meta" && !*sawMeta {
		return fmt.Errorf("%q line before the meta line", head.T)
	}
	switch head.T {
	case "meta":
		if *sawMeta {
			return errors.New("second meta line")
		}
		if err := json.Unmarshal(b, &h.Meta); err != nil {
			return err
		}
		if h.Meta.Version != Version && h.Meta.Version != 1 {
			return fmt.Errorf("history format version %d; this drdrill reads versions 1 to %d (re-run, or use the drdrill that wrote it)", h.Meta.Version, Version)
		}
		*sawMeta = true
	case "op":
		op, err := parseOpJSON(b)
		if err != nil {
			return err
		}
		h.Ops = append(h.Ops, op)
	case "lag":
		var s LagSample
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		h.Lag = append(h.Lag, s)
	case "read":
		var rl readLine
		if err := json.Unmarshal(b, &rl); err != nil {
			return err
		}
		out, ok := ParseOutcome(rl.R)
		if !ok {
			return fmt.Errorf("read outcome %q", rl.R)
		}
		rl.ReadOp.Outcome = out
		if len(rl.Asked)%3 != 0 || len(rl.Saw)%3 != 0 {
			return errors.New("read ranges are not (writer, from, to) triples")
		}
		h.Reads = append(h.Reads, rl.ReadOp)
	case "event":
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		h.Events = append(h.Events, e)
	case "end":
		var e SectionEnd
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		switch e.Section {
		case SectionTraffic, SectionRows, SectionFinalRead, SectionControllerEvents:
		default:
			return fmt.Errorf("end of unknown section %q", e.Section)
		}
		h.Ends = append(h.Ends, e)
	case "rows":
		// Every set's rows live in one arena; a set is a window of it.
		start := len(h.arena)
		set, arena, err := parseRows(b, h.arena)
		if err != nil {
			return err
		}
		h.arena = arena
		// Chunks of one region's read come one after another (other kinds
		// of lines may come between them), so a set's chunks are
		// consecutive in the arena: the last set is always at its end.
		if k := len(h.Rows) - 1; k >= 0 && h.Rows[k].Region == set.Region && h.Rows[k].At == set.At {
			h.Rows[k].Rows = h.arena[h.setStart:len(h.arena):len(h.arena)]
		} else {
			h.setStart = start
			set.Rows = h.arena[start:len(h.arena):len(h.arena)]
			h.Rows = append(h.Rows, set)
			h.setLines = append(h.setLines, setLines{})
		}
		h.setLines[len(h.Rows)-1] = setLines{last: h.lineNo, lastChunk: len(h.arena) - start}
		return nil
	default:
		return fmt.Errorf("unknown line type %q", head.T)
	}
	return nil
}

// lineType is the type of a line that starts the way the recorder writes
// every line, {"t":"<type>", with a plain type; false otherwise (the
// caller then asks encoding/json).
func lineType(b []byte) (string, bool) {
	const prefix = `{"t":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", false
	}
	rest := b[len(prefix):]
	end := bytes.IndexByte(rest[:min(len(rest), 32)], '"')
	if end <= 0 || len(rest) < end+2 || (rest[end+1] != ',' && rest[end+1] != '}') {
		return "", false
	}
	for _, c := range rest[:end] {
		if c < 'a' || c > 'z' {
			return "", false
		}
	}
	return string(rest[:end]), true
}

// parseRows decodes a rows line. The header goes through encoding/json; the
// (large) rows array is parsed by hand when it has exactly the shape the
// recorder writes, and through encoding/json otherwise.
// parseRows parses a rows line, appending its rows to dst.
func parseRows(b []byte, dst []Row) (RowSet, []Row, error) {
	const key = `,"rows":[`
	if i := bytes.Index(b, []byte(key)); i > 0 && bytes.HasSuffix(b, []byte("]}")) {
		var set RowSet
		head := append(append([]byte(nil), b[:i]...), '}')
		if err := json.Unmarshal(head, &set); err == nil {
			if rows, ok := parseRowArray(dst, b[i+len(key):len(b)-2]); ok {
				return set, rows, nil
			}
		}
	}
	var rl rowsLine
	if err := json.Unmarshal(b, &rl); err != nil {
		return RowSet{}, dst, err
	}
	for _, x := range rl.Rows {
		if x[2] < 0 || x[2] > 1<<32-1 {
			return RowSet{}, dst, fmt.Errorf("row origin %d out of range", x[2])
		}
		dst = append(dst, Row{Writer: int(x[0]), Seq: x[1], Origin: uint32(x[2]), CommittedAt: x[3]})
	}
	return rl.RowSet, dst, nil
}

// parseRowArray parses `[a,b,c,d],[a,b,c,d]` (the body of the rows array),
// appending to dst; on failure it returns dst as it was.
func parseRowArray(dst []Row, b []byte) ([]Row, bool) {
	orig := dst
	rows := dst
	if len(b) == 0 {
		return rows, true
	}
	for len(b) > 0 {
		if b[0] != '[' {
			return orig, false
		}
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			return orig, false
		}
		var v [4]int64
		f := b[1:end]
		for k := 0; k < 4; k++ {
			j := bytes.IndexByte(f, ',')
			if k == 3 {
				j = len(f)
			}
			if j <= 0 {
				return orig, false
			}
			n, ok := jsonInt(f[:j])
			if !ok {
				return orig, false
			}
			v[k] = n
			if k < 3 {
				f = f[j+1:]
			}
		}
		if v[0] != int64(int(v[0])) || v[2] < 0 || v[2] > 1<<32-1 {
			return orig, false
		}
		rows = append(rows, Row{Writer: int(v[0]), Seq: v[1], Origin: uint32(v[2]), CommittedAt: v[3]})
		b = b[end+1:]
		if len(b) > 0 {
			if b[0] != ',' {
				return orig, false
			}
			b = b[1:]
			if len(b) == 0 {
				return orig, false
			}
		}
	}
	return rows, true
}

// jsonInt parses a JSON integer (no leading zeros, no plus sign).
func jsonInt(d []byte) (int64, bool) {
	if len(d) == 0 || len(d) > 20 {
		return 0, false
	}
	digits := d
	if d[0] == '-' {
		digits = d[1:]
	}
	if len(digits) == 0 || (digits[0] == '0' && len(digits) > 1) {
		return 0, false
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (1<<63-1-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if d[0] == '-' {
		n = -n
	}
	return n, true
}

type opJSON struct {
	Writer   *int   `json:"w"`
	Seq      *int64 `json:"s"`
	Invoke   *int64 `json:"i"`
	Complete *int64 `json:"c"`
	R        string `json:"r"`
	E        string `json:"e"`
}

func parseOpJSON(b []byte) (Op, error) {
	var o opJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return Op{}, err
	}
	if o.Writer == nil || o.Seq == nil || o.Invoke == nil || o.Complete == nil {
		return Op{}, errors.New("op line lacks one of w, s, i, c")
	}
	out, ok := ParseOutcome(o.R)
	if !ok {
		return Op{}, fmt.Errorf("op line has outcome %q (want ok, fail or info)", o.R)
	}
	if *o.Complete < *o.Invoke {
		return Op{}, fmt.Errorf("op (%d,%d) completes before it is invoked", *o.Writer, *o.Seq)
	}
	return Op{Writer: *o.Writer, Seq: *o.Seq, Invoke: *o.Invoke, Complete: *o.Complete, Outcome: out, Err: o.E}, nil
}

// parseOpFast parses exactly the line shape Recorder.Op writes without an
// error string; anything else falls back to encoding/json. The fuzz test
// holds the two paths to the same answers.
func parseOpFast(b []byte) (Op, bool) {
	const prefix = `{"t":"op","w":`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return Op{}, false
	}
	b = b[len(prefix):]
	var op Op
	var ok bool
	var v int64
	if v, b, ok = fastInt(b, `,"s":`); !ok || v != int64(int(v)) {
		return Op{}, false
	}
	op.Writer = int(v)
	if op.Seq, b, ok = fastInt(b, `,"i":`); !ok {
		return Op{}, false
	}
	if op.Invoke, b, ok = fastInt(b, `,"c":`); !ok {
		return Op{}, false
	}
	if op.Complete, b, ok = fastInt(b, `,"r":"`); !ok {
		return Op{}, false
	}
	end := bytes.IndexByte(b, '"')
	if end < 0 || string(b[end:]) != `"}` {
		return Op{}, false
	}
	if op.Outcome, ok = ParseOutcome(string(b[:end])); !ok || op.Complete < op.Invoke {
		return Op{}, false
	}
	return op, true
}

// fastInt reads a decimal integer followed by sep.
func fastInt(b []byte, sep string) (int64, []byte, bool) {
	i := bytes.Index(b, []byte(sep))
	if i <= 0 || i > 20 {
		return 0, nil, false
	}
	digits := b[:i]
	if digits[0] != '-' && (digits[0] < '0' || digits[0] > '9') {
		return 0, nil, false
	}
	if digits[0] == '-' {
		if len(digits) == 1 || digits[1] < '1' || digits[1] > '9' {
			return 0, nil, false
		}
	} else if digits[0] == '0' && len(digits) > 1 {
		return 0, nil, false // JSON forbids leading zeros
	}
	v, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return v, b[i+len(sep):], true
}

// parseReadFast parses exactly the line shape Recorder.Read writes without
// an error string, putting the ranges in a shared arena (reads are a
// seventh of the lines: one allocation each would dominate the reader's
// budget); anything else falls back to encoding/json.
func (h *History) parseReadFast(b []byte) (ReadOp, bool) {
	const prefix = `{"t":"read","g":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return ReadOp{}, false
	}
	b = b[len(prefix):]
	end := bytes.IndexByte(b, '"')
	if end <= 0 {
		return ReadOp{}, false
	}
	for _, c := range b[:end] {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return ReadOp{}, false // escapes and non-ASCII go through encoding/json
		}
	}
	var rd ReadOp
	rd.Region = h.intern(b[:end])
	b = b[end+1:]
	var ok bool
	var v int64
	if bytes.HasPrefix(b, []byte(`,"sid":`)) {
		if v, b, ok = fastInt(b[len(`,"sid":`):], `,"i":`); !ok || v < 0 || v > 1<<32-1 {
			return ReadOp{}, false
		}
		rd.ServerID = uint32(v)
	} else if bytes.HasPrefix(b, []byte(`,"i":`)) {
		b = b[len(`,"i":`):]
	} else {
		return ReadOp{}, false
	}
	if rd.Invoke, b, ok = fastInt(b, `,"c":`); !ok {
		return ReadOp{}, false
	}
	if rd.Complete, b, ok = fastInt(b, `,"q":`); !ok || rd.Complete < rd.Invoke {
		return ReadOp{}, false
	}
	if rd.Asked, b, ok = h.intArray(b); !ok || !bytes.HasPrefix(b, []byte(`,"v":`)) {
		return ReadOp{}, false
	}
	if rd.Saw, b, ok = h.intArray(b[len(`,"v":`):]); !ok || !bytes.HasPrefix(b, []byte(`,"r":"`)) {
		return ReadOp{}, false
	}
	b = b[len(`,"r":"`):]
	end = bytes.IndexByte(b, '"')
	if end < 0 || string(b[end:]) != `"}` {
		return ReadOp{}, false
	}
	if rd.Outcome, ok = ParseOutcome(string(b[:end])); !ok || len(rd.Asked)%3 != 0 || len(rd.Saw)%3 != 0 {
		return ReadOp{}, false
	}
	return rd, true
}

// intArray parses a JSON array of integers (or null) into the int arena.
func (h *History) intArray(b []byte) ([]int64, []byte, bool) {
	if bytes.HasPrefix(b, []byte("null")) {
		return nil, b[4:], true
	}
	if len(b) < 2 || b[0] != '[' {
		return nil, nil, false
	}
	end := bytes.IndexByte(b, ']')
	if end < 0 {
		return nil, nil, false
	}
	body, rest := b[1:end], b[end+1:]
	if len(body) == 0 {
		return []int64{}, rest, true
	}
	n := bytes.Count(body, []byte{','}) + 1
	if cap(h.ints)-len(h.ints) < n {
		// A new block, twice the last up to 64 K values: a small history
		// (generated, by the thousand in tests) allocates little.
		h.ints = make([]int64, 0, max(n, min(64<<10, 2*cap(h.ints)), 256))
	}
	start := len(h.ints)
	for len(body) > 0 {
		i := bytes.IndexByte(body, ',')
		digits := body
		if i >= 0 {
			digits, body = body[:i], body[i+1:]
			if len(body) == 0 {
				return nil, nil, false // trailing comma
			}
		} else {
			body = nil
		}
		v, ok := jsonInt(digits)
		if !ok {
			h.ints = h.ints[:start]
			return nil, nil, false
		}
		h.ints = append(h.ints, v)
	}
	return h.ints[start:len(h.ints):len(h.ints)], rest, true
}

// intern returns one string per region name.
func (h *History) intern(b []byte) string {
	for _, s := range h.names {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	h.names = append(h.names, s)
	return s
}
