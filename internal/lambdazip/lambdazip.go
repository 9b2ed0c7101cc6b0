// Package lambdazip writes deterministic Lambda deployment zips.
package lambdazip

import (
	"archive/zip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// epoch is the fixed modification time of every entry (the zip format's
// earliest date), so file system times never leak into the archive.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// Write creates out with the given entries (name in the zip → file on
// disk), sorted by name, each executable (0755) with a fixed timestamp.
func Write(out string, entries map[string]string) error {
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	sort.Strings(names)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	for _, n := range names {
		src, err := os.Open(entries[n])
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", entries[n], err)
		}
		h := &zip.FileHeader{Name: n, Method: zip.Deflate, Modified: epoch}
		h.SetMode(0o755)
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = io.Copy(w, src)
		}
		src.Close()
		if err != nil {
			f.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}
