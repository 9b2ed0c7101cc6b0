package scenario

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/drdrill/drdrill/internal/history"
	"github.com/drdrill/drdrill/internal/target"
)

// The platform's own measurements land in the same history: lag as its own
// series, alarm and health states as events, on the history's clock.
func TestObservationsAreRecordedInTheHistory(t *testing.T) {
	p := filepath.Join(t.TempDir(), HistoryFile)
	rec, err := history.Create(p, history.Meta{Run: "t"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	s := &Scenario{rec: rec}
	s.recordObservations([]target.Observation{
		{Kind: "lag_ms", Region: "us-west-2", Name: "AuroraGlobalDBRPOLag", Value: 420, TimeNs: now},
		// The previous scenario's datapoint (a twin drill judged 9.7 s of
		// "before" lag from one): not this scenario's.
		{Kind: "lag_ms", Region: "us-west-2", Name: "AuroraGlobalDBRPOLag", Value: 9716, TimeNs: now - int64(time.Hour)},
		{Kind: "alarm", Name: "drdrill-x-replication-lag-secondary", State: "ALARM", TimeNs: now},
		{Kind: "health_check", Name: "hc-1", State: "Healthy", Value: 1, TimeNs: now},
	})
	rec.Close()
	h, err := history.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Lag) != 1 || h.Lag[0].Region != "aws:us-west-2" || h.Lag[0].Ms != 420 || h.Lag[0].At != h.Meta.WallToRel(now) {
		t.Fatalf("lag %+v", h.Lag)
	}
	if len(h.Events) != 2 || h.Events[0].Source != "aws" || h.Events[0].Kind != "alarm" || h.Events[1].Kind != "health_check" {
		t.Fatalf("events %+v", h.Events)
	}
}
