package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeDrdrill stands in for build/drdrill under make: it logs what it is
// asked to do, and a drill waits to be stopped and takes a moment to
// "roll back" before it exits.
const fakeDrdrill = `#!/bin/bash
log=LOG
case "$1 $2" in
"twin up")
	while [ "$1" != --dir ]; do shift; done
	mkdir -p "$2" && echo "export DRDRILL_FAKE=1" > "$2/twin.env"
	echo "twin up" >> "$log";;
"twin down") echo "twin down" >> "$log";;
drill*)
	trap 'echo "drill got TERM" >> "$log"; sleep 0.5; echo "drill rolled back" >> "$log"; exit 143' TERM
	echo "drill started" >> "$log"
	while :; do sleep 0.05; done;;
esac
`

// make passes SIGTERM (and only SIGTERM) to its recipe's process. `make
// drill` must get it to the drill: the recipe execs drdrill, and the
// twin's script hands the signal to its drill and waits for the rollback
// before it takes the twin down.
func TestMakeDrillPassesSIGTERMOnToTheDrill(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	for _, target := range []string{"lab", "twin"} {
		t.Run(target, func(t *testing.T) {
			build := t.TempDir()
			log := filepath.Join(build, "log")
			if err := os.WriteFile(filepath.Join(build, "drdrill"), []byte(strings.ReplaceAll(fakeDrdrill, "LOG", log)), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("make", "--no-print-directory", "-C", "../..", "-o", "build", "drill", "BUILD="+build, "TARGET="+target)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			logged := func() string { b, _ := os.ReadFile(log); return string(b) }
			for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logged(), "drill started"); time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("the drill did not start:\n%s\n%s", logged(), out.String())
				}
			}
			if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("make still running 20 s after SIGTERM:\n%s", logged())
			}
			got := logged()
			want := "drill started\ndrill got TERM\ndrill rolled back\n"
			if target == "twin" {
				want = "twin up\n" + want + "twin down\n"
			}
			if got != want {
				t.Fatalf("after SIGTERM to make:\n%s\nwant:\n%s\nmake said:\n%s", got, want, out.String())
			}
		})
	}
}
