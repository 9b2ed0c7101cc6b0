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

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/labtest"
	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/stackspec"
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
func Start(t *testing.T, scale float64) *Twin { return start(t, scale, "", nil, nil) }

// StartWithVars is Start with infra/aws variables set as a tfvars file
// would (e.g. another engine_version).
func StartWithVars(t *testing.T, scale float64, vars map[string]string) *Twin {
	return start(t, scale, "", vars, nil)
}

// StartWithLambdas is Start with the stack's functions running on their
// schedules: their handlers are built for this machine first.
func StartWithLambdas(t *testing.T, scale float64) *Twin {
	return StartWithLambdasEdited(t, scale, nil)
}

// StartWithLambdasEdited is StartWithLambdas with the stack edited before
// the twin starts (e.g. a role's policy with a permission taken away, as a
// mistaken change to infra/aws would).
func StartWithLambdasEdited(t *testing.T, scale float64, edit func(*twin.Stack)) *Twin {
	t.Helper()
	dir := t.TempDir()
	for _, fn := range []string{"healthmonitor", "failovertrigger"} {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, fn), "./lambda/"+fn)
		cmd.Dir = filepath.Join(infraDir(t), "..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	return start(t, scale, dir, nil, edit)
}

func start(t *testing.T, scale float64, lambdaDir string, vars map[string]string, edit func(*twin.Stack)) *Twin {
	t.Helper()
	labDir, _ := labtest.Start(t)
	c, err := lab.Connect(labDir)
	if err != nil {
		t.Fatal(err)
	}
	labOut, err := outputs.Read(filepath.Join(labDir, lab.OutputsFile))
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]string{"environment_suffix": "twin"}
	for k, v := range vars {
		all[k] = v
	}
	spec, err := stackspec.Load(infraDir(t), Account, all)
	if err != nil {
		t.Fatal(err)
	}
	stack := twin.FromSpec(spec, labOut, lambdaDir)
	if edit != nil {
		edit(&stack)
	}
	srv, err := twin.Start("127.0.0.1:0", twin.Config{Account: Account, TimeScale: scale, LogDir: filepath.Join(t.TempDir(), "lambda-logs")},
		stack, twin.NewLabPlane(c))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	path := filepath.Join(t.TempDir(), "flat-outputs.json")
	b, _ := json.Marshal(twin.Outputs(spec, Account, labOut))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL", srv.Endpoint())
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDDRDRILLTWIN")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "drdrill-twin")
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
// twin by the environment Start set (AWS_ENDPOINT_URL and the keys), as a
// user's would be.
func (tw *Twin) SDKConfig(t testing.TB, region string) awssdk.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
