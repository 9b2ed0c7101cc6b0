// Package twintest starts the AWS twin over a real lab for a test and
// attaches the unchanged AWS target to it, the way `drdrill twin up` and
// `drdrill drill --outputs` do.
package twintest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/labtest"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twin"
)

// Account is the twin's account in tests.
const Account = "123456789012"

// Twin is a running twin and the AWS target attached to it.
type Twin struct {
	Server  *twin.Server
	Target  target.Target
	Outputs string // the outputs file
	LabDir  string
	Lab     *lab.Client
}

// Start boots a lab, the twin over it at the given time scale, and opens
// the AWS target on the twin's outputs with AWS_ENDPOINT_URL and the
// guard's allow-list set in the test's environment. No Lambda runs.
func Start(t *testing.T, scale float64) *Twin { return StartWith(t, Options{Scale: scale}) }

// StartWithConfig is Start with the twin's other settings (e.g. its
// RebuildTime); Account and LogDir are the test's.
func StartWithConfig(t *testing.T, cfg twin.Config) *Twin {
	return StartWith(t, Options{Scale: cfg.TimeScale, RebuildTime: cfg.RebuildTime, Worst: cfg.Worst, Seed: cfg.Seed})
}

// StartWithVars is Start with infra/aws variables set as a tfvars file
// would (e.g. another engine_version).
func StartWithVars(t *testing.T, scale float64, vars map[string]string) *Twin {
	return StartWith(t, Options{Scale: scale, Vars: vars})
}

// StartWithLambdas is Start with the stack's functions running on their
// schedules: their handlers are built for this machine first.
func StartWithLambdas(t *testing.T, scale float64) *Twin {
	return StartWith(t, Options{Scale: scale, Lambdas: true})
}

// StartWithLambdasEdited is StartWithLambdas with the stack edited before
// the twin starts (e.g. a role's policy with a permission taken away, as a
// mistaken change to infra/aws would).
func StartWithLambdasEdited(t *testing.T, scale float64, edit func(*twin.Stack)) *Twin {
	return StartWith(t, Options{Scale: scale, Lambdas: true, Edit: edit})
}

// Options are how a test's twin differs from Start's.
type Options struct {
	Scale float64
	// Lambdas runs the stack's functions (their handlers built first).
	Lambdas bool
	// Vars are infra/aws variables, as a tfvars file sets them.
	Vars map[string]string
	// Stack is the Terraform module the twin plays: infra/aws when "", or
	// a copy of it a test has changed (CopyStack).
	Stack string
	// Edit changes the stack after it is read, before the twin starts.
	Edit func(*twin.Stack)
	// RebuildTime, Worst and Seed: twin.Config's (AWS at its documented
	// worst unless a test says otherwise).
	RebuildTime time.Duration
	Worst       twin.Worst
	Seed        int64
}

// StartWith boots a lab and a twin over it as o says.
func StartWith(t *testing.T, o Options) *Twin {
	t.Helper()
	lambdaDir := ""
	if o.Lambdas {
		lambdaDir = t.TempDir()
		for _, fn := range twin.Handlers {
			cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(lambdaDir, fn), "./lambda/"+fn)
			cmd.Dir = filepath.Join(infraDir(t), "..", "..")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build %s: %v\n%s", fn, err, out)
			}
		}
	}
	return start(t, o, lambdaDir)
}

// CopyStack copies infra/aws's Terraform files into a temporary
// directory, applies edit to each file's text (by file name), and returns
// the directory, for Options.Stack: a test's mistaken change to the stack.
func CopyStack(t *testing.T, edit func(name, text string) string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(infraDir(t), "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Terraform files in %s: %v", infraDir(t), err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if edit != nil {
			text = edit(filepath.Base(f), text)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func start(t *testing.T, o Options, lambdaDir string) *Twin {
	t.Helper()
	scale, vars, edit := o.Scale, o.Vars, o.Edit
	labDir, _ := labtest.Start(t)
	c, err := lab.Connect(labDir)
	if err != nil {
		t.Fatal(err)
	}
	labOut, err := outputs.Read(filepath.Join(labDir, lab.OutputsFile))
	if err != nil {
		t.Fatal(err)
	}
	stackDir := o.Stack
	if stackDir == "" {
		stackDir = infraDir(t)
	}
	spec, err := twin.Options{Stack: stackDir, Suffix: "twin", Account: Account, Vars: vars}.LoadStack()
	if err != nil {
		t.Fatal(err)
	}
	stack := twin.FromSpec(spec, labOut, lambdaDir)
	if edit != nil {
		edit(&stack)
	}
	srv, err := twin.Start("127.0.0.1:0", twin.Config{Account: Account, TimeScale: scale, LogDir: filepath.Join(t.TempDir(), "lambda-logs"),
		RebuildTime: o.RebuildTime, Worst: o.Worst, Seed: o.Seed}, stack, twin.NewLabPlane(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	path := filepath.Join(t.TempDir(), "flat-outputs.json")
	out, err := srv.Outputs(spec, labOut)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	// The harness's own role, as twin.env gives it: every call the AWS
	// target makes is checked against infra/aws harness.tf.
	id, secret, token := srv.HarnessCredentials()
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint())
	t.Setenv("AWS_ACCESS_KEY_ID", id)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", token)
	t.Setenv("DRDRILL_ALLOWED_ACCOUNTS", Account)
	t.Setenv("DRDRILL_AWS_POLL", "200ms")
	t.Setenv("DRDRILL_CHECK_PERIOD", srv.CheckPeriod().String())
	tgt, err := target.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Twin{Server: srv, Target: tgt, Outputs: path, LabDir: labDir, Lab: c}
}

// infraDir is infra/aws of this checkout.
func infraDir(t *testing.T) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "infra", "aws")
}

// SDKConfig is an unmodified SDK configuration for region, aimed at the
// twin by the environment Start set (AWS_ENDPOINT_URL and the harness
// role's credentials), as the harness's would be.
func (tw *Twin) SDKConfig(t testing.TB, region string) awssdk.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// AdminSDKConfig is SDKConfig with the account administrator's keys
// (twin.AdministratorKey), whose calls the twin does not check: for a test
// that plays an operator doing what the harness may not (setting up a
// state, reading the twin's whole state back).
func (tw *Twin) AdminSDKConfig(t testing.TB, region string) awssdk.Config {
	t.Helper()
	cfg := tw.SDKConfig(t, region)
	cfg.Credentials = credentials.NewStaticCredentialsProvider(twin.AdministratorKey, "drdrill-twin", "")
	return cfg
}
