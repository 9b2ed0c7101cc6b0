package check

// Value is one measure read from a Result.
type Value struct {
	// Applies: the measure applies to this history (an RTO needs a fault,
	// the read measures reads, re-protection a promotion).
	Applies bool
	// Judged: the history gives the figure; Why says why not (a breach
	// wherever a target exists).
	Judged bool
	Why    string
	V      float64
	// Resolution is the figure's error bound (± that much).
	Resolution float64
}

// Measure is one judged figure: the single list the policy parser, the
// judge, the report's columns and JUnit loop over. Adding a measure means
// the checker file that computes it, a line here, and docs/measures.md.
type Measure struct {
	// Key is the policy key, the JUnit property and the report.json check.
	Key  string
	Unit string
	// Column heads the measure's column in the summary tables ("": none).
	Column string
	// LowerIsBetter: a smaller figure is an improvement (compare).
	LowerIsBetter bool
	// Read gets the measure from a check's result.
	Read func(r *Result) Value
}

// Measures are every judged figure, in display order.
var Measures = []Measure{
	{Key: "rpo_lost_writes", Unit: "writes", Column: "lost writes", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("rpo_lost_writes", true, float64(r.RPO.LostWrites), 0)
	}},
	{Key: "rpo_ms", Unit: "ms", Column: "RPO ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("rpo_ms", true, r.RPO.SpanMs, r.RPO.ResolutionMs)
	}},
	{Key: "replication_lost_writes", Unit: "writes", LowerIsBetter: true, Read: func(r *Result) Value {
		f := r.RPO.Failover
		return r.judgedIf("replication_lost_writes", f != nil, func() (float64, float64) { return float64(f.ReplicationLostWrites), 0 })
	}},
	{Key: "replication_loss_ms", Unit: "ms", LowerIsBetter: true, Read: func(r *Result) Value {
		f := r.RPO.Failover
		return r.judgedIf("replication_loss_ms", f != nil, func() (float64, float64) { return f.ReplicationLossMs, r.RPO.ResolutionMs })
	}},
	{Key: "split_brain_lost_writes", Unit: "writes", LowerIsBetter: true, Read: func(r *Result) Value {
		f := r.RPO.Failover
		return r.judgedIf("split_brain_lost_writes", f != nil, func() (float64, float64) { return float64(f.SplitBrainLostWrites), 0 })
	}},
	{Key: "failed_but_applied", Unit: "writes", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("failed_but_applied", true, float64(r.FailedButApplied), 0)
	}},
	{Key: "rto_ms", Unit: "ms", Column: "RTO ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("rto_ms", r.FaultMs != nil, r.RTO.Ms, r.RTO.ResolutionMs)
	}},
	{Key: "outage_start_ms", Unit: "ms", Read: func(r *Result) Value {
		return r.judgedPtr("outage_start_ms", r.FaultMs != nil, r.RTO.OutageStartMs, r.RTO.ResolutionMs)
	}},
	{Key: "detect_ms", Unit: "ms", Column: "detect ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judgedPtr("detect_ms", r.FaultMs != nil, r.RTO.DetectMs, 0)
	}},
	{Key: "promote_ms", Unit: "ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judgedPtr("promote_ms", r.FaultMs != nil, r.RTO.PromoteMs, 0)
	}},
	{Key: "reprotect_ms", Unit: "ms", Column: "re-protect ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judgedPtr("reprotect_ms", r.FaultMs != nil, r.ReprotectMs, 0)
	}},
	{Key: "window_rto_ms", Unit: "ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.worstWindow("window_rto_ms", "rto_ms", func(w Window) (float64, float64, bool) {
			if w.RTOMs == nil {
				return 0, 0, false
			}
			return *w.RTOMs, r.RTO.ResolutionMs, true
		})
	}},
	{Key: "window_rpo_ms", Unit: "ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.worstWindow("window_rpo_ms", "rpo_ms", func(w Window) (float64, float64, bool) { return w.RPOMs, w.RPOResolutionMs, true })
	}},
	{Key: "window_lost_writes", Unit: "writes", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.worstWindow("window_lost_writes", "lost_writes", func(w Window) (float64, float64, bool) { return float64(w.LostWrites), 0, true })
	}},
	{Key: "window_reprotect_ms", Unit: "ms", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.worstWindow("window_reprotect_ms", "reprotect_ms", func(w Window) (float64, float64, bool) {
			if w.ReprotectMs == nil {
				return 0, 0, false
			}
			return *w.ReprotectMs, 0, true
		})
	}},
	{Key: "lag_p99_ms", Unit: "ms", Column: "lag p99 ms", LowerIsBetter: true, Read: func(r *Result) Value {
		worst, err, _ := worstP99(r.Lag)
		return r.judged("lag_p99_ms", true, worst, err)
	}},
	{Key: "zombie_writes", Unit: "writes", Column: "zombies", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("zombie_writes", true, float64(r.ZombieCount), 0)
	}},
	{Key: "read_visibility_p99_ms", Unit: "ms", LowerIsBetter: true, Read: func(r *Result) Value {
		worst, err, _ := worstP99(r.Reads.Visibility)
		return r.judged("read_visibility_p99_ms", r.Reads.Judged, worst, err)
	}},
	{Key: "vanished_reads", Unit: "writes", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("vanished_reads", r.Reads.Judged, float64(r.Reads.Vanished), 0)
	}},
	{Key: "stale_reads_after_promotion", Unit: "reads", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("stale_reads_after_promotion", r.Reads.Judged, float64(r.Reads.StaleAfterPromotion), 0)
	}},
	{Key: "never_seen_writes", Unit: "writes", LowerIsBetter: true, Read: func(r *Result) Value {
		return r.judged("never_seen_writes", r.Reads.Judged, float64(r.Reads.NeverSeen), 0)
	}},
}

// MeasureByKey finds a measure.
func MeasureByKey(key string) (Measure, bool) {
	for _, m := range Measures {
		if m.Key == key {
			return m, true
		}
	}
	return Measure{}, false
}

// judged is a measure that applies when applies is true, with its figure
// unless the checker recorded why it could not judge it.
func (r *Result) judged(key string, applies bool, v, resolution float64) Value {
	if !applies {
		return Value{}
	}
	if why, ok := r.NotJudged[key]; ok {
		return Value{Applies: true, Why: why}
	}
	return Value{Applies: true, Judged: true, V: v, Resolution: resolution}
}

// judgedIf is judged for a figure that exists only in some histories
// (present); absent and not recorded as not judged, it does not apply.
func (r *Result) judgedIf(key string, present bool, get func() (float64, float64)) Value {
	if why, ok := r.NotJudged[key]; ok {
		return Value{Applies: true, Why: why}
	}
	if !present {
		return Value{}
	}
	v, res := get()
	return Value{Applies: true, Judged: true, V: v, Resolution: res}
}

// judgedPtr is judgedIf for a figure held by pointer, within a fault's
// history (applies).
func (r *Result) judgedPtr(key string, applies bool, p *float64, resolution float64) Value {
	if !applies {
		return Value{}
	}
	return r.judgedIf(key, p != nil, func() (float64, float64) { return *p, resolution })
}
