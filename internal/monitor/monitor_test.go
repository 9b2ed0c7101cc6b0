package monitor

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-sql-driver/mysql"

	"github.com/drdrill/drdrill/internal/awstest"
	"github.com/drdrill/drdrill/internal/healthmetric"
)

const (
	secretARN    = "arn:aws:secretsmanager:us-west-2:111122223333:secret:dr-db-test"
	secondaryARN = "arn:aws:rds:us-west-2:111122223333:cluster:dr-secondary-test"
)

func monitorStub(status string, writer bool, secret string) *awstest.Stub {
	s := awstest.New()
	s.On("RDS.DescribeDBClusters", func(awstest.Call) (any, error) {
		return &rds.DescribeDBClustersOutput{DBClusters: []rdstypes.DBCluster{{Status: awssdk.String(status)}}}, nil
	})
	s.On("RDS.DescribeGlobalClusters", func(awstest.Call) (any, error) {
		return &rds.DescribeGlobalClustersOutput{GlobalClusters: []rdstypes.GlobalCluster{{EngineVersion: awssdk.String("8.0.mysql_aurora.3.05.2"),
			GlobalClusterMembers: []rdstypes.GlobalClusterMember{{DBClusterArn: awssdk.String(secondaryARN), IsWriter: awssdk.Bool(writer)}}}}}, nil
	})
	s.On("Secrets Manager.GetSecretValue", func(awstest.Call) (any, error) {
		return &secretsmanager.GetSecretValueOutput{SecretString: awssdk.String(secret)}, nil
	})
	s.On("CloudWatch.GetMetricData", func(awstest.Call) (any, error) {
		return &cloudwatch.GetMetricDataOutput{MetricDataResults: []cwtypes.MetricDataResult{{Values: []float64{42}}}}, nil
	})
	s.On("CloudWatch.PutMetricData", func(awstest.Call) (any, error) { return &cloudwatch.PutMetricDataOutput{}, nil })
	return s
}

func monitor(t *testing.T, s *awstest.Stub, probe ProbeFunc) *Monitor {
	c := s.Config(t, "us-west-2")
	return &Monitor{Cfg: Config{Region: "us-west-2", PeerRegion: "us-east-1", ClusterID: "dr-secondary-test",
		Endpoint: "secondary.cluster.example:3306", PeerEndpoint: "primary.cluster.example:3306", GlobalClusterID: "dr-global-test",
		SecretARN: secretARN, ProbeTimeout: time.Second}, RDS: rds.NewFromConfig(c), CW: cloudwatch.NewFromConfig(c), Secrets: secretsmanager.NewFromConfig(c), Probe: probe}
}

func okProbe(context.Context, string, string, string, time.Duration) (time.Duration, error) {
	return 3 * time.Millisecond, nil
}

