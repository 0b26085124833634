package features

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestLowerBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for n := 0; n < 40; n++ {
		for trial := 0; trial < 200; trial++ {
			s := make([]float64, n)
			for i := range s {
				s[i] = float64(rng.IntN(10))
			}
			slices.Sort(s)
			x := float64(rng.IntN(12)) - 1
			want, _ := slices.BinarySearch(s, x)
			if got := lowerBound(s, x); got != want {
				t.Fatalf("lowerBound(%v, %v) = %d, want %d", s, x, got, want)
			}
		}
	}
}

// TestRollWindowLarge checks a long window (the memmove path at w = 500)
// and the trend against direct recomputation, on heavy-tailed data with
// ties and level shifts.
func TestRollWindowLarge(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	const w = 500
	r := newRollWindow(w)
	tr := newTrendWindow(w)
	var vals []float64
	out := make([]float32, rollStats)
	level := 0.0
	for i := 0; i < 6000; i++ {
		switch rng.IntN(100) {
		case 0:
			level += rng.NormFloat64() * 1e4
		case 1:
			vals = append(vals, level+1e6) // an outlier
			goto push
		}
		vals = append(vals, level+math.Round(rng.NormFloat64()*4)/2)
	push:
		x := vals[len(vals)-1]
		r.push(x)
		tr.push(x)
		if i%7 != 0 {
			continue
		}
		win := vals[max(0, len(vals)-w):]
		r.stats(out)
		want := naiveRolling(win)
		for k := range out {
			tol := 1e-6 * (1 + math.Abs(want[k]))
			if k < 2 {
				tol = 1e-6 * (math.Abs(want[k]) + want[3] - want[2])
			}
			if math.Abs(float64(out[k])-float64(float32(want[k]))) > tol {
				t.Fatalf("push %d: %s = %v, want %v", i, rollStatNames[k], out[k], want[k])
			}
		}
		if got, want := tr.slope(), naiveSlope(win); math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
			t.Fatalf("push %d: slope %v, want %v", i, got, want)
		}
	}
}
