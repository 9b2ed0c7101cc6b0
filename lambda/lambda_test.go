// Package lambda_test checks the deployment packages `make lambda` builds:
// the exact paths infra/aws references.
package lambda_test

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestZipsHoldAnArm64ExecutableBootstrap(t *testing.T) {
	for _, fn := range []string{"healthmonitor", "failovertrigger"} {
		path := filepath.Join("..", "build", "lambda", fn+".zip")
		zr, err := zip.OpenReader(path)
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s: %v (make test runs make lambda first)", path, err)
			}
			t.Skipf("%s missing: run `make lambda` (%v)", path, err)
		}
		defer zr.Close()
		if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" {
			t.Fatalf("%s: entries %v, want just bootstrap", path, zr.File)
		}
		f := zr.File[0]
		if f.Mode().Perm()&0o111 == 0 {
			t.Fatalf("%s: bootstrap mode %v is not executable", path, f.Mode())
		}
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		e, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: bootstrap is not ELF: %v", path, err)
		}
		if e.Machine != elf.EM_AARCH64 || e.Class != elf.ELFCLASS64 {
			t.Fatalf("%s: bootstrap is %v %v, want arm64 (Graviton)", path, e.Class, e.Machine)
		}
		if st, _ := os.Stat(path); st.Size() > 10<<20 {
			t.Fatalf("%s is %d bytes, over 10 MB", path, st.Size())
		}
	}
}
