// Package policy is the SLO policy a drill is judged against: RPO, RTO and
// lag targets per scenario, in YAML, like a Resilience Hub resiliency policy
// but checked against measured values.
package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/drdrill/drdrill/internal/check"
)

//go:embed default-lab.yaml
var defaultLab []byte

//go:embed default-aws.yaml
var defaultAWS []byte

// Limits are the targets for one scenario, by measure key
// (check.Measures); a measure without one has no target. Each is a plain
// bound on one run or bounds on the distribution over runs (Bound).
type Limits map[string]*Bound

// Measures are the policy keys, in display order: check.Measures' keys.
var Measures = measureKeys()

func measureKeys() []string {
	out := make([]string, len(check.Measures))
	for i, m := range check.Measures {
		out[i] = m.Key
	}
	return out
}

// Bound returns the limit for a measure by its policy key.
func (l Limits) Bound(measure string) *Bound { return l[measure] }

// UnmarshalYAML takes a mapping of measure key to bound, rejecting a key
// that names no measure with the list of those that do.
func (l *Limits) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: targets are a mapping of measure to bound, e.g. rto_ms: 5000", n.Line)
	}
	out := Limits{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if _, ok := check.MeasureByKey(k.Value); !ok {
			return fmt.Errorf("line %d: unknown measure %q (known: %s)", k.Line, k.Value, strings.Join(Measures, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return fmt.Errorf("line %d: %s given twice", k.Line, k.Value)
		}
		b := &Bound{}
		if err := v.Decode(b); err != nil {
			return fmt.Errorf("%s: %w", k.Value, err)
		}
		out[k.Value] = b
	}
	*l = out
	return nil
}

// Policy is a whole policy file.
type Policy struct {
	Version   int               `yaml:"version" json:"version"`
	Default   Limits            `yaml:"default" json:"default"`
	Scenarios map[string]Limits `yaml:"scenarios" json:"scenarios"`
	// Source says where the policy came from (a path or "built-in lab").
	Source string `yaml:"-" json:"source"`
}

// Default returns the built-in policy for a target kind ("lab" or "aws").
func Default(kind string) Policy {
	src, name := defaultLab, "built-in lab policy"
	if kind == "aws" {
		src, name = defaultAWS, "built-in aws policy"
	}
	p, err := Parse(src, name)
	if err != nil {
		panic(err) // the embedded files are tested
	}
	return p
}

// Load reads a policy file; errors name the file, the line and the fix.
func Load(path string) (Policy, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Policy{}, fmt.Errorf("policy file %s does not exist (omit --policy to use the built-in policy)", path)
	}
	if err != nil {
		return Policy{}, err
	}
	return Parse(b, path)
}

// Parse decodes a policy strictly: unknown keys and wrong types are errors.
func Parse(b []byte, source string) (Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return Policy{}, fmt.Errorf("policy %s: %v (keys: version, default, scenarios.<name>.<measure>, each a number, bounds such as {p95: 5000, max: 10000}, or report)", source, err)
	}
	if p.Version != 1 {
		return Policy{}, fmt.Errorf("policy %s: version %d; this drdrill reads version 1", source, p.Version)
	}
	for name, l := range p.Scenarios {
		if err := l.validate(); err != nil {
			return Policy{}, fmt.Errorf("policy %s: scenarios.%s: %w", source, name, err)
		}
	}
	if err := p.Default.validate(); err != nil {
		return Policy{}, fmt.Errorf("policy %s: default: %w", source, err)
	}
	p.Source = source
	return p, nil
}

func (l Limits) validate() error {
	for _, m := range Measures {
		b := l.Bound(m)
		if b == nil || b.Report {
			continue
		}
		if err := (&Bound{}).set(b.Stats); err != nil {
			return fmt.Errorf("%s: %w", m, err)
		}
	}
	return nil
}

