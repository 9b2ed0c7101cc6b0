package aws

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/healthmetric"
)

// AWS's APIs are eventually consistent: an id a create call just returned
// may be unknown to the next call, a describe may show the state before a
// change, a queue policy may take a minute to be enforced. AWS's advice
// ("Eventual consistency in the Amazon EC2 API") is to confirm the state
// and retry "using an exponential backoff algorithm", "starting with a
// couple of seconds of wait time, and increasing gradually up to a few
// minutes". The waits here are in units of the poll interval
// (DRDRILL_AWS_POLL, 10 s by default), so that a stack whose durations are
// scaled is waited for on the same scale.

// settleStart is the first wait: a couple of seconds at the default poll.
func (s *Stack) settleStart() time.Duration { return s.poll() / 5 }

// settleBound is how long an operation is retried in all before the error
// is the answer: a few minutes (5) at the default poll.
func (s *Stack) settleBound() time.Duration { return 30 * s.poll() }

// apiCode is the AWS error code of err ("" for an error that is not an API
// error).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// settle runs op until it succeeds, fails with an error whose code is not
// one of codes, or settleBound passes; between tries it backs off
// exponentially with jitter (settleStart doubling up to a sixth of the
// bound). The last error is returned, saying how long it was retried.
func (s *Stack) settle(ctx context.Context, what string, codes []string, op func() error) error {
	deadline := time.Now().Add(s.settleBound())
	wait := s.settleStart()
	for tries := 1; ; tries++ {
		err := op()
		if err == nil || !slices.Contains(codes, apiCode(err)) {
			return err
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("%s: still %w after %d tries over %v (AWS's eventual consistency lasting longer than it should: try again later)",
				what, err, tries, s.settleBound())
		}
		// Full jitter (AWS Architecture Blog, "Exponential Backoff And
		// Jitter"): a wait drawn up to the current step.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait/2 + rand.N(wait/2+1)):
		}
		wait = min(2*wait, s.settleBound()/6)
	}
}

// waitReporting waits until the health monitor of r's region has reported
// a check that started after since (its RegionHealthy datapoint, stamped
// with its check's start), within settleBound.
func (s *Stack) waitReporting(ctx context.Context, r Regional, function string, since time.Time) error {
	cw, ok := r.Alarms.(CloudWatchAPI)
	if !ok {
		return fmt.Errorf("no CloudWatch metrics client for %s", r.Region)
	}
	err := s.settle(ctx, "waiting for "+function+" to report again", []string{codeNotYet}, func() error {
		res, err := healthmetric.Query(ctx, cw, healthmetric.Namespace, healthmetric.MetricRegionHealthy, "Region", r.Region, 10*time.Minute, time.Minute, "Minimum")
		if err != nil {
			return err
		}
		if len(res.Timestamps) == 0 || !res.Timestamps[0].After(since) {
			return notYet("no check of %s since it was resumed", function)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s's reserved concurrency is restored, but it does not report: %w", function, err)
	}
	return nil
}
