package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/drdrill/drdrill/internal/outputs"
)

func init() {
	register("outputs", "flatten `terraform output -json` (stdin) into a flat outputs file", outputsCmd)
}

func outputsCmd(args []string) error {
	fs := flag.NewFlagSet("outputs", flag.ContinueOnError)
	out := fs.String("out", "cfn-outputs/flat-outputs.json", "where to write the flat outputs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o, skipped, err := outputs.FromTerraformJSON(os.Stdin)
	if err != nil {
		return err
	}
	if err := o.Write(*out); err != nil {
		return err
	}
	fmt.Printf("wrote %d outputs to %s\n", len(o), *out)
	if len(skipped) > 0 {
		fmt.Printf("left out sensitive outputs: %v\n", skipped)
	}
	return nil
}
