package twin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #11 item 2: throttling, in each protocol's own words. A throttled call
// answers the code its service documents (Throttling, ThrottlingException,
// TooManyRequestsException, RequestThrottled, RequestLimitExceeded); the
// unmodified SDK recognises each as retryable and gets through on its own
// after one throttle. Throttled past the SDK's attempts, drdrill's own call
// fails with an error that names the throttling: never a hang or a panic.
func TestThrottlingThroughTheSDK(t *testing.T) {
	tw := twintest.Start(t, 1)
	ctx := context.Background()
	out := tw.Target.Outputs()
	// An operator's calls (the administrator's), some outside what the
	// harness's role may do.
	cfg := tw.AdminSDKConfig(t, out[outputs.PrimaryRegion])
	for _, c := range []struct {
		service, action, code string
		call                  func() error
	}{
		{"rds", "DescribeGlobalClusters", "Throttling", func() error {
			_, err := rds.NewFromConfig(cfg).DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: awssdk.String(out[outputs.GlobalClusterIdentifier])})
			return err
		}},
		{"monitoring", "DescribeAlarms", "Throttling", func() error {
			_, err := cloudwatch.NewFromConfig(cfg).DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
			return err
		}},
		{"secretsmanager", "GetSecretValue", "ThrottlingException", func() error {
			_, err := secretsmanager.NewFromConfig(cfg).GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(out["DatabaseSecretArn"])})
			return err
		}},
		{"lambda", "GetFunctionConcurrency", "TooManyRequestsException", func() error {
			_, err := lambda.NewFromConfig(cfg).GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: awssdk.String("nope")})
			var nf interface{ ErrorCode() string }
			if errors.As(err, &nf) && nf.ErrorCode() == "ResourceNotFoundException" {
				return nil // answered: the twin runs no functions here
			}
			return err
		}},
		{"ec2", "DescribeNetworkAcls", "RequestLimitExceeded", func() error {
			_, err := ec2.NewFromConfig(cfg).DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{})
			return err
		}},
		{"sqs", "ListQueues", "RequestThrottled", func() error {
			_, err := sqs.NewFromConfig(cfg).ListQueues(ctx, &sqs.ListQueuesInput{})
			return err
		}},
		{"route53", "GetHealthCheck", "Throttling", func() error {
			_, err := route53.NewFromConfig(cfg).GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: awssdk.String(out["PrimaryHealthCheckId"])})
			return err
		}},
	} {
		tw.Server.Throttle(c.service, c.action, 1)
		if err := c.call(); err != nil {
			t.Errorf("%s %s throttled once: %v; the SDK should have retried it", c.service, c.action, err)
		}
		tw.Server.Throttle(c.service, c.action, 10)
		err := c.call()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
			t.Errorf("%s %s throttled throughout: %v, want the SDK to give up with %s", c.service, c.action, err, c.code)
		}
		tw.Server.Throttle(c.service, c.action, 0)
	}

	tw.Server.Throttle("rds", "DescribeGlobalClusters", 100)
	_, err := tw.Target.Topology(ctx)
	if err == nil || !strings.Contains(err.Error(), "Throttling") || !strings.Contains(err.Error(), "DescribeGlobalClusters") {
		t.Fatalf("drdrill's topology read throttled throughout: %v, want an error naming the call and the throttling", err)
	}
}
