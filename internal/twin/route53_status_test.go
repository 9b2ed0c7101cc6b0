package twin

import (
	"testing"

	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// Inverted turns a check's result over; LastKnownStatus keeps the last
// status through INSUFFICIENT_DATA (Route 53 Developer Guide, health
// checks that monitor CloudWatch alarms).
func TestHealthCheckStatusInvertedAndLastKnown(t *testing.T) {
	state := cwtypes.StateValueOk
	r := &route53Service{alarm: func(string, string) (cwtypes.StateValue, bool) { return state, true }}
	inverted := HealthCheck{ID: "a", AlarmName: "x", AlarmRegion: "us-east-1", InsufficientData: "Unhealthy", Inverted: true}
	lastKnown := HealthCheck{ID: "b", AlarmName: "x", AlarmRegion: "us-east-1", InsufficientData: "LastKnownStatus"}
	for _, c := range []struct {
		state               cwtypes.StateValue
		inverted, lastKnown bool
	}{
		{cwtypes.StateValueOk, false, true},
		{cwtypes.StateValueInsufficientData, true, true}, // Unhealthy, inverted; the last known status (healthy)
		{cwtypes.StateValueAlarm, true, false},
		{cwtypes.StateValueInsufficientData, true, false}, // the last known status is now unhealthy
	} {
		state = c.state
		if got, why := r.status(inverted); got != c.inverted {
			t.Errorf("inverted check, alarm %s: healthy %v (%s), want %v", c.state, got, why, c.inverted)
		}
		if got, why := r.status(lastKnown); got != c.lastKnown {
			t.Errorf("LastKnownStatus check, alarm %s: healthy %v (%s), want %v", c.state, got, why, c.lastKnown)
		}
	}
}
