// Package lambdaenv reads a function's settings from its environment, as
// infra/aws sets them: every missing required one named in one error, every
// malformed one with what it wants.
package lambdaenv

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Env reads required and optional settings, naming every missing one.
type Env struct {
	get     func(string) string
	missing []string
}

func New(get func(string) string) *Env {
	if get == nil {
		get = os.Getenv
	}
	return &Env{get: get}
}

func (e *Env) Req(k string) string {
	v := strings.TrimSpace(e.get(k))
	if v == "" {
		e.missing = append(e.missing, k)
	}
	return v
}

func (e *Env) Opt(k, def string) string {
	if v := strings.TrimSpace(e.get(k)); v != "" {
		return v
	}
	return def
}

func (e *Env) Duration(k string, def time.Duration) (time.Duration, error) {
	v := e.Opt(k, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 2s", k, v)
	}
	return d, nil
}

func (e *Env) Int(k string, def int) (int, error) {
	v := e.Opt(k, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number >= 1", k, v)
	}
	return n, nil
}

func (e *Env) Err() error {
	if len(e.missing) > 0 {
		return fmt.Errorf("missing environment variables: %s (the Terraform in infra/aws sets them)", strings.Join(e.missing, ", "))
	}
	return nil
}

// AWSConfig loads the SDK configuration for region from the environment
// (the function's role credentials); opts let tests add middleware. It
// makes no network call.
func AWSConfig(ctx context.Context, region string, opts ...func(*config.LoadOptions) error) (awssdk.Config, error) {
	ac, err := config.LoadDefaultConfig(ctx, append([]func(*config.LoadOptions) error{config.WithRegion(region)}, opts...)...)
	if err != nil {
		return ac, fmt.Errorf("AWS configuration for %s: %w", region, err)
	}
	return ac, nil
}
