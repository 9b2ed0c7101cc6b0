package framework

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/labtest"
	"github.com/drdrill/drdrill/internal/ledger"
	"github.com/drdrill/drdrill/internal/policy"
)

// labDrill is a Drill on a real lab started for this test binary (two
// mariadbd, the supervisor, the control socket), as the suites get one.
var labDrill *Drill

// TestFrameworkOnALab runs the framework's own specs against a real lab:
// what every scenario relies on without saying so. About 20 s.
func TestFrameworkOnALab(t *testing.T) {
	dir, tgt := labtest.Start(t)
	labDrill = &Drill{Target: tgt, Policy: policy.Default(tgt.Kind()), RunDir: t.TempDir(), Ledger: ledger.Open(dir),
		Rate: DefaultRate, Seed: 1}
	RegisterFailHandler(Fail)
	RunSpecs(t, "drdrill framework on a lab")
}

// controllerEvents are a history's controller events in time order.
func controllerEvents(dir, name string) []history.Event {
	h, err := history.ReadFile(filepath.Join(dir, name, "history.jsonl"))
	Expect(err).NotTo(HaveOccurred())
	var out []history.Event
	for _, e := range h.Events {
		if e.Source == "controller" {
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b history.Event) int { return int(a.At - b.At) })
	return out
}

func describe(ev []history.Event) string {
	var s []string
	for _, e := range ev {
		s = append(s, e.Kind+" "+e.Region)
	}
	return strings.Join(s, ", ")
}

var _ = Describe("A scenario's history", Ordered, func() {
	var d *Drill
	var primary, secondary string
	BeforeAll(func(ctx SpecContext) {
		d = labDrill
		topo := ExpectSteadyState(ctx, d.Target, time.Minute)
		primary, secondary = topo.Primary, d.Target.Regions()[1]
		if secondary == primary {
			secondary = d.Target.Regions()[0]
		}
	})

	// Writes fail during a switchover and for a moment after it (pooled
	// connections to the fenced old primary). A scenario that reads right
	// after the writer moved ends its history inside the stability window
	// of the last failure; the framework must keep the traffic running
	// until the window is covered, or RTO reads "not measured" for a stack
	// that recovered (partition #5 of a REPEAT=8 drill).
	It("covers the stability window after the last failed write before the final read", func(ctx SpecContext) {
		d.Restore()
		s := d.Begin(ctx, "planned-switchover")
		d.Hold(ctx, "writes before the switchover", PreFaultHold)
		h := d.Inject(ctx, s, "planned-switchover", nil)
		d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
		last := s.Workload().LastFailure()
		Expect(last).To(BeTemporally(">", time.Now().Add(-StabilityWindow)),
			"the test needs a write that failed within the stability window before the final read (last failure %v)", last)
		By("reading at once, as a scenario that forgot to hold would")
		Expect(s.FinalRead(ctx)).To(Succeed())
		Expect(s.Rollback(ctx, h)).To(Succeed())
		res, err := s.Finish(ctx)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.RTO.Affected).To(BeTrue(), "writes failed in the switchover: %s", res.Summary())
		Expect(res.RTO.Recovered).To(BeTrue(), "the history ended within the stability window of the last failed write: %s", res.Summary())
	}, SpecTimeout(3*time.Minute))

	// After a region crash the old primary's region is restarted, found
	// diverged (its last writes never replicated) and re-seeded by the
	// controller, asynchronously: the history must stay open until it is
	// in sync again, so that time to re-protection can be measured from it.
	It("stays open after a region crash until the old primary's region is in sync again", func(ctx SpecContext) {
		d.Restore()
		s := d.Begin(ctx, "region-outage")
		d.Hold(ctx, "writes before the crash", PreFaultHold)
		h := d.Inject(ctx, s, "region-crash", nil)
		d.WaitPrimary(ctx, secondary, d.Bounds().Promotion)
		d.Hold(ctx, "writes on the new primary", time.Second)
		Expect(s.FinalRead(ctx)).To(Succeed())
		Expect(s.Rollback(ctx, h)).To(Succeed())
		_, err := s.Finish(ctx)
		Expect(err).NotTo(HaveOccurred())

		ev := controllerEvents(d.RunDir, "region-outage")
		at := func(kind, region string) int {
			return slices.IndexFunc(ev, func(e history.Event) bool { return e.Kind == kind && e.Region == region })
		}
		promote, inSync := at("promote", secondary), at("in-sync", primary)
		rejoined := max(at("reseed", primary), at("rejoin", primary))
		Expect(promote).To(BeNumerically(">=", 0), "no promotion of %s in the history: %s", secondary, describe(ev))
		Expect(rejoined).To(BeNumerically(">", promote), "no re-seed or rejoin of %s after the promotion in the history: %s", primary, describe(ev))
		Expect(inSync).To(BeNumerically(">", rejoined), "no in-sync of %s after its re-seed or rejoin in the history: %s", primary, describe(ev))
	}, SpecTimeout(3*time.Minute))
})
