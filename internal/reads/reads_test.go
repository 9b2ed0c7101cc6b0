package reads

import (
	"reflect"
	"testing"

	"github.com/drdrill/drdrill/internal/history"
)

type fakeSource struct {
	frontier int64
	out      map[int64]history.Outcome
}

func (f *fakeSource) Writers() (int, int)                    { return 7, 1 }
func (f *fakeSource) Frontier(int) int64                     { return f.frontier }
func (f *fakeSource) Outcome(_ int, s int64) history.Outcome { return f.out[s] }
func (f *fakeSource) PerWriterRate() float64                 { return 100 }

// A reader keeps asking for acknowledged and in-flight writes it has not
// seen, drops failed and unknown ones, and re-reads a tail below the
// highest seq it saw.
func TestReaderAsksForWhatItHasNotSeen(t *testing.T) {
	src := &fakeSource{frontier: 10, out: map[int64]history.Outcome{}}
	for s := int64(1); s <= 10; s++ {
		src.out[s] = history.OK
	}
	src.out[4], src.out[6] = history.Fail, history.Info
	src.out[10] = 0                                                                        // in flight
	r := newRegionReader("us-west-2", nil, src, nil, Config{Tail: 20e6, MaxRanges: 32}, 1) // tail: 2 writes
	if got := r.asked([]int64{10}); !reflect.DeepEqual(got, []int64{7, 1, 0}) {
		t.Fatalf("first read asks %v, want everything of writer 7", got)
	}
	// The region returns 1, 2 and 5 (3 and 7..10 lag behind).
	r.settle(0, 7, 10, []int64{1, 2, 5})
	if want := []int64{3, 7, 8, 9, 10}; !reflect.DeepEqual(r.writer[0].unseen, want) {
		t.Fatalf("unseen %v, want %v (4 failed, 6 unknown)", r.writer[0].unseen, want)
	}
	// Tail from 5-2+1 = 4: asks 3 on its own, then 4 onwards.
	if got := r.asked([]int64{12}); !reflect.DeepEqual(got, []int64{7, 3, 3, 7, 4, 0}) {
		t.Fatalf("second read asks %v", got)
	}
	src.frontier, src.out[10], src.out[11], src.out[12] = 12, history.Fail, history.OK, history.OK
	r.settle(0, 7, 12, []int64{5, 7, 8, 9, 11, 12})
	if want := []int64{3}; !reflect.DeepEqual(r.writer[0].unseen, want) {
		t.Fatalf("unseen %v, want %v", r.writer[0].unseen, want)
	}
	if got := r.asked([]int64{12}); !reflect.DeepEqual(got, []int64{7, 3, 3, 7, 11, 0}) {
		t.Fatalf("third read asks %v", got)
	}
}

func TestRangesMergeWhenThereAreTooMany(t *testing.T) {
	rs := ranges([]int64{1, 2, 3, 10, 12, 13, 40}, 41)
	if want := []int64{1, 3, 10, 10, 12, 13, 40, 40}; !reflect.DeepEqual(rs, want) {
		t.Fatalf("ranges %v, want %v", rs, want)
	}
	if got, want := mergeClosest(rs), []int64{1, 3, 10, 13, 40, 40}; !reflect.DeepEqual(got, want) {
		t.Fatalf("merged %v, want %v", got, want)
	}
	if q := query([]int64{7, 3, 5, 7, 9, 0}); q != "SELECT -1, @@server_id UNION ALL SELECT writer, seq FROM writes WHERE (writer = 7 AND seq BETWEEN 3 AND 5) OR (writer = 7 AND seq >= 9)" {
		t.Fatalf("query %q", q)
	}
	if got := appendRuns(nil, 7, []int64{1, 2, 3, 5, 7, 8}); !reflect.DeepEqual(got, []int64{7, 1, 3, 7, 5, 5, 7, 7, 8}) {
		t.Fatalf("runs %v", got)
	}
}
