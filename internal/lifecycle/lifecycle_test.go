package lifecycle

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/outputs"
)

// A provider-less configuration: terraform_data is built into Terraform,
// so init needs no registry.
const module = `
variable "suffix" {
  type    = string
  default = "t"
}
resource "terraform_data" "stack" {
  input = var.suffix
}
output "GlobalClusterIdentifier" {
  value = "drdrill-${terraform_data.stack.output}-global"
}
output "PrimaryDatabaseSubnetIds" {
  value = ["subnet-a", "subnet-b"]
}
output "Secret" {
  value     = "not-for-the-outputs-file"
  sensitive = true
}
`

func setup(t *testing.T) (Config, string) {
	t.Helper()
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("no terraform binary: the Terratest stages are not exercised here")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(module), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := filepath.Join(t.TempDir(), "terraformrc")
	os.WriteFile(cli, nil, 0o644)
	t.Setenv("TF_CLI_CONFIG_FILE", cli)
	t.Setenv("CHECKPOINT_DISABLE", "1")
	return Config{Dir: dir, Vars: map[string]any{"suffix": "life"}, OutputsFile: filepath.Join(t.TempDir(), "flat-outputs.json"), Logf: t.Logf}, dir
}

// resources counts the resources in the module's local state.
func resources(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		return 0
	}
	var st struct {
		Resources []json.RawMessage `json:"resources"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return len(st.Resources)
}

func TestDeployOutputsDrillTeardown(t *testing.T) {
	c, dir := setup(t)
	drilled := false
	err := Run(c, func(file string) error {
		drilled = true
		out, err := outputs.Read(file)
		if err != nil {
			return err
		}
		if out["GlobalClusterIdentifier"] != "drdrill-life-global" || out["PrimaryDatabaseSubnetIds"] != `["subnet-a","subnet-b"]` {
			t.Errorf("flattened outputs %v", out)
		}
		if _, ok := out["Secret"]; ok {
			t.Error("a sensitive output reached the outputs file")
		}
		if n := resources(t, dir); n != 1 {
			t.Errorf("%d resources deployed during the drill, want 1", n)
		}
		return nil
	})
	if err != nil || !drilled {
		t.Fatalf("run: %v (drilled %v)", err, drilled)
	}
	if n := resources(t, dir); n != 0 {
		t.Fatalf("%d resources left after teardown", n)
	}
}

func TestDrillFailureStillTearsDown(t *testing.T) {
	c, dir := setup(t)
	err := Run(c, func(string) error { return errors.New("SLO breached") })
	if err == nil || !strings.Contains(err.Error(), "SLO breached") {
		t.Fatalf("got %v", err)
	}
	if n := resources(t, dir); n != 0 {
		t.Fatalf("%d resources left after a failed drill", n)
	}
}

// SKIP_teardown keeps the stack; SKIP_deploy drills the kept stack;
// a final run without SKIP_teardown removes it.
func TestStagesCanBeSkipped(t *testing.T) {
	c, dir := setup(t)
	t.Setenv("SKIP_teardown", "1")
	if err := Run(c, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := resources(t, dir); n != 1 {
		t.Fatalf("SKIP_teardown: %d resources, want the stack kept", n)
	}
	t.Setenv("SKIP_deploy", "1")
	os.Remove(c.OutputsFile)
	if err := Run(c, func(file string) error { _, err := outputs.Read(file); return err }); err != nil {
		t.Fatalf("drilling a kept stack: %v", err)
	}
	os.Unsetenv("SKIP_teardown")
	if err := Run(c, func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n := resources(t, dir); n != 0 {
		t.Fatalf("%d resources left after the final teardown", n)
	}
}

func TestMissingModuleIsAClearError(t *testing.T) {
	err := Run(Config{Dir: "/nonexistent/infra/aws"}, func(string) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/infra/aws") {
		t.Fatalf("got %v", err)
	}
}
