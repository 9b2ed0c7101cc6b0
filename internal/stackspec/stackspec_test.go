package stackspec

import (
	"slices"
	"testing"
	"time"
)

// The twin's alarms, names and schedules come from infra/aws itself.
func TestLoadReadsTheStackAsWritten(t *testing.T) {
	s, err := Load("../../infra/aws", "123456789012", map[string]string{"environment_suffix": "twin"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "drdrill-twin" || s.GlobalClusterID != "drdrill-twin-global" || s.PrimaryClusterID != "drdrill-twin-primary" ||
		s.SecondaryClusterID != "drdrill-twin-secondary" || s.PrimaryRegion != "us-east-1" || s.SecondaryRegion != "us-west-2" {
		t.Fatalf("names: %+v", s)
	}
	if s.Tags["drdrill:allowed"] != "true" {
		t.Fatalf("tags %v lack drdrill:allowed=true", s.Tags)
	}
	var lag *Alarm
	for i := range s.Alarms {
		if s.Alarms[i].Resource == "lag_secondary" {
			lag = &s.Alarms[i]
		}
	}
	if lag == nil {
		t.Fatalf("no lag_secondary alarm in %+v", s.Alarms)
	}
	want := Alarm{Resource: "lag_secondary", Region: "us-west-2", Name: "drdrill-twin-replication-lag-secondary", Namespace: "AWS/RDS",
		Metric: "AuroraGlobalDBRPOLag", Statistic: "Maximum", Period: time.Minute, EvaluationPeriods: 3, DatapointsToAlarm: 2,
		Threshold: 500, Comparison: "GreaterThanThreshold", TreatMissing: "notBreaching"}
	if lag.Name != want.Name || lag.Region != want.Region || lag.Metric != want.Metric || lag.Statistic != want.Statistic || lag.Period != want.Period ||
		lag.EvaluationPeriods != want.EvaluationPeriods || lag.DatapointsToAlarm != want.DatapointsToAlarm || lag.Threshold != want.Threshold ||
		lag.Comparison != want.Comparison || lag.TreatMissing != want.TreatMissing {
		t.Fatalf("lag alarm %+v, want %+v", *lag, want)
	}
	if lag.Dimensions["DBClusterIdentifier"] != "drdrill-twin-secondary" {
		t.Fatalf("dimensions %v", lag.Dimensions)
	}
	if len(lag.AlarmActions) != 1 || lag.AlarmActions[0] != "arn:aws:sns:us-west-2:123456789012:drdrill-twin-alerts" {
		t.Fatalf("alarm actions %v", lag.AlarmActions)
	}
	// A variable given overrides its default.
	s2, err := Load("../../infra/aws", "123456789012", map[string]string{"environment_suffix": "twin", "replication_lag_threshold_ms": "250"})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range s2.Alarms {
		if a.Resource == "lag_secondary" && a.Threshold != 250 {
			t.Fatalf("threshold %v with replication_lag_threshold_ms=250", a.Threshold)
		}
	}
	var monitors int
	for _, sc := range s.Schedules {
		if sc.Expression == "rate(1 minute)" {
			monitors++
		}
	}
	if monitors != 2 {
		t.Fatalf("schedules %+v: want the two rate(1 minute) health schedules", s.Schedules)
	}
}

func TestLoadNamesWhatIsMissing(t *testing.T) {
	if _, err := Load(t.TempDir(), "1", nil); err == nil {
		t.Fatal("an empty directory loaded")
	}
	if _, err := Load("../../infra/aws", "1", nil); err == nil {
		t.Fatal("no environment_suffix: local.name cannot evaluate, yet Load succeeded")
	}
}

// The functions the twin runs, with the environment infra/aws gives them
// and the rules that invoke them.
func TestLoadReadsTheFunctionsAndTheirRules(t *testing.T) {
	s, err := Load("../../infra/aws", "123456789012", map[string]string{"environment_suffix": "twin"})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Function{}
	for _, f := range s.Functions {
		byName[f.Name] = f
	}
	mon, trig := byName["drdrill-twin-health-monitor-secondary"], byName["drdrill-twin-failover-trigger"]
	if mon.Region != "us-west-2" || mon.Zip != "healthmonitor.zip" || mon.Timeout != 30*time.Second {
		t.Fatalf("secondary monitor %+v", mon)
	}
	if mon.Env["DRDRILL_CLUSTER_ENDPOINT"] != ReaderEndpoint("drdrill-twin-secondary", "us-west-2")+":3306" ||
		mon.Env["DRDRILL_PEER_ENDPOINT"] != ReaderEndpoint("drdrill-twin-primary", "us-east-1")+":3306" ||
		s.SecretName == "" || mon.Env["DRDRILL_SECRET_ARN"] != SecretARN("us-west-2", "123456789012", s.SecretName) {
		t.Fatalf("secondary monitor environment %v", mon.Env)
	}
	if trig.Zip != "failovertrigger.zip" || trig.Env["DRDRILL_CLUSTER_ARNS"] != "arn:aws:rds:us-east-1:123456789012:cluster:drdrill-twin-primary,arn:aws:rds:us-west-2:123456789012:cluster:drdrill-twin-secondary" ||
		trig.Env["DRDRILL_SNS_TOPIC_ARN"] != "arn:aws:sns:us-west-2:123456789012:drdrill-twin-alerts" || trig.Env["DRDRILL_FAILURE_THRESHOLD"] == "" {
		t.Fatalf("trigger %+v", trig)
	}
	if !slices.Equal(mon.Subnets, []string{"functions_secondary"}) || len(trig.Subnets) != 0 ||
		!slices.Equal(s.DatabaseSubnets, []string{"primary", "secondary"}) {
		t.Fatalf("subnets: secondary monitor %v, trigger %v, database %v", mon.Subnets, trig.Subnets, s.DatabaseSubnets)
	}
	schedules := map[string]bool{}
	alarmRule := false
	for _, tg := range s.Targets {
		if tg.Schedule == "rate(1 minute)" {
			schedules[tg.Function] = true
		}
		if tg.Function == trig.Name && tg.Pattern != "" {
			alarmRule = true
		}
	}
	if len(s.Subscriptions) != 1 || s.Subscriptions[0].Function != trig.Name || s.Subscriptions[0].TopicARN != s.PrimaryTopic {
		t.Fatalf("subscriptions %+v: want the trigger on the primary region's topic", s.Subscriptions)
	}
	if len(schedules) != 3 || !schedules[trig.Name] || !alarmRule {
		t.Fatalf("targets %+v: want both monitors and the trigger every minute, and the trigger on alarm state changes", s.Targets)
	}
}
