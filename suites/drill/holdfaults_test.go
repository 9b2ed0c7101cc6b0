package drill_test

import (
	"os"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"

	"github.com/drdrill/drdrill/internal/fault"
)

// HoldFaultsEnv, when set to a comma-separated list of faults, adds a spec
// that injects them and then waits to be killed. drdrill's own tests use it
// to prove that `drdrill recover` undoes what a kill -9 left behind; it is
// not part of any drill.
const HoldFaultsEnv = "DRDRILL_HOLD_FAULTS"

func holdFaults() {
	names := os.Getenv(HoldFaultsEnv)
	if names == "" {
		return
	}
	It("injects faults and holds them until the process is killed", Label("hold-faults"), func(ctx SpecContext) {
		for _, name := range strings.Split(names, ",") {
			_, err := fault.Inject(ctx, d.Target, d.Ledger, strings.TrimSpace(name), nil, "hold-faults")
			if err != nil {
				Fail(err.Error())
			}
		}
		GinkgoWriter.Println("faults held; waiting to be killed")
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Minute):
		}
	}, SpecTimeout(11*time.Minute))
}
