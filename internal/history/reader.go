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
	h, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("history %s: %w", path, err)
	}
	return h, nil
}

// Read parses a history. A cut-off last line (a crash mid-write) is dropped
// and reported in Torn/TornNote; any other malformed line is an error that
// names the line.
func Read(r io.Reader) (*History, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h := &History{}
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
			if perr := h.parseLine(body, &sawMeta); perr != nil {
				if last && !complete {
					h.Torn = true
					h.TornNote = fmt.Sprintf("line %d was cut off (%d bytes, no newline): the recorder stopped mid-write; it is ignored", n, len(body))
				} else {
					return nil, fmt.Errorf("line %d: %w", n, perr)
				}
			}
		}
		if last {
			break
		}
	}
	if !sawMeta {
		return nil, errors.New("no meta line: not a drdrill history (or empty)")
	}
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
	var head struct {
		T string `json:"t"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
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
		if h.Meta.Version != Version {
			return fmt.Errorf("history format version %d; this drdrill reads version %d (re-run, or use the drdrill that wrote it)", h.Meta.Version, Version)
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
	case "event":
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		h.Events = append(h.Events, e)
	case "rows":
		var rl rowsLine
		if err := json.Unmarshal(b, &rl); err != nil {
			return err
		}
		set := rl.RowSet
		rows := make([]Row, len(rl.Rows))
		for i, x := range rl.Rows {
			rows[i] = Row{Writer: int(x[0]), Seq: x[1], Origin: uint32(x[2]), CommittedAt: x[3]}
		}
		// Chunks of one region's read are consecutive lines.
		if k := len(h.Rows) - 1; k >= 0 && h.Rows[k].Region == set.Region && h.Rows[k].At == set.At {
			h.Rows[k].Rows = append(h.Rows[k].Rows, rows...)
		} else {
			set.Rows = rows
			h.Rows = append(h.Rows, set)
		}
	default:
		return fmt.Errorf("unknown line type %q", head.T)
	}
	return nil
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
