package aws_test

import (
	"archive/zip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// missing skips with one line on a developer's machine, and fails with
// one line under CI=true: a CI run that skipped the schema validation and
// plan tests would pass while checking less than it claims.
func missing(t *testing.T, what, fix string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("CI=true and %s: %s", what, fix)
	}
	t.Skipf("%s: schema validation and plan tests skipped (the static checks still ran); %s", what, fix)
}

// tfBinary finds terraform or tofu, or skips (fails under CI) with one line.
func tfBinary(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"terraform", "tofu"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no terraform or tofu binary on PATH", "install Terraform >= 1.11 (or OpenTofu) and put it on PATH")
	return ""
}

// schemaDir finds the hashicorp/aws 6.19.0 schemas, or skips.
func schemaDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{os.Getenv("DRDRILL_AWS_SCHEMA_DIR"), "../../../shared/aws-provider-schema/6.19.0"} {
		if d == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "provider", "block.json")); err == nil {
			abs, _ := filepath.Abs(d)
			return abs
		}
	}
	missing(t, "no hashicorp/aws 6.19.0 schema directory", "copy shared/aws-provider-schema beside the checkout or set DRDRILL_AWS_SCHEMA_DIR")
	return ""
}

var (
	pluginOnce sync.Once
	pluginDir  string
	pluginErr  error
)

// Under CI=true a machine without terraform fails the schema tests with
// one line naming what to install; elsewhere they skip. The test binary
// runs itself with a PATH that has no terraform.
func TestCIRefusesToSkipTheSchemaTests(t *testing.T) {
	if os.Getenv("DRDRILL_CHILD") != "" {
		t.Skip("the child run")
	}
	empty := t.TempDir()
	for _, ci := range []string{"true", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSchemaValidatedOffline$", "-test.v")
		cmd.Env = append(os.Environ(), "PATH="+empty, "CI="+ci, "DRDRILL_CHILD=1")
		out, err := cmd.CombinedOutput()
		switch {
		case ci != "" && (err == nil || !strings.Contains(string(out), "CI=true and no terraform or tofu binary on PATH: install Terraform")):
			t.Fatalf("CI=true without terraform: want a failure naming what to install, got %v:\n%s", err, out)
		case ci == "" && (err != nil || !strings.Contains(string(out), "SKIP")):
			t.Fatalf("without CI and without terraform: want a skip, got %v:\n%s", err, out)
		}
	}
}

// TestMain removes the stand-in provider the tests share once they are
// done: tests leave nothing behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if pluginDir != "" {
		_ = os.RemoveAll(pluginDir)
	}
	os.Exit(code)
}

// standIn builds the schema-only provider into a -plugin-dir layout.
func standIn(t *testing.T) string {
	t.Helper()
	pluginOnce.Do(func() {
		dir, err := os.MkdirTemp("", "drdrill-plugins-")
		if err != nil {
			pluginErr = err
			return
		}
		bin := filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", "6.19.0", runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-aws_v6.19.0")
		out, err := exec.Command("go", "build", "-o", bin, "../../cmd/terraform-provider-aws-schema").CombinedOutput()
		if err != nil {
			pluginErr = err
			os.Stderr.Write(out)
		}
		pluginDir = dir
	})
	if pluginErr != nil {
		t.Fatal(pluginErr)
	}
	return pluginDir
}

// workdir copies infra/aws (no lock file, no .terraform) to a temp dir,
// applies a mutation, and runs terraform init against the stand-in.
func workdir(t *testing.T, mutate func(dir string)) (string, func(args ...string) (string, error)) {
	t.Helper()
	tf, schemas := tfBinary(t), schemaDir(t)
	plugins := standIn(t)
	dir := t.TempDir()
	for _, pattern := range []string{"*.tf", "tests/*.tftest.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, f := range files {
			b, _ := os.ReadFile(f)
			os.MkdirAll(filepath.Join(dir, filepath.Dir(f)), 0o755)
			os.WriteFile(filepath.Join(dir, f), b, 0o644)
		}
	}
	if mutate != nil {
		mutate(dir)
	}
	cli := filepath.Join(t.TempDir(), "terraformrc")
	os.WriteFile(cli, nil, 0o644)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(tf, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DRDRILL_AWS_SCHEMA_DIR="+schemas, "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("init", "-backend=false", "-input=false", "-no-color", "-plugin-dir="+plugins); err != nil {
		t.Fatalf("terraform init with the stand-in provider: %v\n%s", err, out)
	}
	return dir, run
}

