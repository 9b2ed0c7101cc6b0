package framework

import (
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Schedule is one scenario's randomness, derived from the drill's seed and
// the scenario's name only: the same seed gives a scenario the same fault
// timing, writer phases and reader jitter whichever other scenarios run
// (as etcd's robustness tests replay a failing run from its seed).
type Schedule struct {
	seed uint64
	rng  *rand.Rand
}

// NewSchedule derives a scenario's schedule from the drill's seed.
func NewSchedule(seed int64, scenario string) *Schedule {
	h := fnv.New64a()
	h.Write([]byte(scenario))
	s := uint64(seed) ^ h.Sum64()
	return &Schedule{seed: s, rng: rand.New(rand.NewPCG(s, s>>1|1))}
}

// Within picks a duration uniformly in [lo, hi].
func (s *Schedule) Within(lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(s.rng.Int64N(int64(hi-lo)+1))
}

// Derive is a seed for one consumer (the writers, the readers), stable
// whatever else draws from the schedule.
func (s *Schedule) Derive(consumer string) int64 {
	h := fnv.New64a()
	h.Write([]byte(consumer))
	return int64((s.seed ^ h.Sum64()) & (1<<62 - 1))
}
