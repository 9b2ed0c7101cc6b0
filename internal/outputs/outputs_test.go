package outputs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadErrorsNameTheFileAndFix(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]struct{ body, want string }{
		"malformed": {`{"A": "x",`, "not valid JSON"},
		"array":     {`["a"]`, "flat JSON object"},
		"nested":    {`{"Subnets": ["a","b"]}`, "flatten it"},
		"null":      {`{"A": null}`, "did not set it"},
	}
	for name, c := range cases {
		p := filepath.Join(dir, name+".json")
		os.WriteFile(p, []byte(c.body), 0o600)
		_, err := Read(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: got %v, want error naming %s and containing %q", name, err, p, c.want)
		}
	}
	if _, err := Read(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWriteReadRoundTripAndRequire(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "flat-outputs.json")
	o := Outputs{GlobalWriterEndpoint: "127.0.0.1:1", PrimaryClusterEndpoint: "127.0.0.1:2"}
	if err := o.Write(p); err != nil {
		t.Fatal(err)
	}
	got, err := Read(p)
	if err != nil || got[GlobalWriterEndpoint] != "127.0.0.1:1" || len(got) != 2 {
		t.Fatalf("round trip: %v %v", got, err)
	}
	err = got.Require(GlobalWriterEndpoint, SecondaryClusterEndpoint, ReplicationLagAlarmName)
	if err == nil || !strings.Contains(err.Error(), "SecondaryClusterEndpoint, ReplicationLagAlarmName") {
		t.Fatalf("Require: %v", err)
	}
	if err := got.Require(GlobalWriterEndpoint); err != nil {
		t.Fatal(err)
	}
}
