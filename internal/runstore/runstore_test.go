package runstore

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/report"
	"github.com/drdrill/drdrill/internal/twin"
)

// noData is a data plane for a twin that serves S3 only here: nothing but
// Primary (asked at start) and Regions (the lag publisher) is called.
type noData struct{ twin.DataPlane }

var errNoData = errors.New("no data plane in this test")

func (noData) Primary(context.Context) (string, error)                      { return "us-east-1", nil }
func (noData) Regions(context.Context) (map[string]twin.RegionState, error) { return nil, errNoData }

// s3Twin serves a bucket in us-west-2 on a twin, and aims the SDK's
// default configuration at it from us-east-1 (the runs' bucket is found
// in its own region).
func s3Twin(t *testing.T) *twin.Server {
	t.Helper()
	srv, err := twin.Start("127.0.0.1:0", twin.Config{Account: "123456789012"},
		twin.Stack{Buckets: []twin.Bucket{{Name: "drdrill-test-reports", Region: "us-west-2", KMSKey: "arn:aws:kms:us-west-2:123456789012:key/k", Versioned: true}}}, noData{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint())
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDRUNSTORETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return srv
}

// runDir makes a run directory as a drill leaves it: report.json (when
// rendered), a scenario's history, the lab's log, and a socket, which is
// not a file to keep.
func runDir(t *testing.T, rendered bool) string {
	t.Helper()
	d := t.TempDir()
	os.MkdirAll(filepath.Join(d, "planned-switchover"), 0o755)
	os.MkdirAll(filepath.Join(d, "lab"), 0o755)
	os.WriteFile(filepath.Join(d, "planned-switchover", "history.jsonl"), []byte(`{"t":"meta"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(d, "lab", "supervisor.log"), []byte("up\n"), 0o644)
	if rendered {
		os.WriteFile(filepath.Join(d, report.JSONFile), []byte(`{"schema":"x"}`), 0o644)
	}
	os.Symlink("supervisor.log", filepath.Join(d, "lab", "control.sock"))
	return d
}

// A directory and an S3 prefix are one Store: the same runs uploaded to
// each are found the same way — rendered runs with their report.json, a
// run with histories but no report.json listed without one — and come
// back whole.
func TestADirectoryAndAnS3PrefixHoldRunsAlike(t *testing.T) {
	s3Twin(t)
	ctx := context.Background()
	remote, err := Open(ctx, "s3://drdrill-test-reports/runs/nightly")
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []Store{Dir(t.TempDir()), remote} {
		t.Run(strings.SplitN(st.Location(), ":", 2)[0], func(t *testing.T) {
			for id, rendered := range map[string]bool{"20261201T060000Z": true, "20261208T060000Z": false, "20261215T060000Z": true} {
				n, err := Upload(ctx, st, runDir(t, rendered), id)
				if err != nil {
					t.Fatal(err)
				}
				if want := map[bool]int{true: 3, false: 2}[rendered]; n != want {
					t.Fatalf("uploaded %d files, want %d (no socket or link)", n, want)
				}
			}
			if err := st.Write(ctx, report.HTMLFile, []byte("<html>")); err != nil {
				t.Fatal(err)
			}
			runs, err := Runs(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range runs {
				got = append(got, r.ID+map[bool]string{true: "+report", false: ""}[r.Report != nil])
			}
			if strings.Join(got, " ") != "20261201T060000Z+report 20261208T060000Z 20261215T060000Z+report" {
				t.Fatalf("runs: %v", got)
			}
			if _, err := st.Read(ctx, "20261208T060000Z/report.json"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("a missing file: %v, want fs.ErrNotExist", err)
			}
			back := t.TempDir()
			if n, err := Download(ctx, st, "20261201T060000Z", back); err != nil || n != 3 {
				t.Fatalf("download: %d files, %v", n, err)
			}
			if b, _ := os.ReadFile(filepath.Join(back, "planned-switchover", "history.jsonl")); string(b) != `{"t":"meta"}`+"\n" {
				t.Fatalf("history downloaded as %q", b)
			}
			// A run's own directory is a location too.
			one, err := Open(ctx, strings.TrimSuffix(st.Location(), "/")+"/20261215T060000Z")
			if err != nil {
				t.Fatal(err)
			}
			if runs, err := Runs(ctx, one); err != nil || len(runs) != 1 || runs[0].ID != "20261215T060000Z" || runs[0].Dir != "" {
				t.Fatalf("a run's own location: %+v, %v", runs, err)
			}
		})
	}
}

func TestABadS3LocationSaysWhy(t *testing.T) {
	s3Twin(t)
	ctx := context.Background()
	if _, err := Open(ctx, "s3://"); err == nil || !strings.Contains(err.Error(), "want s3://BUCKET/PREFIX") {
		t.Fatalf("no bucket: %v", err)
	}
	if _, err := Open(ctx, "s3://no-such-bucket/runs"); err == nil || !strings.Contains(err.Error(), "bucket no-such-bucket does not exist") {
		t.Fatalf("a missing bucket: %v", err)
	}
}