func edit(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s does not contain %q: the mutation no longer applies", path, old)
	}
	os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644)
}

func TestFormatted(t *testing.T) {
	tf := tfBinary(t)
	out, err := exec.Command(tf, "fmt", "-check", "-recursive", "-diff", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("terraform fmt -check: %v\n%s", err, out)
	}
}

// Schema-validated offline: the configuration against the real 6.19.0 schemas.
func TestSchemaValidatedOffline(t *testing.T) {
	_, run := workdir(t, nil)
	if out, err := run("validate", "-no-color"); err != nil {
		t.Fatalf("terraform validate: %v\n%s", err, out)
	}
}

// Validation can fail: each broken copy must be rejected, for the reason given.
func TestValidateRejectsBrokenCopies(t *testing.T) {
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown argument", "network.tf", "enable_dns_support   = true", "enable_dns_support   = true\n  enable_dns_magic     = true", `An argument named "enable_dns_magic" is not expected here`},
		{"wrong type", "database.tf", "storage_encrypted         = true\n  deletion_protection       = var.deletion_protection", "storage_encrypted         = [\"yes\"]\n  deletion_protection       = var.deletion_protection", "Incorrect attribute value type"},
		{"missing required argument", "network.tf", "  route_table_id = aws_route_table.primary.id\n}", "}", `The argument "route_table_id" is required`},
		{"unknown resource type", "monitoring.tf", `resource "aws_sns_topic" "primary" {`, `resource "aws_sns_topics" "primary" {`, "does not support resource type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, run := workdir(t, func(dir string) { edit(t, filepath.Join(dir, c.file), c.old, c.new) })
			out, err := run("validate", "-no-color")
			if err == nil {
				t.Fatalf("terraform validate accepted the broken copy:\n%s", out)
			}
			if !strings.Contains(out, c.want) {
				t.Fatalf("rejected, but not for %q:\n%s", c.want, out)
			}
		})
	}
}

// lambdaZips makes stand-in zips: the plan only needs files to hash.
func lambdaZips(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"healthmonitor.zip", "failovertrigger.zip"} {
		f, _ := os.Create(filepath.Join(dir, name))
		zw := zip.NewWriter(f)
		w, _ := zw.Create("bootstrap")
		w.Write([]byte("placeholder for the plan test"))
		zw.Close()
		f.Close()
	}
	return dir
}

func TestPlanAssertions(t *testing.T) {
	_, run := workdir(t, nil)
	out, err := run("test", "-no-color", "-var", "lambda_dir="+lambdaZips(t))
	if err != nil || !strings.Contains(out, "5 passed, 0 failed") {
		t.Fatalf("terraform test: %v\n%s", err, out)
	}
}

// The plan tests can fail: a stack with a 1 ACU minimum must be caught.
func TestPlanAssertionsCatchAWrongCapacity(t *testing.T) {
	_, run := workdir(t, func(dir string) {
		edit(t, filepath.Join(dir, "variables.tf"), "default     = 0.5", "default     = 1")
	})
	out, err := run("test", "-no-color", "-var", "lambda_dir="+lambdaZips(t))
	if err == nil || !strings.Contains(out, "min 0.5 ACU") {
		t.Fatalf("terraform test passed a stack with min_capacity 1:\n%s", out)
	}
}

// And an engine version without AuroraGlobalDBRPOLag must be refused: a
// copy whose validation lets 3.03 through fails the plan tests.
func TestPlanAssertionsCatchAnEngineWithoutTheLagMetric(t *testing.T) {
	_, run := workdir(t, func(dir string) {
		edit(t, filepath.Join(dir, "variables.tf"), `3\\.(0[4-9]|[1-9][0-9])`, `3\\.[0-9]{2}`)
	})
	out, err := run("test", "-no-color", "-var", "lambda_dir="+lambdaZips(t))
	if err == nil || !strings.Contains(out, `run "engine_without_the_lag_metric"... fail`) {
		t.Fatalf("terraform test accepted Aurora MySQL 3.03:\n%s", out)
	}
}
