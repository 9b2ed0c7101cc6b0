package twin

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwschemas "github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// cloudWatchAPI is CloudWatch as the twin serves it: metrics and metric
// alarms, over each protocol CloudWatch accepts — rpcv2Cbor (the Go SDK),
// awsJson1_0 (botocore 1.43: the AWS CLI v1 and Python) and awsQuery
// (older CLIs, e.g. Debian's 2.9) — its JSON and CBOR errors
// query-compatible (CloudWatch User Guide, "FAQs on CloudWatch supported
// protocols"; Smithy, "aws.protocols#awsQueryCompatible").
var cloudWatchAPI = service{
	name:      "monitoring",
	protocols: []protocol{rpcv2CBOR, awsJSON10, awsQuery},
	schema:    cwschemas.GraniteServiceVersion20100801,
	errors:    cloudwatch.TypeRegistry,
	queryInputs: map[string]*smithy.Schema{"DescribeAlarms": cwschemas.DescribeAlarmsInput, "PutMetricData": cwschemas.PutMetricDataInput,
		"GetMetricData": cwschemas.GetMetricDataInput, "SetAlarmState": cwschemas.SetAlarmStateInput},
	throttling: APIError{Status: http.StatusBadRequest, Code: "Throttling", Sender: true, Message: "Rate exceeded"},
	iam:        iamRules{prefix: "cloudwatch", required: cloudWatchRequired},
	start: func(s *Server) (handler, error) {
		cw := newCloudWatch(s.cfg, s.stack.Alarms)
		cw.notify = func(a *alarmState, topic, subject, message string) error {
			// To an encrypted topic CloudWatch publishes as itself: the
			// key's policy must let cloudwatch.amazonaws.com use the key
			// (SNS Developer Guide, "Enable compatibility between event
			// sources from AWS services and encrypted topics"); else the
			// action fails and no subscriber — Lambda or queue — hears.
			if key := s.stack.TopicKeys[topic]; key != "" {
				caller := Caller{Service: "cloudwatch.amazonaws.com"}
				keys := map[string]string{"aws:SourceAccount": s.cfg.Account,
					"aws:SourceArn": fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", a.Region, s.cfg.Account, a.Name)}
				for _, action := range []string{"kms:GenerateDataKey", "kms:Decrypt"} {
					if !s.keyAllows(key, caller, nil, action, keys) {
						return fmt.Errorf("failed to execute action %s: the key policy of %s does not allow cloudwatch.amazonaws.com %s (KMS.AccessDeniedException)", topic, key, action)
					}
				}
			}
			if sns := serviceOf[*snsService](s); sns != nil {
				sns.publish(topic, subject, message)
			}
			return nil
		}
		cw.onChange = s.alarmChanged
		return cw, nil
	},
}

// cloudWatchRequired (Service Authorization Reference, Amazon CloudWatch):
// PutMetricData is authorised on the namespace (cloudwatch:namespace),
// DescribeAlarms on the alarms it names (every alarm when none), and
// SetAlarmState on the alarm, with its tags; GetMetricData takes no
// resource.
func cloudWatchRequired(s *Server, c *call) []authorization {
	alarm := func(name string) string {
		return fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", c.Region, s.cfg.Account, name)
	}
	switch c.Action {
	case "PutMetricData":
		return []authorization{{action: "cloudwatch:PutMetricData", resource: "*", keys: map[string]string{"cloudwatch:namespace": str(c.Params, "Namespace")}}}
	case "DescribeAlarms":
		names := strs(c.Params, "AlarmNames")
		if len(names) == 0 {
			names = []string{"*"}
		}
		var need []authorization
		for _, n := range names {
			need = append(need, authorization{action: "cloudwatch:DescribeAlarms", resource: alarm(n)})
		}
		return need
	case "SetAlarmState":
		return []authorization{{action: "cloudwatch:SetAlarmState", resource: alarm(str(c.Params, "AlarmName")), keys: resourceTags(s.stack.Tags)}}
	}
	return nil
}

// MetricAlarm is one CloudWatch metric alarm as infra/aws declares it.
type MetricAlarm struct {
	Region, Name               string
	Namespace, Metric          string
	Dimensions                 map[string]string
	Statistic                  string // Maximum, Minimum, Average, Sum, SampleCount
	Period                     time.Duration
	EvaluationPeriods, ToAlarm int
	Threshold                  float64
	Comparison                 string // GreaterThanThreshold, …
	TreatMissing               string // missing, notBreaching, breaching, ignore
	AlarmActions, OKActions    []string
}

// datapoint is one published value of a metric.
type datapoint struct {
	At    time.Time
	Value float64
}

// metricKey names a metric series: region, namespace, name and dimensions.
func metricKey(region, ns, name string, dims map[string]string) string {
	keys := make([]string, 0, len(dims))
	for k := range dims {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(region + "|" + ns + "|" + name)
	for _, k := range keys {
		b.WriteString("|" + k + "=" + dims[k])
	}
	return b.String()
}

// cloudWatch holds the metrics the Lambdas and the twin publish and
// evaluates the alarms over them as CloudWatch does: per period, the
// alarm's statistic over the datapoints in it; ALARM when ToAlarm of the
// last EvaluationPeriods periods breach, missing periods treated as the
// alarm says (AWS: "Configuring how CloudWatch alarms treat missing data",
// and "Evaluating an alarm" in the CloudWatch User Guide).
type cloudWatch struct {
	cfg      Config
	mu       sync.Mutex
	series   map[string][]datapoint
	alarms   []*alarmState
	notify   func(a *alarmState, topicARN, subject, message string) error
	onChange func(region, name, prev, next string)
	// failed are the alarm actions that failed, as the alarm's history
	// records them.
	failed []string
}

type alarmState struct {
	MetricAlarm
	state   cwtypes.StateValue
	reason  string
	updated time.Time
}

func newCloudWatch(cfg Config, alarms []MetricAlarm) *cloudWatch {
	cw := &cloudWatch{cfg: cfg, series: map[string][]datapoint{}}
	now := time.Now()
	for _, a := range alarms {
		// A new alarm starts in INSUFFICIENT_DATA until its first evaluation.
		cw.alarms = append(cw.alarms, &alarmState{MetricAlarm: a, state: cwtypes.StateValueInsufficientData,
			reason: "Unchecked: Initial alarm creation", updated: now})
	}
	return cw
}

// state is an alarm's state, for the Route 53 checks that follow it.
func (cw *cloudWatch) state(region, name string) (cwtypes.StateValue, bool) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for _, a := range cw.alarms {
		if a.Region == region && a.Name == name {
			return a.state, true
		}
	}
	return "", false
}

// put records a datapoint (PutMetricData, or the twin publishing an AWS metric).
func (cw *cloudWatch) put(region, ns, name string, dims map[string]string, at time.Time, v float64) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	k := metricKey(region, ns, name, dims)
	cw.series[k] = append(cw.series[k], datapoint{At: at, Value: v})
	// An hour of datapoints is plenty for a drill; older ones go.
	if s := cw.series[k]; len(s) > 100_000 {
		cw.series[k] = append([]datapoint(nil), s[len(s)/2:]...)
	}
}

