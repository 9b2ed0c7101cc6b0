// Package runstore is where drill runs are kept: a local directory or an
// S3 prefix (s3://bucket/prefix), behind one small interface. A drill
// writes its run directory locally and, for S3, uploads it when it ends;
// verdict, compare and the runs index read either kind the same way,
// listing by prefix and fetching only each run's report.json.
package runstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/drdrill/drdrill/internal/report"
)

// Store is a place runs are kept. Names are slash-separated and relative
// to the store's location ("20261201T060000Z/report.json").
type Store interface {
	// Location is the store as the user named it ("reports",
	// "s3://bucket/prefix").
	Location() string
	// List returns the files and the subdirectories directly under dir
	// ("" is the location itself), each sorted, by name alone.
	List(ctx context.Context, dir string) (files, dirs []string, err error)
	// Read returns a file's content; an error wrapping fs.ErrNotExist
	// when there is none.
	Read(ctx context.Context, name string) ([]byte, error)
	// Write stores a file, replacing it.
	Write(ctx context.Context, name string, data []byte) error
}

// IsS3 reports whether a location names an S3 prefix.
func IsS3(location string) bool { return strings.HasPrefix(location, "s3://") }

// Open opens a location: s3://bucket[/prefix] through the AWS SDK's
// default configuration (environment, shared config, the ECS task role),
// anything else as a local directory.
func Open(ctx context.Context, location string) (Store, error) {
	if IsS3(location) {
		return openS3(ctx, location)
	}
	return Dir(location), nil
}

// Run is one run a location holds: Dir is its directory in the store (""
// when the location is the run itself), Report its report.json (nil when
// it has histories but was never rendered).
type Run struct {
	ID, Dir string
	Report  []byte
}

// Runs finds the runs at a store's location: the location itself when it
// holds report.json, else each directory directly under it that holds
// one, or that holds a scenario's history without a report.json (a run
// not rendered yet, so that no run is dropped silently). Only report.json
// files are fetched; a directory without one is listed one level further.
func Runs(ctx context.Context, st Store) ([]Run, error) {
	if b, err := st.Read(ctx, report.JSONFile); err == nil {
		return []Run{{ID: path.Base(strings.TrimSuffix(st.Location(), "/")), Report: b}}, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	_, dirs, err := st.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var runs []Run
	for _, d := range dirs {
		b, err := st.Read(ctx, path.Join(d, report.JSONFile))
		switch {
		case err == nil:
			runs = append(runs, Run{ID: d, Dir: d, Report: b})
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		default:
			rendered, err := hasHistory(ctx, st, d)
			if err != nil {
				return nil, err
			}
			if rendered {
				runs = append(runs, Run{ID: d, Dir: d})
			}
		}
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].ID < runs[j].ID })
	return runs, nil
}

// hasHistory: a scenario directory under dir holds a history.jsonl.
func hasHistory(ctx context.Context, st Store, dir string) (bool, error) {
	_, scenarios, err := st.List(ctx, dir)
	if err != nil {
		return false, err
	}
	for _, s := range scenarios {
		files, _, err := st.List(ctx, path.Join(dir, s))
		if err != nil {
			return false, err
		}
		for _, f := range files {
			if f == "history.jsonl" {
				return true, nil
			}
		}
	}
	return false, nil
}

// Upload copies every regular file under localDir into the store under
// dir (sockets, pipes and symbolic links are left: a lab directory holds
// its control socket), and returns how many it copied.
func Upload(ctx context.Context, st Store, localDir, dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(localDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(localDir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := st.Write(ctx, path.Join(dir, filepath.ToSlash(rel)), b); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// Download copies every file under dir in the store into localDir.
func Download(ctx context.Context, st Store, dir, localDir string) (int, error) {
	files, dirs, err := st.List(ctx, dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		b, err := st.Read(ctx, path.Join(dir, f))
		if err != nil {
			return n, err
		}
		if err := os.MkdirAll(localDir, 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(filepath.Join(localDir, f), b, 0o644); err != nil {
			return n, err
		}
		n++
	}
	for _, d := range dirs {
		m, err := Download(ctx, st, path.Join(dir, d), filepath.Join(localDir, d))
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// notFound is a missing file, as fs.ErrNotExist.
func notFound(loc, name string) error {
	return fmt.Errorf("%s: %s: %w", loc, name, fs.ErrNotExist)
}
