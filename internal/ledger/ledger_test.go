package ledger

import (
	"os"
	"strings"
	"testing"
)

func TestActiveIsNewestFirstAndForgetsRolledBack(t *testing.T) {
	l := Open(t.TempDir())
	if a, err := l.Active(); err != nil || len(a) != 0 {
		t.Fatalf("missing ledger: %v %v", a, err)
	}
	for _, e := range []Entry{
		{ID: "a", Fault: "partition", State: Injecting}, {ID: "a", Fault: "partition", State: Injected},
		{ID: "b", Fault: "region-crash", State: Injecting},
		{ID: "c", Fault: "monitor-failure", State: Injected}, {ID: "c", State: RolledBack},
		{ID: "d", Fault: "wan-degradation", State: RollbackFailed, Error: "boom"},
	} {
		if err := l.Record(e); err != nil {
			t.Fatal(err)
		}
	}
	a, err := l.Active()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range a {
		ids = append(ids, e.ID+":"+e.State)
	}
	if got := strings.Join(ids, ","); got != "d:rollback-failed,b:injecting,a:injected" {
		t.Fatalf("active %s", got)
	}
}

func TestTornLastLineIgnoredCorruptionReported(t *testing.T) {
	l := Open(t.TempDir())
	l.Record(Entry{ID: "a", Fault: "partition", State: Injected})
	f, _ := os.OpenFile(l.Path(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"b","fau`)
	f.Close()
	if a, err := l.Active(); err != nil || len(a) != 1 {
		t.Fatalf("torn tail: %v %v", a, err)
	}
	l2 := Open(t.TempDir())
	os.WriteFile(l2.Path(), []byte("garbage\n{\"id\":\"a\",\"state\":\"injected\"}\n"), 0o644)
	if _, err := l2.Active(); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("corrupt ledger: %v", err)
	}
}
