package ledger

import (
	"os"
	"testing"
)

// Changes follows the ledger as it grows: every state change in order,
// and a line still being written left for the next read.
func TestChangesFollowsTheLedgerLineByLine(t *testing.T) {
	l := Open(t.TempDir())
	if got, off, err := l.Changes(0); err != nil || len(got) != 0 || off != 0 {
		t.Fatalf("no ledger yet: %v %d %v", got, off, err)
	}
	for _, s := range []string{Injecting, Injecting, Injected} {
		if err := l.Record(Entry{ID: "a", Fault: "f", State: s}); err != nil {
			t.Fatal(err)
		}
	}
	got, off, err := l.Changes(0)
	if err != nil || len(got) != 3 || got[2].State != Injected {
		t.Fatalf("three changes, got %v (%v)", got, err)
	}
	// Half a line, as a writer leaves it mid-write.
	f, err := os.OpenFile(l.Path(), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"id":"a","fault":"f","sta`)
	if more, off2, err := l.Changes(off); err != nil || len(more) != 0 || off2 != off {
		t.Fatalf("a line being written: %v %d (want none at %d) %v", more, off2, off, err)
	}
	f.WriteString(`te":"rolling-back"}` + "\n")
	f.Close()
	more, _, err := l.Changes(off)
	if err != nil || len(more) != 1 || more[0].State != RollingBack {
		t.Fatalf("the finished line: %v %v", more, err)
	}
}