// For returns a scenario's limits: its own, falling back to the default's.
func (p Policy) For(scenario string) Limits {
	l := Limits{}
	for _, m := range Measures {
		if b := p.Scenarios[scenario].Bound(m); b != nil {
			l[m] = b
		} else if b := p.Default.Bound(m); b != nil {
			l[m] = b
		}
	}
	return l
}

// Breach is one check that missed its target.
type Breach struct {
	Check      string  `json:"check"`
	Measured   float64 `json:"measured"`
	Target     float64 `json:"target"`
	Resolution float64 `json:"resolution"`
	Unit       string  `json:"unit"`
	Message    string  `json:"message"`
}

func (b Breach) String() string { return b.Message }

// Measurement is one judged figure.
type Measurement struct {
	Check      string   `json:"check"`
	Measured   float64  `json:"measured"`
	Target     *float64 `json:"target,omitempty"`
	Resolution float64  `json:"resolution"`
	Unit       string   `json:"unit"`
	Met        bool     `json:"met"`
	// Unmeasured: the run could not measure or judge it (no complete final
	// read, never recovered, a section of the history missing); Measured
	// is then meaningless and NotJudged says why.
	Unmeasured bool   `json:"unmeasured,omitempty"`
	NotJudged  string `json:"not_judged,omitempty"`
	// Over names the distribution bounds that only a window of runs can
	// judge (`drdrill verdict --window N`), e.g. "{p95: 5000}".
	Over string `json:"distribution_bound,omitempty"`
}

// Judge compares a check result with the limits, measure by measure
// (check.Measures). A figure the result could not judge is a breach when a
// target exists, naming why: an unmeasured RPO must never pass a sign-off.
// A single run is judged against each bound's max (the plain form);
// percentile bounds need a window of runs and are left to `drdrill
// verdict --window`. A measure that does not apply to the history is left
// out.
func (l Limits) Judge(scenario string, r check.Result) ([]Measurement, []Breach) {
	var ms []Measurement
	var bs []Breach
	for _, measure := range check.Measures {
		v := measure.Read(&r)
		if !v.Applies {
			continue
		}
		name, unit, bound := measure.Key, measure.Unit, l.Bound(measure.Key)
		var target *float64
		if t, ok := bound.Max(); ok {
			target = &t
		}
		m := Measurement{Check: name, Measured: v.V, Target: target, Resolution: v.Resolution, Unit: unit, Met: true, Unmeasured: !v.Judged}
		if !v.Judged {
			m.Measured, m.Resolution, m.NotJudged = 0, 0, v.Why
		}
		if bound != nil && !bound.Report && (len(bound.Stats) > 1 || target == nil) {
			m.Over = bound.String()
		}
		if target != nil {
			switch {
			case !v.Judged:
				m.Met = false
				bs = append(bs, Breach{Check: name, Target: *target, Unit: unit,
					Message: fmt.Sprintf("%s %s: not judged (%s); target %g %s", scenario, name, v.Why, *target, unit)})
			case v.V > *target:
				m.Met = false
				bs = append(bs, Breach{Check: name, Measured: v.V, Target: *target, Resolution: v.Resolution, Unit: unit,
					Message: fmt.Sprintf("%s %s: measured %.4g %s (±%.3g) exceeds the target %g %s", scenario, name, v.V, unit, v.Resolution, *target, unit)})
			}
		}
		ms = append(ms, m)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].Check < bs[j].Check })
	return ms, bs
}

// DefaultSource is the built-in policy file for a target kind, as
// written (comments included): `drdrill policy show` prints it as the
// starting point of a policy of one's own.
func DefaultSource(kind string) []byte {
	if kind == "aws" {
		return defaultAWS
	}
	return defaultLab
}

// UnknownScenarios are the scenarios a policy names that are not in
// known: a misspelt scenario's bounds would never apply.
func (p Policy) UnknownScenarios(known []string) []string {
	var out []string
	for name := range p.Scenarios {
		found := false
		for _, k := range known {
			found = found || k == name
		}
		if !found {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}
