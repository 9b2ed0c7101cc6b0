package twin

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/drdrill/drdrill/internal/lab"
	"github.com/drdrill/drdrill/internal/labtest"
)

func sdkConfig(t *testing.T, endpoint, region string) awssdk.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(context.Background(), config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("AKIDTWIN", "secret", "")),
		config.WithBaseEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The unmodified SDK drives a switchover on the twin: the global cluster
// shows it in FailoverState (pending, then switching-over) for the
// (scaled) promotion time, a second one meanwhile is refused as AWS
// refuses it, the lab promotes underneath, and then the writer member has
// moved and the state is clear.
func TestSwitchoverThroughTheSDK(t *testing.T) {
	dir, _ := labtest.Start(t)
	c, err := lab.Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	gc := GlobalCluster{ID: "drdrill-twin-global", EngineVersion: "8.0.mysql_aurora.3.05.2",
		Members: []Member{{Region: "us-east-1", ClusterID: "drdrill-twin-primary"}, {Region: "us-west-2", ClusterID: "drdrill-twin-secondary"}}}
	srv, err := Start("127.0.0.1:0", Config{Account: "123456789012", TimeScale: 0.01}, Stack{Global: gc}, NewLabPlane(c))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()

	id, err := sts.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-east-1")).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || awssdk.ToString(id.Account) != "123456789012" {
		t.Fatalf("GetCallerIdentity: %+v, %v", id, err)
	}

	client := rds.NewFromConfig(sdkConfig(t, srv.Endpoint(), "us-west-2"))
	describe := func() rdstypes.GlobalCluster {
		t.Helper()
		out, err := client.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: awssdk.String(gc.ID)})
		if err != nil || len(out.GlobalClusters) != 1 {
			t.Fatalf("DescribeGlobalClusters: %+v, %v", out, err)
		}
		return out.GlobalClusters[0]
	}
	writer := func(g rdstypes.GlobalCluster) string {
		for _, m := range g.GlobalClusterMembers {
			if awssdk.ToBool(m.IsWriter) {
				return awssdk.ToString(m.DBClusterArn)
			}
		}
		return ""
	}
	primaryARN := "arn:aws:rds:us-east-1:123456789012:cluster:drdrill-twin-primary"
	secondaryARN := "arn:aws:rds:us-west-2:123456789012:cluster:drdrill-twin-secondary"
	g := describe()
	if writer(g) != primaryARN || len(g.GlobalClusterMembers) != 2 || g.FailoverState != nil || awssdk.ToString(g.EngineVersion) != gc.EngineVersion {
		t.Fatalf("before: %+v", g)
	}
	if _, err := client.DescribeGlobalClusters(ctx, &rds.DescribeGlobalClustersInput{GlobalClusterIdentifier: awssdk.String("nope")}); !isCode(err, "GlobalClusterNotFoundFault") {
		t.Fatalf("unknown global cluster: %v, want GlobalClusterNotFoundFault", err)
	}

	started := time.Now()
	if _, err := client.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: awssdk.String(gc.ID),
		TargetDbClusterIdentifier: awssdk.String(secondaryARN)}); err != nil {
		t.Fatal(err)
	}
	g = describe()
	if g.FailoverState == nil || g.FailoverState.Status != rdstypes.FailoverStatusPending || awssdk.ToString(g.FailoverState.ToDbClusterArn) != secondaryARN ||
		awssdk.ToBool(g.FailoverState.IsDataLossAllowed) || writer(g) != primaryARN {
		t.Fatalf("at the start of the switchover: %+v (state %+v)", g, g.FailoverState)
	}
	_, err = client.SwitchoverGlobalCluster(ctx, &rds.SwitchoverGlobalClusterInput{GlobalClusterIdentifier: awssdk.String(gc.ID),
		TargetDbClusterIdentifier: awssdk.String(secondaryARN)})
	var state *rdstypes.InvalidGlobalClusterStateFault
	if !errors.As(err, &state) {
		t.Fatalf("a second switchover while one runs: %v, want the SDK's InvalidGlobalClusterStateFault", err)
	}
	for g = describe(); g.FailoverState != nil && g.FailoverState.Status == rdstypes.FailoverStatusPending; g = describe() {
		time.Sleep(10 * time.Millisecond)
	}
	if g.FailoverState == nil || g.FailoverState.Status != "switching-over" || writer(g) != primaryARN {
		t.Fatalf("after pending: %+v, want switching-over with the writer not moved yet", g.FailoverState)
	}
	deadline := time.Now().Add(30 * time.Second)
	for g = describe(); g.FailoverState != nil; g = describe() {
		if time.Now().After(deadline) {
			t.Fatalf("FailoverState never cleared: %+v", g.FailoverState)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if took := time.Since(started); took < srv.cfg.scaled(PromotionTime) {
		t.Fatalf("the switchover cleared after %v, before the scaled promotion time %v", took, srv.cfg.scaled(PromotionTime))
	}
	if writer(g) != secondaryARN {
		t.Fatalf("after the switchover the writer is %s, want %s", writer(g), secondaryARN)
	}
	// The lab's status may still show its last snapshot while it finishes
	// the rejoin that follows a promotion: give it a moment.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st, err := c.Status(ctx)
		if err == nil && st.Primary == "us-west-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lab's primary is %q (%v): the twin did not promote underneath", st.Primary, err)
		}
	}
	// Back, with FailoverGlobalCluster's data-loss form.
	if _, err := client.FailoverGlobalCluster(ctx, &rds.FailoverGlobalClusterInput{GlobalClusterIdentifier: awssdk.String(gc.ID),
		TargetDbClusterIdentifier: awssdk.String(primaryARN), AllowDataLoss: awssdk.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if g = describe(); g.FailoverState == nil || g.FailoverState.Status != rdstypes.FailoverStatusPending || !awssdk.ToBool(g.FailoverState.IsDataLossAllowed) {
		t.Fatalf("at the start of the failover: %+v", g.FailoverState)
	}
	for g = describe(); g.FailoverState != nil && g.FailoverState.Status == rdstypes.FailoverStatusPending; g = describe() {
		time.Sleep(10 * time.Millisecond)
	}
	if g.FailoverState == nil || g.FailoverState.Status != rdstypes.FailoverStatusFailingOver {
		t.Fatalf("after pending: %+v, want failing-over", g.FailoverState)
	}
	for g = describe(); g.FailoverState != nil; g = describe() {
		time.Sleep(50 * time.Millisecond)
	}
	if writer(g) != primaryARN {
		rds := serviceOf[*rdsService](srv)
		rds.mu.Lock()
		err := rds.gc.lastErr
		rds.mu.Unlock()
		t.Fatalf("after the failover back the writer is %s (the lab's promotion: %v)", writer(g), err)
	}
	if _, err := c.Recover(ctx); err != nil {
		t.Fatalf("the lab does not recover after the twin's promotions: %v", err)
	}
}

func isCode(err error, code string) bool {
	return err != nil && strings.Contains(err.Error(), code)
}

// The serializer's map and flattened-free list paths, through a real SDK
// client: SNS GetTopicAttributes answers a map (<entry><key/><value/>),
// and its element names come from the SDK's schema alone.
func TestQueryXMLMapsRoundTripThroughTheSDK(t *testing.T) {
	want := map[string]string{"TopicArn": "arn:aws:sns:us-west-2:123456789012:t", "KmsMasterKeyId": "alias/k", "DisplayName": "a & <b>"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queryResponse(w, "http://sns.amazonaws.com/doc/2010-03-31/", "GetTopicAttributes", &sns.GetTopicAttributesOutput{Attributes: want}, "req-1")
	}))
	defer srv.Close()
	out, err := sns.NewFromConfig(sdkConfig(t, srv.URL, "us-west-2")).GetTopicAttributes(context.Background(),
		&sns.GetTopicAttributesInput{TopicArn: awssdk.String(want["TopicArn"])})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Attributes, want) {
		t.Fatalf("attributes %v, want %v", out.Attributes, want)
	}
}
