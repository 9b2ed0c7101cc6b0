package drill_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/suites/framework"
)

// tgt is the stack under drill, opened once per suite from $DRDRILL_OUTPUTS.
var tgt target.Target

func TestDrill(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "drdrill DR drill")
}

var _ = BeforeSuite(func() {
	tgt = framework.OpenTarget()
})
