package history

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func record(t *testing.T, path string) *Recorder {
	t.Helper()
	r, err := Create(path, Meta{Run: "r1", Scenario: "s", Target: "lab", RateHz: 200, Writers: 2})
	if err != nil {
		t.Fatal(err)
	}
	r.Op(Op{Writer: 1, Seq: 1, Invoke: 10, Complete: 20, Outcome: OK})
	r.Op(Op{Writer: 2, Seq: 1, Invoke: 11, Complete: 30, Outcome: Info, Err: "i/o timeout \"quoted\"\n"})
	r.Op(Op{Writer: 1, Seq: 2, Invoke: 40, Complete: 41, Outcome: Fail, Err: "Error 1290"})
	r.Lag(LagSample{Region: "us-west-2", At: 50, Ms: 36.5})
	r.Read(ReadOp{Region: "us-east-1", ServerID: 10001, Invoke: 52, Complete: 55, Outcome: OK, Asked: []int64{1, 1, 0, 2, 1, 3}, Saw: []int64{1, 1, 2}})
	r.Read(ReadOp{Region: "us-west-2", Invoke: 53, Complete: 56, Outcome: Fail, Err: "i/o timeout", Asked: []int64{1, 1, 0}})
	r.Event(Event{At: 60, Source: "fault", Kind: "inject", Fault: "region-crash", ID: "f1", Region: "us-east-1"})
	if err := r.Rows(RowSet{Region: "us-west-2", Role: "primary", ServerID: 20001, At: 70,
		Rows: []Row{{Writer: 1, Seq: 1, Origin: 10001, CommittedAt: 15}}}); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "history.jsonl")
	r := record(t, p)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if h.Torn || h.Meta.Run != "r1" || h.Meta.StartWall == 0 || len(h.Ops) != 3 || len(h.Lag) != 1 || len(h.Events) != 1 || len(h.Rows) != 1 {
		t.Fatalf("read back %+v", h)
	}
	if h.Ops[1].Outcome != Info || h.Ops[1].Err != "i/o timeout \"quoted\"\n" || h.Ops[2].Outcome != Fail {
		t.Fatalf("ops %+v", h.Ops)
	}
	if got := h.Rows[0]; got.ServerID != 20001 || len(got.Rows) != 1 || got.Rows[0].Origin != 10001 {
		t.Fatalf("rows %+v", got)
	}
	want := []ReadOp{{Region: "us-east-1", ServerID: 10001, Invoke: 52, Complete: 55, Outcome: OK, Asked: []int64{1, 1, 0, 2, 1, 3}, Saw: []int64{1, 1, 2}},
		{Region: "us-west-2", Invoke: 53, Complete: 56, Outcome: Fail, Err: "i/o timeout", Asked: []int64{1, 1, 0}}}
	if !reflect.DeepEqual(h.Reads, want) {
		t.Fatalf("reads %+v, want %+v", h.Reads, want)
	}
	if rd := h.Reads[0]; !rd.Covers(1, 99) || !rd.Covers(2, 3) || rd.Covers(2, 4) || !rd.Has(1, 2) || rd.Has(1, 3) {
		t.Fatalf("covers/has wrong for %+v", rd)
	}
}

// The recorder flushes on its own: a reader sees operations without Close,
// which is what bounds a harness crash to one flush interval.
func TestRecorderFlushesWithoutClose(t *testing.T) {
	p := filepath.Join(t.TempDir(), "history.jsonl")
	r := record(t, p)
	defer r.Close()
	if err := r.Sync(); err != nil {
		t.Fatal(err)
	}
	h, err := ReadFile(p)
	if err != nil || len(h.Ops) != 3 {
		t.Fatalf("after sync: %v ops, %v", len(h.Ops), err)
	}
}

