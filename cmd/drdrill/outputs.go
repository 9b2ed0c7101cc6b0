package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/drdrill/drdrill/internal/outputs"
)

func newOutputsCmd() *cobra.Command {
	c := &cobra.Command{Use: "outputs", Short: "flatten `terraform output -json` (stdin) into a flat outputs file", Args: noArgs("outputs reads stdin; --out says where to write")}
	out := c.Flags().String("out", "cfn-outputs/flat-outputs.json", "where to write the flat outputs")
	c.RunE = func(*cobra.Command, []string) error { return outputsRun(*out) }
	return c
}

func outputsRun(out string) error {
	o, skipped, err := outputs.FromTerraformJSON(os.Stdin)
	if err != nil {
		return err
	}
	if err := o.Write(out); err != nil {
		return err
	}
	fmt.Printf("wrote %d outputs to %s\n", len(o), out)
	if len(skipped) > 0 {
		fmt.Printf("left out sensitive outputs: %v\n", skipped)
	}
	return nil
}
