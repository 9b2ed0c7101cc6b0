package refcheck_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/refcheck"
)

// shrink drops lines from a history while the checkers still disagree on
// one of the figures they first disagreed on, and returns what is left:
// the minimal history to read when a disagreement is reported.
func shrink(b []byte, window time.Duration, first []string) []byte {
	names := map[string]bool{}
	for _, d := range first {
		names[d[:bytes.IndexByte([]byte(d), ':')]] = true
	}
	return shrinkWhile(b, func(doc []byte) bool {
		h, err := history.Read(bytes.NewReader(doc))
		if err != nil {
			return false
		}
		for _, d := range disagreements(refcheck.Check(h, window), fast(check.Check(h, check.Config{StabilityWindow: window}))) {
			if names[d[:bytes.IndexByte([]byte(d), ':')]] {
				return true
			}
		}
		return false
	})
}

// shrinkWhile drops chunks of lines while holds stays true of what is
// left (its end markers recounted), halving the chunk when nothing more
// can go; the meta line always stays.
func shrinkWhile(b []byte, holds func(doc []byte) bool) []byte {
	lines := bytes.SplitAfter(b, []byte("\n"))
	for chunk := len(lines) / 2; chunk >= 1; chunk /= 2 {
		for i := 1; i < len(lines); {
			end := min(len(lines), i+chunk)
			try := append(append([][]byte{}, lines[:i]...), lines[end:]...)
			if holds(fixMarkers(bytes.Join(try, nil))) {
				lines = try
				continue
			}
			i = end
		}
	}
	return fixMarkers(bytes.Join(lines, nil))
}

// fixMarkers recounts the end markers after lines were dropped, so that a
// shrunk history is as complete as the one it came from.
func fixMarkers(doc []byte) []byte {
	var out [][]byte
	ops, reads, lags, controller := 0, 0, 0, 0
	rows := map[string]int{}
	for _, l := range bytes.SplitAfter(doc, []byte("\n")) {
		var head struct {
			T       string `json:"t"`
			Section string `json:"section"`
			Source  string `json:"source"`
			Region  string `json:"region"`
			Rows    [][4]int64
		}
		_ = json.Unmarshal(l, &head)
		switch head.T {
		case "op":
			ops++
		case "read":
			reads++
		case "lag":
			lags++
		case "event":
			if head.Source == "controller" {
				controller++
			}
		case "rows":
			rows[head.Region] += len(head.Rows)
		case "end":
			var e history.SectionEnd
			if json.Unmarshal(l, &e) == nil {
				switch e.Section {
				case history.SectionTraffic:
					e.Ops, e.Reads, e.Lag = ops, reads, lags
				case history.SectionRows:
					e.Count, rows[e.Region] = rows[e.Region], 0
				case history.SectionControllerEvents:
					if e.Err == "" {
						e.Count = controller
					}
				}
				b, _ := json.Marshal(e)
				l = append(append([]byte(`{"t":"end",`), b[1:]...), '\n')
			}
		}
		out = append(out, l)
	}
	return bytes.Join(out, nil)
}

// A disagreement is shown on a minimal history: the shrinker keeps what a
// planted property needs — one operation — and the meta line, no more.
func TestShrinkKeepsWhatTheDisagreementNeeds(t *testing.T) {
	b, _ := generateWhole(3)
	needle := []byte(`{"t":"op","w":1,"s":3,`)
	if !bytes.Contains(b, needle) {
		t.Fatal("seed 3 generates no write (1, 3)")
	}
	got := shrinkWhile(b, func(doc []byte) bool { return bytes.Contains(doc, needle) })
	lines := bytes.Split(bytes.TrimSpace(got), []byte("\n"))
	if len(lines) != 2 || !bytes.HasPrefix(lines[0], []byte(`{"t":"meta"`)) || !bytes.HasPrefix(lines[1], needle) {
		t.Fatalf("shrunk to %d lines, want the meta line and the write:\n%s", len(lines), got)
	}
}
