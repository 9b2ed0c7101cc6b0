package twin

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/drdrill/drdrill/internal/outputs"
	"github.com/drdrill/drdrill/internal/stackspec"
)

// FromSpec is the twin's Stack for the stack infra/aws declares, over a lab
// whose application user becomes the database secret. lambdaDir holds the
// functions' handler binaries built for this machine (healthmonitor,
// failovertrigger: the zips' names); "" runs no functions.
func FromSpec(spec *stackspec.Spec, labOut outputs.Outputs, lambdaDir string) Stack {
	st := Stack{
		Global: GlobalCluster{ID: spec.GlobalClusterID, EngineVersion: spec.EngineVersion,
			Members: []Member{{Region: spec.PrimaryRegion, ClusterID: spec.PrimaryClusterID}, {Region: spec.SecondaryRegion, ClusterID: spec.SecondaryClusterID}}},
		Tags:   spec.Tags,
		Secret: Secret{Name: spec.SecretName, Username: labOut[outputs.LabAppUser], Password: labOut[outputs.LabAppPassword]},
	}
	st.Topics = []string{spec.PrimaryTopic, spec.SecondaryTopic}
	st.Networks = networks(spec)
	st.TopicKeys, st.SecretKeys = spec.TopicKeys, spec.SecretKeys
	st.KeyPolicies = map[string]*Policy{}
	for arn, doc := range spec.KeyPolicies {
		p, err := ParsePolicies([]string{doc})
		if err != nil {
			p = &Policy{} // a key policy that does not read allows nothing, as KMS refuses it
		}
		st.KeyPolicies[arn] = p
	}
	if r, ok := spec.Role("harness"); ok {
		st.Harness = &Role{Name: r.Name, Policy: parsedOrNothing(r.Policies)}
	}
	for _, h := range spec.HealthChecks {
		st.HealthChecks = append(st.HealthChecks, HealthCheck{ID: healthCheckIDs[h.Resource], Type: h.Type, AlarmName: h.AlarmName,
			AlarmRegion: h.AlarmRegion, InsufficientData: h.InsufficientDataStatus, Inverted: h.Inverted})
	}
	if lambdaDir != "" {
		// The twin's DNS: the cluster endpoint names resolve to the lab's
		// proxy of that region's clients (what a region isolation cuts).
		hosts := map[string]string{
			stackspec.ClusterEndpoint(spec.PrimaryClusterID, spec.PrimaryRegion) + ":3306":     labOut[outputs.PrimaryClusterEndpoint],
			stackspec.ReaderEndpoint(spec.PrimaryClusterID, spec.PrimaryRegion) + ":3306":      labOut[outputs.PrimaryClusterEndpoint],
			stackspec.ClusterEndpoint(spec.SecondaryClusterID, spec.SecondaryRegion) + ":3306": labOut[outputs.SecondaryClusterEndpoint],
			stackspec.ReaderEndpoint(spec.SecondaryClusterID, spec.SecondaryRegion) + ":3306":  labOut[outputs.SecondaryClusterEndpoint],
		}
		regionOf, writerEndpoint := map[string]string{}, map[string]bool{}
		for h := range hosts {
			regionOf[h] = spec.SecondaryRegion
			if strings.HasPrefix(h, spec.PrimaryClusterID+".") {
				regionOf[h] = spec.PrimaryRegion
			}
		}
		writerEndpoint[stackspec.ClusterEndpoint(spec.PrimaryClusterID, spec.PrimaryRegion)+":3306"] = true
		writerEndpoint[stackspec.ClusterEndpoint(spec.SecondaryClusterID, spec.SecondaryRegion)+":3306"] = true
		for _, f := range spec.Functions {
			env, peered, eps := map[string]string{}, map[string]bool{}, map[string]EndpointRef{}
			for k, v := range f.Env {
				if addr, ok := hosts[v]; ok {
					// Another region's endpoint is reached over the VPC
					// peering, which the twin runs as its own link.
					peered[k] = regionOf[v] != f.Region
					eps[k] = EndpointRef{Region: regionOf[v], Writer: writerEndpoint[v]}
					v = addr
				}
				env[k] = v
			}
			fn := Function{Name: f.Name, Region: f.Region, Env: env, Peered: peered, Endpoints: eps, Timeout: f.Timeout,
				Role: f.Role, Policy: parsedOrNothing(f.Policies), Binary: filepath.Join(lambdaDir, strings.TrimSuffix(f.Zip, ".zip"))}
			fn.VPC, fn.Subnets = functionSubnets(st.Networks, spec, f)
			st.Functions = append(st.Functions, fn)
		}
		for _, t := range spec.Targets {
			if t.Schedule == "rate(1 minute)" {
				st.Schedules = append(st.Schedules, Schedule{Function: t.Function, Region: t.Region, Rule: t.Rule, Every: time.Minute})
			}
			if r, ok := alarmRule(t); ok {
				st.AlarmRules = append(st.AlarmRules, r)
			}
		}
		for _, sub := range spec.Subscriptions {
			st.Subscriptions = append(st.Subscriptions, Subscription{TopicARN: sub.TopicARN, Function: sub.Function})
		}
	}
	runnerStack(&st, spec)
	for _, a := range spec.Alarms {
		st.Alarms = append(st.Alarms, MetricAlarm{Region: a.Region, Name: a.Name, Namespace: a.Namespace, Metric: a.Metric,
			Dimensions: a.Dimensions, Statistic: a.Statistic, Period: a.Period, EvaluationPeriods: a.EvaluationPeriods,
			ToAlarm: a.DatapointsToAlarm, Threshold: a.Threshold, Comparison: a.Comparison, TreatMissing: a.TreatMissing,
			AlarmActions: a.AlarmActions, OKActions: a.OKActions})
	}
	return st
}

