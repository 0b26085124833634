package lifecycle

import (
	"slices"
	"testing"
	"time"
)

// TestTailFrom: TailFrom(t, n) is Tail(n) less its samples before t, for
// every t (before, at and between the samples, and after the last) and n,
// once the ring has wrapped.
func TestTailFrom(t *testing.T) {
	h := NewHistory(7)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 11 {
		h.Append(Sample{Time: t0.Add(time.Duration(2*i) * time.Minute), Values: []float64{float64(i)}})
	}
	for n := 0; n <= 9; n++ {
		for m := 0; m <= 24; m++ {
			at := t0.Add(time.Duration(m) * time.Minute)
			var want []time.Time
			for _, s := range h.Tail(n) {
				if !s.Time.Before(at) {
					want = append(want, s.Time)
				}
			}
			var got []time.Time
			for _, s := range h.TailFrom(at, n) {
				got = append(got, s.Time)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("TailFrom(+%d min, %d): %v, want %v", m, n, got, want)
			}
		}
	}
}
