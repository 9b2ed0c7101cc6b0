package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

// recordCrash writes a history of 30,000 acknowledged writes, every one on
// the primary, its final read chunked in two lines.
func recordCrash(t *testing.T, version1 bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "h.jsonl")
	rec, err := history.Create(p, history.Meta{RateHz: 1000, Writers: 1, PrimaryServerID: 1})
	if err != nil {
		t.Fatal(err)
	}
	var rows []history.Row
	for s := int64(1); s <= 30000; s++ {
		rec.Op(history.Op{Writer: 1, Seq: s, Invoke: s * 1000, Complete: s*1000 + 10, Outcome: history.OK})
		rows = append(rows, history.Row{Writer: 1, Seq: s, Origin: 1, CommittedAt: s * 1000})
	}
	rec.EndTraffic()
	if err := rec.Rows(history.RowSet{Region: "us-east-1", Role: "primary", ServerID: 1, Rows: rows}); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	if version1 {
		b, _ := os.ReadFile(p)
		var keep []string
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if !strings.HasPrefix(l, `{"t":"end"`) {
				keep = append(keep, l)
			}
		}
		out := strings.Replace(strings.Join(keep, ""), `"version":2`, `"version":1`, 1)
		os.WriteFile(p, []byte(out), 0o644)
	}
	return p
}

// cutAfterLine keeps the file's lines up to and including the first that
// starts with prefix and contains what.
func cutAfterLine(t *testing.T, p, prefix, what string) {
	t.Helper()
	b, _ := os.ReadFile(p)
	lines := strings.SplitAfter(string(b), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, what) {
			os.WriteFile(p, []byte(strings.Join(lines[:i+1], "")), 0o644)
			return
		}
	}
	t.Fatalf("no line %s…%s in %s", prefix, what, p)
}

// #23 item 4: the final read of the primary cut after its first chunk (a
// kill mid-read) is not judged as the whole primary: before, its missing
// 10,000 rows were 10,000 lost writes.
func TestTornFinalReadIsNotJudged(t *testing.T) {
	for _, v1 := range []bool{false, true} {
		p := recordCrash(t, v1)
		cutAfterLine(t, p, `{"t":"rows"`, `"rows":[[1,1,`)
		h, err := history.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		r := Check(h, Config{})
		if r.RPO.Judged || !strings.Contains(r.RPO.NotJudged, "final read of us-east-1") {
			t.Fatalf("version 1 %v: a final read cut after 20,000 of its 30,000 rows was judged: %d lost writes (%q)", v1, r.RPO.LostWrites, r.RPO.NotJudged)
		}
		if v := measure(r, "rpo_ms"); !v.Applies || v.Judged || v.Why == "" {
			t.Fatalf("rpo_ms %+v: want not judged, with the reason", v)
		}
	}
	// Whole, both versions are judged: nothing lost.
	for _, v1 := range []bool{false, true} {
		h, err := history.ReadFile(recordCrash(t, v1))
		if err != nil {
			t.Fatal(err)
		}
		if r := Check(h, Config{}); !r.RPO.Judged || r.RPO.LostWrites != 0 {
			t.Fatalf("version 1 %v: whole history: %s", v1, r.Summary())
		}
	}
}

// #23 item 4: controller events never written (a kill before Finish).
// Before, every row of the new primary was a zombie and stale reads were
// 0, judged; the timeline's last server (10001) is not the final
// primary's (20001), nor its region, so neither is judged.
func TestMissingPromotionIsNotJudged(t *testing.T) {
	h := &history.History{Meta: history.Meta{RateHz: 200, PrimaryServerID: 10001, PrimaryRegion: "us-east-1"}, Ops: ops(20, 5, allOK),
		Events: []history.Event{ev(50, "fault", "inject")},
		Reads:  []history.ReadOp{read("us-east-1", 10001, 90, 91, 1, span(1, 10)...)},
		Rows:   []history.RowSet{{Region: "us-west-2", Role: "primary", ServerID: 20001, Rows: append(rows(10001, span(1, 10)...), rows(20001, span(11, 20)...)...)}}}
	r := Check(h.AssumeWhole(), Config{})
	if r.ZombiesJudged || !strings.Contains(r.NotJudged["zombie_writes"], "timeline names server 10001 at the final read but the final primary is server 20001") {
		t.Fatalf("zombies judged %v (%d): %q", r.ZombiesJudged, r.ZombieCount, r.NotJudged["zombie_writes"])
	}
	if r.Reads.StaleJudged || !strings.Contains(r.NotJudged["stale_reads_after_promotion"], "up to the final read end in us-east-1 but the final primary is us-west-2") {
		t.Fatalf("stale reads judged %v (%d): %q", r.Reads.StaleJudged, r.Reads.StaleAfterPromotion, r.NotJudged["stale_reads_after_promotion"])
	}
}

// A version 2 history without the controller events' end marker judges
// nothing that needs them; with the marker and the events, it does.
func TestControllerEventsNeedTheirEndMarker(t *testing.T) {
	p := filepath.Join(t.TempDir(), "h.jsonl")
	rec, _ := history.Create(p, history.Meta{RateHz: 200, PrimaryServerID: 10001, PrimaryRegion: "us-east-1"})
	for _, op := range ops(20, 5, allOK) {
		rec.Op(op)
	}
	rec.Event(history.Event{At: 50 * msNs, Source: "fault", Kind: "inject"})
	rec.EndTraffic()
	rec.Rows(history.RowSet{Region: "us-east-1", Role: "primary", ServerID: 10001, Rows: rows(10001, span(1, 20)...)})
	rec.EndFinalRead(1)
	rec.Event(history.Event{At: 60 * msNs, Source: "controller", Kind: "detect"})
	rec.Close()
	h, err := history.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	r := Check(h, Config{})
	for _, key := range []string{"detect_ms", "zombie_writes", "promote_ms", "reprotect_ms"} {
		if v := measure(r, key); !v.Applies || v.Judged || !strings.Contains(v.Why, "controller events") {
			t.Errorf("%s: %+v, want not judged for want of the controller events", key, v)
		}
	}
	if v := measure(r, "rpo_lost_writes"); !v.Judged || v.V != 0 {
		t.Errorf("rpo_lost_writes %+v: the final read is whole", v)
	}
}
