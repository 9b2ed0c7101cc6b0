package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/runstore"
	"github.com/drdrill/drdrill/internal/twin"
)

// noDataPlane is a data plane for a twin that serves S3 only here: nothing but
// Primary (asked at start) and Regions (the lag publisher) is called.
type noDataPlane struct{ twin.DataPlane }

var errNoDataPlane = errors.New("no data plane in this test")

func (noDataPlane) Primary(context.Context) (string, error) { return "us-east-1", nil }
func (noDataPlane) Regions(context.Context) (map[string]twin.RegionState, error) {
	return nil, errNoDataPlane
}

// s3Env serves a reports bucket on a twin (S3 only) and returns the
// environment that aims drdrill's AWS SDK at it.
func s3Env(t *testing.T) []string {
	t.Helper()
	srv, err := twin.Start("127.0.0.1:0", twin.Config{Account: "123456789012"},
		twin.Stack{Buckets: []twin.Bucket{{Name: "drdrill-cli-reports", Region: "us-west-2", KMSKey: "arn:aws:kms:us-west-2:123456789012:key/k"}}}, noDataPlane{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	env := []string{"AWS_ENDPOINT_URL=" + srv.Endpoint(), "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDCLITEST", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v) // for the uploads made from the test itself
	}
	return env
}

// verdict --window, compare and report --index read an S3 prefix as they
// read a directory: the same runs give the same verdicts, and the runs
// index lands in the bucket.
func TestVerdictCompareAndIndexReadS3(t *testing.T) {
	env := s3Env(t)
	ctx := context.Background()
	base, slower := t.TempDir(), t.TempDir()
	writeRunSet(t, base, "a", 240, 255, 262, 248, 251, 270, 245, 259)
	writeRunSet(t, slower, "b", 410, 395, 420, 388, 402, 415, 399, 430)
	for loc, dir := range map[string]string{"s3://drdrill-cli-reports/base": base, "s3://drdrill-cli-reports/slower": slower} {
		st, err := runstore.Open(ctx, loc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := runstore.Upload(ctx, st, dir, ""); err != nil {
			t.Fatal(err)
		}
	}
	pol := filepath.Join(t.TempDir(), "p.yaml")
	os.WriteFile(pol, []byte("version: 1\nscenarios:\n  region-outage:\n    rto_ms: {p95: 300, max: 500}\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"verdict", "--window", "5", "--policy", pol, "BASE"}, 0},
		{[]string{"verdict", "--window", "5", "--policy", pol, "SLOWER"}, 1},
		{[]string{"compare", "--fail-on", "regression", "BASE", "SLOWER"}, 1},
	} {
		var outs []string
		for _, at := range []map[string]string{{"BASE": "s3://drdrill-cli-reports/base", "SLOWER": "s3://drdrill-cli-reports/slower"}, {"BASE": base, "SLOWER": slower}} {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				if loc, ok := at[a]; ok {
					a = loc
				}
				args[i] = a
			}
			r := run(t, env, args...)
			if r.code != c.code {
				t.Fatalf("drdrill %s: exit %d, want %d\n%s", strings.Join(args, " "), r.code, c.code, r.out)
			}
			outs = append(outs, r.out)
		}
		if outs[0] != outs[1] {
			t.Fatalf("drdrill %s: S3 and the local copy differ:\n--- s3\n%s\n--- local\n%s", strings.Join(c.args, " "), outs[0], outs[1])
		}
	}
	out := run(t, env, "report", "--index", "s3://drdrill-cli-reports/base")
	if out.code != 0 || !strings.Contains(out.out, "(8 runs)") {
		t.Fatalf("report --index: exit %d\n%s", out.code, out.out)
	}
	st, _ := runstore.Open(ctx, "s3://drdrill-cli-reports/base")
	page, err := st.Read(ctx, "index.html")
	if err != nil || !strings.Contains(string(page), `<a href="a07/index.html">a07</a>`) || !strings.Contains(string(page), "Trends per scenario") {
		t.Fatalf("index.html in the bucket: %v\n%.400s", err, page)
	}
	if r := run(t, env, "verdict", "--window", "3", "s3://drdrill-cli-reports/nothing-here"); r.code == 0 || !strings.Contains(r.out, "no runs in s3://drdrill-cli-reports/nothing-here") {
		t.Fatalf("an empty prefix: exit %d\n%s", r.code, r.out)
	}
}
