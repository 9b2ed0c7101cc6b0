package abort

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/drdrill/drdrill/internal/ledger"
)

// StopSignals are every signal that asks drdrill to stop: Ctrl-C, a
// scheduler's SIGTERM, a dropped SSH session's SIGHUP, and SIGQUIT, which
// would otherwise dump goroutines and exit mid-rollback.
var StopSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// SignalName is a stop signal's conventional name (SIGINT, …).
func SignalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	case syscall.SIGQUIT:
		return "SIGQUIT"
	}
	return s.String()
}

// Active names what the ledger in dir still shows injected.
func Active(l *ledger.Ledger) []string {
	active, err := l.Active()
	if err != nil {
		return []string{"(ledger unreadable: " + err.Error() + ")"}
	}
	var out []string
	for _, e := range active {
		out = append(out, e.String())
	}
	return out
}

// Notice is what a stopping process says to every signal after the
// first: what is being rolled back, how long that may take on this kind
// of target, and the command that finishes the job if it is killed.
func Notice(l *ledger.Ledger, kind string, upTo time.Duration, recoverCmd string) string {
	what := "restoring the stack"
	if a := Active(l); len(a) > 0 {
		what = "rolling back " + strings.Join(a, ", ")
	}
	return fmt.Sprintf("%s on the %s target, which may take up to %v. A further signal does not stop the rollback; if this process is killed anyway, finish the job with: %s",
		what, kind, upTo, recoverCmd)
}
