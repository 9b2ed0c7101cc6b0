// Command drdrill-lifecycle deploys the AWS stack with Terratest, writes its
// outputs, runs `drdrill drill --outputs` against it and tears it down
// (`drdrill drill --target aws` execs it). It is a binary of its own because
// Terratest pulls in Kubernetes' client-go: linking it into drdrill cost
// every first lab drill minutes of compiling that the lab never uses.
//
// Usage: drdrill-lifecycle [--infra DIR] [--outputs FILE] -- DRILL_ARGS...
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/drdrill/drdrill/internal/lifecycle"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "drdrill-lifecycle: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("drdrill-lifecycle", flag.ContinueOnError)
	infra := fs.String("infra", "infra/aws", "the Terraform module")
	out := fs.String("outputs", filepath.Join("cfn-outputs", "flat-outputs.json"), "where the stage `outputs` writes the flat outputs")
	drdrill := fs.String("drdrill", "", "the drdrill binary that runs the drill stage (default: beside this one, then PATH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	exe, err := drdrillBinary(*drdrill)
	if err != nil {
		return err
	}
	cfg := lifecycle.Config{Dir: *infra, OutputsFile: *out, BackendConfig: os.Getenv("DRDRILL_BACKEND_CONFIG"),
		Logf: func(f string, a ...any) { fmt.Printf(f+"\n", a...) }}
	if _, err := os.Stat(filepath.Join(*infra, "terraform.tfvars")); err == nil {
		cfg.VarFiles = []string{"terraform.tfvars"}
	}
	if cfg.BackendConfig == "" {
		if _, err := os.Stat(filepath.Join(*infra, "backend.hcl")); err == nil {
			cfg.BackendConfig = filepath.Join(*infra, "backend.hcl")
		}
	}
	drillArgs := fs.Args()
	return lifecycle.Run(cfg, func(outputsFile string) error {
		cmd := exec.Command(exe, append([]string{"drill", "--outputs", outputsFile}, drillArgs...)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	})
}

func drdrillBinary(flagValue string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "drdrill")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("drdrill"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("drdrill not found beside drdrill-lifecycle or on PATH: run `make build`")
}
