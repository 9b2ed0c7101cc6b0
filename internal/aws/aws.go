// Package aws is the deployed AWS stack as drdrill's harness drives it:
// its outputs and both regions' clients (Stack), the guard, the preflight,
// the faults' AWS calls and what AWS says about the stack during a drill.
// The functions' own code lives in internal/monitor and internal/trigger,
// each importing only the SDK clients it calls; the metrics they share
// with the harness in internal/healthmetric.
package aws

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/drdrill/drdrill/internal/healthmetric"
)

// RDSAPI is the part of the RDS client the harness calls.
type RDSAPI interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeGlobalClusters(context.Context, *rds.DescribeGlobalClustersInput, ...func(*rds.Options)) (*rds.DescribeGlobalClustersOutput, error)
	FailoverGlobalCluster(context.Context, *rds.FailoverGlobalClusterInput, ...func(*rds.Options)) (*rds.FailoverGlobalClusterOutput, error)
	SwitchoverGlobalCluster(context.Context, *rds.SwitchoverGlobalClusterInput, ...func(*rds.Options)) (*rds.SwitchoverGlobalClusterOutput, error)
}

// CloudWatchAPI is the part of the CloudWatch client the metrics need.
type CloudWatchAPI = healthmetric.CloudWatchAPI

// SecretsAPI reads the database credentials.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}
