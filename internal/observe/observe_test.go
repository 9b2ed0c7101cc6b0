package observe

import (
	"testing"

	"github.com/drdrill/drdrill/internal/ledger"
)

// A fault's ledger lines become the events a drill records: its first
// "injecting" the inject, its first "rolling-back" the rollback; the
// fault's own progress records are not events.
func TestLedgerLinesBecomeTheDrillsEvents(t *testing.T) {
	cases := []struct{ state, prev, want string }{
		{ledger.Injecting, "", "inject"},
		{ledger.Injecting, ledger.Injecting, ""},
		{ledger.Injected, ledger.Injecting, ledger.Injected},
		{ledger.RollingBack, ledger.Injected, "rollback"},
		{ledger.RollingBack, ledger.RollingBack, ""},
		{ledger.RolledBack, ledger.RollingBack, ledger.RolledBack},
		{ledger.RollbackFailed, ledger.RollingBack, ledger.RollbackFailed},
	}
	for _, c := range cases {
		if got := eventKind(c.state, c.prev); got != c.want {
			t.Errorf("%s after %q: %q, want %q", c.state, c.prev, got, c.want)
		}
	}
}
