package history

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recordWhole records every section of a small history, each with its end
// marker, and returns the file's lines.
func recordWhole(t *testing.T) []string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "h.jsonl")
	r := record(t, p) // ops, lag, reads, an event, a final read
	r.EndTraffic()
	r.EndFinalRead(1)
	r.Event(Event{At: 80, Source: "controller", Kind: "promote", Region: "us-west-2", ServerID: 20001})
	r.EndControllerEvents(1, nil)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	return strings.SplitAfter(string(b), "\n")
}

func readLines(t *testing.T, lines []string) *History {
	t.Helper()
	h, err := Read(strings.NewReader(strings.Join(lines, "")))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Each section is whole only with its end marker and the count it states;
// a history cut before a marker says which section it lacks.
func TestCompletenessFromEndMarkers(t *testing.T) {
	lines := recordWhole(t)
	h := readLines(t, lines)
	c := h.Complete
	if !c.Traffic.Complete || !c.FinalRead.Complete || !c.ControllerEvents.Complete || !h.Rows[0].Whole.Complete || c.Inferred {
		t.Fatalf("a whole history: %+v, rows %+v", c, h.Rows[0].Whole)
	}
	for i, l := range lines {
		if !strings.HasPrefix(l, `{"t":"end"`) {
			continue
		}
		h := readLines(t, lines[:i]) // cut just before this marker
		var p Part
		switch {
		case strings.Contains(l, `"section":"traffic"`):
			p = h.Complete.Traffic
		case strings.Contains(l, `"section":"rows"`):
			p = h.Rows[0].Whole
		case strings.Contains(l, `"section":"final-read"`):
			p = h.Complete.FinalRead
		case strings.Contains(l, `"section":"controller-events"`):
			p = h.Complete.ControllerEvents
		}
		if p.Complete || p.Why == "" {
			t.Errorf("cut before %s: %+v, want incomplete with a reason", strings.TrimSpace(l), p)
		}
	}
	// A line lost from the middle: the counts say so.
	var dropped []string
	for _, l := range lines {
		if strings.HasPrefix(l, `{"t":"op","w":2`) {
			continue
		}
		dropped = append(dropped, l)
	}
	if h := readLines(t, dropped); h.Complete.Traffic.Complete || !strings.Contains(h.Complete.Traffic.Why, "2 of the 3 operations") {
		t.Fatalf("an operation dropped: %+v", h.Complete.Traffic)
	}
	// A target that could not list its events.
	p := filepath.Join(t.TempDir(), "h.jsonl")
	r := record(t, p)
	r.EndControllerEvents(0, os.ErrDeadlineExceeded)
	r.Close()
	if h, _ := ReadFile(p); h.Complete.ControllerEvents.Complete || !strings.Contains(h.Complete.ControllerEvents.Why, "unavailable") {
		t.Fatalf("events unavailable: %+v", h.Complete.ControllerEvents)
	}
}

// A version 1 history has no markers: its completeness is inferred from
// the order its recorder wrote in, and says so.
func TestVersion1CompletenessIsInferred(t *testing.T) {
	var v1 []string
	for i, l := range recordWhole(t) {
		if strings.HasPrefix(l, `{"t":"end"`) {
			continue
		}
		if i == 0 {
			l = strings.Replace(l, `"version":2`, `"version":1`, 1)
		}
		v1 = append(v1, l)
	}
	h := readLines(t, v1)
	if c := h.Complete; !c.Inferred || !c.Traffic.Complete || !c.ControllerEvents.Complete || !h.Rows[0].Whole.Complete {
		t.Fatalf("a whole version 1 history: %+v", c)
	}
	// Cut during the traffic (before any final read): not complete.
	for i, l := range v1 {
		if strings.HasPrefix(l, `{"t":"rows"`) {
			if h := readLines(t, v1[:i]); h.Complete.Traffic.Complete {
				t.Fatalf("a version 1 history cut before its final read: traffic %+v", h.Complete.Traffic)
			}
		}
	}
	// Torn: the controller events, written last, are not complete.
	torn := append(append([]string(nil), v1...), `{"t":"event","at":9,"sou`)
	if h := readLines(t, torn); h.Complete.ControllerEvents.Complete {
		t.Fatalf("a torn version 1 history: controller events %+v", h.Complete.ControllerEvents)
	}
}
