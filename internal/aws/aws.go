// Package aws holds the code of drdrill's AWS-side functions — the
// health monitor and the failover trigger Lambdas — behind small interfaces
// that the real aws-sdk-go-v2 clients satisfy. The failover trigger decides
// with internal/decision, the same code the lab's controller runs.
package aws

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// RDSAPI is the part of the RDS client the functions call.
type RDSAPI interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeGlobalClusters(context.Context, *rds.DescribeGlobalClustersInput, ...func(*rds.Options)) (*rds.DescribeGlobalClustersOutput, error)
	FailoverGlobalCluster(context.Context, *rds.FailoverGlobalClusterInput, ...func(*rds.Options)) (*rds.FailoverGlobalClusterOutput, error)
	SwitchoverGlobalCluster(context.Context, *rds.SwitchoverGlobalClusterInput, ...func(*rds.Options)) (*rds.SwitchoverGlobalClusterOutput, error)
}

// CloudWatchAPI is the part of the CloudWatch client the functions call.
type CloudWatchAPI interface {
	PutMetricData(context.Context, *cloudwatch.PutMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.PutMetricDataOutput, error)
	GetMetricData(context.Context, *cloudwatch.GetMetricDataInput, ...func(*cloudwatch.Options)) (*cloudwatch.GetMetricDataOutput, error)
}

// SecretsAPI reads the database credentials.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SNSAPI publishes decisions.
type SNSAPI interface {
	Publish(context.Context, *sns.PublishInput, ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// Namespace is where the functions publish their custom metrics.
const Namespace = "DRDrill"

// Custom metric names (dimension Region).
const (
	MetricRegionHealthy = "RegionHealthy" // this region's cluster: 1 healthy, 0 not
	MetricProbeLatency  = "ProbeLatency"  // ms of the SQL probe
	MetricPeerHealthy   = "PeerHealthy"   // the other region's cluster, probed across the peering
	// MetricFailoverDecisions is 1 at each moment the trigger decided to
	// fail over (high resolution: the drill reads it as the detection time).
	MetricFailoverDecisions = "FailoverDecisions"
)

// env reads required and optional settings, naming every missing one.
type env struct {
	get     func(string) string
	missing []string
}

func newEnv(get func(string) string) *env {
	if get == nil {
		get = os.Getenv
	}
	return &env{get: get}
}

func (e *env) req(k string) string {
	v := strings.TrimSpace(e.get(k))
	if v == "" {
		e.missing = append(e.missing, k)
	}
	return v
}

func (e *env) opt(k, def string) string {
	if v := strings.TrimSpace(e.get(k)); v != "" {
		return v
	}
	return def
}

func (e *env) duration(k string, def time.Duration) (time.Duration, error) {
	v := e.opt(k, "")
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive duration such as 2s", k, v)
	}
	return d, nil
}

func (e *env) int(k string, def int) (int, error) {
	v := e.opt(k, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s=%q: want a whole number >= 1", k, v)
	}
	return n, nil
}

func (e *env) err() error {
	if len(e.missing) > 0 {
		return fmt.Errorf("missing environment variables: %s (the Terraform in infra/aws sets them)", strings.Join(e.missing, ", "))
	}
	return nil
}

// LagMetricFor picks the replication-lag metric AWS recommends for an
// aurora-mysql engine version: AuroraGlobalDBRPOLag from 3.04 (and 2.12),
// AuroraGlobalDBReplicationLag before.
func LagMetricFor(engineVersion string) string {
	// e.g. "8.0.mysql_aurora.3.05.2" or "5.7.mysql_aurora.2.12.1"
	_, v, ok := strings.Cut(engineVersion, "mysql_aurora.")
	if !ok {
		return "AuroraGlobalDBReplicationLag"
	}
	f := strings.Split(v, ".")
	if len(f) < 2 {
		return "AuroraGlobalDBReplicationLag"
	}
	major, _ := strconv.Atoi(f[0])
	minor, _ := strconv.Atoi(f[1])
	if (major == 3 && minor >= 4) || major > 3 || (major == 2 && minor >= 12) {
		return "AuroraGlobalDBRPOLag"
	}
	return "AuroraGlobalDBReplicationLag"
}
