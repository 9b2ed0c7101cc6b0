package aws

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/drdrill/drdrill/internal/outputs"
)

// NewStack builds the clients for a deployed stack from its outputs, with
// the default credential chain; opts let tests intercept requests. It
// makes no network call and checks the outputs first.
func NewStack(ctx context.Context, out outputs.Outputs, opts ...func(*config.LoadOptions) error) (*Stack, error) {
	if err := out.Require(RequiredOutputs...); err != nil {
		return nil, fmt.Errorf("AWS target: %w (regenerate it with `make outputs`)", err)
	}
	regional := func(region string) (Regional, error) {
		cfg, err := config.LoadDefaultConfig(ctx, append([]func(*config.LoadOptions) error{config.WithRegion(region)}, opts...)...)
		if err != nil {
			return Regional{}, fmt.Errorf("AWS configuration for %s: %w", region, err)
		}
		rc, cw := rds.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)
		return Regional{Region: region, RDS: rc, Tags: rc, Alarms: cw, AlarmSetter: cw, EC2: ec2.NewFromConfig(cfg),
			Lambda: lambda.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), Subs: sns.NewFromConfig(cfg)}, nil
	}
	p, err := regional(out[outputs.PrimaryRegion])
	if err != nil {
		return nil, err
	}
	s, err := regional(out[outputs.SecondaryRegion])
	if err != nil {
		return nil, err
	}
	// Route 53 and STS are global; their API lives in us-east-1.
	gcfg, err := config.LoadDefaultConfig(ctx, append([]func(*config.LoadOptions) error{config.WithRegion("us-east-1")}, opts...)...)
	if err != nil {
		return nil, err
	}
	st := &Stack{Out: out, Primary: p, Secondary: s, Route53: route53.NewFromConfig(gcfg), STS: sts.NewFromConfig(gcfg),
		AllowedAccounts: ListFromEnv("DRDRILL_ALLOWED_ACCOUNTS"), StopAlarms: ListFromEnv("DRDRILL_STOP_ALARMS")}
	if v := os.Getenv("DRDRILL_AWS_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("DRDRILL_AWS_POLL=%q: want a positive duration such as 10s (how often waits poll AWS)", v)
		}
		st.Poll = d
	}
	return st, nil
}
