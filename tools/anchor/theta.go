package main

import (
	"fmt"
	"math"

	"github.com/novacron/perfpredict/baseline"
)

// theta is the standard Theta method (Assimakopoulos and Nikolopoulos,
// 2000, as Hyndman and Billah, 2003, state it: simple exponential
// smoothing plus half the slope of the series' linear trend), on the
// series deseasonalised by classical decomposition when its
// autocorrelation at the season passes the 90% test: the core of the
// statistical anchor issue 14 names (statsforecast's AutoTheta, season
// 288), for the protocol's rolling evaluation (baseline.Forecaster).
//
// The forecast from the last observation n at horizon h is
// l_n + b/2 ((h-1) + (1-(1-a)^n)/a), times (or plus) the seasonal index
// of the target's phase, where l_n is the smoothed level of the
// deseasonalised series, a its smoothing weight (least in-sample squared
// one-step error over a grid) and b the least-squares slope of the
// deseasonalised fitting history.
type theta struct {
	period int
	// Fitted.
	alpha, slope float64
	index        []float64 // by phase; nil: not seasonal
	mult         bool      // indices multiply (positive series) or add
	// State.
	level float64
	n     int
}

func newTheta(period int) *theta { return &theta{period: period} }

func (f *theta) Name() string { return "theta" }

func (f *theta) describe() string {
	kind := "not seasonal"
	if f.index != nil {
		kind = "seasonal, additive"
		if f.mult {
			kind = "seasonal, multiplicative"
		}
	}
	return fmt.Sprintf("alpha %.2f, %s", f.alpha, kind)
}

func (f *theta) deseason(v float64, i int) float64 {
	switch {
	case f.index == nil:
		return v
	case f.mult:
		return v / f.index[i%f.period]
	}
	return v - f.index[i%f.period]
}

func (f *theta) reseason(v float64, i int) float64 {
	switch {
	case f.index == nil:
		return v
	case f.mult:
		return v * f.index[i%f.period]
	}
	return v + f.index[i%f.period]
}

// Fit estimates the seasonal indices, the slope and the smoothing weight
// on the whole history (train and validation, as the protocol fits a
// baseline), then leaves the state after its last step.
func (f *theta) Fit(history baseline.Series, nTrain int) error {
	y := history.Values
	n, m := len(y), f.period
	if n < 3 {
		return fmt.Errorf("theta: %d steps: %w", n, baseline.ErrShortHistory)
	}
	f.index = nil
	if m > 1 && n >= 3*m && seasonal(y, m) {
		f.mult = true
		for _, v := range y {
			if v <= 0 {
				f.mult = false
				break
			}
		}
		f.index = decompose(y, m, f.mult)
	}
	x := make([]float64, n)
	for i, v := range y {
		x[i] = f.deseason(v, i)
	}
	// Least-squares slope of x on 0..n-1.
	tm := float64(n-1) / 2
	var xm, sxy, sxx float64
	for _, v := range x {
		xm += v
	}
	xm /= float64(n)
	for i, v := range x {
		d := float64(i) - tm
		sxy += d * (v - xm)
		sxx += d * d
	}
	f.slope = sxy / sxx
	best := math.Inf(1)
	for a := 0.01; a < 1; a += 0.01 {
		l, sse := x[0], 0.0
		for _, v := range x[1:] {
			e := v - l
			sse += e * e
			l += a * e
		}
		if sse < best {
			best, f.alpha = sse, a
		}
	}
	f.Reset()
	for _, v := range y {
		f.Update(v)
	}
	return nil
}

func (f *theta) Reset() { f.level, f.n = 0, 0 }

func (f *theta) Update(v float64) {
	x := f.deseason(v, f.n)
	if f.n == 0 {
		f.level = x
	} else {
		f.level += f.alpha * (x - f.level)
	}
	f.n++
}

func (f *theta) Forecast(h int) (float64, error) {
	if f.n == 0 {
		return 0, baseline.ErrShortHistory
	}
	a := f.alpha
	p := f.level + f.slope/2*(float64(h-1)+(1-math.Pow(1-a, float64(f.n)))/a)
	return f.reseason(p, f.n-1+h), nil
}

// seasonal is the 90% test of the autocorrelation at lag m (Bartlett's
// standard error over the lags before it), as the Theta method's
// implementations decide whether to deseasonalise.
func seasonal(y []float64, m int) bool {
	n := len(y)
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	var c0 float64
	for _, v := range y {
		c0 += (v - mean) * (v - mean)
	}
	if c0 == 0 {
		return false
	}
	acf := func(k int) float64 {
		var c float64
		for i := k; i < n; i++ {
			c += (y[i] - mean) * (y[i-k] - mean)
		}
		return c / c0
	}
	var s float64
	for k := 1; k < m; k++ {
		r := acf(k)
		s += r * r
	}
	return math.Abs(acf(m)) > 1.645*math.Sqrt((1+2*s)/float64(n))
}

// centredMA is the centred moving average of order m of y at t (m/2
// steps each side; for an even m the two ends weigh a half).
func centredMA(y []float64, m, t int) float64 {
	half := m / 2
	var ma float64
	if m%2 == 0 {
		ma = (y[t-half] + y[t+half]) / 2
		for i := t - half + 1; i < t+half; i++ {
			ma += y[i]
		}
	} else {
		for i := t - half; i <= t+half; i++ {
			ma += y[i]
		}
	}
	return ma / float64(m)
}

// decompose returns the classical decomposition's seasonal indices by
// phase: the mean ratio (or difference) of the series to its centred
// moving average of order m, normalised to mean 1 (or 0).
func decompose(y []float64, m int, mult bool) []float64 {
	n := len(y)
	sum := make([]float64, m)
	cnt := make([]int, m)
	half := m / 2
	for t := half; t+half < n; t++ {
		ma := centredMA(y, m, t)
		if mult {
			sum[t%m] += y[t] / ma
		} else {
			sum[t%m] += y[t] - ma
		}
		cnt[t%m]++
	}
	idx := make([]float64, m)
	var mean float64
	for p := range idx {
		idx[p] = sum[p] / float64(max(1, cnt[p]))
		mean += idx[p] / float64(m)
	}
	for p := range idx {
		if mult {
			idx[p] /= mean
		} else {
			idx[p] -= mean
		}
	}
	return idx
}
