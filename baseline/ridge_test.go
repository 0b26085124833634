package baseline

import (
	"math"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// denseRidge fits ridge with an unpenalised intercept on windows of z with
// origins [lo, hi] (target z[t+h]) by centring an explicit design matrix.
func denseRidge(z []float64, L, h, lo, hi int, alpha float64) ([]float64, float64) {
	n := hi - lo + 1
	x := mat.NewDense(n, L, nil)
	y := mat.NewVecDense(n, nil)
	for r := 0; r < n; r++ {
		t := lo + r
		x.SetRow(r, z[t-L+1:t+1])
		y.SetVec(r, z[t+h])
	}
	mx := make([]float64, L)
	for j := 0; j < L; j++ {
		mx[j] = mat.Sum(x.ColView(j)) / float64(n)
	}
	my := mat.Sum(y) / float64(n)
	xc := mat.NewDense(n, L, nil)
	yc := mat.NewVecDense(n, nil)
	for r := 0; r < n; r++ {
		for j := 0; j < L; j++ {
			xc.Set(r, j, x.At(r, j)-mx[j])
		}
		yc.SetVec(r, y.AtVec(r)-my)
	}
	var a mat.Dense
	a.Mul(xc.T(), xc)
	for j := 0; j < L; j++ {
		a.Set(j, j, a.At(j, j)+alpha)
	}
	var b, w mat.VecDense
	b.MulVec(xc.T(), yc)
	if err := w.SolveVec(&a, &b); err != nil {
		panic(err)
	}
	b0 := my
	for j := 0; j < L; j++ {
		b0 -= w.AtVec(j) * mx[j]
	}
	return w.RawVector().Data, b0
}

// TestRidgeARMatchesDense checks the accumulated normal equations, the alpha
// selection by validation MSE and the refit against explicit matrices.
func TestRidgeARMatchesDense(t *testing.T) {
	s := syntheticSeries(400, 24, 2)
	sp := SplitOf(s.Len())
	const L, H = 5, 3
	r := NewRidgeAR(L, H)
	if err := r.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
		t.Fatal(err)
	}
	sc := FitScaler(s.Values[:sp.Train])
	z := make([]float64, sp.Fit())
	for i := range z {
		z[i] = sc.Scale(s.Values[i])
	}
	for h := 1; h <= H; h++ {
		bestA, bestMSE := 0.0, math.Inf(1)
		for _, alpha := range RidgeAlphas {
			w, b0 := denseRidge(z, L, h, L-1, sp.Train-1-h, alpha)
			var sse float64
			var n int
			for tt := sp.Train - h; tt+h < sp.Fit(); tt++ {
				e := predictAR(w, b0, z[tt-L+1:tt+1]) - z[tt+h]
				sse += e * e
				n++
			}
			if sse/float64(n) < bestMSE {
				bestA, bestMSE = alpha, sse/float64(n)
			}
		}
		if r.Alpha[h-1] != bestA {
			t.Errorf("h=%d: chose alpha %g, dense selection %g", h, r.Alpha[h-1], bestA)
			continue
		}
		w, b0 := denseRidge(z, L, h, L-1, sp.Fit()-1-h, bestA)
		for j := range w {
			if math.Abs(w[j]-r.Coef[h-1][j]) > 1e-9 {
				t.Errorf("h=%d coef %d: %g, dense %g", h, j, r.Coef[h-1][j], w[j])
			}
		}
		if math.Abs(b0-r.Intercept[h-1]) > 1e-9 {
			t.Errorf("h=%d intercept %g, dense %g", h, r.Intercept[h-1], b0)
		}
	}
}

// TestRidgeARLearnsAR2 fits a noise-free AR(2): with the smallest penalty
// chosen the one-step forecasts are close to exact.
func TestRidgeARLearnsAR2(t *testing.T) {
	y := make([]float64, 600)
	y[0], y[1] = 1, 0.5
	for i := 2; i < len(y); i++ {
		y[i] = 1.6*y[i-1] - 0.8*y[i-2] + 0.1*math.Sin(float64(i)*0.01)
	}
	s := Series{Name: "ar2", Values: y}
	m, err := Evaluate(s, NewRidgeAR(60, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.MASE > 0.01 {
		t.Errorf("MASE %g on a noise-free AR(2), want < 0.01", m.MASE)
	}
}

// TestRidgeARForecastFrom: forecasting from a window gives, at every
// horizon and for windows longer than the lags, exactly what Forecast
// gives after Update with the same values, and leaves the state alone.
func TestRidgeARForecastFrom(t *testing.T) {
	y := make([]float64, 400)
	for i := range y {
		y[i] = 10 + 3*math.Sin(float64(i)/7) + float64(i%5)
	}
	r := NewRidgeAR(8, 5)
	if err := r.Fit(Series{Values: y[:300]}, 240); err != nil {
		t.Fatal(err)
	}
	before, _ := r.Forecast(3)
	dst := make([]float64, 5)
	for _, end := range []int{8, 9, 50, 300} {
		window := y[end-min(end, 20) : end]
		r.ForecastFrom(dst, window, nil)
		ref := NewRidgeAR(8, 5)
		*ref = *r // the fitted coefficients; Reset gives it a ring of its own
		ref.Reset()
		for _, v := range window {
			ref.Update(v)
		}
		for h := 1; h <= 5; h++ {
			want, err := ref.Forecast(h)
			if err != nil {
				t.Fatal(err)
			}
			if dst[h-1] != want {
				t.Fatalf("window ending at %d, h=%d: ForecastFrom %v, Forecast %v", end, h, dst[h-1], want)
			}
		}
	}
	if after, _ := r.Forecast(3); after != before {
		t.Errorf("ForecastFrom moved the state: %v then %v", before, after)
	}
}
