// Package stackspec reads the DR stack as infra/aws writes it — names,
// regions, the metric alarms, the schedules, the tags — straight from the
// Terraform files, so that the AWS twin plays the stack as written rather
// than a second copy of it. It evaluates the HCL expressions it needs with
// the variables' defaults (or given values) and the locals; attributes
// that depend on what only a real apply knows (data sources, generated
// ids) are filled with twin values where the twin needs them, or left out.
package stackspec

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Alarm is an aws_cloudwatch_metric_alarm as declared.
type Alarm struct {
	Resource          string // e.g. lag_secondary
	Region            string
	Name              string
	Namespace, Metric string
	Dimensions        map[string]string
	Statistic         string
	Period            time.Duration
	EvaluationPeriods int
	DatapointsToAlarm int
	Threshold         float64
	Comparison        string
	TreatMissing      string
	AlarmActions      []string
	OKActions         []string
}

// Schedule is an aws_cloudwatch_event_rule with a schedule expression.
type Schedule struct {
	Resource, Region, Name, Expression string
}

// Spec is what the twin takes from infra/aws.
type Spec struct {
	Name                         string // local.name
	PrimaryRegion                string
	SecondaryRegion              string
	GlobalClusterID              string
	PrimaryClusterID             string
	SecondaryClusterID           string
	EngineVersion                string
	DatabaseName                 string
	Tags                         map[string]string
	Alarms                       []Alarm
	Schedules                    []Schedule
	PrimaryTopic, SecondaryTopic string
	// Locals are the string-valued locals (e.g. the function names).
	Locals map[string]string
	// OutputNames are the outputs the stack declares.
	OutputNames []string
}

