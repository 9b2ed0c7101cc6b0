package main

import (
	"context"
	"flag"
	"os"
	"time"

	drdaws "github.com/drdrill/drdrill/internal/aws"
	"github.com/drdrill/drdrill/internal/outputs"
)

func init() {
	register("aws preflight", "resolve and print every AWS target and fault; inject nothing (exit 1 if not ready)", awsPreflight)
}

func awsPreflight(args []string) error {
	fs := flag.NewFlagSet("aws preflight", flag.ContinueOnError)
	file := fs.String("outputs", "cfn-outputs/flat-outputs.json", "the deployed stack's outputs file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out, err := outputs.Read(*file)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := drdaws.NewStack(ctx, out)
	if err != nil {
		return err
	}
	return st.Preflight(ctx, os.Stdout)
}
