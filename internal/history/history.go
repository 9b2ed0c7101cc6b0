// Package history records a drill as it happens — every write, lag sample,
// fault and control-plane event — in an append-only JSON Lines file, and
// reads it back for checking. Like a Jepsen history, it is the evidence:
// checks are pure functions over it, so a run can be re-evaluated later.
package history

import (
	"time"
)

// Outcome is a Jepsen outcome.
type Outcome uint8

const (
	// OK: acknowledged by the database; the write must survive.
	OK Outcome = iota + 1
	// Fail: certainly not applied (refused before sending, or an error reply).
	Fail
	// Info: unknown (timeout or connection lost after sending).
	Info
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Fail:
		return "fail"
	case Info:
		return "info"
	}
	return "?"
}

// ParseOutcome is the inverse of String.
func ParseOutcome(s string) (Outcome, bool) {
	switch s {
	case "ok":
		return OK, true
	case "fail":
		return Fail, true
	case "info":
		return Info, true
	}
	return 0, false
}

// Op is one write: a unique (Writer, Seq) row. Times are nanoseconds since
// the history started, on the monotonic clock.
type Op struct {
	Writer   int     `json:"w"`
	Seq      int64   `json:"s"`
	Invoke   int64   `json:"i"`
	Complete int64   `json:"c"`
	Outcome  Outcome `json:"-"`
	Err      string  `json:"e,omitempty"`
}

// LagSample is one replication-lag measurement in a region (or another
// series, such as aws:<region>). Ms is the figure; Err, when the source
// states it, is its error bound: the lag lay within Ms ± Err. A sample
// without one is judged at its series' resolution.
type LagSample struct {
	Region string  `json:"region"`
	At     int64   `json:"at"`
	Ms     float64 `json:"ms"`
	Err    float64 `json:"err,omitempty"`
}

// Event is a fault or control-plane event. Source is "fault" (the harness
// injected it), "ledger" (a fault someone else injected through drdrill,
// as the fault ledger showed it to `drdrill observe`), "controller" (the
// target's own events), "aws" (the platform's observations) or "harness";
// Kind is e.g. inject, rollback, detect, promote, fence.
type Event struct {
	At     int64  `json:"at"`
	Source string `json:"source"`
	Kind   string `json:"kind"`
	Region string `json:"region,omitempty"`
	Fault  string `json:"fault,omitempty"`
	ID     string `json:"id,omitempty"`
	Detail string `json:"detail,omitempty"`
	// ServerID on a controller promote event is the new primary's server id.
	ServerID uint32 `json:"server_id,omitempty"`
}

// Row is a surviving row read from a region at the end of a scenario.
type Row struct {
	Writer      int
	Seq         int64
	Origin      uint32 // server_id (or instance id) that accepted the write
	CommittedAt int64  // on the history's clock, converted from the server's wall time
}

// RowSet is the final read of one region.
type RowSet struct {
	Region   string `json:"region"`
	Role     string `json:"role"`
	ServerID uint32 `json:"server_id"`
	At       int64  `json:"at"`
	Rows     []Row  `json:"-"`
	// Whole says, for a set read back, whether the history holds all of
	// it (its end marker, or for a version 1 history what the order of the
	// lines shows).
	Whole Part `json:"-"`
}

// Part says whether a section of a history is all there.
type Part struct {
	Complete bool
	// Why says what is missing when it is not.
	Why string
}

// Completeness is what a history holds of each of its sections. A measure
// that depends on a section that is not complete is not judged.
type Completeness struct {
	// Traffic: every operation, read and lag sample the recorder wrote.
	Traffic Part
	// FinalRead: every region was read, skipped or failed, and recorded.
	FinalRead Part
	// ControllerEvents: the target's control-plane events, all of them.
	ControllerEvents Part
	// Inferred: a version 1 history, whose completeness is inferred from
	// the order of its lines rather than recorded.
	Inferred bool
}

// Sections the recorder marks the end of.
const (
	SectionTraffic          = "traffic"
	SectionRows             = "rows"
	SectionFinalRead        = "final-read"
	SectionControllerEvents = "controller-events"
)

// SectionEnd is the marker the recorder writes when a section is whole,
// with what it holds.
type SectionEnd struct {
	Section string `json:"section"`
	Region  string `json:"region,omitempty"`
	At      int64  `json:"at"`
	// Count: rows in a region's final read, regions read in the final read,
	// controller events.
	Count int `json:"count"`
	// Ops, Reads and Lag are what the traffic section holds.
	Ops   int `json:"ops,omitempty"`
	Reads int `json:"reads,omitempty"`
	Lag   int `json:"lag,omitempty"`
	// Err: the section could not be had (the target's events unavailable).
	Err string `json:"error,omitempty"`
}

