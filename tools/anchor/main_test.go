package main

import (
	"math"
	"math/rand/v2"
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

// simulate returns n steps of y_t = mean + phi (y_{t-1} - mean) + e_t +
// theta e_{t-1} with standard normal e (seeded), after a burn-in.
func simulate(n int, mean, phi, theta float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	y := make([]float64, n)
	prev, prevE := mean, 0.0
	for t := -200; t < n; t++ {
		e := r.NormFloat64()
		v := mean + phi*(prev-mean) + e + theta*prevE
		prev, prevE = v, e
		if t >= 0 {
			y[t] = v
		}
	}
	return y
}

// TestFromPACFIsDurbinLevinson: two partial autocorrelations give the
// AR(2) coefficients (r1 (1 - r2), r2), and every output is stationary
// (its reverse recursion recovers partial autocorrelations inside (-1, 1)).
func TestFromPACFIsDurbinLevinson(t *testing.T) {
	c := fromPACF([]float64{math.Atanh(0.6), math.Atanh(-0.3)})
	if want := []float64{0.6 * 1.3, -0.3}; math.Abs(c[0]-want[0]) > 1e-12 || math.Abs(c[1]-want[1]) > 1e-12 {
		t.Fatalf("fromPACF: %v, want %v", c, want)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		u := make([]float64, 1+r.IntN(5))
		for i := range u {
			u[i] = 5 * (r.Float64() - 0.5) // partial autocorrelations up to 0.987: the reverse recursion is ill-conditioned nearer 1
		}
		if a := fromPACF(u); !rootsOutside(a, 1) {
			t.Fatalf("fromPACF(%v) = %v is not stationary", u, a)
		}
		// A moving average 1 + sum c_i B^i is invertible when -c is a
		// stationary autoregression.
		ma := negate(maFromPACF(u))
		if !rootsOutside(ma, 1) {
			t.Fatalf("maFromPACF(%v) = %v is not invertible", u, maFromPACF(u))
		}
	}
}

// TestFitOrderRecoversCoefficients: conditional least squares recovers an
// ARMA(1,1) with a mean from 6000 steps, and the forecast of the AR(1)
// part decays to the mean as phi^h.
func TestFitOrderRecoversCoefficients(t *testing.T) {
	y := simulate(6000, 10, 0.7, 0.4, 1)
	o := arimaOrder{p: 1, q: 1, constant: true}
	ft, ok := fitOrder(y, o, 12)
	if !ok {
		t.Fatal("not fitted")
	}
	if math.Abs(ft.ar[0]-0.7) > 0.04 || math.Abs(ft.ma[0]-0.4) > 0.05 || math.Abs(ft.mean-10) > 0.2 || math.Abs(ft.sigma2-1) > 0.06 {
		t.Fatalf("fitted ar %v ma %v mean %v sigma2 %v; want 0.7, 0.4, 10, 1", ft.ar, ft.ma, ft.mean, ft.sigma2)
	}
	// Update's one-step errors are those the fit minimised.
	g := &autoARIMA{period: 12, order: o, fit: ft, expand: expand(o, ft, 12)}
	for _, v := range y {
		g.Update(v)
	}
	resid := make([]float64, len(y))
	g.expand.css(y, resid)
	if !slices.Equal(g.resid, resid) {
		t.Fatal("Update's errors differ from the fit's")
	}
	y = simulate(6000, -3, 0.8, 0, 2)
	f := &autoARIMA{period: 12, order: arimaOrder{p: 1, constant: true}}
	f.fit, _ = fitOrder(y, f.order, 12)
	f.expand = expand(f.order, f.fit, 12)
	for _, v := range y {
		f.Update(v)
	}
	phi, mean, last := f.fit.ar[0], f.fit.mean, y[len(y)-1]
	for h := 1; h <= 30; h++ {
		got, err := f.Forecast(h)
		if want := mean + math.Pow(phi, float64(h))*(last-mean); err != nil || math.Abs(got-want) > 1e-9 {
			t.Fatalf("h=%d: %v (%v), want %v", h, got, err, want)
		}
	}
}

// TestExpandIntegrates: with one difference and one seasonal difference
// and no ARMA terms the model over y is y_t = y_{t-1} + y_{t-m} -
// y_{t-m-1}, so the forecast continues the last season's changes.
func TestExpandIntegrates(t *testing.T) {
	const m = 4
	e := expand(arimaOrder{d: 1, D: 1}, arimaFit{}, m)
	if !slices.Equal(e.aLag, []int{1, m, m + 1}) || !slices.Equal(e.a, []float64{1, 1, -1}) || len(e.bLag) != 0 || e.c != 0 {
		t.Fatalf("expanded: %+v", e)
	}
}

// TestNdiffs: white noise needs no difference, its random walk one.
func TestNdiffs(t *testing.T) {
	y := simulate(3000, 0, 0, 0, 5)
	if d := ndiffs(y); d != 0 {
		t.Errorf("white noise: %d differences", d)
	}
	for i := 1; i < len(y); i++ {
		y[i] += y[i-1]
	}
	if d := ndiffs(y); d != 1 {
		t.Errorf("random walk: %d differences", d)
	}
}

// TestAutoARIMAChoosesAndReplays: on an AR(2) series the search chooses
// an order with the AR terms (no differences, a constant), and Fit leaves
// the state that Reset and Update over the history leave.
func TestAutoARIMAChoosesAndReplays(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	y := make([]float64, 4000)
	for i := 2; i < len(y); i++ {
		y[i] = 0.6*y[i-1] - 0.3*y[i-2] + r.NormFloat64()
	}
	for i := range y {
		y[i] += 50
	}
	f := newAutoARIMA(288)
	if err := f.Fit(baseline.Series{Values: y}, 3000); err != nil {
		t.Fatal(err)
	}
	if o := f.order; o.d != 0 || o.D != 0 || o.p < 2 || !o.constant {
		t.Fatalf("chose ARIMA%s for an AR(2) with a mean", o)
	}
	fitted, _ := f.Forecast(5)
	f.Reset()
	for _, v := range y {
		f.Update(v)
	}
	if replayed, _ := f.Forecast(5); replayed != fitted {
		t.Errorf("after Fit %v, after a replay %v", fitted, replayed)
	}
}

// TestAutoETSRecoversLocalLevel: on a local-level series (simple
// exponential smoothing's model, alpha 0.3, additive errors, negative
// values so multiplicative errors are not tried) the search keeps no
// trend and estimates alpha; Fit leaves the state a replay leaves.
func TestAutoETSRecoversLocalLevel(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	y := make([]float64, 5000)
	level := -50.0
	for i := range y {
		e := r.NormFloat64()
		y[i] = level + e
		level += 0.3 * e
	}
	f := newAutoETS()
	if err := f.Fit(baseline.Series{Values: y}, 4000); err != nil {
		t.Fatal(err)
	}
	if f.model.trend || f.model.multErr || math.Abs(f.ets.alpha-0.3) > 0.03 {
		t.Fatalf("chose %s", f.describe())
	}
	fitted, _ := f.Forecast(3)
	f.Reset()
	for _, v := range y {
		f.Update(v)
	}
	if replayed, _ := f.Forecast(3); replayed != fitted || replayed != f.level {
		t.Errorf("after Fit %v, after a replay %v, level %v", fitted, replayed, f.level)
	}
}

// TestAutoETSDampedForecast: a damped trend's forecast is the state run
// forward with zero errors.
func TestAutoETSDampedForecast(t *testing.T) {
	for _, m := range []etsModel{{trend: true, damped: true}, {trend: true}, {multErr: true, trend: true, damped: true}} {
		f := &autoETS{model: m, ets: etsFit{alpha: 0.4, beta: 0.1, phi: 0.9, level0: 10, slope0: 2}}
		f.Reset()
		for _, v := range []float64{12, 15, 16, 20} {
			f.Update(v)
		}
		l, b := f.level, f.slope
		for h := 1; h <= 30; h++ {
			// Fed its own forecast, a model's error is zero.
			yhat := l + phiOf(m, f.ets)*b
			l, b, _, _ = m.step(f.ets, l, b, yhat)
			got, err := f.Forecast(h)
			if err != nil || math.Abs(got-yhat) > 1e-9 {
				t.Fatalf("%s h=%d: %v (%v), want %v", m, h, got, err, yhat)
			}
		}
	}
}

func phiOf(m etsModel, p etsFit) float64 {
	if m.damped {
		return p.phi
	}
	return 1
}
