package history

import (
	"encoding/json"
	"io"
	"strconv"
)

// Encoder writes history lines to any writer in the recorder's format,
// without the recorder's clock, lock or fsync. The Recorder writes through
// one; tests and the benchmark's synthetic history use one directly, so a
// generated history is byte for byte what a drill would have written.
type Encoder struct {
	// Chunk is how many rows one rows line holds (0: RowsChunk). Tests set
	// it small to put a final read over many lines.
	Chunk int
	w     io.Writer
	buf   []byte
	err   error
	// What the traffic section holds so far (its end marker says so).
	ops, reads, lag int
}

// NewEncoder writes the meta line (as the current Version) and returns an
// encoder for the rest.
func NewEncoder(w io.Writer, meta Meta) *Encoder {
	e := &Encoder{w: w}
	meta.Version = Version
	e.json("meta", meta)
	return e
}

// Err is the first write error.
func (e *Encoder) Err() error { return e.err }

func (e *Encoder) write(b []byte) {
	if e.err != nil {
		return
	}
	if _, err := e.w.Write(b); err != nil {
		e.err = err
	}
}

func (e *Encoder) json(kind string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		if e.err == nil {
			e.err = err
		}
		return
	}
	// {"t":"kind", + the object's fields
	line := e.buf[:0]
	line = append(line, `{"t":"`...)
	line = append(line, kind...)
	line = append(line, `"`...)
	if len(b) > 2 {
		line = append(line, ',')
		line = append(line, b[1:]...)
	} else {
		line = append(line, '}')
	}
	line = append(line, '\n')
	e.buf = line
	e.write(line)
}

// Op writes one completed operation. It is on the workload's hot path, so
// the line is built by hand.
func (e *Encoder) Op(op Op) {
	b := e.buf[:0]
	b = append(b, `{"t":"op","w":`...)
	b = strconv.AppendInt(b, int64(op.Writer), 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, op.Seq, 10)
	b = append(b, `,"i":`...)
	b = strconv.AppendInt(b, op.Invoke, 10)
	b = append(b, `,"c":`...)
	b = strconv.AppendInt(b, op.Complete, 10)
	b = append(b, `,"r":"`...)
	b = append(b, op.Outcome.String()...)
	b = append(b, '"')
	if op.Err != "" {
		b = append(b, `,"e":`...)
		b = strconv.AppendQuote(b, op.Err)
	}
	b = append(b, "}\n"...)
	e.buf = b
	e.write(b)
	e.ops++
}

// Lag writes a lag sample.
func (e *Encoder) Lag(s LagSample) {
	e.json("lag", s)
	e.lag++
}

// Read writes one reader's read.
func (e *Encoder) Read(rd ReadOp) {
	e.json("read", readLine{ReadOp: rd, R: rd.Outcome.String()})
	e.reads++
}

type readLine struct {
	ReadOp
	R string `json:"r"`
}

// Event writes a fault or control-plane event.
func (e *Encoder) Event(ev Event) { e.json("event", ev) }

// Rows writes a region's final read in chunks of RowsChunk rows, so no line
// gets huge, then its end marker with the number of rows.
func (e *Encoder) Rows(set RowSet) {
	chunk := e.Chunk
	if chunk <= 0 {
		chunk = RowsChunk
	}
	for i := 0; i == 0 || i < len(set.Rows); i += chunk {
		end := min(i+chunk, len(set.Rows))
		rows := make([][4]int64, 0, end-i)
		for _, x := range set.Rows[i:end] {
			rows = append(rows, [4]int64{int64(x.Writer), x.Seq, int64(x.Origin), x.CommittedAt})
		}
		e.json("rows", rowsLine{RowSet: set, Rows: rows})
	}
	e.json("end", SectionEnd{Section: SectionRows, Region: set.Region, At: set.At, Count: len(set.Rows)})
}

type rowsLine struct {
	RowSet
	Rows [][4]int64 `json:"rows"`
}

// EndTraffic marks the traffic section whole: every operation, read and
// lag sample written so far (the marker says how many).
func (e *Encoder) EndTraffic(at int64) {
	e.json("end", SectionEnd{Section: SectionTraffic, At: at, Ops: e.ops, Reads: e.reads, Lag: e.lag})
}

// EndFinalRead marks the final read whole: every region was read (n of
// them), skipped or failed, and each is recorded.
func (e *Encoder) EndFinalRead(at int64, n int) {
	e.json("end", SectionEnd{Section: SectionFinalRead, At: at, Count: n})
}

// EndControllerEvents marks the controller events whole (n of them), or
// records that the target could not list them (err).
func (e *Encoder) EndControllerEvents(at int64, n int, err error) {
	end := SectionEnd{Section: SectionControllerEvents, At: at, Count: n}
	if err != nil {
		end.Err = err.Error()
	}
	e.json("end", end)
}