// parsedOrNothing is a role's policies, or — when it has none or they do
// not read — a policy that allows nothing, as on AWS.
func parsedOrNothing(docs []string) *Policy {
	p, err := ParsePolicies(docs)
	if err != nil || len(docs) == 0 {
		return &Policy{}
	}
	return p
}

// networks are the database networks of both regions, with the ids the
// outputs file carries.
func networks(spec *stackspec.Spec) []Network {
	return []Network{
		{Region: spec.PrimaryRegion, VPC: "vpc-0a11ce00000000001", Subnets: []string{"subnet-0a00000000000000a", "subnet-0a00000000000000b"}, DefaultACL: "acl-0a000000000000001",
			FunctionSubnets: []string{"subnet-0a0000000000000fa", "subnet-0a0000000000000fb"}},
		{Region: spec.SecondaryRegion, VPC: "vpc-0b0b0000000000002", Subnets: []string{"subnet-0b00000000000000a", "subnet-0b00000000000000b"}, DefaultACL: "acl-0b000000000000001",
			FunctionSubnets: []string{"subnet-0b0000000000000fa", "subnet-0b0000000000000fb"}},
	}
}

// functionSubnets are the twin's ids of the subnets a function's
// vpc_config names: a database subnet resource maps to the region's
// database subnets, any other to its function subnets.
func functionSubnets(nets []Network, spec *stackspec.Spec, f stackspec.Function) (string, []string) {
	for _, n := range nets {
		if n.Region != f.Region || len(f.Subnets) == 0 {
			continue
		}
		var ids []string
		for _, res := range f.Subnets {
			if slices.Contains(spec.DatabaseSubnets, res) {
				ids = append(ids, n.Subnets...)
			} else {
				ids = append(ids, n.FunctionSubnets...)
			}
		}
		return n.VPC, ids
	}
	return "", nil
}

// alarmRule reads an EventBridge pattern on CloudWatch alarm state changes:
// {"source":["aws.cloudwatch"],"detail-type":["CloudWatch Alarm State
// Change"],"detail":{"alarmName":[{"prefix":P}],"state":{"value":[S…]}}}.
func alarmRule(t stackspec.Target) (AlarmRule, bool) {
	var p struct {
		Source     []string `json:"source"`
		DetailType []string `json:"detail-type"`
		Detail     struct {
			AlarmName []struct {
				Prefix string `json:"prefix"`
			} `json:"alarmName"`
			State struct {
				Value []string `json:"value"`
			} `json:"state"`
		} `json:"detail"`
	}
	if t.Pattern == "" || json.Unmarshal([]byte(t.Pattern), &p) != nil || !slices.Contains(p.Source, "aws.cloudwatch") ||
		!slices.Contains(p.DetailType, "CloudWatch Alarm State Change") {
		return AlarmRule{}, false
	}
	r := AlarmRule{Function: t.Function, Region: t.Region, Rule: t.Rule, States: p.Detail.State.Value}
	if len(p.Detail.AlarmName) > 0 {
		r.NamePrefix = p.Detail.AlarmName[0].Prefix
	}
	return r, true
}

