package lambdazip

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSameInputSameBytesWhateverTheFileTimes(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	os.WriteFile(bin, []byte("\x7fELF not really"), 0o600)
	a, b := filepath.Join(dir, "a.zip"), filepath.Join(dir, "b.zip")
	if err := Write(a, map[string]string{"bootstrap": bin}); err != nil {
		t.Fatal(err)
	}
	os.Chtimes(bin, time.Now().Add(time.Hour), time.Now().Add(time.Hour))
	if err := Write(b, map[string]string{"bootstrap": bin}); err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(a)
	y, _ := os.ReadFile(b)
	if !bytes.Equal(x, y) {
		t.Fatal("two zips of the same file differ")
	}
	zr, err := zip.OpenReader(a)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 1 || zr.File[0].Name != "bootstrap" || zr.File[0].Mode().Perm() != 0o755 || !zr.File[0].Modified.Equal(epoch) {
		t.Fatalf("entry %+v mode %v", zr.File[0].FileHeader, zr.File[0].Mode())
	}
}

func TestMissingInputIsAnError(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "x.zip"), map[string]string{"bootstrap": "/nonexistent/bootstrap"}); err == nil {
		t.Fatal("no error for a missing binary")
	}
}
