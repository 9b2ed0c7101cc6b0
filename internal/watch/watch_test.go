package watch

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/live"
	"github.com/drdrill/drdrill/internal/target"
)

func snap(primary string, lag string, errorsPerS float64) Snapshot {
	return Snapshot{TimeNs: time.Now().UnixNano(), Target: "lab", LagMs: map[string]string{"b": lag},
		Topology: target.Topology{Primary: primary, Healthy: true, Regions: []target.Region{{Name: "a", Role: "primary", Reachable: true, Writable: true},
			{Name: "b", Role: "secondary", Reachable: true, Replicating: true}}},
		Runs: []live.Progress{{What: "drill x", Scenario: "s", Index: 1, Total: 2, WritesPerS: 990 + errorsPerS, ErrorsPerS: errorsPerS}}}
}

// Into a pipe: one line per change of state, none for a lag or a rate
// that moved within its bucket, no escape code; on a terminal, a redraw
// every time.
func TestWatchWritesOneLinePerChangeOffATerminal(t *testing.T) {
	seq := []Snapshot{snap("a", "40 ms", 0), snap("a", "55 ms", 0), snap("a", "900 ms", 0), snap("b", "70 ms", 12), snap("b", "80 ms", 30), snap("b", "12000 ms", 0)}
	run := func(term bool) string {
		var b bytes.Buffer
		i := 0
		ctx, cancel := context.WithCancel(context.Background())
		Watch(ctx, func(context.Context) Snapshot {
			if i == len(seq) {
				cancel() // a snapshot taken as the watch ends is not written
				return seq[i-1]
			}
			i++
			return seq[i-1]
		}, time.Millisecond, Output{W: &b, Terminal: term})
		return b.String()
	}
	piped := run(false)
	if strings.Contains(piped, "\x1b") {
		t.Fatalf("escape code off a terminal:\n%q", piped)
	}
	lines := strings.Split(strings.TrimRight(piped, "\n"), "\n")
	// 40 → 55 → 900 ms are all under a second; 12 → 30 errors/s both failing.
	if len(lines) != 3 {
		t.Fatalf("want 3 lines (a healthy, b failing over, b with 12 s of lag), got %d:\n%s", len(lines), piped)
	}
	for _, want := range []string{"writer a", "writer b", "writes failing", "lag >=10s"} {
		if !strings.Contains(piped, want) {
			t.Errorf("no line says %q:\n%s", want, piped)
		}
	}
	if term := run(true); strings.Count(term, clear) != len(seq) {
		t.Errorf("on a terminal: %d redraws for %d snapshots", strings.Count(term, clear), len(seq))
	}
}

func TestPromotionUnderWay(t *testing.T) {
	ev := []target.Event{{Kind: "switchover-start", Region: "b", TimeNs: 1}}
	if p := promotionUnderWay(ev); !strings.HasPrefix(p, "switchover-start to b") {
		t.Errorf("a started switchover: %q", p)
	}
	if p := promotionUnderWay(append(ev, target.Event{Kind: "promote", Region: "b"})); p != "" {
		t.Errorf("a finished switchover: %q", p)
	}
}