// statistic of the values; ok is false for none.
func statistic(stat string, vals []float64) (float64, bool) {
	if len(vals) == 0 {
		return 0, false
	}
	switch stat {
	case "Minimum":
		m := math.Inf(1)
		for _, v := range vals {
			m = math.Min(m, v)
		}
		return m, true
	case "Sum", "Average":
		s := 0.0
		for _, v := range vals {
			s += v
		}
		if stat == "Average" {
			s /= float64(len(vals))
		}
		return s, true
	case "SampleCount":
		return float64(len(vals)), true
	}
	m := math.Inf(-1)
	for _, v := range vals {
		m = math.Max(m, v)
	}
	return m, true
}

// window returns the values of a series in [from, to).
func (cw *cloudWatch) window(key string, from, to time.Time) []float64 {
	var out []float64
	for _, d := range cw.series[key] {
		if !d.At.Before(from) && d.At.Before(to) {
			out = append(out, d.Value)
		}
	}
	return out
}

// evaluate runs every alarm once at now and returns the transitions.
func (cw *cloudWatch) evaluate(now time.Time) {
	type transition struct {
		a          *alarmState
		prev, next cwtypes.StateValue
	}
	var transitions []transition
	cw.mu.Lock()
	for _, a := range cw.alarms {
		period := cw.cfg.scaled(a.Period)
		key := metricKey(a.Region, a.Namespace, a.Metric, a.Dimensions)
		breaching, present := 0, 0
		end := now.Truncate(period)
		for i := 0; i < a.EvaluationPeriods; i++ {
			to := end.Add(-time.Duration(i) * period)
			v, ok := statistic(a.Statistic, cw.window(key, to.Add(-period), to))
			if !ok {
				if a.TreatMissing == "breaching" {
					breaching++
				}
				continue
			}
			present++
			if compare(a.Comparison, v, a.Threshold) {
				breaching++
			}
		}
		next := cwtypes.StateValueOk
		switch {
		case breaching >= a.ToAlarm:
			next = cwtypes.StateValueAlarm
		case present == 0 && (a.TreatMissing == "" || a.TreatMissing == "missing"):
			next = cwtypes.StateValueInsufficientData
		case present == 0 && a.TreatMissing == "ignore":
			next = a.state
		}
		if next == a.state {
			continue
		}
		prev := a.state
		a.state, a.updated = next, now
		a.reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints were %s the threshold (%g).",
			breaching, a.EvaluationPeriods, map[bool]string{true: "breaching", false: "not breaching"}[next == cwtypes.StateValueAlarm], a.Threshold)
		transitions = append(transitions, transition{a, prev, next})
	}
	cw.mu.Unlock()
	for _, t := range transitions {
		cw.runActions(t.a, t.prev, t.next)
	}
}

