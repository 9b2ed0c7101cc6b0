// Package monitor is the health-monitor function (lambda/healthmonitor,
// one per region, every minute): it checks its regional cluster through
// RDS and a SQL probe, probes the other region's across the peering, and
// publishes what it found as the stack's health metrics. It imports only
// the SDK clients it calls: RDS, CloudWatch and Secrets Manager.
package monitor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/healthmetric"
	"github.com/drdrill/drdrill/internal/lambdaenv"
)

// Config configures one region's health monitor (from its environment).
type Config struct {
	Region     string // this function's region
	PeerRegion string
	ClusterID  string // this region's cluster identifier
	// Endpoint is this region's reader endpoint (host:port) for the SQL
	// probe, and PeerEndpoint the other region's, probed across the
	// peering (optional). Reader endpoints, so that a region's health does
	// not depend on its role: a cluster's writer endpoint is inactive
	// while it is a secondary ("All secondary Regions also have writer
	// endpoints, but they're inactive"; "The reader endpoint isn't
	// affected after a global database failover": AWS Database Blog,
	// "Automate Amazon Aurora Global Database endpoint management"). The
	// role is read from DescribeGlobalClusters.
	Endpoint        string
	PeerEndpoint    string
	GlobalClusterID string
	SecretARN       string
	ProbeTimeout    time.Duration
}

// ConfigFromEnv reads DRDRILL_* settings; every missing one is named.
func ConfigFromEnv(get func(string) string) (Config, error) {
	e := lambdaenv.New(get)
	c := Config{
		Region: e.Req("AWS_REGION"), PeerRegion: e.Req("DRDRILL_PEER_REGION"),
		ClusterID: e.Req("DRDRILL_CLUSTER_ID"), Endpoint: e.Req("DRDRILL_CLUSTER_ENDPOINT"),
		PeerEndpoint: e.Opt("DRDRILL_PEER_ENDPOINT", ""), GlobalClusterID: e.Req("DRDRILL_GLOBAL_CLUSTER_ID"),
		SecretARN: e.Req("DRDRILL_SECRET_ARN"),
	}
	var err error
	if c.ProbeTimeout, err = e.Duration("DRDRILL_PROBE_TIMEOUT", 2*time.Second); err != nil {
		return c, err
	}
	return c, e.Err()
}

// ProbeFunc runs one SQL probe and returns its latency.
type ProbeFunc func(ctx context.Context, endpoint, user, password string, timeout time.Duration) (time.Duration, error)

// SQLProbe connects with a short timeout and runs SELECT 1.
func SQLProbe(ctx context.Context, endpoint, user, password string, timeout time.Duration) (time.Duration, error) {
	m := mysql.NewConfig()
	m.User, m.Passwd, m.Net, m.Addr = user, password, "tcp", endpoint
	m.Timeout, m.ReadTimeout, m.WriteTimeout = timeout, timeout, timeout
	m.TLSConfig = "preferred"
	db, err := sql.Open("mysql", m.FormatDSN())
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var one int
	err = db.QueryRowContext(ctx, "SELECT 1").Scan(&one)
	return time.Since(start), err
}

// Monitor is the health-monitor function.
type Monitor struct {
	Cfg     Config
	RDS     RDSAPI
	CW      healthmetric.CloudWatchAPI
	Secrets SecretsAPI
	Probe   ProbeFunc
	Log     *slog.Logger
}

// Result is what one run found; it is also the function's response.
type Result struct {
	Region        string `json:"region"`
	ClusterID     string `json:"cluster_id"`
	ClusterStatus string `json:"cluster_status"`
	Role          string `json:"role"` // primary, secondary, unknown: GlobalClusterMembers[].IsWriter
	// Sync is the cluster's SynchronizationStatus in the global cluster
	// (connected, or pending-resync while Aurora rebuilds it after a
	// failover). It says whether the region is protected, not whether it
	// is up: it is reported, not part of Healthy.
	Sync           string   `json:"sync,omitempty"`
	Healthy        bool     `json:"healthy"`
	ProbeLatencyMs float64  `json:"probe_latency_ms"`
	PeerHealthy    *bool    `json:"peer_healthy,omitempty"`
	LagMetric      string   `json:"lag_metric,omitempty"`
	LagMs          *float64 `json:"lag_ms,omitempty"`
	Reasons        []string `json:"reasons,omitempty"`
}

