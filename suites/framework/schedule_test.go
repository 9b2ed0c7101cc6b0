package framework

import (
	"testing"
	"time"
)

// The same seed and scenario give the same schedule; another scenario or
// seed gives another; a consumer's derived seed does not depend on what
// else was drawn.
func TestScheduleReplaysFromItsSeed(t *testing.T) {
	draw := func(seed int64, scenario string) []time.Duration {
		s := NewSchedule(seed, scenario)
		var out []time.Duration
		for i := 0; i < 5; i++ {
			out = append(out, s.Within(1500*time.Millisecond, 2500*time.Millisecond))
		}
		return out
	}
	a, b := draw(42, "region-outage"), draw(42, "region-outage")
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("seed 42 drew %v, then %v", a, b)
		}
		if a[i] < 1500*time.Millisecond || a[i] > 2500*time.Millisecond {
			t.Fatalf("%v outside the window", a[i])
		}
	}
	same := 0
	for i, v := range draw(43, "region-outage") {
		if v == a[i] {
			same++
		}
	}
	if same == len(a) {
		t.Fatal("seeds 42 and 43 drew the same schedule")
	}
	if draw(42, "partition")[0] == a[0] && draw(42, "partition")[1] == a[1] {
		t.Fatal("two scenarios share a schedule")
	}
	s1, s2 := NewSchedule(7, "x"), NewSchedule(7, "x")
	s2.Within(0, time.Second) // drawing does not move derived seeds
	if s1.Derive("writers") != s2.Derive("writers") || s1.Derive("writers") == s1.Derive("readers") {
		t.Fatal("derived seeds are not stable per consumer")
	}
}
