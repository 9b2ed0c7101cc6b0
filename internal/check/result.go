package check

import (
	"fmt"

	"github.com/drdrill/drdrill/internal/history"
)

// Write identifies an operation; times are ms since the history started.
type Write struct {
	Writer   int     `json:"writer"`
	Seq      int64   `json:"seq"`
	InvokeMs float64 `json:"invoke_ms"`
	AckMs    float64 `json:"ack_ms"`
	Outcome  string  `json:"outcome"`
	Error    string  `json:"error,omitempty"`
}

// RowRef is a row found in a region.
type RowRef struct {
	Region      string  `json:"region"`
	Writer      int     `json:"writer"`
	Seq         int64   `json:"seq"`
	Origin      uint32  `json:"origin_server_id"`
	CommittedMs float64 `json:"committed_ms"`
}

// RPO is the data-loss measurement.
type RPO struct {
	// Judged is false when the history has no complete final read of the
	// primary (or its traffic is incomplete); NotJudged says why.
	Judged     bool    `json:"judged"`
	NotJudged  string  `json:"not_judged,omitempty"`
	LostWrites int     `json:"lost_writes"`
	SpanMs     float64 `json:"span_ms"`
	// ResolutionMs is how precisely the loss window's start is known: the
	// gap between the first lost acknowledgement and the one before it
	// (or, with no loss, the widest gap in the second before the fault: a
	// loss shorter than that could hide between two acknowledgements).
	ResolutionMs float64 `json:"resolution_ms"`
	// ScheduledResolutionMs is the interval the workload scheduled
	// (1000 / rate); ResolutionMs is what it achieved.
	ScheduledResolutionMs float64 `json:"scheduled_resolution_ms,omitempty"`
	Lost                  []Write `json:"lost,omitempty"`
	// Failover splits the loss at the first promotion after the fault.
	Failover *FailoverLoss `json:"failover,omitempty"`
}

// FailoverLoss is what a failover lost, apart from what split brain wrote.
type FailoverLoss struct {
	PromotionMs float64 `json:"promotion_ms"`
	// ReplicationLostWrites were acknowledged before the promotion and
	// never reached the promoted region: the RPO AWS talks about.
	ReplicationLostWrites int     `json:"replication_lost_writes"`
	ReplicationLossMs     float64 `json:"replication_loss_ms"`
	// SplitBrainLostWrites were acknowledged at or after the promotion by
	// a server that was no longer the primary.
	SplitBrainLostWrites int `json:"split_brain_lost_writes"`
}

// RTO is the recovery-time measurement.
type RTO struct {
	Judged bool `json:"judged"`
	// Affected is false when no write invoked after the fault failed.
	Affected  bool    `json:"affected"`
	Recovered bool    `json:"recovered"`
	Ms        float64 `json:"ms"`
	// OutageStartMs is when the outage began, from the fault: the invoke
	// of the first write after it that did not succeed.
	OutageStartMs *float64 `json:"outage_start_ms,omitempty"`
	ResolutionMs  float64  `json:"resolution_ms"`
	WindowMs      float64  `json:"stability_window_ms"`
	FirstFail     *Write   `json:"first_fail,omitempty"`
	LastFail      *Write   `json:"last_fail,omitempty"`
	DetectMs      *float64 `json:"detect_ms,omitempty"`
	PromoteMs     *float64 `json:"promote_ms,omitempty"`
	FailedWrites  int      `json:"failed_writes"`
}