// runActions sends an alarm's state change to the SNS topics of its new
// state, in the message format CloudWatch publishes.
func (cw *cloudWatch) runActions(a *alarmState, prev, next cwtypes.StateValue) {
	cw.mu.Lock()
	notify, onChange, reason, at := cw.notify, cw.onChange, a.reason, a.updated
	cw.mu.Unlock()
	if onChange != nil {
		onChange(a.Region, a.Name, string(prev), string(next))
	}
	if notify == nil {
		return
	}
	actions := a.OKActions
	if next == cwtypes.StateValueAlarm {
		actions = a.AlarmActions
	}
	for _, topic := range actions {
		msg, _ := json.Marshal(map[string]any{"AlarmName": a.Name, "NewStateValue": next, "OldStateValue": prev,
			"NewStateReason": reason, "StateChangeTime": at.UTC().Format(time.RFC3339Nano), "Region": a.Region,
			"AWSAccountId": cw.cfg.Account, "Trigger": map[string]any{"MetricName": a.Metric, "Namespace": a.Namespace,
				"Statistic": strings.ToUpper(a.Statistic), "Period": int(a.Period.Seconds()), "EvaluationPeriods": a.EvaluationPeriods,
				"ComparisonOperator": a.Comparison, "Threshold": a.Threshold}})
		if err := notify(a, topic, fmt.Sprintf("%s: \"%s\" in %s", next, a.Name, a.Region), string(msg)); err != nil {
			cw.mu.Lock()
			cw.failed = append(cw.failed, a.Name+": "+err.Error())
			cw.mu.Unlock()
		}
	}
}

// actionFailures are the alarm actions that failed so far.
func (cw *cloudWatch) actionFailures() []string {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return append([]string(nil), cw.failed...)
}

func compare(op string, v, threshold float64) bool {
	switch op {
	case "GreaterThanOrEqualToThreshold":
		return v >= threshold
	case "LessThanThreshold":
		return v < threshold
	case "LessThanOrEqualToThreshold":
		return v <= threshold
	}
	return v > threshold
}

