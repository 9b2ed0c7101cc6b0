package live

import (
	"os"
	"path/filepath"
	"testing"
)

// A running process's progress is read back; a dead one's file is removed.
func TestReadKeepsTheLivingAndRemovesTheDead(t *testing.T) {
	dir := t.TempDir()
	if err := Publish(dir, Progress{What: "drill x", Scenario: "s", Index: 2, Total: 3, WritesPerS: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := Publish(dir, Progress{PID: 1 << 22, What: "gone"}); err != nil { // above the kernel's pid_max
		t.Fatal(err)
	}
	got := Read(dir)
	if len(got) != 1 || got[0].PID != os.Getpid() || got[0].Line() != "drill x: s 2/3, 1000 writes/s, 0 errors/s" {
		t.Fatalf("read %+v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, Dir, "4194304.json")); !os.IsNotExist(err) {
		t.Errorf("the dead process's progress is still there: %v", err)
	}
	Remove(dir)
	if got := Read(dir); len(got) != 0 {
		t.Errorf("after Remove: %+v", got)
	}
}
