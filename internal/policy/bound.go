package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/drdrill/drdrill/internal/check"
)

// Bound is one target: either a plain bound on a single run's value
// (`rto_ms: 5000`, today's form) or bounds on the distribution of a
// measure over runs (`rto_ms: {p95: 5000, max: 10000}`). A plain bound is
// the same as {max: N}: every run must meet it.
//
// `report` is a third form: measure and report, with no target, overriding
// a default's target for a scenario that exists to show the effect.
type Bound struct {
	// Stats maps a statistic (p50, p90, p95, p99, max) to its upper bound.
	Stats map[string]float64
	// Report: no target (the `report` form); Stats is empty.
	Report bool
}

// ReportOnly is the `report` form's word, in YAML and JSON.
const ReportOnly = "report"

// Statistics a distribution bound may use, in display order.
var Statistics = []string{"p50", "p90", "p95", "p99", "max"}

// Plain returns a bound of the plain form.
func Plain(v float64) *Bound { return &Bound{Stats: map[string]float64{"max": v}} }

// Max is the bound every single run must meet, if there is one.
func (b *Bound) Max() (float64, bool) {
	if b == nil {
		return 0, false
	}
	v, ok := b.Stats["max"]
	return v, ok
}

// Keys lists the bound's statistics in display order.
func (b *Bound) Keys() []string {
	var out []string
	for _, k := range Statistics {
		if _, ok := b.Stats[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// String is the bound as a policy file would write it.
func (b *Bound) String() string {
	if b == nil {
		return "none"
	}
	if b.Report {
		return ReportOnly
	}
	if v, ok := b.Stats["max"]; ok && len(b.Stats) == 1 {
		return fmt.Sprintf("%g", v)
	}
	var parts []string
	for _, k := range b.Keys() {
		parts = append(parts, fmt.Sprintf("%s: %g", k, b.Stats[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func (b *Bound) set(stats map[string]float64) error {
	if len(stats) == 0 {
		return fmt.Errorf("an empty bound: give a number or some of %s", strings.Join(Statistics, ", "))
	}
	for k, v := range stats {
		known := false
		for _, s := range Statistics {
			known = known || s == k
		}
		if !known {
			return fmt.Errorf("unknown statistic %q (want %s)", k, strings.Join(Statistics, ", "))
		}
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s must be a non-negative number, not %v", k, v)
		}
	}
	b.Stats = stats
	return nil
}

// UnmarshalYAML takes a number or a mapping of statistic to number.
func (b *Bound) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == ReportOnly {
			*b = Bound{Report: true}
			return nil
		}
		var v float64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("line %d: %q is not a number (a bound is a number, e.g. {p95: 5000, max: 10000}, or report)", n.Line, n.Value)
		}
		if v < 0 {
			return fmt.Errorf("line %d: must not be negative", n.Line)
		}
		return b.set(map[string]float64{"max": v})
	case yaml.MappingNode:
		stats := map[string]float64{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			var f float64
			if err := v.Decode(&f); err != nil {
				return fmt.Errorf("line %d: %s: %q is not a number", v.Line, k.Value, v.Value)
			}
			if _, dup := stats[k.Value]; dup {
				return fmt.Errorf("line %d: %s given twice", k.Line, k.Value)
			}
			stats[k.Value] = f
		}
		if err := b.set(stats); err != nil {
			return fmt.Errorf("line %d: %w", n.Line, err)
		}
		return nil
	default:
		return fmt.Errorf("line %d: a bound is a number or a mapping such as {p95: 5000, max: 10000}", n.Line)
	}
}

// MarshalJSON writes a plain bound as a number, a distribution as an object.
func (b *Bound) MarshalJSON() ([]byte, error) {
	if b.Report {
		return json.Marshal(ReportOnly)
	}
	if v, ok := b.Stats["max"]; ok && len(b.Stats) == 1 {
		return json.Marshal(v)
	}
	return json.Marshal(b.Stats)
}

// UnmarshalJSON reads either form (policy.json in a run directory).
func (b *Bound) UnmarshalJSON(data []byte) error {
	if string(data) == `"`+ReportOnly+`"` {
		*b = Bound{Report: true}
		return nil
	}
	var v float64
	if err := json.Unmarshal(data, &v); err == nil {
		return b.set(map[string]float64{"max": v})
	}
	var stats map[string]float64
	if err := json.Unmarshal(data, &stats); err != nil {
		return fmt.Errorf("a bound is a number or an object of statistic to number: %w", err)
	}
	return b.set(stats)
}

// Stat computes a named statistic over values (sorted in place).
func Stat(name string, values []float64) float64 {
	sort.Float64s(values)
	switch name {
	case "max":
		if len(values) == 0 {
			return math.NaN()
		}
		return values[len(values)-1]
	case "p50":
		return check.Percentile(values, 50)
	case "p90":
		return check.Percentile(values, 90)
	case "p95":
		return check.Percentile(values, 95)
	case "p99":
		return check.Percentile(values, 99)
	}
	return math.NaN()
}
