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

// An inverted check with LastKnownStatus keeps, through INSUFFICIENT_DATA,
// the status it last had — already inverted — however often it is read:
// "Route 53 uses the status of the health check from the last time that
// CloudWatch had sufficient data to determine the alarm state" (Route 53
// API reference, HealthCheckConfig, InsufficientDataHealthStatus). Before,
// the twin inverted the last status again at each read, so the check
// flipped between healthy and unhealthy from one read to the next.
func TestInvertedLastKnownStatusHoldsThroughInsufficientData(t *testing.T) {
	state := cwtypes.StateValueOk
	r := &route53Service{alarm: func(string, string) (cwtypes.StateValue, bool) { return state, true }}
	hc := HealthCheck{ID: "c", AlarmName: "x", AlarmRegion: "us-east-1", InsufficientData: "LastKnownStatus", Inverted: true}
	if got, why := r.status(hc); got {
		t.Fatalf("inverted check, alarm OK: healthy (%s), want unhealthy", why)
	}
	state = cwtypes.StateValueInsufficientData
	for read := 1; read <= 3; read++ {
		if got, why := r.status(hc); got {
			t.Fatalf("inverted LastKnownStatus check, INSUFFICIENT_DATA, read %d: healthy (%s), want the last known status, unhealthy", read, why)
		}
	}
	state = cwtypes.StateValueAlarm
	if got, why := r.status(hc); !got {
		t.Fatalf("inverted check, alarm ALARM: unhealthy (%s), want healthy", why)
	}
	state = cwtypes.StateValueInsufficientData
	for read := 1; read <= 3; read++ {
		if got, why := r.status(hc); !got {
			t.Fatalf("inverted LastKnownStatus check, INSUFFICIENT_DATA after ALARM, read %d: unhealthy (%s), want the last known status, healthy", read, why)
		}
	}
}