func TestMonitorHealthySecondaryPublishesHealthAndReadsRPOLag(t *testing.T) {
	s := monitorStub("available", false, `{"username":"admin","password":"pw"}`)
	var mu sync.Mutex
	var probed []string
	r, err := monitor(t, s, func(ctx context.Context, ep, u, p string, to time.Duration) (time.Duration, error) {
		mu.Lock()
		probed = append(probed, ep+" as "+u)
		mu.Unlock()
		return okProbe(ctx, ep, u, p, to)
	}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Healthy || r.Role != "secondary" || r.LagMetric != "AuroraGlobalDBRPOLag" || r.LagMs == nil || *r.LagMs != 42 {
		t.Fatalf("result %+v", r)
	}
	slices.Sort(probed)
	if len(probed) != 2 || probed[1] != "secondary.cluster.example:3306 as admin" {
		t.Fatalf("probes %v", probed)
	}
	got := published(t, s)
	if got["RegionHealthy/us-west-2"] != 1 || got["PeerHealthy/us-east-1"] != 1 || got["ProbeLatency/us-west-2"] != 3 {
		t.Errorf("published %v", got)
	}
	get, _ := s.Find("CloudWatch.GetMetricData")
	q := get.Params.(*cloudwatch.GetMetricDataInput).MetricDataQueries[0].MetricStat
	if awssdk.ToString(q.Metric.Namespace) != "AWS/RDS" || awssdk.ToString(q.Metric.MetricName) != "AuroraGlobalDBRPOLag" ||
		awssdk.ToString(q.Metric.Dimensions[0].Value) != "dr-secondary-test" {
		t.Errorf("lag query %+v", q.Metric)
	}
}

func TestMonitorUnhealthyCluster(t *testing.T) {
	s := monitorStub("failing-over", true, `{"username":"admin","password":"pw"}`)
	r, err := monitor(t, s, func(context.Context, string, string, string, time.Duration) (time.Duration, error) {
		return time.Second, errors.New("i/o timeout")
	}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.Healthy || r.Role != "primary" || r.LagMs != nil || r.PeerHealthy == nil || *r.PeerHealthy {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(strings.Join(r.Reasons, ";"), "cluster status failing-over") {
		t.Fatalf("reasons %v", r.Reasons)
	}
	if got := published(t, s); got["RegionHealthy/us-west-2"] != 0 || got["PeerHealthy/us-east-1"] != 0 {
		t.Errorf("published %v", got)
	}
}

func TestMonitorWithUnreadableSecretPublishesNothing(t *testing.T) {
	s := monitorStub("available", false, `not json`)
	_, err := monitor(t, s, okProbe).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), secretARN) {
		t.Fatalf("got %v", err)
	}
	if _, called := s.Find("CloudWatch.PutMetricData"); called {
		t.Fatal("a monitor that cannot probe must not publish health")
	}
}

func TestLagMetricFor(t *testing.T) {
	for v, want := range map[string]string{"8.0.mysql_aurora.3.04.0": "AuroraGlobalDBRPOLag", "8.0.mysql_aurora.3.03.1": "AuroraGlobalDBReplicationLag",
		"5.7.mysql_aurora.2.12.0": "AuroraGlobalDBRPOLag", "5.7.mysql_aurora.2.11.2": "AuroraGlobalDBReplicationLag", "garbage": "AuroraGlobalDBReplicationLag"} {
		if got := healthmetric.LagMetricFor(v); got != want {
			t.Errorf("healthmetric.LagMetricFor(%s) = %s, want %s", v, got, want)
		}
	}
}

func TestConfigFromEnvNamesMissing(t *testing.T) {
	_, err := ConfigFromEnv(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "DRDRILL_SECRET_ARN") || !strings.Contains(err.Error(), "DRDRILL_CLUSTER_ENDPOINT") {
		t.Fatalf("%v", err)
	}
}

// published returns metric/region → value from the PutMetricData call,
// checking namespace and that no datum carries an explicit timestamp.
func published(t *testing.T, s *awstest.Stub) map[string]float64 {
	t.Helper()
	put, ok := s.Find("CloudWatch.PutMetricData")
	if !ok {
		t.Fatal("no PutMetricData")
	}
	in := put.Params.(*cloudwatch.PutMetricDataInput)
	if awssdk.ToString(in.Namespace) != healthmetric.Namespace {
		t.Errorf("namespace %q", awssdk.ToString(in.Namespace))
	}
	out := map[string]float64{}
	for _, d := range in.MetricData {
		// Stamped with the check's start, all alike: a slow probe must not
		// move the check into the next period.
		if d.Timestamp == nil || !d.Timestamp.Equal(*in.MetricData[0].Timestamp) {
			t.Errorf("%s is not stamped with the check's start (%v)", awssdk.ToString(d.MetricName), d.Timestamp)
		}
		out[awssdk.ToString(d.MetricName)+"/"+awssdk.ToString(d.Dimensions[0].Value)] = awssdk.ToFloat64(d.Value)
	}
	return out
}

// A server that refuses the login or has no connection to spare is up:
// neither may count as a region failure, for its own region or the peer.
func TestMonitorCountsAnAnsweringServerAsUp(t *testing.T) {
	for _, c := range []struct {
		err     error
		healthy bool
	}{
		{&mysql.MySQLError{Number: 1045, Message: "Access denied for user 'admin'"}, true},
		{&mysql.MySQLError{Number: 1040, Message: "Too many connections"}, true},
		{&mysql.MySQLError{Number: 1226, Message: "User 'admin' has exceeded the 'max_user_connections' resource"}, true},
		{errors.New("dial tcp 10.0.1.5:3306: i/o timeout"), false},
		{&mysql.MySQLError{Number: 1290, Message: "The MariaDB server is running with the --read-only option"}, false},
	} {
		s := monitorStub("available", false, `{"username":"admin","password":"pw"}`)
		r, err := monitor(t, s, func(context.Context, string, string, string, time.Duration) (time.Duration, error) {
			return time.Millisecond, c.err
		}).Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if r.Healthy != c.healthy || r.PeerHealthy == nil || *r.PeerHealthy != c.healthy {
			t.Errorf("probe error %v: healthy %v, peer healthy %v; want both %v", c.err, r.Healthy, r.PeerHealthy, c.healthy)
		}
	}
}