// RowsChunk is how many rows one rows line holds at most.
const RowsChunk = 20000

// Meta is the first line of a history.
type Meta struct {
	Version   int     `json:"version"`
	Run       string  `json:"run"`
	Scenario  string  `json:"scenario"`
	Target    string  `json:"target"`
	StartWall int64   `json:"start_wall_ns"`
	RateHz    float64 `json:"rate_hz"`
	Writers   int     `json:"writers"`
	// PrimaryServerID is the primary's server id when the history started.
	PrimaryServerID uint32 `json:"primary_server_id,omitempty"`
	// PrimaryRegion is the primary's region when the history started.
	PrimaryRegion string `json:"primary_region,omitempty"`
	// Regions are the stack's regions (version 2).
	Regions []string `json:"regions,omitempty"`
	// ReadIntervalMs is the readers' scheduled interval per region.
	ReadIntervalMs float64           `json:"read_interval_ms,omitempty"`
	Labels         map[string]string `json:"labels,omitempty"`
	// Observed: recorded by `drdrill observe`, which injects nothing; its
	// disruption windows come from every source the history holds — the
	// fault ledger, the control plane, failed writes — not only from
	// faults the harness injected (docs/measures.md, "Disruption windows").
	Observed bool `json:"observed,omitempty"`
	// LagResolutionMs is each lag series' resolution as its source states
	// it: the heartbeat readers' sampling interval for a region, the
	// CloudWatch period for aws:<region>. Series without one are judged by
	// their median sample spacing.
	LagResolutionMs map[string]float64 `json:"lag_resolution_ms,omitempty"`
}

// Version is the history format version. Version 2 added the section end
// markers, the regions and the lag samples' error bounds; version 1
// histories are still read.
const Version = 2

// History is a history read back from disk.
type History struct {
	Meta   Meta
	Ops    []Op
	Lag    []LagSample
	Events []Event
	Rows   []RowSet
	// Reads are the readers' reads, in the order they completed.
	Reads []ReadOp
	// arena holds every set's rows while reading; setStart is where the
	// set being read starts in it.
	arena    []Row
	setStart int
	// ints holds the reads' ranges; names the region names, one string each.
	ints  []int64
	names []string
	// While reading: the line being parsed, the last one parsed, and
	// where each row set's last chunk was (for a version 1 history's
	// completeness).
	lineNo, lastParsed int
	setLines           []setLines
	// Ends are the section end markers, in the order written.
	Ends []SectionEnd
	// Complete says which sections the history holds whole.
	Complete Completeness
	// Torn is set when the last line was cut off (the writer crashed mid-line);
	// TornNote says so in words.
	Torn     bool
	TornNote string
}

// WallToRel converts a wall-clock time (ns) to the history's clock.
func (m Meta) WallToRel(wallNs int64) int64 { return wallNs - m.StartWall }

// Duration converts a history time to a duration since the start.
func Duration(ns int64) time.Duration { return time.Duration(ns) }

// ReadOp is one read of the recent part of the written set through a
// region's endpoint, with what it returned. Like Jepsen's set-full reads,
// reads are what visibility, vanished and stale reads are judged from.
type ReadOp struct {
	Region string `json:"g"`
	// ServerID is the server that answered (0 when the read failed).
	ServerID uint32  `json:"sid,omitempty"`
	Invoke   int64   `json:"i"`
	Complete int64   `json:"c"`
	Outcome  Outcome `json:"-"`
	Err      string  `json:"e,omitempty"`
	// Asked is what the read covered: (writer, from, to) triples, to = 0
	// meaning no upper bound. A row in an asked range that the read did
	// not return was not there when the server took its snapshot.
	Asked []int64 `json:"q"`
	// Saw is what it returned: (writer, from, to) triples of consecutive seqs.
	Saw []int64 `json:"v"`
}

// Covers reports whether the read asked for (writer, seq).
func (r *ReadOp) Covers(writer int, seq int64) bool {
	for i := 0; i+2 < len(r.Asked); i += 3 {
		if r.Asked[i] == int64(writer) && seq >= r.Asked[i+1] && (r.Asked[i+2] == 0 || seq <= r.Asked[i+2]) {
			return true
		}
	}
	return false
}

// Has reports whether the read returned (writer, seq).
func (r *ReadOp) Has(writer int, seq int64) bool {
	for i := 0; i+2 < len(r.Saw); i += 3 {
		if r.Saw[i] == int64(writer) && seq >= r.Saw[i+1] && seq <= r.Saw[i+2] {
			return true
		}
	}
	return false
}
