package baseline

import (
	"math"
	"math/rand/v2"
	"testing"
)

// handSeries has 20 steps: train 0..13 alternating 0, 2 (naive MAE 2),
// validation 14..16, test targets 17, 18, 19 = 10, 5, 0.
func handSeries() []float64 {
	y := make([]float64, 20)
	for i := range 14 {
		y[i] = float64(2 * (i % 2))
	}
	y[14], y[15], y[16] = 1, 1, 1
	y[17], y[18], y[19] = 10, 5, 0
	return y
}

func TestScoreIntervalsHandWorked(t *testing.T) {
	y := handSeries()
	lo := []float64{9, 6, -1}
	mid := []float64{10, 7, 0}
	hi := []float64{11, 8, 1}
	m, err := ScoreIntervals(y, lo, mid, hi)
	if err != nil {
		t.Fatal(err)
	}
	// 10 in [9,11], 5 below [6,8], 0 in [-1,1].
	if m.N != 3 || m.Hits != 2 || m.Coverage != 2.0/3 {
		t.Errorf("coverage %d/%d = %v, want 2/3", m.Hits, m.N, m.Coverage)
	}
	// Widths 2, 2, 2; the miss adds 2/0.2 * (6-5) = 10: (2+12+2)/3 / 2.
	if want := 8.0 / 3; math.Abs(m.Winkler-want) > 1e-12 {
		t.Errorf("winkler %v, want %v", m.Winkler, want)
	}
	// Pinball per target over q = .1,.5,.9: (0.1+0+0.1), (0.9+1+0.3),
	// (0.1+0+0.1); mean over quantiles and targets 2.6/9, over d = 2.
	if want := 1.3 / 9; math.Abs(m.Pinball-want) > 1e-12 {
		t.Errorf("pinball %v, want %v", m.Pinball, want)
	}
}

func TestWinklerAndPinball(t *testing.T) {
	for _, c := range []struct{ lo, hi, y, want float64 }{
		{0, 1, 0.5, 1},  // inside: the width
		{0, 1, 0, 1},    // on the edge counts as inside
		{0, 1, 3, 21},   // 1 + 10*2
		{0, 1, -0.5, 6}, // 1 + 10*0.5
		{2, 2, 2, 0},    // a point interval that is right
	} {
		if got := Winkler(0.2, c.lo, c.hi, c.y); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Winkler(0.2, %v, %v, %v) = %v, want %v", c.lo, c.hi, c.y, got, c.want)
		}
	}
	if got := Pinball(0.9, 1, 3); math.Abs(got-1.8) > 1e-12 {
		t.Errorf("pinball under-forecast %v, want 1.8", got)
	}
	if got := Pinball(0.9, 3, 1); math.Abs(got-0.2) > 1e-12 {
		t.Errorf("pinball over-forecast %v, want 0.2", got)
	}
}

func TestScoreIntervalsLengths(t *testing.T) {
	if _, err := ScoreIntervals(handSeries(), []float64{1}, []float64{1}, []float64{1}); err == nil {
		t.Fatal("1 forecast for 3 targets: no error")
	}
}

// On a Gaussian random walk persistence's residuals at h are i.i.d. in
// distribution across origins, so split-conformal intervals from the
// validation split cover about 80% of the test targets.
func TestConformalPersistenceCoversRandomWalk(t *testing.T) {
	hs := []int{1, 12}
	const seeds = 16
	hits, n := make([]int, len(hs)), make([]int, len(hs))
	meanLo := make([]float64, len(hs))
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 99))
		y := make([]float64, 4000)
		for i := 1; i < len(y); i++ {
			y[i] = y[i-1] + rng.NormFloat64()
		}
		s := Series{Name: "walk", Values: y}
		p := &Persistence{}
		lo, hi, err := ConformalOffsets(s, p, hs...)
		if err != nil {
			t.Fatal(err)
		}
		// At h = 1 the 600 validation residuals are independent: the
		// 10% quantile of N(0, 1) is -1.2816, its standard error 0.07.
		if math.Abs(lo[0]+1.2816) > 0.25 {
			t.Errorf("seed %d h=1: lower offset %.3f, want about -1.28", seed, lo[0])
		}
		for i := range hs {
			meanLo[i] += lo[i] / seeds
		}
		pts, err := Forecasts(s, p, hs...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range hs {
			l, m, u := make([]float64, len(pts[i])), pts[i], make([]float64, len(pts[i]))
			for k, v := range m {
				l[k], u[k] = v+lo[i], v+hi[i]
			}
			sc, err := ScoreIntervals(y, l, m, u)
			if err != nil {
				t.Fatal(err)
			}
			hits[i] += sc.Hits
			n[i] += sc.N
		}
	}
	for i, h := range hs {
		// The h-step residual has SD sqrt(h); at h = 12 overlapping
		// residuals leave about 50 independent ones per seed, so only the
		// mean over seeds is held close (standard error about 0.06 sqrt(h)).
		if want := -1.2816 * math.Sqrt(float64(h)); math.Abs(meanLo[i]-want) > 0.2*math.Sqrt(float64(h)) {
			t.Errorf("h=%d: mean lower offset %.3f, want about %.3f", h, meanLo[i], want)
		}
		cov := float64(hits[i]) / float64(n[i])
		t.Logf("h=%d: coverage %.3f over %d targets", h, cov, n[i])
		if cov < 0.75 || cov > 0.85 {
			t.Errorf("h=%d: conformal persistence covers %.3f of a random walk's test targets, want 0.75..0.85", h, cov)
		}
	}
}

func TestConformalOffsetsHoltWinters(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	y := make([]float64, 2000)
	for i := range y {
		y[i] = 10 + 3*math.Sin(2*math.Pi*float64(i)/48) + rng.NormFloat64()
	}
	lo, hi, err := ConformalOffsets(Series{Name: "sine", Values: y}, NewHoltWinters(48), 1, 12)
	if err != nil {
		t.Fatal(err)
	}
	for i := range lo {
		// Unit noise around a learnt season: about -1.28 and +1.28.
		if lo[i] > -0.9 || lo[i] < -1.8 || hi[i] < 0.9 || hi[i] > 1.8 {
			t.Errorf("horizon %d: offsets [%.3f, %.3f], want about +-1.28", i, lo[i], hi[i])
		}
	}
}