// Credentials are the database user and password from Secrets Manager
// (the RDS-managed secret's JSON shape).
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

func readCredentials(ctx context.Context, sm SecretsAPI, arn string) (Credentials, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &arn})
	if err != nil {
		return Credentials{}, fmt.Errorf("secret %s: %w", arn, err)
	}
	return ParseCredentials(out.SecretString, arn)
}

// ParseCredentials reads the secret's JSON ({"username":…,"password":…}).
func ParseCredentials(secret *string, arn string) (Credentials, error) {
	var c Credentials
	if secret == nil || json.Unmarshal([]byte(*secret), &c) != nil || c.Username == "" {
		return Credentials{}, fmt.Errorf("secret %s is not a JSON object with username and password", arn)
	}
	return c, nil
}

// Run checks the regional cluster, publishes the health metrics and returns
// the result. A failed check is a result, not an error; an error means the
// monitor itself could not do its job (it then publishes nothing, which the
// alarms treat as missing data, never as healthy).
func (m *Monitor) Run(ctx context.Context) (Result, error) {
	c := m.Cfg
	start := time.Now()
	r := Result{Region: c.Region, ClusterID: c.ClusterID, Role: "unknown", Healthy: true}
	unhealthy := func(why string) { r.Healthy = false; r.Reasons = append(r.Reasons, why) }

	dc, err := m.RDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: &c.ClusterID})
	switch {
	case err != nil:
		unhealthy("DescribeDBClusters: " + err.Error())
	case len(dc.DBClusters) == 0:
		unhealthy("cluster " + c.ClusterID + " not found")
	default:
		r.ClusterStatus = awssdk.ToString(dc.DBClusters[0].Status)
		if r.ClusterStatus != "available" {
			unhealthy("cluster status " + r.ClusterStatus)
		}
	}
	creds, credErr := readCredentials(ctx, m.Secrets, c.SecretARN)
	if credErr != nil {
		return r, credErr // cannot probe at all: the monitor is broken, not the region
	}
	// Both probes at once: a run takes one probe timeout at most, not two,
	// and so fits in its period when the peer does not answer.
	var peerErr error
	peerDone := make(chan struct{})
	go func() {
		defer close(peerDone)
		if c.PeerEndpoint != "" {
			_, peerErr = m.Probe(ctx, c.PeerEndpoint, creds.Username, creds.Password, c.ProbeTimeout)
		}
	}()
	lat, err := m.Probe(ctx, c.Endpoint, creds.Username, creds.Password, c.ProbeTimeout)
	r.ProbeLatencyMs = float64(lat.Microseconds()) / 1000
	if err != nil {
		if answered(err) {
			r.Reasons = append(r.Reasons, fmt.Sprintf("SQL probe of %s: the server answered, so it is up: %v", c.Endpoint, err))
		} else {
			unhealthy(fmt.Sprintf("SQL probe of %s: %v", c.Endpoint, err))
		}
	}
	var engineVersion string
	gc, err := m.RDS.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: &c.GlobalClusterID})
	if err == nil && len(gc.GlobalClusters) > 0 {
		engineVersion = awssdk.ToString(gc.GlobalClusters[0].EngineVersion)
		for _, mem := range gc.GlobalClusters[0].GlobalClusterMembers {
			if arnNames(awssdk.ToString(mem.DBClusterArn), c.ClusterID) {
				r.Role = "secondary"
				if awssdk.ToBool(mem.IsWriter) {
					r.Role = "primary"
				}
				r.Sync = string(mem.SynchronizationStatus)
				if mem.SynchronizationStatus == rdstypes.GlobalClusterMemberSynchronizationStatusPendingResync {
					r.Reasons = append(r.Reasons, "pending-resync: Aurora is rebuilding this cluster after a failover; it is not a usable secondary yet")
				}
			}
		}
	} else if err != nil {
		r.Reasons = append(r.Reasons, "DescribeGlobalClusters: "+err.Error())
	}
	// Lag metrics exist only in the secondary region (and move after a failover).
	if r.Role == "secondary" {
		r.LagMetric = healthmetric.LagMetricFor(engineVersion)
		if v, _, ok, err := healthmetric.LatestLag(ctx, m.CW, r.LagMetric, "DBClusterIdentifier", c.ClusterID, 5*time.Minute); err == nil && ok {
			r.LagMs = &v
		}
	}
	<-peerDone
	if c.PeerEndpoint != "" {
		ok := peerErr == nil || answered(peerErr)
		r.PeerHealthy = &ok
		if peerErr != nil {
			r.Reasons = append(r.Reasons, fmt.Sprintf("peer %s probe of %s: %v", c.PeerRegion, c.PeerEndpoint, peerErr))
		}
	}
	if err := m.publish(ctx, r, start); err != nil {
		return r, err
	}
	if m.Log != nil {
		m.Log.Info("health check", "result", r)
	}
	return r, nil
}

