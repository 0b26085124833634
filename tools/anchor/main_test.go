package main

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

func TestSteps(t *testing.T) {
	got, err := steps("0-3,12,20-21")
	if err != nil || !slices.Equal(got, []int{0, 1, 2, 3, 12, 20, 21}) {
		t.Fatalf("steps: %v, %v", got, err)
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "1,,2"} {
		if _, err := steps(bad); err == nil {
			t.Errorf("steps(%q) accepted", bad)
		}
	}
}

// TestFeaturesAndTarget: the features and target of an origin are the
// definitions in the package doc, and forecast inverts target.
func TestFeaturesAndTarget(t *testing.T) {
	n := 400
	ts := make([]time.Time, n)
	y := make([]float64, n)
	for i := range y {
		ts[i] = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 5 * time.Minute)
		y[i] = 10 + float64(i%7)
	}
	s := wrap([]baseline.Series{{Name: "x", Times: ts, Values: y}})[0]
	c := &config{lags: []int{0, 2}, windows: []int{3}, change: true, date: true}
	x := make([]float64, c.numFeatures())
	const t0, h = 300, 12
	c.features(x, s, t0, h)
	u := s.unit
	mean := (y[t0-2] + y[t0-1] + y[t0]) / 3
	var sq float64
	for _, v := range y[t0-2 : t0+1] {
		sq += (v - mean) * (v - mean)
	}
	at := ts[t0].Add(h * 5 * time.Minute)
	want := []float64{0, (y[t0-2] - y[t0]) / u, (mean - y[t0]) / u, math.Sqrt(sq/3) / u,
		float64(at.Hour()) + float64(at.Minute())/60, float64(at.Weekday()), y[t0] / u}
	for i := range want {
		if math.Abs(x[i]-want[i]) > 1e-12 {
			t.Fatalf("feature %d: %v, want %v (all %v)", i, x[i], want[i], x)
		}
	}
	for _, change := range []bool{true, false} {
		c.change = change
		if got := c.forecast(s, c.target(s, t0, h), t0); math.Abs(got-y[t0+h]) > 1e-12 {
			t.Errorf("change %v: forecast of the target %v, want the value %v", change, got, y[t0+h])
		}
	}
}

// TestThetaContinuesASeason: on a series that is one season repeated
// (multiplicative when positive, additive otherwise) the deseasonalised
// series is flat, so Theta forecasts the season's continuation exactly;
// Fit leaves the state that Reset and Update over the history leave.
func TestThetaContinuesASeason(t *testing.T) {
	const m, n = 12, 240
	for _, c := range []struct {
		name   string
		offset float64
		mult   bool
	}{{"multiplicative", 20, true}, {"additive", -3, false}} {
		y := make([]float64, n)
		for i := range y {
			y[i] = c.offset + 5*math.Sin(2*math.Pi*float64(i%m)/m)
		}
		f := newTheta(m)
		if err := f.Fit(baseline.Series{Values: y}, n*70/85); err != nil {
			t.Fatal(err)
		}
		if f.index == nil || f.mult != c.mult || math.Abs(f.slope) > 1e-9 {
			t.Fatalf("%s: seasonal %v multiplicative %v slope %v", c.name, f.index != nil, f.mult, f.slope)
		}
		for h := 1; h <= 30; h++ {
			got, err := f.Forecast(h)
			if err != nil {
				t.Fatal(err)
			}
			if want := y[(n-1+h)%m]; math.Abs(got-want) > 1e-9 {
				t.Fatalf("%s: h=%d: %v, want the season's %v", c.name, h, got, want)
			}
		}
		fitted, _ := f.Forecast(7)
		f.Reset()
		for _, v := range y {
			f.Update(v)
		}
		if replayed, _ := f.Forecast(7); replayed != fitted {
			t.Errorf("%s: after Fit %v, after a replay %v", c.name, fitted, replayed)
		}
	}
}
