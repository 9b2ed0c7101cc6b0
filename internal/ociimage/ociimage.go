// Package ociimage assembles OCI images without a container daemon, with
// go-containerregistry: layers written as sorted tar streams with fixed
// times and owners, so the same files give the same digest on every build;
// an image per platform under one OCI image index, written as an OCI image
// layout directory; extracted back to a root filesystem (what the AWS
// twin's ECS runs a task from) and pushed to a registry (remote.Write).
package ociimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is every file's and the image's creation time: a fixed instant, so
// that a rebuild of the same files has the same digest (the
// SOURCE_DATE_EPOCH convention with 0).
var Epoch = time.Unix(0, 0).UTC()

// File is one entry of an image's filesystem: a regular file (from Source
// on disk, or Body), or a directory when Dir is set.
type File struct {
	// Path is absolute in the image ("/usr/local/bin/drdrill").
	Path string
	Mode fs.FileMode
	// Uid and Gid own the entry (0: root).
	Uid, Gid int
	Dir      bool
	Source   string
	Body     []byte
}

// Spec is one platform's image: its layers' files (each inner slice one
// layer, bottom first) and its configuration.
type Spec struct {
	Platform   v1.Platform
	Layers     [][]File
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Labels     map[string]string
}

// Image builds the image Spec describes.
func Image(s Spec) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, files := range s.Layers {
		tarball, err := layerTar(files)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		l, err := newLayer(tarball)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer}); err != nil {
			return nil, err
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Variant = s.Platform.Architecture, s.Platform.OS, s.Platform.Variant
	cf.Created = v1.Time{Time: Epoch}
	cf.Config = v1.Config{User: s.User, Entrypoint: s.Entrypoint, Cmd: s.Cmd, Env: s.Env, WorkingDir: s.WorkingDir, Labels: s.Labels}
	// History entries carry a time each; one fixed entry per layer.
	cf.History = nil
	for range s.Layers {
		cf.History = append(cf.History, v1.History{Created: v1.Time{Time: Epoch}, CreatedBy: "drdrill-image"})
	}
	return mutate.ConfigFile(img, cf)
}

func newLayer(b []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer))
}

// layerTar is the layer's uncompressed tar: entries sorted by path, every
// parent directory present, times and owner names fixed, nothing of the
// machine that built it (no user names, no access times).
func layerTar(files []File) ([]byte, error) {
	entries := map[string]File{}
	for _, f := range files {
		p := path.Clean("/" + f.Path)
		if p == "/" {
			continue
		}
		f.Path = p
		entries[p] = f
		for dir := path.Dir(p); dir != "/"; dir = path.Dir(dir) {
			if _, ok := entries[dir]; !ok {
				entries[dir] = File{Path: dir, Dir: true, Mode: 0o755}
			}
		}
	}
	names := make([]string, 0, len(entries))
	for p := range entries {
		names = append(names, p)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		f := entries[p]
		h := &tar.Header{Name: strings.TrimPrefix(p, "/"), Mode: int64(f.Mode.Perm()), Uid: f.Uid, Gid: f.Gid,
			ModTime: Epoch, Format: tar.FormatPAX}
		if f.Mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		if f.Dir {
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			continue
		}
		body := f.Body
		if f.Source != "" {
			var err error
			if body, err = os.ReadFile(f.Source); err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		h.Typeflag, h.Size = tar.TypeReg, int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Index is the images, one per platform, as an OCI image index.
func Index(imgs ...v1.Image) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		p := cf.Platform()
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: p}})
	}
	return idx, nil
}

// WriteLayout writes idx as an OCI image layout in dir (replaced whole)
// and returns the index's digest: what a registry names the pushed image by.
func WriteLayout(dir string, idx v1.ImageIndex) (v1.Hash, error) {
	if err := os.RemoveAll(dir); err != nil {
		return v1.Hash{}, err
	}
	if _, err := layout.Write(dir, idx); err != nil {
		return v1.Hash{}, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return idx.Digest()
}

// ReadLayout is the image index of an OCI layout directory: its
// index.json, which WriteLayout writes as the index itself.
func ReadLayout(dir string) (v1.ImageIndex, error) {
	if _, err := os.Stat(filepath.Join(dir, "index.json")); err != nil {
		return nil, fmt.Errorf("%s is not an OCI image layout (no index.json): build it with `make image`", dir)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	return idx, nil
}

// ForPlatform is the index's image for a platform ("linux/amd64").
func ForPlatform(idx v1.ImageIndex, platform string) (v1.Image, error) {
	want, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, d := range m.Manifests {
		if d.Platform == nil {
			continue
		}
		have = append(have, d.Platform.String())
		if d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("the image has no %s build (it has %s): build it with `make image IMAGE_PLATFORMS=%s`", platform, strings.Join(have, ", "), platform)
}

// Extract writes img's filesystem (its layers applied in order, whiteouts
// honoured) under dest, as a container runtime unpacks it, and returns the
// image's configuration. Entries that would land outside dest are refused.
func Extract(img v1.Image, dest string) (*v1.ConfigFile, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	root, err := filepath.Abs(dest)
	if err != nil {
		return nil, err
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return cf, nil
		}
		if err != nil {
			return nil, err
		}
		p := filepath.Join(root, filepath.FromSlash(path.Clean("/"+h.Name)))
		if p != root && !strings.HasPrefix(p, root+string(filepath.Separator)) {
			return nil, fmt.Errorf("image entry %q lies outside the root filesystem", h.Name)
		}
		mode := fs.FileMode(h.Mode).Perm()
		if h.Mode&0o1000 != 0 {
			mode |= fs.ModeSticky
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return nil, err
			}
			if err := os.Chmod(p, mode|fs.ModeDir); err != nil {
				return nil, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			if err := os.Symlink(h.Linkname, p); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("image entry %q: tar type %q is not supported", h.Name, h.Typeflag)
		}
	}
}