// Outputs is the flat outputs file of the stack on the twin: every output
// infra/aws declares, with the twin's ids and ARNs (account cfg.Account)
// and the lab's proxies as the database endpoints, so the unchanged AWS
// target attaches to it with AWS_ENDPOINT_URL pointing at the twin.
func Outputs(spec *stackspec.Spec, account string, labOut outputs.Outputs) outputs.Outputs {
	p, s := spec.PrimaryRegion, spec.SecondaryRegion
	fn := func(region, name string) string {
		return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, account, name)
	}
	list := func(ids ...string) string {
		b, _ := json.Marshal(ids)
		return string(b)
	}
	nets := networks(spec)
	lagAlarm := spec.Name + "-replication-lag-secondary"
	for _, a := range spec.Alarms {
		if a.Resource == "lag_secondary" {
			lagAlarm = a.Name
		}
	}
	return outputs.Outputs{
		"PrimaryVPCId": nets[0].VPC, "SecondaryVPCId": nets[1].VPC, "VPCPeeringConnectionId": "pcx-0c0ffee000000000a",
		outputs.GlobalClusterIdentifier: spec.GlobalClusterID, outputs.PrimaryClusterIdentifier: spec.PrimaryClusterID,
		outputs.SecondaryClusterIdentifier: spec.SecondaryClusterID,
		"PrimaryClusterArn":                fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", p, account, spec.PrimaryClusterID),
		"SecondaryClusterArn":              fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", s, account, spec.SecondaryClusterID),
		outputs.PrimaryClusterEndpoint:     labOut[outputs.PrimaryClusterEndpoint],
		outputs.SecondaryClusterEndpoint:   labOut[outputs.SecondaryClusterEndpoint],
		outputs.GlobalWriterEndpoint:       labOut[outputs.GlobalWriterEndpoint],
		"PrimaryReaderEndpoint":            labOut[outputs.PrimaryClusterEndpoint],
		"SecondaryReaderEndpoint":          labOut[outputs.SecondaryClusterEndpoint],
		"DatabaseSecretArn":                stackspec.SecretARN(p, account, spec.SecretName),
		"PrimaryHealthMonitorFunctionName": spec.Locals["fn_monitor_pri"], "SecondaryHealthMonitorFunctionName": spec.Locals["fn_monitor_sec"],
		"FailoverTriggerFunctionName":     spec.Locals["fn_trigger"],
		"PrimaryHealthMonitorFunctionArn": fn(p, spec.Locals["fn_monitor_pri"]), "SecondaryHealthMonitorFunctionArn": fn(s, spec.Locals["fn_monitor_sec"]),
		"FailoverTriggerFunctionArn": fn(s, spec.Locals["fn_trigger"]),
		"PrimarySNSTopicArn":         spec.PrimaryTopic, "SecondarySNSTopicArn": spec.SecondaryTopic,
		outputs.ReplicationLagAlarmName: lagAlarm,
		"PrimaryHealthCheckId":          healthCheckIDs["primary"], "SecondaryHealthCheckId": healthCheckIDs["secondary"],
		outputs.PrimaryRegion: p, outputs.SecondaryRegion: s, outputs.DatabaseName: spec.DatabaseName,
		"PrimaryDatabaseSubnetIds":    list(nets[0].Subnets...),
		"SecondaryDatabaseSubnetIds":  list(nets[1].Subnets...),
		"PrimaryDatabaseNetworkAclId": nets[0].DefaultACL, "SecondaryDatabaseNetworkAclId": nets[1].DefaultACL,
		outputs.TargetKind:    "aws",
		"RunnerReportsBucket": runnerOutput(spec, func(r *stackspec.Runner) string { return r.Bucket }),
		"RunnerRepositoryUrl": runnerOutput(spec, func(r *stackspec.Runner) string {
			repo, _, _ := strings.Cut(r.Task.Container.Image, ":") // REPOSITORY_URL:TAG (the URL has no port)
			return repo
		}),
		"RunnerClusterArn": runnerOutput(spec, func(r *stackspec.Runner) string { return r.Cluster }),
		"HarnessRoleArn":   harnessRoleARN(spec, account),
	}
}

// harnessRoleARN is the harness role's ARN ("" without one).
func harnessRoleARN(spec *stackspec.Spec, account string) string {
	if r, ok := spec.Role("harness"); ok {
		return fmt.Sprintf("arn:aws:iam::%s:role/%s", account, r.Name)
	}
	return ""
}

// Outputs is the outputs file of the stack this twin plays (the function
// Outputs) with its database endpoints: the global writer endpoint, which
// follows the writer by DNS, each cluster's writer endpoint, active only
// in the writer's region, and each cluster's reader endpoint
// (endpoints.go). Each leads into the lab through the region's client
// path, which an isolation cuts.
func (s *Server) Outputs(spec *stackspec.Spec, labOut outputs.Outputs) (outputs.Outputs, error) {
	out := Outputs(spec, s.cfg.Account, labOut)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	paths, err := clientPaths(ctx, s.data, serviceOf[*rdsService](s).gc.Members)
	if err != nil {
		return nil, fmt.Errorf("AWS twin: the regions' client paths: %w", err)
	}
	ep := serviceOf[*rdsService](s).endpoints
	if out[outputs.GlobalWriterEndpoint], err = ep.global(paths); err != nil {
		return nil, err
	}
	for _, m := range []struct{ region, writer, reader string }{
		{spec.PrimaryRegion, outputs.PrimaryClusterEndpoint, "PrimaryReaderEndpoint"},
		{spec.SecondaryRegion, outputs.SecondaryClusterEndpoint, "SecondaryReaderEndpoint"},
	} {
		if out[m.writer], err = ep.regional(EndpointRef{Region: m.region, Writer: true}, paths[m.region]); err != nil {
			return nil, err
		}
		if out[m.reader], err = ep.regional(EndpointRef{Region: m.region}, paths[m.region]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// runnerOutput is one of the runner's outputs ("" without the runner, as
// terraform's one() of an empty list gives).
func runnerOutput(spec *stackspec.Spec, f func(*stackspec.Runner) string) string {
	if spec.Runner == nil {
		return ""
	}
	return f(spec.Runner)
}
