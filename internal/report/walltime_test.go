package report

import (
	"testing"
	"time"
)

// Two faults injected together (a partition and the failover inside it)
// must count once, and a hold inside a fault window adds nothing.
func TestAccountCountsOverlappingWindowsOnce(t *testing.T) {
	r := &Report{Scenarios: []Scenario{
		{Windows: []Window{{FromMs: 1000, ToMs: 5000}, {FromMs: 2000, ToMs: 6000}},
			Holds: []Window{{FromMs: 0, ToMs: 1000}, {FromMs: 3000, ToMs: 4000}, {FromMs: 7000, ToMs: 8000}}},
		{Holds: []Window{{FromMs: 0, ToMs: 3000}}},
	}}
	got := Account(r)
	if want := 5 * time.Second; got.Faults != want {
		t.Errorf("faults: got %v, want %v (overlapping windows counted once)", got.Faults, want)
	}
	// 0–6 s covered, 7–8 s held, plus the second scenario's 3 s.
	if want := 10 * time.Second; got.Deliberate != want {
		t.Errorf("deliberate: got %v, want %v", got.Deliberate, want)
	}
}