func bit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// publish stamps every datapoint with the check's start, not the time it
// is sent: a slow probe must not push a check into the next period, where
// it would leave a gap in this one and double the next.
func (m *Monitor) publish(ctx context.Context, r Result, at time.Time) error {
	data := []cwtypes.MetricDatum{
		{MetricName: awssdk.String(healthmetric.MetricRegionHealthy), Dimensions: healthmetric.Dimension(m.Cfg.Region), Value: awssdk.Float64(bit(r.Healthy)), Unit: cwtypes.StandardUnitCount, Timestamp: &at},
		{MetricName: awssdk.String(healthmetric.MetricProbeLatency), Dimensions: healthmetric.Dimension(m.Cfg.Region), Value: awssdk.Float64(r.ProbeLatencyMs), Unit: cwtypes.StandardUnitMilliseconds, Timestamp: &at},
	}
	if r.PeerHealthy != nil {
		data = append(data, cwtypes.MetricDatum{MetricName: awssdk.String(healthmetric.MetricPeerHealthy), Dimensions: healthmetric.Dimension(m.Cfg.PeerRegion), Value: awssdk.Float64(bit(*r.PeerHealthy)), Unit: cwtypes.StandardUnitCount, Timestamp: &at})
	}
	_, err := m.CW.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String(healthmetric.Namespace), MetricData: data})
	if err != nil {
		return fmt.Errorf("PutMetricData: %w", err)
	}
	return nil
}

// arnNames reports whether a cluster ARN names the cluster id.
func arnNames(arn, id string) bool {
	return arn == id || (len(arn) > len(id) && arn[len(arn)-len(id)-1:] == ":"+id)
}

// answered reports whether a probe's error came from a server that is up:
// it refused the login (1045, a rotated password), had no connection to
// spare (1040 too many connections, 1203 and 1226 the user's limits) or
// blocked the host (1129). None of those is a region failure, and none
// may count towards a failover.
func answered(err error) bool {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return false
	}
	switch me.Number {
	case 1045, 1040, 1203, 1226, 1129:
		return true
	}
	return false
}

// RDSAPI is the part of the RDS client the monitor calls.
type RDSAPI interface {
	DescribeDBClusters(context.Context, *rds.DescribeDBClustersInput, ...func(*rds.Options)) (*rds.DescribeDBClustersOutput, error)
	DescribeGlobalClusters(context.Context, *rds.DescribeGlobalClustersInput, ...func(*rds.Options)) (*rds.DescribeGlobalClustersOutput, error)
}

// SecretsAPI reads the database secret.
type SecretsAPI interface {
	GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// NewFromEnv is the monitor's cold-start path: configuration from the
// environment and SDK clients (opts let tests add middleware), with no
// network call.
func NewFromEnv(ctx context.Context, get func(string) string, log *slog.Logger, opts ...func(*config.LoadOptions) error) (*Monitor, error) {
	cfg, err := ConfigFromEnv(get)
	if err != nil {
		return nil, err
	}
	ac, err := lambdaenv.AWSConfig(ctx, cfg.Region, opts...)
	if err != nil {
		return nil, err
	}
	return &Monitor{Cfg: cfg, RDS: rds.NewFromConfig(ac), CW: cloudwatch.NewFromConfig(ac), Secrets: secretsmanager.NewFromConfig(ac), Probe: SQLProbe, Log: log}, nil
}
