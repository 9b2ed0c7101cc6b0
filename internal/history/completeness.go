package history

import "fmt"

// setLines is where a row set's last chunk was in the file.
type setLines struct {
	last      int // its line number
	lastChunk int // the rows it held
}

// assess fills Complete and each row set's Whole: from the section end
// markers in a version 2 history, from the order of the lines in a
// version 1 one (docs/measures.md, "The history and its completeness").
func (h *History) assess() {
	if h.Meta.Version == 1 {
		h.assessV1()
		return
	}
	c := &h.Complete
	c.Traffic = Part{Why: "the history ends before the traffic stopped (no traffic end marker)"}
	c.FinalRead = Part{Why: "the history ends before every region's final read was recorded (no final-read end marker)"}
	c.ControllerEvents = Part{Why: "the history ends before the controller events were recorded (no controller-events end marker)"}
	controller := 0
	for _, e := range h.Events {
		if e.Source == "controller" {
			controller++
		}
	}
	for i := range h.Rows {
		h.Rows[i].Whole = Part{Why: fmt.Sprintf("the final read of %s has no end marker: the recorder stopped after %d of its rows", h.Rows[i].Region, len(h.Rows[i].Rows))}
	}
	for _, e := range h.Ends {
		switch e.Section {
		case SectionTraffic:
			switch {
			case e.Ops != len(h.Ops):
				c.Traffic = Part{Why: fmt.Sprintf("the history holds %d of the %d operations its recorder wrote", len(h.Ops), e.Ops)}
			case e.Reads != len(h.Reads):
				c.Traffic = Part{Why: fmt.Sprintf("the history holds %d of the %d reads its recorder wrote", len(h.Reads), e.Reads)}
			case e.Lag != len(h.Lag):
				c.Traffic = Part{Why: fmt.Sprintf("the history holds %d of the %d lag samples its recorder wrote", len(h.Lag), e.Lag)}
			default:
				c.Traffic = Part{Complete: true}
			}
		case SectionRows:
			for i := len(h.Rows) - 1; i >= 0; i-- {
				rs := &h.Rows[i]
				if rs.Region != e.Region || rs.At != e.At {
					continue
				}
				if len(rs.Rows) != e.Count {
					rs.Whole = Part{Why: fmt.Sprintf("the final read of %s holds %d of the %d rows its recorder wrote", rs.Region, len(rs.Rows), e.Count)}
				} else {
					rs.Whole = Part{Complete: true}
				}
				break
			}
		case SectionFinalRead:
			c.FinalRead = Part{Complete: true}
		case SectionControllerEvents:
			switch {
			case e.Err != "":
				c.ControllerEvents = Part{Why: "the target's controller events were unavailable: " + e.Err}
			case e.Count != controller:
				c.ControllerEvents = Part{Why: fmt.Sprintf("the history holds %d of the %d controller events its recorder wrote", controller, e.Count)}
			default:
				c.ControllerEvents = Part{Complete: true}
			}
		}
	}
}

// assessV1 infers a version 1 history's completeness from what its
// recorder wrote in order: the traffic, each region's final read in chunks
// of RowsChunk rows, the rollbacks, the controller events at once.
func (h *History) assessV1() {
	c := &h.Complete
	c.Inferred = true
	c.Traffic = Part{Why: "the version 1 history ends before its final read (it was cut off during the traffic)"}
	if len(h.Rows) > 0 {
		c.Traffic = Part{Complete: true}
	}
	for _, e := range h.Events {
		if e.Source == "harness" && (e.Kind == "final-read-skipped" || e.Kind == "final-read-failed") {
			c.Traffic = Part{Complete: true}
		}
	}
	for i := range h.Rows {
		rs := &h.Rows[i]
		at := h.setLines[i]
		if at.last < h.lastParsed || at.lastChunk < RowsChunk {
			rs.Whole = Part{Complete: true}
		} else {
			rs.Whole = Part{Why: fmt.Sprintf("the version 1 history ends with a full chunk of the final read of %s (%d rows): it may have been cut there", rs.Region, len(rs.Rows))}
		}
	}
	c.FinalRead = Part{Complete: true}
	c.ControllerEvents = Part{Complete: true}
	if h.Torn {
		c.ControllerEvents = Part{Why: "the version 1 history is torn, and its controller events were written last"}
	}
}

// AssumeWhole marks every section of a history built in memory (a test's,
// a tool's) as whole, as the recorder's end markers would in a file. A
// history read from a file gets its completeness from the file instead.
func (h *History) AssumeWhole() *History {
	h.Complete = Completeness{Traffic: Part{Complete: true}, FinalRead: Part{Complete: true}, ControllerEvents: Part{Complete: true}}
	for i := range h.Rows {
		h.Rows[i].Whole = Part{Complete: true}
	}
	return h
}
