package check

import "testing"

func TestNearestRankPercentile(t *testing.T) {
	v := []float64{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}
	for q, want := range map[float64]float64{50: 50, 90: 90, 95: 100, 99: 100, 10: 10, 0: 10} {
		if got := Percentile(v, q); got != want {
			t.Errorf("p%g of 10..100 = %g, want %g", q, got, want)
		}
	}
}
