package baseline

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// feed resets f and appends ys.
func feed(f Forecaster, ys ...float64) {
	f.Reset()
	for _, y := range ys {
		f.Update(y)
	}
}

func mustForecast(t *testing.T, f Forecaster, h int) float64 {
	t.Helper()
	v, err := f.Forecast(h)
	if err != nil {
		t.Fatalf("%s: Forecast(%d): %v", f.Name(), h, err)
	}
	return v
}

func TestPersistence(t *testing.T) {
	p := &Persistence{}
	feed(p)
	if _, err := p.Forecast(1); !errors.Is(err, ErrShortHistory) {
		t.Fatalf("empty persistence: err %v, want ErrShortHistory", err)
	}
	feed(p, 1, 2, 3)
	for _, h := range []int{1, 5} {
		if got := mustForecast(t, p, h); got != 3 {
			t.Errorf("Forecast(%d) = %g, want 3", h, got)
		}
	}
}

func TestSeasonalNaive(t *testing.T) {
	s := NewSeasonalNaive(3)
	feed(s, 1, 2, 3, 4, 5) // origin t=4
	// y[t+h-k*3] with the smallest k that reaches the past.
	for h, want := range map[int]float64{1: 3, 2: 4, 3: 5, 4: 3, 6: 5, 7: 3} {
		if got := mustForecast(t, s, h); got != want {
			t.Errorf("Forecast(%d) = %g, want %g", h, got, want)
		}
	}
	feed(s, 1)
	if _, err := s.Forecast(1); !errors.Is(err, ErrShortHistory) {
		t.Fatalf("one value, period 3: err %v, want ErrShortHistory", err)
	}
	if got := mustForecast(t, s, 3); got != 1 {
		t.Errorf("one value, h=3: %g, want 1", got)
	}
}

func TestMovingAverage(t *testing.T) {
	m := NewMovingAverage(3)
	if m.Name() != "ma3" {
		t.Fatalf("name %q", m.Name())
	}
	feed(m, 1, 2)
	if got := mustForecast(t, m, 1); got != 1.5 {
		t.Errorf("two values: %g, want 1.5", got)
	}
	feed(m, 1, 2, 3, 4, 8)
	if got := mustForecast(t, m, 12); got != 5 {
		t.Errorf("mean of 3,4,8: %g, want 5", got)
	}
}

func TestHoltWintersHandComputed(t *testing.T) {
	hw := &HoltWinters{Period: 2, Alpha: 0.5, Gamma: 0.25, Seasonal: true,
		Scaler: Scaler{Mean: 0, SD: 1}, Level0: 10, Season0: []float64{1, -1}, fitted: true}
	feed(hw)
	// Before any observation: index 0 (phase 0) and index 1 (phase 1).
	if got := mustForecast(t, hw, 1); got != 11 {
		t.Errorf("initial Forecast(1) = %g, want 11", got)
	}
	hw.Update(12) // e = 12-10-1 = 1: l = 10.5, s0 = 1.25
	if got, want := mustForecast(t, hw, 1), 10.5-1; got != want {
		t.Errorf("Forecast(1) = %g, want %g", got, want)
	}
	if got, want := mustForecast(t, hw, 2), 10.5+1.25; got != want {
		t.Errorf("Forecast(2) = %g, want %g", got, want)
	}
	hw.Update(9) // e = 9-10.5+1 = -0.5: l = 10.25, s1 = -1.125
	if got, want := mustForecast(t, hw, 1), 10.25+1.25; got != want {
		t.Errorf("Forecast(1) = %g, want %g", got, want)
	}
	if got, want := mustForecast(t, hw, 2), 10.25-1.125; got != want {
		t.Errorf("Forecast(2) = %g, want %g", got, want)
	}
	// The same in standardised units: y = 2z + 10.
	hs := &HoltWinters{Period: 2, Alpha: 0.5, Gamma: 0.25, Seasonal: true,
		Scaler: Scaler{Mean: 10, SD: 2}, Level0: 0, Season0: []float64{0.5, -0.5}, fitted: true}
	feed(hs, 12, 9)
	if got, want := mustForecast(t, hs, 2), 10.25-1.125; got != want {
		t.Errorf("scaled Forecast(2) = %g, want %g", got, want)
	}
}