// Load reads the stack in dir for account, with vars overriding the
// variables' defaults (environment_suffix has none: pass it).
func Load(dir, account string, vars map[string]string) (*Spec, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no Terraform files in %s: point --stack at infra/aws", dir)
	}
	sort.Strings(files)
	p := hclparse.NewParser()
	var bodies []*hclsyntax.Body
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		file, diags := p.ParseHCL(src, f)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s: %s", f, diags.Error())
		}
		bodies = append(bodies, file.Body.(*hclsyntax.Body))
	}
	blocks := func(typ string, labels ...string) []*hclsyntax.Block {
		var out []*hclsyntax.Block
		for _, b := range bodies {
			for _, bl := range b.Blocks {
				if bl.Type != typ || len(bl.Labels) < len(labels) {
					continue
				}
				match := true
				for i, l := range labels {
					match = match && bl.Labels[i] == l
				}
				if match {
					out = append(out, bl)
				}
			}
		}
		return out
	}

	// var.*: the defaults, then the given values.
	vs := map[string]cty.Value{}
	for _, b := range blocks("variable") {
		if a, ok := b.Body.Attributes["default"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() && !v.IsNull() {
				vs[b.Labels[0]] = v
			}
		}
	}
	for k, v := range vars {
		// Given as text, as -var gives them; a number or bool variable is
		// converted to its default's type.
		val := cty.StringVal(v)
		if d, ok := vs[k]; ok && d.Type() != cty.String {
			conv, err := convert.Convert(val, d.Type())
			if err != nil {
				return nil, fmt.Errorf("variable %s=%q: %v", k, v, err)
			}
			val = conv
		}
		vs[k] = val
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vs)}, Functions: functions()}

	// local.*: evaluated in rounds, since locals refer to each other;
	// those that need a data source or a resource are left out.
	locals := map[string]hcl.Expression{}
	for _, b := range blocks("locals") {
		for n, a := range b.Body.Attributes {
			locals[n] = a.Expr
		}
	}
	ls := map[string]cty.Value{}
	for round := 0; round < 5; round++ {
		ctx.Variables["local"] = cty.ObjectVal(ls)
		for n, e := range locals {
			if _, done := ls[n]; done {
				continue
			}
			if v, diags := e.Value(ctx); !diags.HasErrors() && v.IsWhollyKnown() {
				ls[n] = v
			}
		}
	}
	ctx.Variables["local"] = cty.ObjectVal(ls)

	s := &Spec{Name: asString(ls["name"]), PrimaryRegion: asString(vs["primary_region"]), SecondaryRegion: asString(vs["secondary_region"]),
		EngineVersion: asString(vs["engine_version"]), DatabaseName: asString(vs["database_name"]), Tags: map[string]string{}}
	if s.Name == "" {
		return nil, fmt.Errorf("%s: local.name does not evaluate: pass environment_suffix", dir)
	}
	s.Locals = map[string]string{}
	for n, v := range ls {
		if str := asString(v); str != "" {
			s.Locals[n] = str
		}
	}
	for _, b := range blocks("output") {
		s.OutputNames = append(s.OutputNames, b.Labels[0])
	}
	sort.Strings(s.OutputNames)
	if t, ok := ls["tags"]; ok && t.CanIterateElements() {
		for k, v := range t.AsValueMap() {
			s.Tags[k] = asString(v)
		}
	}
	// A resource's region is its provider's: aws.secondary or the primary.
	region := func(b *hclsyntax.Block) string {
		if a, ok := b.Body.Attributes["provider"]; ok {
			if tr, diags := hcl.AbsTraversalForExpr(a.Expr); !diags.HasErrors() && len(tr) == 2 {
				if at, ok := tr[1].(hcl.TraverseAttr); ok && at.Name == "secondary" {
					return s.SecondaryRegion
				}
			}
		}
		return s.PrimaryRegion
	}
	attr := func(b *hclsyntax.Block, name string) cty.Value {
		a, ok := b.Body.Attributes[name]
		if !ok {
			return cty.NilVal
		}
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() {
			return cty.NilVal
		}
		return v
	}

	// The resources the alarms and the outputs refer to, with what a real
	// apply would give them (ARNs in the twin's account).
	resources := map[string]map[string]cty.Value{}
	add := func(typ, name string, v map[string]cty.Value) {
		if resources[typ] == nil {
			resources[typ] = map[string]cty.Value{}
		}
		resources[typ][name] = cty.ObjectVal(v)
	}
	for _, b := range blocks("resource", "aws_rds_global_cluster") {
		s.GlobalClusterID = asString(attr(b, "global_cluster_identifier"))
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"id": cty.StringVal(s.GlobalClusterID), "global_cluster_identifier": cty.StringVal(s.GlobalClusterID)})
	}
	for _, b := range blocks("resource", "aws_rds_cluster") {
		id, r := asString(attr(b, "cluster_identifier")), region(b)
		if b.Labels[1] == "primary" {
			s.PrimaryClusterID = id
		} else if b.Labels[1] == "secondary" {
			s.SecondaryClusterID = id
		}
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"id": cty.StringVal(id), "cluster_identifier": cty.StringVal(id),
			"arn": cty.StringVal(fmt.Sprintf("arn:aws:rds:%s:%s:cluster:%s", r, account, id))})
	}
	for _, b := range blocks("resource", "aws_sns_topic") {
		arn := fmt.Sprintf("arn:aws:sns:%s:%s:%s", region(b), account, asString(attr(b, "name")))
		if b.Labels[1] == "primary" {
			s.PrimaryTopic = arn
		} else if b.Labels[1] == "secondary" {
			s.SecondaryTopic = arn
		}
		add(b.Labels[0], b.Labels[1], map[string]cty.Value{"arn": cty.StringVal(arn), "id": cty.StringVal(arn)})
	}
	for typ, m := range resources {
		ctx.Variables[typ] = cty.ObjectVal(m)
	}

	for _, b := range blocks("resource", "aws_cloudwatch_metric_alarm") {
		a := Alarm{Resource: b.Labels[1], Region: region(b), Name: asString(attr(b, "alarm_name")),
			Namespace: asString(attr(b, "namespace")), Metric: asString(attr(b, "metric_name")), Statistic: asString(attr(b, "statistic")),
			Period: time.Duration(asNumber(attr(b, "period"))) * time.Second, EvaluationPeriods: int(asNumber(attr(b, "evaluation_periods"))),
			DatapointsToAlarm: int(asNumber(attr(b, "datapoints_to_alarm"))), Threshold: asNumber(attr(b, "threshold")),
			Comparison: asString(attr(b, "comparison_operator")), TreatMissing: asString(attr(b, "treat_missing_data")),
			Dimensions: map[string]string{}, AlarmActions: asStrings(attr(b, "alarm_actions")), OKActions: asStrings(attr(b, "ok_actions"))}
		if d := attr(b, "dimensions"); d != cty.NilVal && d.CanIterateElements() {
			for k, v := range d.AsValueMap() {
				a.Dimensions[k] = asString(v)
			}
		}
		if a.Name == "" || a.Metric == "" {
			continue // a metric-math alarm: not modelled
		}
		// CloudWatch's defaults (PutMetricAlarm API reference).
		if a.DatapointsToAlarm == 0 {
			a.DatapointsToAlarm = a.EvaluationPeriods
		}
		if a.TreatMissing == "" {
			a.TreatMissing = "missing"
		}
		s.Alarms = append(s.Alarms, a)
	}
	for _, b := range blocks("resource", "aws_cloudwatch_event_rule") {
		if e := asString(attr(b, "schedule_expression")); e != "" {
			s.Schedules = append(s.Schedules, Schedule{Resource: b.Labels[1], Region: region(b), Name: asString(attr(b, "name")), Expression: e})
		}
	}
	sort.Slice(s.Alarms, func(i, j int) bool { return s.Alarms[i].Name < s.Alarms[j].Name })
	if s.GlobalClusterID == "" || s.PrimaryClusterID == "" || s.SecondaryClusterID == "" {
		return nil, fmt.Errorf("%s: the global cluster and both regional clusters must be declared with literal identifiers", dir)
	}
	return s, nil
}

// functions are the Terraform functions the stack's locals and alarms use.
func functions() map[string]function.Function {
	return map[string]function.Function{
		"merge": stdlib.MergeFunc, "toset": stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)), "jsonencode": stdlib.JSONEncodeFunc,
		"coalesce": stdlib.CoalesceFunc, "concat": stdlib.ConcatFunc, "format": stdlib.FormatFunc,
		"lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc, "join": stdlib.JoinFunc,
	}
}

func asString(v cty.Value) string {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func asNumber(v cty.Value) float64 {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() || v.Type() != cty.Number {
		return 0
	}
	f, _ := v.AsBigFloat().Float64()
	return f
}

func asStrings(v cty.Value) []string {
	if v == cty.NilVal || v.IsNull() || !v.CanIterateElements() {
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if s := asString(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}
