package runstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Dir is a local directory of runs.
type Dir string

// Location is the directory as given.
func (d Dir) Location() string { return string(d) }

func (d Dir) path(name string) string { return filepath.Join(string(d), filepath.FromSlash(name)) }

// List lists a directory; a missing one is empty.
func (d Dir) List(_ context.Context, dir string) (files, dirs []string, err error) {
	ents, err := os.ReadDir(d.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		switch {
		case e.IsDir():
			dirs = append(dirs, e.Name())
		case e.Type().IsRegular():
			files = append(files, e.Name())
		}
	}
	sort.Strings(files)
	sort.Strings(dirs)
	return files, dirs, nil
}

// Read reads a file.
func (d Dir) Read(_ context.Context, name string) ([]byte, error) {
	return os.ReadFile(d.path(name))
}

// Write writes a file through a temporary one, so a reader never sees
// half of it.
func (d Dir) Write(_ context.Context, name string, data []byte) error {
	p := d.path(name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
