package twin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/twintest"
)

// #11 item 3: Route 53 health checks of type CLOUDWATCH_METRIC, through the
// unmodified SDK (restXml): GetHealthCheck returns the check as infra/aws
// declares it, GetHealthCheckStatus follows the alarm — INSUFFICIENT_DATA
// as InsufficientDataHealthStatus (Unhealthy in infra/aws), OK healthy,
// ALARM unhealthy — and an unknown id is NoSuchHealthCheck. Unscaled, so
// the alarm's own evaluation (every minute) does not overtake SetAlarmState.
func TestRoute53HealthChecksFollowTheirAlarms(t *testing.T) {
	tw := twintest.Start(t, 1)
	ctx := context.Background()
	out := tw.Target.Outputs()
	cfg := tw.AdminSDKConfig(t, out[outputs.PrimaryRegion]) // an operator's: it forces every alarm
	r53, cw := route53.NewFromConfig(cfg), cloudwatch.NewFromConfig(cfg)
	id := out["PrimaryHealthCheckId"]
	hc, err := r53.GetHealthCheck(ctx, &route53.GetHealthCheckInput{HealthCheckId: &id})
	if err != nil {
		t.Fatal(err)
	}
	c := hc.HealthCheck.HealthCheckConfig
	alarm := awssdk.ToString(c.AlarmIdentifier.Name)
	if c.Type != r53types.HealthCheckTypeCloudwatchMetric || !strings.HasSuffix(alarm, "-region-health-primary") ||
		c.InsufficientDataHealthStatus != r53types.InsufficientDataHealthStatusUnhealthy || awssdk.ToBool(c.Inverted) {
		t.Fatalf("GetHealthCheck %s: %+v, alarm %q: not the check infra/aws declares", id, c, alarm)
	}
	status := func() (good, all int, sample string) {
		t.Helper()
		st, err := r53.GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: &id})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range st.HealthCheckObservations {
			if strings.HasPrefix(awssdk.ToString(o.StatusReport.Status), "Success") {
				good++
			}
			sample = awssdk.ToString(o.StatusReport.Status)
		}
		return good, len(st.HealthCheckObservations), sample
	}
	if good, all, s := status(); all == 0 || good != 0 {
		t.Fatalf("with its alarm in INSUFFICIENT_DATA: %d of %d checkers healthy (%s), want none (InsufficientDataHealthStatus Unhealthy)", good, all, s)
	}
	for _, c := range []struct {
		state   cwtypes.StateValue
		healthy bool
	}{{cwtypes.StateValueOk, true}, {cwtypes.StateValueAlarm, false}, {cwtypes.StateValueOk, true}} {
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: &alarm, StateValue: c.state, StateReason: awssdk.String("test")}); err != nil {
			t.Fatal(err)
		}
		good, all, s := status()
		if (good == all) != c.healthy || (good == 0) == c.healthy {
			t.Fatalf("alarm %s: %d of %d checkers healthy (%s), want healthy %v", c.state, good, all, s, c.healthy)
		}
	}
	_, err = r53.GetHealthCheckStatus(ctx, &route53.GetHealthCheckStatusInput{HealthCheckId: awssdk.String("no-such-check")})
	var nf *r53types.NoSuchHealthCheck
	if !errors.As(err, &nf) {
		t.Fatalf("an unknown health check: %v, want NoSuchHealthCheck", err)
	}
}
