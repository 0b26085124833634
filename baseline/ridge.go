package baseline

import (
	"fmt"
	"math"
)

// RidgeAlphas are the penalties RidgeAR chooses from.
var RidgeAlphas = []float64{0.01, 0.1, 1, 10, 100, 1000}

// RidgeAR is direct autoregression: for each horizon h in 1..MaxHorizon a
// ridge regression with an unpenalised intercept (the data are centred, as
// scikit-learn's Ridge does) predicts z[t+h] from the window z[t-Lags+1..t] of
// the series standardised with the training split's scaler.
//
// Fit, per horizon: for each alpha of RidgeAlphas, fit on the windows whose
// target lies in the training split and measure the mean squared error on
// those whose target lies in the validation split; keep the first alpha with
// the least error, then refit on every window whose target lies in the
// fitting history (train and validation).
type RidgeAR struct {
	Lags, MaxHorizon int
	// Set by Fit, per horizon h at index h-1.
	Alpha     []float64
	Coef      [][]float64 // Coef[h-1][i] multiplies z[t-Lags+1+i]
	Intercept []float64
	Scaler    Scaler

	last lastValues // the last Lags standardised observations
}

// NewRidgeAR returns an unfitted ridge autoregression on lags values
// forecasting up to maxHorizon steps ahead.
func NewRidgeAR(lags, maxHorizon int) *RidgeAR {
	if lags < 1 || maxHorizon < 1 {
		panic(fmt.Sprintf("baseline: ridge AR: lags %d, max horizon %d", lags, maxHorizon))
	}
	return &RidgeAR{Lags: lags, MaxHorizon: maxHorizon}
}

func (r *RidgeAR) Name() string { return "ridge_ar" }

// ridgeSums accumulates, over a set of windows, the sums that the centred
// normal equations are built from.
type ridgeSums struct {
	n   int
	sx  []float64 // sum of x
	sxx []float64 // sum of x x^T, row-major L x L
}

func newRidgeSums(L int) *ridgeSums {
	return &ridgeSums{sx: make([]float64, L), sxx: make([]float64, L*L)}
}

// add adds the window x.
func (s *ridgeSums) add(x []float64) {
	L := len(x)
	s.n++
	for i, xi := range x {
		s.sx[i] += xi
		row := s.sxx[i*L : i*L+L]
		for j := i; j < L; j++ { // upper triangle; mirrored in solve
			row[j] += xi * x[j]
		}
	}
}

// solve returns the ridge coefficients and intercept for windows starting at
// origins [lo, hi] of z (targets z[t+h]) whose sums are in s.
func (s *ridgeSums) solve(z []float64, L, h, lo, hi int, alpha float64) ([]float64, float64, error) {
	n := float64(s.n)
	mx := make([]float64, L)
	for i := range mx {
		mx[i] = s.sx[i] / n
	}
	var sy float64
	sxy := make([]float64, L)
	for t := lo; t <= hi; t++ {
		yv := z[t+h]
		sy += yv
		x := z[t-L+1 : t+1]
		for i, xi := range x {
			sxy[i] += xi * yv
		}
	}
	my := sy / n
	a := newSymmetric(L)
	b := make([]float64, L)
	for i := 0; i < L; i++ {
		for j := i; j < L; j++ {
			v := s.sxx[i*L+j] - n*mx[i]*mx[j]
			if i == j {
				v += alpha
			}
			a.set(i, j, v)
		}
		b[i] = sxy[i] - n*mx[i]*my
	}
	var ch cholesky
	if !ch.factorize(a) {
		return nil, 0, fmt.Errorf("ridge AR: normal equations not positive definite (h=%d, alpha=%g)", h, alpha)
	}
	coef := make([]float64, L)
	ch.solve(coef, b)
	b0 := my
	for i := range coef {
		b0 -= coef[i] * mx[i]
	}
	return coef, b0, nil
}

