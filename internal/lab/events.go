package lab

import (
	"encoding/json"
	"os"
	"sync"
	"time"
)

// Event is something the lab's control plane did or saw: detect, promote,
// fence, rejoin, reseed, writer-switch, alarm. Times are wall-clock
// nanoseconds so that other processes (the harness) can line them up with
// their own history.
type Event struct {
	Seq    int    `json:"seq"`
	TimeNs int64  `json:"time_ns"`
	Kind   string `json:"kind"`
	Region string `json:"region,omitempty"`
	Detail string `json:"detail,omitempty"`
	// ServerID is set on promote events: the new primary's server_id, which
	// lets a checker tell legitimate writes from zombie writes.
	ServerID uint32 `json:"server_id,omitempty"`
}

// EventLog keeps events in memory and appends them to a JSON Lines file.
type EventLog struct {
	mu     sync.Mutex
	events []Event
	f      *os.File
}

// OpenEventLog appends to path (created if missing).
func OpenEventLog(path string) (*EventLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &EventLog{f: f}, nil
}

// Add records an event and returns it.
func (l *EventLog) Add(kind, region, detail string) Event {
	return l.AddEvent(Event{Kind: kind, Region: region, Detail: detail})
}

// AddEvent records an event with every field; Seq is set here, and TimeNs
// too unless the caller stamped the moment the event took effect.
func (l *EventLog) AddEvent(e Event) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	e.Seq = len(l.events) + 1
	if e.TimeNs == 0 {
		e.TimeNs = time.Now().UnixNano()
	}
	l.events = append(l.events, e)
	if l.f != nil {
		b, _ := json.Marshal(e)
		_, _ = l.f.Write(append(b, '\n'))
	}
	return e
}

// Since returns the events with Seq > after.
func (l *EventLog) Since(after int) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if after < 0 {
		after = 0
	}
	if after >= len(l.events) {
		return []Event{}
	}
	return append([]Event(nil), l.events[after:]...)
}

// Close closes the file.
func (l *EventLog) Close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}
