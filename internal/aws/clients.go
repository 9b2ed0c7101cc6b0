package aws

import (
	"context"
	"fmt"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// Clients are the real SDK clients for one region.
type Clients struct {
	RDS     *rds.Client
	CW      *cloudwatch.Client
	Secrets *secretsmanager.Client
	SNS     *sns.Client
}

// NewClients loads the default configuration (the Lambda's role) for a
// region; opts let tests add middleware. It makes no network call.
func NewClients(ctx context.Context, region string, opts ...func(*config.LoadOptions) error) (Clients, error) {
	opts = append([]func(*config.LoadOptions) error{config.WithRegion(region)}, opts...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return Clients{}, fmt.Errorf("AWS configuration for %s: %w", region, err)
	}
	return ClientsFrom(cfg), nil
}

// ClientsFrom builds the clients from a loaded configuration.
func ClientsFrom(cfg awssdk.Config) Clients {
	return Clients{RDS: rds.NewFromConfig(cfg), CW: cloudwatch.NewFromConfig(cfg),
		Secrets: secretsmanager.NewFromConfig(cfg), SNS: sns.NewFromConfig(cfg)}
}
