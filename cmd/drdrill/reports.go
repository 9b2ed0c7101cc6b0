package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/runstore"
)

// Where runs go and come from: a local reports directory, or an S3 prefix
// (s3://bucket/prefix). A drill writes its run locally either way — the
// suites, the lab and the report renderer write files — and, for S3,
// uploads it when the drill ends, interrupted or not, keeping the local
// copy (a CI job publishes its junit.xml); verdict, compare and `report
// --index` read either.

// remoteReports is a drill's S3 destination and the local directory its
// run is written to first.
type remoteReports struct {
	store   runstore.Store
	staging string
}

// openReports opens --reports: nil for a local directory (used as it is).
func openReports(location, stage string) (*remoteReports, error) {
	if !runstore.IsS3(location) {
		return nil, nil
	}
	if runstore.IsS3(stage) {
		return nil, usageError{"--stage is the local directory a run is written to before its upload: give a path"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := runstore.Open(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("--reports %s: %w", location, err)
	}
	return &remoteReports{store: st, staging: stage}, nil
}

// publish uploads the run directory under its run id and refreshes the
// location's runs index. A failed upload says where the run is and fails
// the drill: a scheduled run whose reports were lost must not look like a
// pass.
func (r *remoteReports) publish(runDir string, err *error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	id := filepath.Base(runDir)
	n, upErr := runstore.Upload(ctx, r.store, runDir, id)
	if upErr != nil {
		fmt.Fprintf(os.Stderr, "drdrill: uploading %s to %s failed after %d files: %v; the run stays in %s (upload it with `aws s3 cp --recursive %s %s/%s`)\n",
			id, r.store.Location(), n, upErr, runDir, runDir, strings.TrimSuffix(r.store.Location(), "/"), id)
		if *err == nil {
			*err = exitError{1}
		}
		return
	}
	fmt.Printf("[phase] uploaded %d files to %s/%s/\n", n, strings.TrimSuffix(r.store.Location(), "/"), id)
	if runs, err := renderIndexAt(ctx, r.store); err != nil {
		fmt.Fprintf(os.Stderr, "drdrill: the runs index in %s: %v (rebuild it with `drdrill report --index %s`)\n", r.store.Location(), err, r.store.Location())
	} else {
		fmt.Printf("[phase] runs index: %s/%s (%d runs)\n", strings.TrimSuffix(r.store.Location(), "/"), report.HTMLFile, runs)
	}
}

// fetchOutputs reads an outputs file named by an s3:// URL into a local
// temporary file (the run's copy is made once the run directory exists).
func fetchOutputs(location string) (string, error) {
	dir, name := location[:strings.LastIndex(location, "/")], location[strings.LastIndex(location, "/")+1:]
	if name == "" || !strings.Contains(strings.TrimPrefix(location, "s3://"), "/") {
		return "", usageError{fmt.Sprintf("--outputs %s: want s3://BUCKET/KEY of a flat outputs file", location)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := runstore.Open(ctx, dir)
	if err != nil {
		return "", fmt.Errorf("--outputs %s: %w", location, err)
	}
	b, err := st.Read(ctx, name)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("--outputs %s does not exist: infra/aws writes it on apply (RunnerOutputsObject)", location)
	}
	if err != nil {
		return "", fmt.Errorf("--outputs %s: %w", location, err)
	}
	f, err := os.CreateTemp("", "drdrill-outputs-*.json")
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = f.Write(b)
	return f.Name(), err
}

// keepOutputs copies the outputs file into the run directory, so that the
// fault ledger, which lives beside it, is kept with the run (and uploaded
// with it): `drdrill recover --outputs RUN/outputs/flat-outputs.json`
// rolls back what an interrupted run left.
func keepOutputs(tmp, runDir string) (string, error) {
	b, err := os.ReadFile(tmp)
	if err != nil {
		return "", err
	}
	_ = os.Remove(tmp)
	dir := filepath.Join(runDir, "outputs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(dir, "flat-outputs.json")
	return p, os.WriteFile(p, b, 0o644)
}

// renderIndexAt writes LOCATION/index.html over the runs it holds,
// fetching each run's report.json only, and returns how many runs it
// lists.
func renderIndexAt(ctx context.Context, st runstore.Store) (int, error) {
	found, err := runstore.Runs(ctx, st)
	if err != nil {
		return 0, err
	}
	var entries []report.RunEntry
	for _, f := range found {
		where := strings.TrimSuffix(st.Location(), "/") + "/" + f.Dir
		if f.Report == nil {
			entries = append(entries, report.RunEntry{ID: f.ID, Error: "not rendered yet: run `drdrill report " + where + "`"})
			continue
		}
		r, err := report.Parse(f.Report, where+"/"+report.JSONFile, where)
		if err != nil {
			entries = append(entries, report.RunEntry{ID: f.ID, Error: err.Error()})
			continue
		}
		entries = append(entries, report.RunEntry{ID: f.ID, Verdict: r.Verdict, Partial: r.Partial, Report: r})
	}
	var b bytes.Buffer
	if err := report.WriteIndex(&b, entries); err != nil {
		return 0, err
	}
	return len(entries), st.Write(ctx, report.HTMLFile, b.Bytes())
}

// reportIndex is `drdrill report --index LOCATION`: the runs index and
// its trends for a reports directory or an S3 prefix, written there.
func reportIndex(loc string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := runstore.Open(ctx, loc)
	if err != nil {
		return err
	}
	n, err := renderIndexAt(ctx, st)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("no runs in %s: nothing to index", loc)
	}
	fmt.Printf("wrote %s/%s (%d runs)\n", strings.TrimSuffix(loc, "/"), report.HTMLFile, n)
	return nil
}

// stackVars are `twin up --var NAME=VALUE` flags: infra/aws variables set
// as terraform's -var sets them (runner_schedule, runner_enabled …).
type stackVars map[string]string

func varFlag(fs *pflag.FlagSet) stackVars {
	v := stackVars{}
	fs.Var(v, "var", "set an infra/aws variable, NAME=VALUE, as terraform -var does (repeatable)")
	return v
}

func (v stackVars) String() string { return "" }
func (v stackVars) Type() string   { return "NAME=VALUE" }

func (v stackVars) Set(s string) error {
	k, val, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--var %q: want NAME=VALUE", s)
	}
	v[k] = val
	return nil
}

func (v stackVars) args() []string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		out = append(out, "--var", k+"="+v[k])
	}
	return out
}
