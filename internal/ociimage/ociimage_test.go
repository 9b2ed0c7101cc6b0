package ociimage

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// fakeBins writes stand-ins for the runner's binaries (the layout and the
// digest do not depend on what they are).
func fakeBins(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range RunnerBinaries {
		if err := os.WriteFile(filepath.Join(dir, b), []byte(content+" "+b), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func caFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.crt")
	os.WriteFile(p, []byte("-----BEGIN CERTIFICATE-----\nstand-in\n-----END CERTIFICATE-----\n"), 0o644)
	return p
}

func runnerIndex(t *testing.T, bins, ca string) v1.ImageIndex {
	t.Helper()
	var imgs []v1.Image
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		plat, _ := v1.ParsePlatform(p)
		spec, err := RunnerSpec(*plat, bins, ca, "0123abcd")
		if err != nil {
			t.Fatal(err)
		}
		img, err := Image(spec)
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	idx, err := Index(imgs...)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// The same files give the same digest, whatever the files' times, owners
// and the order they were listed in; one changed byte gives another.
func TestTheSameFilesGiveTheSameDigest(t *testing.T) {
	ca := caFile(t)
	a, b := fakeBins(t, "v1"), fakeBins(t, "v1")
	// Different modification times and modes on disk change nothing.
	os.Chtimes(filepath.Join(b, "drdrill"), Epoch.AddDate(30, 0, 0), Epoch.AddDate(30, 0, 0))
	os.Chmod(filepath.Join(b, "ginkgo"), 0o755)
	dirA, dirB := filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")
	da, err := WriteLayout(dirA, runnerIndex(t, a, ca))
	if err != nil {
		t.Fatal(err)
	}
	db, err := WriteLayout(dirB, runnerIndex(t, b, ca))
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Fatalf("two builds of the same files: %s and %s", da, db)
	}
	ia, _ := os.ReadFile(filepath.Join(dirA, "index.json"))
	ib, _ := os.ReadFile(filepath.Join(dirB, "index.json"))
	if !bytes.Equal(ia, ib) {
		t.Fatalf("index.json differs:\n%s\n%s", ia, ib)
	}
	back, err := ReadLayout(dirA)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := back.Digest(); d != da {
		t.Fatalf("the layout reads back as %s, written as %s", d, da)
	}
	if dc, _ := runnerIndex(t, fakeBins(t, "v2"), ca).Digest(); dc == da {
		t.Fatalf("different binaries, same digest %s", dc)
	}
}

// The runner runs as a user that is not root, has no shell, and carries
// the CA certificates and the three binaries side by side, as `make
// build` lays them out: checked on the filesystem a runtime extracts.
func TestRunnerImageIsNonRootWithoutAShell(t *testing.T) {
	idx := runnerIndex(t, fakeBins(t, "v1"), caFile(t))
	img, err := ForPlatform(idx, "linux/arm64")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cf, err := Extract(img, root)
	if err != nil {
		t.Fatal(err)
	}
	if cf.Config.User != "65532:65532" || strings.HasPrefix(cf.Config.User, "0") || cf.Architecture != "arm64" {
		t.Fatalf("config: user %q, arch %s", cf.Config.User, cf.Architecture)
	}
	if cf.Config.Labels["org.opencontainers.image.revision"] != "0123abcd" {
		t.Fatalf("labels %v", cf.Config.Labels)
	}
	for _, sh := range []string{"bin/sh", "bin/bash", "usr/bin/sh", "bin/busybox"} {
		if _, err := os.Lstat(filepath.Join(root, sh)); err == nil {
			t.Errorf("the image has a shell: /%s", sh)
		}
	}
	for _, f := range []string{CACerts, "/usr/local/bin/drdrill", "/usr/local/bin/ginkgo", "/usr/local/bin/drill.test", "/etc/passwd"} {
		st, err := os.Stat(filepath.Join(root, f))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if strings.HasPrefix(f, BinDir) && st.Mode().Perm() != 0o755 {
			t.Errorf("%s mode %v", f, st.Mode())
		}
	}
	if st, err := os.Stat(filepath.Join(root, "tmp")); err != nil || st.Mode()&os.ModeSticky == 0 || st.Mode().Perm() != 0o777 {
		t.Errorf("/tmp: %v %v: want a world-writable sticky directory", st.Mode(), err)
	}
	if passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd")); !strings.Contains(string(passwd), "drdrill:x:65532:65532:") {
		t.Errorf("/etc/passwd lacks the runner user:\n%s", passwd)
	}
	if _, err := ForPlatform(idx, "linux/s390x"); err == nil || !strings.Contains(err.Error(), "IMAGE_PLATFORMS=linux/s390x") {
		t.Errorf("a platform the image lacks: %v", err)
	}
}

// make push: remote.Write to a registry — go-containerregistry's own
// registry implementation, served on 127.0.0.1 — and the image pulled back
// by its tag has the digest the layout has, and the same files.
func TestPushToARegistry(t *testing.T) {
	srv := httptest.NewServer(registry.New())
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "image")
	want, err := WriteLayout(dir, runnerIndex(t, fakeBins(t, "v1"), caFile(t)))
	if err != nil {
		t.Fatal(err)
	}
	ref := strings.TrimPrefix(srv.URL, "http://") + "/drdrill-test-runner:v1"
	got, err := Push(context.Background(), dir, ref, nil)
	if err != nil || got != want {
		t.Fatalf("push: %s, %v (want %s)", got, err, want)
	}
	tag, _ := name.ParseReference(ref)
	pulled, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := pulled.Digest(); d != want {
		t.Fatalf("the registry has %s under the tag, pushed %s", d, want)
	}
	img, err := ForPlatform(pulled, "linux/amd64")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if _, err := Extract(img, root); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/local/bin/drdrill")); string(b) != "v1 drdrill" {
		t.Fatalf("pulled drdrill: %q", b)
	}
	if _, err := Push(context.Background(), dir, "not a reference", nil); err == nil || !strings.Contains(err.Error(), "REGISTRY/REPOSITORY:TAG") {
		t.Fatalf("a bad IMAGE: %v", err)
	}
}

// A binary that needs a dynamic loader is refused before it goes into an
// image with no C library.
func TestDynamicBinariesAreRefused(t *testing.T) {
	if err := static("/bin/true"); err == nil || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("/bin/true (dynamically linked on Debian): %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\nfunc main() {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module x\n"), 0o644)
	cmd := exec.Command("go", "build", "-o", "x", ".")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := static(filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
}