func TestSimpleSmoothingHandComputed(t *testing.T) {
	hw := &HoltWinters{Period: 288, Alpha: 0.2, Scaler: Scaler{Mean: 0, SD: 1}, Level0: 5, fitted: true}
	feed(hw, 10, 0) // l = 5 + 0.2*5 = 6, then 6 - 0.2*6 = 4.8
	if got := mustForecast(t, hw, 7); math.Abs(got-4.8) > 1e-12 {
		t.Errorf("Forecast = %g, want 4.8", got)
	}
}

func TestRidgeARHandComputed(t *testing.T) {
	r := &RidgeAR{Lags: 2, MaxHorizon: 1, Coef: [][]float64{{0.25, 0.5}}, Intercept: []float64{1},
		Scaler: Scaler{Mean: 0, SD: 1}}
	feed(r, 2)
	if _, err := r.Forecast(1); !errors.Is(err, ErrShortHistory) {
		t.Fatalf("one value, two lags: err %v", err)
	}
	r.Update(4)
	if got := mustForecast(t, r, 1); got != 1+0.25*2+0.5*4 {
		t.Errorf("Forecast = %g, want 3.5", got)
	}
	r.Update(6)
	if got := mustForecast(t, r, 1); got != 1+0.25*4+0.5*6 {
		t.Errorf("Forecast = %g, want 5", got)
	}
	if _, err := r.Forecast(2); err == nil {
		t.Error("Forecast beyond MaxHorizon: no error")
	}
}

// syntheticSeries is a daily cycle with noise and a level drift, 5-minute
// steps with the given period.
func syntheticSeries(n, period int, seed uint64) Series {
	rng := rand.New(rand.NewPCG(seed, 7))
	y := make([]float64, n)
	level := 50.0
	for i := range y {
		level += 0.05 * rng.NormFloat64()
		y[i] = level + 8*math.Sin(2*math.Pi*float64(i)/float64(period)) + rng.NormFloat64()
	}
	return Series{Name: "synthetic", Values: y}
}

// TestUpdateEqualsBatch checks, for every standard forecaster, that fitting
// on a prefix and then appending observations with Update gives the same
// forecasts as replaying the whole series from scratch, and as fitting
// leaves it (no refit happens in Update).
func TestUpdateEqualsBatch(t *testing.T) {
	s := syntheticSeries(900, 48, 1)
	sp := SplitOf(s.Len())
	for _, f := range Standard(48, 12) {
		if err := f.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
			t.Fatalf("%s: %v", f.Name(), err)
		}
		// Fit leaves the state after the history.
		afterFit := mustForecast(t, f, 5)
		feed(f, s.Values[:sp.Fit()]...)
		if got := mustForecast(t, f, 5); got != afterFit {
			t.Errorf("%s: after Fit %g, after replay %g", f.Name(), afterFit, got)
		}
		// Incremental updates through the test split vs batch replay.
		inc := make([]float64, 0)
		for _, v := range s.Values[sp.Fit():] {
			f.Update(v)
			inc = append(inc, mustForecast(t, f, 1), mustForecast(t, f, 12))
		}
		for k := sp.Fit(); k < s.Len(); k += 37 {
			feed(f, s.Values[:k+1]...)
			i := 2 * (k - sp.Fit())
			if b1, b12 := mustForecast(t, f, 1), mustForecast(t, f, 12); b1 != inc[i] || b12 != inc[i+1] {
				t.Errorf("%s at %d: incremental (%g, %g), batch (%g, %g)", f.Name(), k, inc[i], inc[i+1], b1, b12)
			}
		}
	}
}
