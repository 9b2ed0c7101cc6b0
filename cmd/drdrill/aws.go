package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	drdaws "github.com/drdrill/drdrill/internal/aws"
	"github.com/drdrill/drdrill/internal/outputs"
)

func newAWSCmd() *cobra.Command {
	c := groupCmd("aws", "the deployed AWS stack (infra/aws)")
	pre := &cobra.Command{Use: "preflight", Short: "resolve and print every AWS target and fault; inject nothing (exit 1 if not ready)", Args: noArgs("aws preflight takes --outputs FILE")}
	file := outputsFlag(pre.Flags())
	pre.Flags().Lookup("outputs").DefValue = "cfn-outputs/flat-outputs.json"
	*file = "cfn-outputs/flat-outputs.json"
	pre.RunE = func(*cobra.Command, []string) error { return awsPreflight(*file) }
	c.AddCommand(pre)
	return c
}

func awsPreflight(file string) error {
	out, err := outputs.Read(file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := drdaws.NewStack(ctx, out)
	if err != nil {
		return err
	}
	if err := st.Preflight(ctx, os.Stdout); err != nil {
		if notReady := (*drdaws.NotReadyError)(nil); errors.As(err, &notReady) {
			// The check said no (a verdict), as opposed to a preflight
			// that could not run.
			fmt.Fprintf(os.Stderr, "drdrill aws preflight: %v\n", err)
			return exitError{exitVerdict}
		}
		return err
	}
	return nil
}
