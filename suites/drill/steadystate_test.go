package drill_test

import (
	"context"
	"database/sql"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/suites/framework"
)

func steadyState() bool {
	return Describe("Steady state", framework.ScenarioLabels("steady-state"), func() {
		It("has a writable primary and a replicating, read-only secondary", func(ctx SpecContext) {
			topo := framework.ExpectSteadyState(ctx, d.Target, 30*time.Second)
			Expect(topo.Regions).To(HaveLen(2))
			for _, r := range topo.Regions {
				if r.Name == topo.Primary {
					Expect(r.Writable).To(BeTrue(), "primary %s must accept writes", r.Name)
				} else {
					Expect(r.Writable).To(BeFalse(), "secondary %s must be read-only", r.Name)
					Expect(r.Replicating).To(BeTrue(), "secondary %s must replicate", r.Name)
				}
			}
		}, SpecTimeout(time.Minute))

		It("makes a write through the writer endpoint readable in every region within 1s", func(ctx SpecContext) {
			writer := framework.DB(d.Target.Writer)
			seq, err := framework.ProbeWrite(ctx, writer, 0)
			Expect(err).NotTo(HaveOccurred(), "write through the global writer endpoint")
			for _, region := range d.Target.Regions() {
				reader := framework.DB(func() (*sql.DB, error) { return d.Target.Reader(region) })
				Eventually(ctx, func(ctx context.Context) (bool, error) {
					return framework.RowVisible(ctx, reader, 0, seq)
				}).WithTimeout(time.Second).WithPolling(5*time.Millisecond).Should(BeTrue(),
					"row written through the writer endpoint not readable in %s within 1s", region)
			}
		}, SpecTimeout(time.Minute))

		It("keeps replication lag within the policy under steady writes", func(ctx SpecContext) {
			s := d.Begin(ctx, "steady-state")
			d.Hold(ctx, "measuring steady-state lag", 3*time.Second)
			Expect(s.FinalRead(ctx)).To(Succeed())
			res, err := s.Finish(ctx)
			Expect(err).NotTo(HaveOccurred())
			Expect(res.Ops.Fail+res.Ops.Info).To(BeZero(), "writes failed in steady state")
			d.Judge("steady-state", res)
		}, SpecTimeout(time.Minute))
	})
}