func TestTornLastLineIsAcceptedAndReported(t *testing.T) {
	p := filepath.Join(t.TempDir(), "history.jsonl")
	r := record(t, p)
	r.Close()
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"t":"op","w":1,"s":3,"i":5`)
	f.Close()
	h, err := ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Torn || !strings.Contains(h.TornNote, "line 11") || len(h.Ops) != 3 {
		t.Fatalf("torn=%v note=%q ops=%d", h.Torn, h.TornNote, len(h.Ops))
	}
}

func TestCorruptionIsAnErrorNamingTheLine(t *testing.T) {
	cases := map[string]string{
		"garbage mid-file":               "{\"t\":\"meta\",\"version\":1}\n{\"t\":\"op\",\"w\":1,\"s\":1,\"i\":1,\"c\":2,\"r\":\"ok\"}\nnot json\n{\"t\":\"op\",\"w\":1,\"s\":2,\"i\":1,\"c\":2,\"r\":\"ok\"}\n",
		"bad outcome":                    "{\"t\":\"meta\",\"version\":1}\n{\"t\":\"op\",\"w\":1,\"s\":1,\"i\":1,\"c\":2,\"r\":\"maybe\"}\n",
		"complete before invoke":         "{\"t\":\"meta\",\"version\":1}\n{\"t\":\"op\",\"w\":1,\"s\":1,\"i\":9,\"c\":2,\"r\":\"ok\"}\n",
		"unknown type":                   "{\"t\":\"meta\",\"version\":1}\n{\"t\":\"weird\"}\n",
		"corrupt last line with newline": "{\"t\":\"meta\",\"version\":1}\n{\"t\":\"op\",\"w\":1,\n",
	}
	wantLine := map[string]string{"garbage mid-file": "line 3", "bad outcome": "line 2", "complete before invoke": "line 2", "unknown type": "line 2", "corrupt last line with newline": "line 2"}
	for name, body := range cases {
		_, err := Read(strings.NewReader(body))
		if err == nil || !strings.Contains(err.Error(), wantLine[name]) {
			t.Errorf("%s: got %v, want an error naming %s", name, err, wantLine[name])
		}
	}
	if _, err := Read(strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "no meta line") {
		t.Errorf("empty history: %v", err)
	}
	if _, err := Read(strings.NewReader("{\"t\":\"meta\",\"version\":99}\n")); err == nil || !strings.Contains(err.Error(), "version 99") {
		t.Errorf("future version: %v", err)
	}
}

// FuzzRead: the reader never panics, and the fast path for operation lines
// agrees with encoding/json on every line it accepts.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"t":"op","w":1,"s":2,"i":3,"c":4,"r":"ok"}`))
	f.Add([]byte(`{"t":"op","w":-1,"s":0,"i":0,"c":0,"r":"info"}`))
	f.Add([]byte(`{"t":"op","w":1,"s":2,"i":3,"c":4,"r":"fail","e":"x"}`))
	f.Add([]byte(`{"t":"op","w":01,"s":2,"i":3,"c":4,"r":"ok"}`))
	f.Add([]byte(`{"t":"lag","region":"a","at":1,"ms":2}`))
	f.Add([]byte(`{"t":"rows","region":"us-west-2","role":"primary","server_id":20001,"at":70,"rows":[[1,1,10001,15],[2,-3,7,0]]}`))
	f.Add([]byte(`{"t":"rows","region":"a","role":"b","server_id":1,"at":1,"rows":[]}`))
	f.Add([]byte(`{"t":"read","g":"us-east-1","sid":10001,"i":39599228,"c":42803898,"q":[25,1,0,26,1,0],"v":[25,1,2],"r":"ok"}`))
	f.Add([]byte(`{"t":"read","g":"us-west-2","i":5,"c":7,"q":[25,148,0],"v":null,"r":"fail"}`))
	f.Add([]byte(`{"t":"read","g":"a","i":5,"c":7,"e":"x","q":[],"v":[],"r":"info"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if bytes.HasPrefix(line, []byte(`{"t":"read"`)) {
			var h History
			rd, ok := h.parseReadFast(line)
			var rl readLine
			jerr := json.Unmarshal(line, &rl)
			if ok {
				out, valid := ParseOutcome(rl.R)
				if jerr != nil || !valid {
					t.Fatalf("read fast path accepted %q that encoding/json rejects: %v", line, jerr)
				}
				rl.ReadOp.Outcome = out
				norm := func(r ReadOp) ReadOp {
					if len(r.Asked) == 0 {
						r.Asked = nil
					}
					if len(r.Saw) == 0 {
						r.Saw = nil
					}
					return r
				}
				if !reflect.DeepEqual(norm(rd), norm(rl.ReadOp)) {
					t.Fatalf("read fast %+v != json %+v for %q", rd, rl.ReadOp, line)
				}
			}
		}
		if op, ok := parseOpFast(line); ok {
			if !json.Valid(line) {
				t.Fatalf("fast path accepted invalid JSON %q", line)
			}
			want, err := parseOpJSON(line)
			if err != nil {
				t.Fatalf("fast path accepted %q, encoding/json rejects it: %v", line, err)
			}
			if !reflect.DeepEqual(op, want) {
				t.Fatalf("fast %+v != json %+v for %q", op, want, line)
			}
		}
		if bytes.HasPrefix(line, []byte(`{"t":"rows"`)) {
			set, rows, err := parseRows(line, nil)
			var rl rowsLine
			jerr := json.Unmarshal(line, &rl)
			if err == nil && jerr == nil {
				if set.Region != rl.Region || set.ServerID != rl.ServerID || len(rows) != len(rl.Rows) {
					t.Fatalf("rows fast path %+v/%d != json %+v/%d for %q", set, len(rows), rl.RowSet, len(rl.Rows), line)
				}
				for i, x := range rl.Rows {
					if (rows[i] != Row{Writer: int(x[0]), Seq: x[1], Origin: uint32(x[2]), CommittedAt: x[3]}) {
						t.Fatalf("row %d: fast %+v json %v", i, rows[i], x)
					}
				}
			}
			if err == nil && jerr != nil {
				t.Fatalf("rows fast path accepted %q that encoding/json rejects: %v", line, jerr)
			}
		}
		doc := append([]byte("{\"t\":\"meta\",\"version\":1}\n"), line...)
		_, _ = Read(bytes.NewReader(doc))
	})
}

// A set's chunks may have other lines between them (the recorder flushes
// events and lag from other goroutines); two regions' sets stay apart.
func TestRowChunksWithLinesBetween(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.jsonl")
	rec, err := Create(path, Meta{Run: "r", Scenario: "s"})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(n, origin int) []Row {
		var rows []Row
		for i := 1; i <= n; i++ {
			rows = append(rows, Row{Writer: 1, Seq: int64(i), Origin: uint32(origin), CommittedAt: int64(i)})
		}
		return rows
	}
	// 45,000 rows: three chunks of at most 20,000.
	if err := rec.Rows(RowSet{Region: "a", Role: "primary", At: 5, Rows: mk(45000, 1)}); err != nil {
		t.Fatal(err)
	}
	rec.Event(Event{At: 6, Source: "x", Kind: "y"})
	if err := rec.Rows(RowSet{Region: "b", Role: "fenced", At: 7, Rows: mk(25000, 2)}); err != nil {
		t.Fatal(err)
	}
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	// Put an event between a's first and second chunk.
	b, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(b), "\n")
	var out []string
	for i, l := range lines {
		out = append(out, l)
		if i > 0 && strings.HasPrefix(l, `{"t":"rows","region":"a"`) && len(out) < 4 {
			out = append(out, `{"t":"event","at":1,"source":"x","kind":"between"}`+"\n")
		}
	}
	os.WriteFile(path, []byte(strings.Join(out, "")), 0o644)
	h, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Rows) != 2 || len(h.Rows[0].Rows) != 45000 || len(h.Rows[1].Rows) != 25000 {
		t.Fatalf("sets %d: %d and %d rows", len(h.Rows), len(h.Rows[0].Rows), len(h.Rows[1].Rows))
	}
	for i, r := range h.Rows[0].Rows {
		if r.Seq != int64(i+1) || r.Origin != 1 {
			t.Fatalf("a[%d] = %+v", i, r)
		}
	}
	if h.Rows[1].Rows[0].Origin != 2 || h.Rows[1].Rows[24999].Seq != 25000 {
		t.Fatalf("b: %+v … %+v", h.Rows[1].Rows[0], h.Rows[1].Rows[24999])
	}
}
