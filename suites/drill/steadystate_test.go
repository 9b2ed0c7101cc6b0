package drill_test

import (
	"context"
	"database/sql"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/suites/framework"
)

var _ = Describe("Steady state", Label("steady-state", "smoke", "gameday", "signoff"), func() {
	It("has a writable primary and a replicating secondary", func(ctx SpecContext) {
		topo := framework.ExpectSteadyState(ctx, tgt, 30*time.Second)
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
		writer := framework.DB(tgt.Writer)
		seq, err := framework.ProbeWrite(ctx, writer, 0)
		Expect(err).NotTo(HaveOccurred(), "write through the global writer endpoint")
		for _, region := range tgt.Regions() {
			reader := framework.DB(func() (*sql.DB, error) { return tgt.Reader(region) })
			Eventually(ctx, func(ctx context.Context) (bool, error) {
				return framework.RowVisible(ctx, reader, 0, seq)
			}).WithTimeout(time.Second).WithPolling(5*time.Millisecond).Should(BeTrue(),
				"row written through the writer endpoint not readable in %s within 1s", region)
		}
	}, SpecTimeout(time.Minute))
})