func (cw *cloudWatch) handle(c *call) (smithy.Serializable, *APIError) {
	switch c.Action {
	case "DescribeAlarms":
		return cw.describeAlarms(c), nil
	case "PutMetricData":
		return cw.putMetricData(c)
	case "GetMetricData":
		return cw.getMetricData(c)
	case "SetAlarmState":
		return cw.setAlarmState(c)
	}
	return nil, unmodelled(c)
}

// setAlarmState sets an alarm's state until its next evaluation (up to a
// scaled minute), as an older revision of the SetAlarmState API reference
// put it ("The next periodic alarm check (in about a minute) will set the
// alarm to its actual state"); the change runs the state's actions. The
// current reference is harsher — "Metric alarms returns to their actual
// state quickly, often within seconds" — and the twin is kinder here:
// tests force alarms this way and read what follows (docs/twin.md, "What
// it does not model").
func (cw *cloudWatch) setAlarmState(c *call) (smithy.Serializable, *APIError) {
	name, state := str(c.Params, "AlarmName"), cwtypes.StateValue(str(c.Params, "StateValue"))
	switch state {
	case cwtypes.StateValueOk, cwtypes.StateValueAlarm, cwtypes.StateValueInsufficientData:
	default:
		return nil, &APIError{Status: http.StatusBadRequest, Code: "InvalidParameterValue", Sender: true, Message: fmt.Sprintf("invalid StateValue %q", state)}
	}
	cw.mu.Lock()
	var a *alarmState
	for _, x := range cw.alarms {
		if x.Region == c.Region && x.Name == name {
			a = x
		}
	}
	if a == nil {
		cw.mu.Unlock()
		return nil, &APIError{Status: http.StatusNotFound, Code: "ResourceNotFound", Sender: true, Message: fmt.Sprintf("alarm %s does not exist in %s", name, c.Region)}
	}
	prev := a.state
	a.state, a.reason, a.updated = state, str(c.Params, "StateReason"), time.Now()
	cw.mu.Unlock()
	if prev != state {
		cw.runActions(a, prev, state)
	}
	return &cloudwatch.SetAlarmStateOutput{}, nil
}

func (cw *cloudWatch) describeAlarms(c *call) *cloudwatch.DescribeAlarmsOutput {
	names := strs(c.Params, "AlarmNames")
	prefix := str(c.Params, "AlarmNamePrefix")
	state := str(c.Params, "StateValue")
	out := &cloudwatch.DescribeAlarmsOutput{}
	// Without AlarmTypes only metric alarms are listed (the twin has no
	// composite alarms; infra/aws declares none).
	if types := strs(c.Params, "AlarmTypes"); len(types) > 0 && !slices.Contains(types, string(cwtypes.AlarmTypeMetricAlarm)) {
		return out
	}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for _, a := range cw.alarms {
		if a.Region != c.Region || (prefix != "" && !strings.HasPrefix(a.Name, prefix)) || (state != "" && state != string(a.state)) {
			continue
		}
		if len(names) > 0 && !slices.Contains(names, a.Name) {
			continue
		}
		var dims []cwtypes.Dimension
		for k, v := range a.Dimensions {
			dims = append(dims, cwtypes.Dimension{Name: awssdk.String(k), Value: awssdk.String(v)})
		}
		out.MetricAlarms = append(out.MetricAlarms, cwtypes.MetricAlarm{
			AlarmName: awssdk.String(a.Name), AlarmArn: awssdk.String(fmt.Sprintf("arn:aws:cloudwatch:%s:%s:alarm:%s", a.Region, cw.cfg.Account, a.Name)),
			Namespace: awssdk.String(a.Namespace), MetricName: awssdk.String(a.Metric), Dimensions: dims,
			Statistic: cwtypes.Statistic(a.Statistic), Period: awssdk.Int32(int32(a.Period.Seconds())),
			EvaluationPeriods: awssdk.Int32(int32(a.EvaluationPeriods)), DatapointsToAlarm: awssdk.Int32(int32(a.ToAlarm)),
			Threshold: awssdk.Float64(a.Threshold), ComparisonOperator: cwtypes.ComparisonOperator(a.Comparison),
			TreatMissingData: awssdk.String(a.TreatMissing), ActionsEnabled: awssdk.Bool(true),
			AlarmActions: a.AlarmActions, OKActions: a.OKActions,
			StateValue: a.state, StateReason: awssdk.String(a.reason), StateUpdatedTimestamp: awssdk.Time(a.updated)})
	}
	return out
}