// Percentiles summarise samples. Each figure's Err is its error bound: the
// figure of the true values lies within ± Err of it.
type Percentiles struct {
	N      int     `json:"n"`
	P50    float64 `json:"p50_ms"`
	P95    float64 `json:"p95_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	P50Err float64 `json:"p50_err_ms,omitempty"`
	P95Err float64 `json:"p95_err_ms,omitempty"`
	P99Err float64 `json:"p99_err_ms,omitempty"`
	MaxErr float64 `json:"max_err_ms,omitempty"`
}

// Result is everything the checker found.
type Result struct {
	Ops struct {
		Total int `json:"total"`
		OK    int `json:"ok"`
		Fail  int `json:"fail"`
		Info  int `json:"info"`
	} `json:"ops"`
	FaultMs      *float64 `json:"fault_ms,omitempty"`
	RollbackMs   *float64 `json:"rollback_ms,omitempty"`
	FailoverMs   *float64 `json:"failover_ms,omitempty"`
	FinalPrimary string   `json:"final_primary,omitempty"`
	// Observed: the history was recorded by `drdrill observe`; its fault
	// timeline is its first disruption window's.
	Observed bool `json:"observed,omitempty"`
	// Windows are the history's disruption windows, each measured.
	Windows []Window `json:"windows,omitempty"`

	RPO RPO `json:"rpo"`
	RTO RTO `json:"rto"`
	// InfoApplied / InfoNotApplied resolve the unknown writes against the primary.
	InfoApplied    int `json:"info_applied"`
	InfoNotApplied int `json:"info_not_applied"`
	// FailedButApplied counts fail writes the final primary holds: each is
	// a refusal that was not one.
	FailedButApplied int `json:"failed_but_applied"`
	// Zombies are writes committed by a server that was not the primary
	// at the time: writes a fenced old primary must never accept.
	Zombies     []RowRef `json:"zombies,omitempty"`
	ZombieCount int      `json:"zombie_count"`
	// ZombiesJudged is false when the history cannot tell which server was
	// the primary when (no primary identity or promotions without ids, a
	// promotion missing, an incomplete final read or controller events).
	ZombiesJudged bool `json:"zombies_judged"`
	// Divergent counts, per region, rows there that the final primary lacks.
	Divergent map[string]int `json:"divergent"`
	// Missing counts, per region, rows of the final primary that region lacks.
	Missing         map[string]int `json:"missing"`
	DuplicateOps    int            `json:"duplicate_ops"`
	DuplicateRows   int            `json:"duplicate_rows"`
	Unexpected      []RowRef       `json:"unexpected,omitempty"`
	UnexpectedCount int            `json:"unexpected_count"`
	// ReprotectMs is the time from the fault until every other region was
	// in sync with the primary after the last promotion.
	ReprotectMs *float64 `json:"reprotect_ms,omitempty"`
	// Lag is per series (region) and per phase: steady (no fault), before,
	// during, after; percentiles weighted by time.
	Lag map[string]map[string]Percentiles `json:"lag"`
	// LagResolutionMs is the coarsest series' sampling interval; each
	// series' own is in LagResolutionByRegion (the heartbeat readers'
	// interval on the lab, the CloudWatch period for aws:<region>).
	LagResolutionMs       float64            `json:"lag_resolution_ms"`
	LagResolutionByRegion map[string]float64 `json:"lag_resolution_by_region,omitempty"`
	// AckedPerSecond is the achieved rate of acknowledged writes per phase
	// (steady, or before, during, after the fault).
	AckedPerSecond map[string]float64 `json:"acked_per_s,omitempty"`
	// Hypothesis checks AWS's failover hypothesis on this run: the data
	// lost before the promotion spans no more time than the promoted
	// region's last replication-lag reading before the fault showed.
	Hypothesis *Hypothesis `json:"rpo_lag_hypothesis,omitempty"`
	// Reads is what the readers in every region saw across the event.
	Reads Reads `json:"reads"`
	// NotJudged says, per measure key, why the history cannot judge it.
	NotJudged map[string]string `json:"not_judged,omitempty"`
	// VisibilitySamples (with Config.KeepVisibility) are, per region, each
	// acknowledged write's visibility latency at its acknowledgement time.
	VisibilitySamples map[string][]history.LagSample `json:"-"`
	Notes             []string                       `json:"notes,omitempty"`
}

// Hypothesis is the RPO-vs-lag check of one failover.
type Hypothesis struct {
	// Region is the promoted region, whose lag is read.
	Region string `json:"region"`
	// Series is the lag series used (the region's heartbeat, or
	// aws:<region> for AuroraGlobalDBRPOLag where the history has it).
	Series string `json:"series"`
	// LostSpanMs is the replication loss: writes lost that were
	// acknowledged before the promotion.
	LostSpanMs   float64 `json:"lost_span_ms"`
	LastLagMs    float64 `json:"last_lag_ms"`
	LagAgeMs     float64 `json:"lag_age_ms"`
	ToleranceMs  float64 `json:"tolerance_ms"`
	Consistent   bool    `json:"consistent"`
	UnderByMs    float64 `json:"under_reported_by_ms,omitempty"`
	Verdict      string  `json:"verdict"`
	NoLagReading bool    `json:"no_lag_reading,omitempty"`
}

// Reads is what the readers saw across the DR event: Jepsen's set-full
// questions asked of every region.
type Reads struct {
	// Judged is false when the history has no reads (an older history).
	Judged bool `json:"judged"`
	Total  int  `json:"total"`
	Failed int  `json:"failed"`
	// ResolutionMs is, per region, the achieved spacing of reads (the
	// median gap between their invokes).
	ResolutionMs map[string]float64 `json:"resolution_ms,omitempty"`
	// Visibility is, per region and per phase of the acknowledgement, the
	// time from a write's acknowledgement to its first read there: the
	// midpoint of what the reads bound it to, with error bounds.
	Visibility map[string]map[string]Percentiles `json:"visibility,omitempty"`
	// NotSeenIn counts, per region, acknowledged writes its reads never
	// returned though one asked after the acknowledgement, and that the
	// region's final read lacks too.
	NotSeenIn map[string]int `json:"not_seen_in,omitempty"`
	// NeverSeen counts acknowledged writes no read returned that were not
	// seen in some region.
	NeverSeen int `json:"never_seen"`
	// Vanished counts keys a reader saw that a later read of the same
	// region (which asked for them) or the final read of the primary lacks.
	Vanished         int            `json:"vanished"`
	VanishedExamples []VanishedRead `json:"vanished_examples,omitempty"`
	// StaleAfterPromotion counts reads served in a region that had lost the
	// primary role — after another region's promotion and before this one
	// rejoined — that lacked a write acknowledged before the read began.
	StaleAfterPromotion int         `json:"stale_after_promotion"`
	StaleJudged         bool        `json:"stale_judged"`
	StaleMaxBehindMs    float64     `json:"stale_max_behind_ms,omitempty"`
	StaleExamples       []StaleRead `json:"stale_examples,omitempty"`
}

// VanishedRead is a write a reader saw that was later gone.
type VanishedRead struct {
	Region string  `json:"region"` // where it was seen
	Writer int     `json:"writer"`
	Seq    int64   `json:"seq"`
	Acked  bool    `json:"acked"`
	SeenMs float64 `json:"seen_ms"`
	// GoneFrom is a region whose later read lacked it, or "final:<region>"
	// for the final read of the primary.
	GoneFrom string  `json:"gone_from"`
	GoneMs   float64 `json:"gone_ms"`
}

// StaleRead is a read a demoted region served without writes that were
// already acknowledged.
type StaleRead struct {
	Region   string  `json:"region"`
	ServerID uint32  `json:"server_id"`
	InvokeMs float64 `json:"invoke_ms"`
	Missing  int     `json:"missing_acked_writes"`
	// BehindMs is how long before the read the oldest write it lacked was acknowledged.
	BehindMs float64 `json:"behind_ms"`
}

// Summary is a one-line account, for logs.
func (r Result) Summary() string {
	s := fmt.Sprintf("ops %d (ok %d, fail %d, info %d)", r.Ops.Total, r.Ops.OK, r.Ops.Fail, r.Ops.Info)
	if r.RPO.Judged {
		s += fmt.Sprintf("; lost %d acknowledged writes spanning %.1f ms (±%.1f)", r.RPO.LostWrites, r.RPO.SpanMs, r.RPO.ResolutionMs)
	} else if r.RPO.NotJudged != "" {
		s += "; RPO not judged: " + r.RPO.NotJudged
	}
	if r.RTO.Judged {
		if r.RTO.Recovered {
			s += fmt.Sprintf("; RTO %.0f ms (±%.1f)", r.RTO.Ms, r.RTO.ResolutionMs)
		} else {
			s += "; NOT recovered"
		}
	}
	if r.ZombieCount > 0 {
		s += fmt.Sprintf("; %d zombie writes", r.ZombieCount)
	}
	return s
}

// ReadsSummary is a one-line account of the reads.
func (r Reads) Summary() string {
	if !r.Judged {
		return "no reads recorded"
	}
	return fmt.Sprintf("%d reads (%d failed); %d vanished, %d stale after promotion, %d acknowledged writes never seen", r.Total, r.Failed, r.Vanished, r.StaleAfterPromotion, r.NeverSeen)
}
