package twin

import "time"

// Worst is how far the twin goes within the variability AWS documents:
// each behaviour at the bound AWS gives (or, where AWS gives none, at the
// harsher plausible end), drawn from the twin's seed and scaled by its time
// scale. A zero field is the default below; a negative one turns the
// behaviour off — a kinder twin, for a test that needs one and says so.
type Worst struct {
	// EC2Propagation bounds EC2's eventual consistency: a network ACL
	// just created answers InvalidNetworkAclID.NotFound, and an
	// association just replaced (its new id included) is not yet what
	// DescribeNetworkAcls shows, for a draw up to this long. AWS gives no
	// bound ("Eventual consistency in the Amazon EC2 API": retry "starting
	// with a couple of seconds … up to a few minutes"); the default, two
	// minutes, is where that advice puts it.
	EC2Propagation time.Duration
	// SQSPolicyPropagation bounds how long a queue policy set by
	// SetQueueAttributes takes to be enforced: "up to 60 seconds" (SQS API
	// reference, SetQueueAttributes).
	SQSPolicyPropagation time.Duration
	// LambdaDuplicates is the share of asynchronous events Lambda delivers
	// twice ("How Lambda handles errors and retries with asynchronous
	// invocation": the queue "is eventually consistent", so a function
	// may "receive the same event … multiple times"). AWS gives no rate;
	// 5 % is far above what is reported, the harsher end.
	LambdaDuplicates float64
	// LambdaDuplicateDelay bounds how long after the original a
	// duplicate arrives (at once, so that both run together, up to this).
	LambdaDuplicateDelay time.Duration
}

// DefaultWorst is AWS at its documented worst (unscaled).
var DefaultWorst = Worst{EC2Propagation: 2 * time.Minute, SQSPolicyPropagation: time.Minute,
	LambdaDuplicates: 0.05, LambdaDuplicateDelay: time.Minute}

// Kind is the twin with every variability of Worst off: for tests of
// something else that need AWS's answers to be immediate and exact, and say
// so.
var Kind = Worst{EC2Propagation: -1, SQSPolicyPropagation: -1, LambdaDuplicates: -1, LambdaDuplicateDelay: -1}

func (w Worst) withDefaults() Worst {
	d := DefaultWorst
	if w.EC2Propagation != 0 {
		d.EC2Propagation = w.EC2Propagation
	}
	if w.SQSPolicyPropagation != 0 {
		d.SQSPolicyPropagation = w.SQSPolicyPropagation
	}
	if w.LambdaDuplicates != 0 {
		d.LambdaDuplicates = w.LambdaDuplicates
	}
	if w.LambdaDuplicateDelay != 0 {
		d.LambdaDuplicateDelay = w.LambdaDuplicateDelay
	}
	return d
}

// draw is a seeded, uniformly drawn duration in [bound/2, bound], scaled:
// the harsher half of what AWS allows, since a harness must survive the
// bound, not the mean. 0 when the bound is off.
func (s *Server) draw(bound time.Duration) time.Duration {
	if bound <= 0 {
		return 0
	}
	return s.cfg.scaled(bound/2) + s.drawUpTo(bound-bound/2)
}

// drawUpTo is a seeded, uniformly drawn duration in [0, bound], scaled; 0
// when the bound is off.
func (s *Server) drawUpTo(bound time.Duration) time.Duration {
	if bound <= 0 {
		return 0
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.cfg.scaled(time.Duration(s.rng.Int64N(int64(bound) + 1)))
}

// chance is a seeded draw that is true with probability p.
func (s *Server) chance(p float64) bool {
	if p <= 0 {
		return false
	}
	s.rngMu.Lock()
	defer s.rngMu.Unlock()
	return s.rng.Float64() < p
}