func dimensions(m map[string]any) map[string]string {
	out := map[string]string{}
	l, _ := m["Dimensions"].([]any)
	for _, e := range l {
		d, _ := e.(map[string]any)
		out[str(d, "Name")] = str(d, "Value")
	}
	return out
}

func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// timestamp reads an epoch-seconds timestamp parameter (CBOR tag 1).
func timestamp(v any) (time.Time, bool) {
	f, ok := number(v)
	if !ok {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

func (cw *cloudWatch) putMetricData(c *call) (smithy.Serializable, *APIError) {
	ns := str(c.Params, "Namespace")
	data, _ := c.Params["MetricData"].([]any)
	if ns == "" || len(data) == 0 {
		// MissingRequiredParameterException, whose awsQuery code is MissingParameter.
		return nil, &APIError{Status: http.StatusBadRequest, Code: "MissingParameter", Sender: true,
			Message: "PutMetricData needs a Namespace and at least one MetricData entry"}
	}
	for _, e := range data {
		m, _ := e.(map[string]any)
		v, ok := number(m["Value"])
		if !ok {
			continue
		}
		at, ok := timestamp(m["Timestamp"])
		if !ok {
			at = time.Now()
		}
		cw.put(c.Region, ns, str(m, "MetricName"), dimensions(m), at, v)
	}
	return &cloudwatch.PutMetricDataOutput{}, nil
}

// getMetricData answers MetricStat queries: one value per period (scaled
// by the twin's time scale, as every AWS duration is), newest first when
// ScanBy is TimestampDescending.
func (cw *cloudWatch) getMetricData(c *call) (smithy.Serializable, *APIError) {
	start, ok1 := timestamp(c.Params["StartTime"])
	end, ok2 := timestamp(c.Params["EndTime"])
	if !ok1 || !ok2 {
		return nil, &APIError{Status: http.StatusBadRequest, Code: "MissingParameter", Sender: true, Message: "GetMetricData needs StartTime and EndTime"}
	}
	desc := str(c.Params, "ScanBy") != "TimestampAscending"
	queries, _ := c.Params["MetricDataQueries"].([]any)
	out := &cloudwatch.GetMetricDataOutput{}
	cw.mu.Lock()
	defer cw.mu.Unlock()
	for _, q := range queries {
		qm, _ := q.(map[string]any)
		ms, _ := qm["MetricStat"].(map[string]any)
		metric, _ := ms["Metric"].(map[string]any)
		p, _ := number(ms["Period"])
		period := cw.cfg.scaled(time.Duration(p) * time.Second)
		if period <= 0 {
			period = cw.cfg.scaled(time.Minute)
		}
		key := metricKey(c.Region, str(metric, "Namespace"), str(metric, "MetricName"), dimensions(metric))
		res := cwtypes.MetricDataResult{Id: awssdk.String(str(qm, "Id")), Label: awssdk.String(str(metric, "MetricName")), StatusCode: cwtypes.StatusCodeComplete}
		for from := start.Truncate(period); from.Before(end); from = from.Add(period) {
			if v, ok := statistic(str(ms, "Stat"), cw.window(key, from, from.Add(period))); ok {
				res.Timestamps = append(res.Timestamps, from)
				res.Values = append(res.Values, v)
			}
		}
		if desc {
			for i, j := 0, len(res.Values)-1; i < j; i, j = i+1, j-1 {
				res.Values[i], res.Values[j] = res.Values[j], res.Values[i]
				res.Timestamps[i], res.Timestamps[j] = res.Timestamps[j], res.Timestamps[i]
			}
		}
		out.MetricDataResults = append(out.MetricDataResults, res)
	}
	return out, nil
}
