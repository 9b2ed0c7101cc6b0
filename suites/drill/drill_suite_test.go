package drill_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/suites/framework"
)

// d is the drill context, opened once per suite from $DRDRILL_OUTPUTS.
var d *framework.Drill

func TestDrill(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "drdrill DR drill")
}

var _ = BeforeSuite(func() {
	d = framework.Setup()
})

// Each scenario begins by saying which it is of how many, and how long the
// run has left by its plan.
var _ = BeforeEach(func() {
	d.Announce(CurrentSpecReport().Labels())
})

// The scenarios run in runbook order on one stack; each starts from and
// returns to the steady state, and a failure does not stop the next one.
var _ = Describe("DR drill", Ordered, ContinueOnFailure, func() {
	steadyState()
	plannedSwitchover()
	regionOutage()
	regionFreeze()
	partition()
	partitionNoControlPath()
	replicationLag()
	monitorFailure()
	regionIsolation()
	alarmPath()
	failback()
	holdFaults()
})
