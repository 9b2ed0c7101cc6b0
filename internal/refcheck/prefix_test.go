package refcheck_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/check"
	"github.com/drdrill/drdrill/internal/history"
)

// #23 item 4, as a property: a history cut anywhere — at any line boundary,
// as a kill leaves it after a flush, or mid-line — is never judged on what
// it lacks. Every measure the cut history judges has the whole history's
// value; the rest are not judged (or do not apply, as the whole's do not).
func TestNoCutHistoryIsJudgedOnWhatItLacks(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		b, shape := generateWhole(seed)
		whole, err := history.Read(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		window := windowFor(seed)
		want := check.Check(whole, check.Config{StabilityWindow: window})
		cuts := []int{}
		for i := range b {
			if b[i] == '\n' && i+1 < len(b) {
				cuts = append(cuts, i+1, i+1+(len(b)-i-1)/3)
			}
		}
		for _, cut := range cuts {
			h, err := history.Read(bytes.NewReader(b[:cut]))
			if err != nil {
				continue // a cut inside the meta line
			}
			got := check.Check(h, check.Config{StabilityWindow: window})
			for _, m := range check.Measures {
				g, w := m.Read(&got), m.Read(&want)
				if g.Judged && (!w.Judged || g.V != w.V) {
					t.Fatalf("seed %d (%s) cut at byte %d of %d (%q…): %s judged %v, the whole history says %+v",
						seed, shape, cut, len(b), lastLine(b[:cut]), m.Key, g.V, w)
				}
			}
		}
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	l := lines[len(lines)-1]
	return l[:min(len(l), 60)]
}
