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

func TestFromTerraformJSON(t *testing.T) {
	in := `{"GlobalWriterEndpoint":{"sensitive":false,"type":"string","value":"g.global-abc.global.rds.amazonaws.com"},
"PrimaryDatabaseSubnetIds":{"sensitive":false,"type":["tuple",["string","string"]],"value":["subnet-1","subnet-2"]},
"Threshold":{"sensitive":false,"type":"number","value":3},"Flag":{"sensitive":false,"type":"bool","value":true},
"Tags":{"sensitive":false,"type":["map","string"],"value":{"a":"b"}},
"Password":{"sensitive":true,"type":"string","value":"x"}}`
	o, skipped, err := FromTerraformJSON(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Outputs{"GlobalWriterEndpoint": "g.global-abc.global.rds.amazonaws.com", "PrimaryDatabaseSubnetIds": `["subnet-1","subnet-2"]`,
		"Threshold": "3", "Flag": "true", "Tags": `{"a":"b"}`}
	if len(o) != len(want) {
		t.Fatalf("got %v", o)
	}
	for k, v := range want {
		if o[k] != v {
			t.Errorf("%s = %q, want %q", k, o[k], v)
		}
	}
	if len(skipped) != 1 || skipped[0] != "Password" {
		t.Fatalf("skipped %v", skipped)
	}
	for _, bad := range []string{"", "{}", "[1]", "not json"} {
		if _, _, err := FromTerraformJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
