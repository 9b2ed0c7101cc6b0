// A Ginkgo suite whose "region-outage" spec fails on its first attempt and
// passes on the second (the attempt count is kept in $FLAKY_COUNTER), so a
// test can run real Ginkgo with --flake-attempts and read what it reports.
package flakysuite

import (
	"os"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestFlaky(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "retried specs")
}

var _ = Describe("Region outage", Label("region-outage"), func() {
	It("passes on a retry", func() {
		path := os.Getenv("FLAKY_COUNTER")
		b, _ := os.ReadFile(path)
		Expect(os.WriteFile(path, append(b, 'x'), 0o644)).To(Succeed())
		AddReportEntry("rto_ms", 250)
		Expect(len(b)).To(BeNumerically(">", 0), "first attempt fails: injected flake")
	})
	It("always passes", Label("steady-state"), func() {})
})
