package ociimage

import (
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BuildOptions say what BuildRunner builds, from which module, where.
type BuildOptions struct {
	// Module is the drdrill module's root directory.
	Module string
	// Platforms are "os/arch" ("linux/amd64", "linux/arm64").
	Platforms []string
	// Layout is the OCI layout directory written (replaced whole); BinDir
	// receives the binaries, one directory per platform.
	Layout, BinDir string
	// CA is the CA bundle copied into the image.
	CA string
	// Log receives one line per step (nil: none).
	Log func(format string, a ...any)
}

// BuildRunner compiles the runner's binaries for each platform (static,
// -trimpath: nothing of the build machine's paths in them), assembles the
// runner image per platform under one index, writes the OCI layout and
// returns the index's digest.
func BuildRunner(o BuildOptions) (v1.Hash, error) {
	logf := o.Log
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var imgs []v1.Image
	for _, p := range o.Platforms {
		plat, err := v1.ParsePlatform(p)
		if err != nil || plat.OS == "" || plat.Architecture == "" {
			return v1.Hash{}, fmt.Errorf("platform %q: want os/arch, e.g. linux/amd64", p)
		}
		dir := filepath.Join(o.BinDir, plat.OS+"_"+plat.Architecture)
		if err := compile(o.Module, plat, dir, logf); err != nil {
			return v1.Hash{}, err
		}
		spec, err := RunnerSpec(*plat, dir, o.CA, revision(filepath.Join(dir, "drdrill")))
		if err != nil {
			return v1.Hash{}, err
		}
		img, err := Image(spec)
		if err != nil {
			return v1.Hash{}, err
		}
		imgs = append(imgs, img)
	}
	idx, err := Index(imgs...)
	if err != nil {
		return v1.Hash{}, err
	}
	return WriteLayout(o.Layout, idx)
}

// compile builds the RunnerBinaries for one platform into dir.
func compile(module string, p *v1.Platform, dir string, logf func(string, ...any)) error {
	flags := []string{"-trimpath", "-ldflags=-s -w"}
	for _, step := range [][]string{
		append(append([]string{"build"}, flags...), "-o", filepath.Join(dir, "drdrill"), "./cmd/drdrill"),
		append(append([]string{"build"}, flags...), "-o", filepath.Join(dir, "ginkgo"), "github.com/onsi/ginkgo/v2/ginkgo"),
		append(append([]string{"test", "-c"}, flags...), "-o", filepath.Join(dir, "drill.test"), "./suites/drill"),
	} {
		logf("go %s (%s)", strings.Join(step, " "), p)
		cmd := exec.Command("go", step...)
		cmd.Dir = module
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s for %s: %v\n%s", strings.Join(step, " "), p, err, out)
		}
	}
	for _, b := range RunnerBinaries {
		if err := static(filepath.Join(dir, b)); err != nil {
			return err
		}
	}
	return nil
}

// revision is the commit a binary was built from (its vcs.revision, with
// "-dirty" when the tree had changes), "" when unknown.
func revision(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return ""
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}

// static refuses a binary that needs a dynamic loader: the image has no C
// library, so such a binary would fail to start there with "no such file
// or directory".
func static(bin string) error {
	f, err := elf.Open(bin)
	if err != nil {
		return fmt.Errorf("%s: %w", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked: build it with CGO_ENABLED=0 (the image has no C library)", bin)
		}
	}
	return nil
}