func (r *RidgeAR) Fit(history Series, nTrain int) error {
	y := history.Values
	L, H := r.Lags, r.MaxHorizon
	nFit := len(y)
	// Origins t need t >= L-1; selection needs one training and one
	// validation target at the largest horizon.
	if nTrain-1-H < L-1 || nFit <= nTrain {
		return badInput("ridge AR: %d training and %d validation steps are too few for %d lags and horizon %d",
			nTrain, nFit-nTrain, L, H)
	}
	r.Scaler = FitScaler(y[:nTrain])
	z := make([]float64, nFit)
	for i, v := range y {
		z[i] = r.Scaler.Scale(v)
	}
	r.Alpha = make([]float64, H)
	r.Coef = make([][]float64, H)
	r.Intercept = make([]float64, H)
	// Windows with target in train: origins [L-1, nTrain-1-h]; in train or
	// validation: [L-1, nFit-1-h]. Going from h = H down to 1 each set grows
	// by one window, so the sums are accumulated once.
	tr, all := newRidgeSums(L), newRidgeSums(L)
	for t := L - 1; t <= nTrain-1-H; t++ {
		tr.add(z[t-L+1 : t+1])
	}
	for t := L - 1; t <= nFit-1-H; t++ {
		all.add(z[t-L+1 : t+1])
	}
	for h := H; h >= 1; h-- {
		if h < H {
			if t := nTrain - 1 - h; t >= L-1 {
				tr.add(z[t-L+1 : t+1])
			}
			if t := nFit - 1 - h; t >= L-1 {
				all.add(z[t-L+1 : t+1])
			}
		}
		bestAlpha, bestMSE := math.NaN(), math.Inf(1)
		for _, alpha := range RidgeAlphas {
			coef, b0, err := tr.solve(z, L, h, L-1, nTrain-1-h, alpha)
			if err != nil {
				return err
			}
			// Validation targets nTrain <= t+h < nFit.
			var sse float64
			var cnt int
			for t := max(nTrain-h, L-1); t+h < nFit; t++ {
				e := predictAR(coef, b0, z[t-L+1:t+1]) - z[t+h]
				sse += e * e
				cnt++
			}
			if mse := sse / float64(cnt); mse < bestMSE {
				bestAlpha, bestMSE = alpha, mse
			}
		}
		coef, b0, err := all.solve(z, L, h, L-1, nFit-1-h, bestAlpha)
		if err != nil {
			return err
		}
		r.Alpha[h-1], r.Coef[h-1], r.Intercept[h-1] = bestAlpha, coef, b0
	}
	replay(r, y)
	return nil
}

// ForecastFrom sets dst[h-1] to the forecast h steps after the last of
// window's values (raw, oldest first; its last Lags are read) for h = 1..
// len(dst), as Forecast would after Update with them, without touching
// the state. scratch, when it has room for Lags values, is used for the
// standardised window (nil: one is allocated).
func (r *RidgeAR) ForecastFrom(dst, window, scratch []float64) {
	if r.Coef == nil {
		panic("baseline: ridge AR: ForecastFrom before Fit")
	}
	if len(dst) > r.MaxHorizon || len(window) < r.Lags {
		panic(fmt.Sprintf("baseline: ridge AR: ForecastFrom %d horizons (max %d) from %d values (lags %d)", len(dst), r.MaxHorizon, len(window), r.Lags))
	}
	z := scratch[:0]
	for _, v := range window[len(window)-r.Lags:] {
		z = append(z, r.Scaler.Scale(v))
	}
	for h := range dst {
		dst[h] = r.Scaler.Unscale(predictAR(r.Coef[h], r.Intercept[h], z))
	}
}

func predictAR(coef []float64, b0 float64, x []float64) float64 {
	p := b0
	for i, c := range coef {
		p += c * x[i]
	}
	return p
}

func (r *RidgeAR) Reset() { r.last.reset(r.Lags) }

func (r *RidgeAR) Update(v float64) {
	if r.Coef == nil {
		panic("baseline: ridge AR: Update before Fit")
	}
	r.last.push(r.Lags, r.Scaler.Scale(v))
}

func (r *RidgeAR) Forecast(h int) (float64, error) {
	checkHorizon(r.Name(), h)
	if r.Coef == nil {
		return 0, errNotFitted
	}
	if h > r.MaxHorizon {
		return 0, fmt.Errorf("ridge AR: horizon %d beyond the fitted %d", h, r.MaxHorizon)
	}
	if r.last.n < r.Lags {
		return 0, ErrShortHistory
	}
	coef := r.Coef[h-1]
	p := r.Intercept[h-1]
	for i := 0; i < r.Lags; i++ {
		p += coef[i] * r.last.ring[(r.last.n-r.Lags+i)%r.Lags]
	}
	return r.Scaler.Unscale(p), nil
}
