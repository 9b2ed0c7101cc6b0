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

	"go.yaml.in/yaml/v3"

	"github.com/drdrill/drdrill/internal/check"
)

//go:embed default-lab.yaml
var defaultLab []byte

//go:embed default-aws.yaml
var defaultAWS []byte

// Limits are the targets for one scenario; nil means no target. Each is a
// plain bound on one run or bounds on the distribution over runs (Bound).
type Limits struct {
	RPOLostWrites *Bound `yaml:"rpo_lost_writes,omitempty" json:"rpo_lost_writes,omitempty"`
	RPOMs         *Bound `yaml:"rpo_ms,omitempty" json:"rpo_ms,omitempty"`
	RTOMs         *Bound `yaml:"rto_ms,omitempty" json:"rto_ms,omitempty"`
	LagP99Ms      *Bound `yaml:"lag_p99_ms,omitempty" json:"lag_p99_ms,omitempty"`
	ZombieWrites  *Bound `yaml:"zombie_writes,omitempty" json:"zombie_writes,omitempty"`
	// ReadVisibilityP99Ms bounds, in every region, the p99 time from an
	// acknowledgement to the first read there that returned the write
	// (writes acknowledged before the fault, or all of them in a steady run).
	ReadVisibilityP99Ms *Bound `yaml:"read_visibility_p99_ms,omitempty" json:"read_visibility_p99_ms,omitempty"`
	// VanishedReads bounds the writes a reader saw that later vanished.
	VanishedReads *Bound `yaml:"vanished_reads,omitempty" json:"vanished_reads,omitempty"`
	// StaleReadsAfterPromotion bounds the reads a demoted region served
	// without writes already acknowledged.
	StaleReadsAfterPromotion *Bound `yaml:"stale_reads_after_promotion,omitempty" json:"stale_reads_after_promotion,omitempty"`
}

// Measures are the policy keys, in display order.
var Measures = []string{"rpo_lost_writes", "rpo_ms", "rto_ms", "lag_p99_ms", "zombie_writes",
	"read_visibility_p99_ms", "vanished_reads", "stale_reads_after_promotion"}

// Bound returns the limit for a measure by its policy key.
func (l Limits) Bound(measure string) *Bound {
	if f := l.field(measure); f != nil {
		return *f
	}
	return nil
}

// field is the Limits field holding a measure's bound (nil: no such key).
func (l *Limits) field(measure string) **Bound {
	switch measure {
	case "rpo_lost_writes":
		return &l.RPOLostWrites
	case "rpo_ms":
		return &l.RPOMs
	case "rto_ms":
		return &l.RTOMs
	case "lag_p99_ms":
		return &l.LagP99Ms
	case "zombie_writes":
		return &l.ZombieWrites
	case "read_visibility_p99_ms":
		return &l.ReadVisibilityP99Ms
	case "vanished_reads":
		return &l.VanishedReads
	case "stale_reads_after_promotion":
		return &l.StaleReadsAfterPromotion
	}
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
		return Policy{}, fmt.Errorf("policy %s: %v (keys: version, default, scenarios.<name>.{rpo_lost_writes, rpo_ms, rto_ms, lag_p99_ms, zombie_writes, read_visibility_p99_ms, vanished_reads, stale_reads_after_promotion}, each a number or bounds such as {p95: 5000, max: 10000})", source, err)
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
		if b == nil {
			continue
		}
		if b.Report {
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
	l := p.Scenarios[scenario]
	for _, m := range Measures {
		if f := l.field(m); *f == nil {
			*f = p.Default.Bound(m)
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
	// Unmeasured: the run could not measure it (no final read, never
	// recovered); Measured is then meaningless.
	Unmeasured bool `json:"unmeasured,omitempty"`
	// Over names the distribution bounds that only a window of runs can
	// judge (`drdrill verdict --window N`), e.g. "{p95: 5000}".
	Over string `json:"distribution_bound,omitempty"`
}

// Judge compares a check result with the limits. Figures the result could
// not judge (no final read, not recovered) are breaches when a target exists:
// an unmeasured RPO must never pass a sign-off. A single run is judged
// against each bound's max (the plain form); percentile bounds need a
// window of runs and are left to `drdrill verdict --window`.
func (l Limits) Judge(scenario string, r check.Result) ([]Measurement, []Breach) {
	var ms []Measurement
	var bs []Breach
	add := func(name string, measured float64, bound *Bound, resolution float64, unit string, judged bool, why string) {
		var target *float64
		if v, ok := bound.Max(); ok {
			target = &v
		}
		m := Measurement{Check: name, Measured: measured, Target: target, Resolution: resolution, Unit: unit, Met: true, Unmeasured: !judged}
		if bound != nil && !bound.Report && (len(bound.Stats) > 1 || target == nil) {
			m.Over = bound.String()
		}
		if target != nil {
			switch {
			case !judged:
				m.Met = false
				bs = append(bs, Breach{Check: name, Target: *target, Unit: unit,
					Message: fmt.Sprintf("%s %s: not measured (%s); target %g %s", scenario, name, why, *target, unit)})
			case measured > *target:
				m.Met = false
				bs = append(bs, Breach{Check: name, Measured: measured, Target: *target, Resolution: resolution, Unit: unit,
					Message: fmt.Sprintf("%s %s: measured %.4g %s (±%.3g) exceeds the target %g %s", scenario, name, measured, unit, resolution, *target, unit)})
			}
		}
		ms = append(ms, m)
	}
	add("rpo_lost_writes", float64(r.RPO.LostWrites), l.RPOLostWrites, 0, "writes", r.RPO.Judged, "no final read of the primary")
	add("rpo_ms", r.RPO.SpanMs, l.RPOMs, r.RPO.ResolutionMs, "ms", r.RPO.Judged, "no final read of the primary")
	if r.RTO.Judged {
		add("rto_ms", r.RTO.Ms, l.RTOMs, r.RTO.ResolutionMs, "ms", r.RTO.Recovered, "writes never succeeded for a whole stability window")
	}
	add("zombie_writes", float64(r.ZombieCount), l.ZombieWrites, 0, "writes", r.ZombiesJudged, "the target does not report which server was the primary when")
	if l.LagP99Ms != nil {
		worst, judged := 0.0, false
		for _, phases := range r.Lag {
			for _, phase := range []string{"steady", "before"} {
				if p, ok := phases[phase]; ok && p.N > 0 {
					judged = true
					worst = max(worst, p.P99)
				}
			}
		}
		add("lag_p99_ms", worst, l.LagP99Ms, r.LagResolutionMs, "ms", judged, "no lag samples before the fault")
	}
	// A history from before drdrill read its regions has no reads: the read
	// measures do not apply to it (re-judging an old run must not fail it).
	if r.Reads.Judged {
		worst, res, judged := 0.0, 0.0, false
		for region, phases := range r.Reads.Visibility {
			for _, phase := range []string{"steady", "before"} {
				if p, ok := phases[phase]; ok && p.N > 0 {
					judged = true
					worst = max(worst, p.P99)
					res = max(res, r.Reads.ResolutionMs[region])
				}
			}
		}
		add("read_visibility_p99_ms", worst, l.ReadVisibilityP99Ms, res, "ms", judged, "no write was read back before the fault")
		add("vanished_reads", float64(r.Reads.Vanished), l.VanishedReads, 0, "writes", true, "")
		add("stale_reads_after_promotion", float64(r.Reads.StaleAfterPromotion), l.StaleReadsAfterPromotion, 0, "reads",
			r.Reads.StaleJudged, "the history does not say which region was the primary first")
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].Check < bs[j].Check })
	return ms, bs
}
