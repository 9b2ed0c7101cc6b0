package twin_test

import (
	"context"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/target"
	"github.com/drdrill/drdrill/internal/twintest"
)

func lagObservations(t *testing.T, tgt target.Target) []target.Observation {
	t.Helper()
	ob, ok := tgt.(target.Observer)
	if !ok {
		t.Fatalf("the AWS target does not observe")
	}
	var lag []target.Observation
	for _, o := range ob.Observe(context.Background()) {
		if o.Kind == "lag_ms" {
			lag = append(lag, o)
		}
	}
	return lag
}

// #12 item 12: the AWS target reads the lag metric its engine version
// publishes. An Aurora MySQL older than 3.04 / 2.12 publishes only
// AuroraGlobalDBReplicationLag; asking it for AuroraGlobalDBRPOLag gave an
// empty lag series.
func TestObservedLagFollowsTheEngineVersion(t *testing.T) {
	tw := twintest.StartWithVars(t, 0.02, map[string]string{"engine_version": "5.7.mysql_aurora.2.11.2"})
	var lag []target.Observation
	for deadline := time.Now().Add(15 * time.Second); len(lag) == 0; time.Sleep(300 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no lag observation in 15 s: the target asked for a metric this engine does not publish")
		}
		lag = lagObservations(t, tw.Target)
	}
	if lag[0].Name != "AuroraGlobalDBReplicationLag" {
		t.Fatalf("lag read from %s, want AuroraGlobalDBReplicationLag for 2.11", lag[0].Name)
	}
}

// #12 item 12: a lag sample is the minute's Maximum (Minimum under-reports
// a spike within the minute) stamped with its datapoint's time, not the
// moment it was read. Unscaled, so that a datapoint is AWS's minute.
func TestObservedLagIsTheMinutesMaximumAtItsOwnTime(t *testing.T) {
	tw := twintest.Start(t, 1)
	ctx := context.Background()
	out := tw.Target.Outputs()
	cfg := tw.AdminSDKConfig(t, out[outputs.SecondaryRegion]) // an operator's
	minute := time.Now().Truncate(time.Minute)
	var data []cwtypes.MetricDatum
	for i, v := range []float64{5, 900, 7} {
		data = append(data, cwtypes.MetricDatum{MetricName: awssdk.String("AuroraGlobalDBRPOLag"), Value: awssdk.Float64(v),
			Timestamp:  awssdk.Time(minute.Add(time.Duration(i+1) * time.Second)),
			Dimensions: []cwtypes.Dimension{{Name: awssdk.String("DBClusterIdentifier"), Value: awssdk.String(out[outputs.SecondaryClusterIdentifier])}}})
	}
	if _, err := cloudwatch.NewFromConfig(cfg).PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: awssdk.String("AWS/RDS"), MetricData: data}); err != nil {
		t.Fatal(err)
	}
	lag := lagObservations(t, tw.Target)
	if len(lag) == 0 {
		t.Fatal("no lag observation")
	}
	if lag[0].Value < 900 {
		t.Errorf("lag %v ms for a minute whose worst datapoint was 900 ms: not the Maximum", lag[0].Value)
	}
	if got := time.Unix(0, lag[0].TimeNs); !got.Equal(minute) {
		t.Errorf("lag stamped %v, want its datapoint's time %v (the minute's start)", got, minute)
	}
}
