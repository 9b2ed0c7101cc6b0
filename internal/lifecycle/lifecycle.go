// Package lifecycle deploys, drills and tears down the AWS stack with
// Terratest, stage by stage like Terratest's test_structure: each stage can
// be skipped with SKIP_<stage>=1 (SKIP_deploy and SKIP_teardown keep a
// long-lived stack, since an Aurora global cluster takes 20–30 minutes to
// create). Only modules/terraform and modules/test-structure are imported:
// compiling more of Terratest costs minutes.
package lifecycle

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gruntwork-io/terratest/modules/terraform"
	teststructure "github.com/gruntwork-io/terratest/modules/test-structure"

	"github.com/drdrill/drdrill/internal/outputs"
)

// Stages, in order. Teardown runs even when the drill fails.
const (
	StageDeploy   = "deploy"
	StageOutputs  = "outputs"
	StageDrill    = "drill"
	StageTeardown = "teardown"
)

// Config says what to deploy and where the outputs go.
type Config struct {
	Dir           string   // the Terraform module (infra/aws)
	VarFiles      []string // -var-file (e.g. terraform.tfvars)
	BackendConfig string   // partial backend configuration file (backend.hcl); empty: none
	Vars          map[string]any
	OutputsFile   string // cfn-outputs/flat-outputs.json
	Logf          func(format string, args ...any)
}

// runT adapts Terratest's TestingT to a command: a fatal failure unwinds
// the stage and becomes its error.
type runT struct {
	name string
	errs []string
}

type fatal struct{}

func (t *runT) Fail()    { t.errs = append(t.errs, "failed") }
func (t *runT) FailNow() { t.Fail(); panic(fatal{}) }
func (t *runT) Fatal(args ...interface{}) {
	t.errs = append(t.errs, fmt.Sprint(args...))
	panic(fatal{})
}
func (t *runT) Fatalf(f string, args ...interface{}) {
	t.errs = append(t.errs, fmt.Sprintf(f, args...))
	panic(fatal{})
}
func (t *runT) Error(args ...interface{}) { t.errs = append(t.errs, fmt.Sprint(args...)) }
func (t *runT) Errorf(f string, args ...interface{}) {
	t.errs = append(t.errs, fmt.Sprintf(f, args...))
}
func (t *runT) Name() string { return t.name }
func (t *runT) Helper()      {}

// stage runs one stage unless SKIP_<name> is set, turning Terratest's
// failures into an error.
func stage(name string, logf func(string, ...any), fn func(t *runT)) (err error) {
	if os.Getenv("SKIP_"+name) != "" {
		logf("[stage] %s skipped (SKIP_%s is set)", name, name)
		return nil
	}
	t := &runT{name: "drdrill-" + name}
	start := time.Now()
	logf("[stage] %s", name)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
		}
		if len(t.errs) > 0 {
			err = fmt.Errorf("stage %s: %s", name, strings.Join(t.errs, "; "))
		}
		logf("[stage] %s done in %v", name, time.Since(start).Round(time.Second))
	}()
	// test_structure's own stage runner honours SKIP_<name> the same way.
	teststructure.RunTestStage(t, name, func() { fn(t) })
	return nil
}

func (c Config) options(t *runT) *terraform.Options {
	backend := map[string]interface{}{}
	if c.BackendConfig != "" {
		abs, _ := filepath.Abs(c.BackendConfig)
		backend[abs] = nil // a nil value passes the key alone: a backend config file
	}
	return terraform.WithDefaultRetryableErrors(t, &terraform.Options{
		TerraformDir: c.Dir, VarFiles: c.VarFiles, Vars: c.Vars, BackendConfig: backend, NoColor: true,
	})
}

// Run runs deploy → outputs → drill → teardown. The drill's error is
// returned after teardown; a teardown error is joined to it.
func Run(c Config, drill func(outputsFile string) error) error {
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	if _, err := os.Stat(c.Dir); err != nil {
		return fmt.Errorf("terraform module %s: %w (set --infra)", c.Dir, err)
	}
	var errs []error
	deployErr := stage(StageDeploy, c.Logf, func(t *runT) {
		opts := c.options(t)
		teststructure.SaveTerraformOptions(t, c.Dir, opts)
		terraform.InitAndApply(t, opts)
	})
	if deployErr != nil {
		errs = append(errs, deployErr)
	}
	teardown := func() {
		if err := stage(StageTeardown, c.Logf, func(t *runT) {
			terraform.Destroy(t, c.savedOptions(t))
		}); err != nil {
			errs = append(errs, err)
		}
	}
	if deployErr != nil {
		teardown()
		return errors.Join(errs...)
	}
	if err := stage(StageOutputs, c.Logf, func(t *runT) {
		js := terraform.OutputJson(t, c.savedOptions(t), "")
		out, skipped, err := outputs.FromTerraformJSON(strings.NewReader(js))
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Write(c.OutputsFile); err != nil {
			t.Fatal(err)
		}
		c.Logf("[stage] wrote %d outputs to %s (left out sensitive: %v)", len(out), c.OutputsFile, skipped)
	}); err != nil {
		errs = append(errs, err)
		teardown()
		return errors.Join(errs...)
	}
	if err := stage(StageDrill, c.Logf, func(t *runT) {
		if err := drill(c.OutputsFile); err != nil {
			t.Error(err)
		}
	}); err != nil {
		errs = append(errs, err)
	}
	teardown()
	return errors.Join(errs...)
}

// savedOptions are the deploy stage's options (saved beside the module, as
// test_structure does), or fresh ones when deploy was skipped.
func (c Config) savedOptions(t *runT) *terraform.Options {
	if teststructure.IsTestDataPresent(t, teststructure.FormatTestDataPath(c.Dir, "TerraformOptions.json")) {
		return teststructure.LoadTerraformOptions(t, c.Dir)
	}
	return c.options(t)
}
