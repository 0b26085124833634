package main

import (
	"fmt"
	"math"

	"github.com/novacron/perfpredict/baseline"
)

// autoETS is automatic exponential smoothing (Hyndman et al., 2002, as
// statsforecast's AutoETS and R's ets run it): every admissible model of
// additive or multiplicative errors (multiplicative only for a positive
// series) and no, additive or damped additive trend, each fitted by
// maximum likelihood (Nelder-Mead over the smoothing weights and the
// initial states, within the usual bounds), the least AICc chosen. With
// a season of 288 steps those implementations ignore the season (they
// take none longer than 24), so this one has none either. For the
// protocol's rolling evaluation (baseline.Forecaster).
type autoETS struct {
	model etsModel
	ets   etsFit
	// State.
	level, slope float64
	n            int
}

// etsModel is the error (additive or multiplicative) and trend (none,
// additive, damped) of a model.
type etsModel struct {
	multErr       bool
	trend, damped bool
}

func (m etsModel) String() string {
	e, t := "A", "N"
	if m.multErr {
		e = "M"
	}
	if m.trend {
		t = "A"
		if m.damped {
			t = "Ad"
		}
	}
	return e + t + "N"
}

// etsFit is a fitted model's parameters and initial states.
type etsFit struct {
	alpha, beta, phi float64
	level0, slope0   float64
	aicc             float64
}

func newAutoETS() *autoETS { return &autoETS{} }

func (f *autoETS) Name() string { return "auto_ets" }

func (f *autoETS) describe() string {
	d := fmt.Sprintf("ETS(%s), alpha %.3f", f.model, f.ets.alpha)
	if f.model.trend {
		d += fmt.Sprintf(" beta %.3f", f.ets.beta)
	}
	if f.model.damped {
		d += fmt.Sprintf(" phi %.3f", f.ets.phi)
	}
	return d
}

// step advances (level, slope) by y under m and p, returning the new
// state and the one-step forecast and error (relative to the forecast
// for multiplicative errors).
func (m etsModel) step(p etsFit, level, slope, y float64) (l, b, yhat, e float64) {
	phi := p.phi
	if !m.damped {
		phi = 1
	}
	if !m.trend {
		slope, phi = 0, 0
	}
	yhat = level + phi*slope
	if m.multErr {
		e = (y - yhat) / yhat
		l = yhat * (1 + p.alpha*e)
		b = phi*slope + p.beta*yhat*e
	} else {
		e = y - yhat
		l = yhat + p.alpha*e
		b = phi*slope + p.beta*e
	}
	if !m.trend {
		b = 0
	}
	return l, b, yhat, e
}

// lik is ets's objective over y: n log(sum e^2), plus 2 sum log|yhat|
// for multiplicative errors (minus twice the log-likelihood, constants
// dropped). It is +Inf where a forecast is not positive under
// multiplicative errors.
func (m etsModel) lik(p etsFit, y []float64) float64 {
	l, b := p.level0, p.slope0
	var sse, logs float64
	for _, v := range y {
		var yhat, e float64
		l, b, yhat, e = m.step(p, l, b, v)
		if m.multErr {
			if yhat <= 0 {
				return math.Inf(1)
			}
			logs += math.Log(yhat)
		}
		sse += e * e
	}
	if sse <= 0 || math.IsNaN(sse) {
		return math.Inf(1)
	}
	return float64(len(y))*math.Log(sse) + 2*logs
}

// fitETS fits m to y by maximum likelihood; ok is false when no
// admissible parameters were found.
func fitETS(y []float64, m etsModel) (etsFit, bool) {
	n := len(y)
	// Initial states as ets starts them: the first ten steps' mean, or
	// their least-squares line.
	k := min(10, n)
	var mean, slope float64
	for _, v := range y[:k] {
		mean += v / float64(k)
	}
	if m.trend && k > 1 {
		tm := float64(k-1) / 2
		var sxy, sxx float64
		for i, v := range y[:k] {
			sxy += (float64(i) - tm) * (v - mean)
			sxx += (float64(i) - tm) * (float64(i) - tm)
		}
		slope = sxy / sxx
		mean -= slope * (tm + 1) // the level one step before the first
	}
	scale := 0.0
	for _, v := range y {
		scale += math.Abs(v) / float64(n)
	}
	scale = math.Max(scale, 1e-12)
	// The unknowns: alpha, beta/alpha, phi, level0 and slope0 in units of
	// scale; those the model lacks are left out.
	decode := func(u []float64) (etsFit, bool) {
		p := etsFit{alpha: u[0], phi: 0.98}
		i := 1
		if m.trend {
			p.beta = u[1] * u[0]
			i = 2
			if m.damped {
				p.phi = u[2]
				i = 3
			}
		}
		p.level0 = u[i] * scale
		if m.trend {
			p.slope0 = u[i+1] * scale
		}
		// The usual bounds.
		ok := p.alpha >= 1e-4 && p.alpha <= 0.9999 && (!m.trend || (p.beta >= 1e-4 && p.beta <= p.alpha)) &&
			(!m.damped || (p.phi >= 0.8 && p.phi <= 0.98))
		return p, ok
	}
	u := []float64{0.1}
	if m.trend {
		u = append(u, 0.1)
		if m.damped {
			u = append(u, 0.97)
		}
	}
	u = append(u, mean/scale)
	if m.trend {
		u = append(u, slope/scale)
	}
	cost := func(u []float64) float64 {
		p, ok := decode(u)
		if !ok {
			return math.Inf(1)
		}
		return m.lik(p, y)
	}
	for range 3 { // restarts from the last optimum, as a simplex can stall
		u = nelderMead(cost, u, 0.05, 2000)
	}
	p, ok := decode(u)
	lik := m.lik(p, y)
	if !ok || math.IsInf(lik, 1) {
		return etsFit{}, false
	}
	np := float64(len(u) + 1) // the variance too
	p.aicc = lik + 2*np + 2*np*(np+1)/(float64(n)-np-1)
	return p, true
}

// Fit chooses and fits the model on the whole history (train and
// validation, as the protocol fits a baseline), then leaves the state
// after its last step.
func (f *autoETS) Fit(history baseline.Series, nTrain int) error {
	y := history.Values
	if len(y) < 20 {
		return fmt.Errorf("auto_ets: %d steps: %w", len(y), baseline.ErrShortHistory)
	}
	positive := true
	for _, v := range y {
		if v <= 0 {
			positive = false
			break
		}
	}
	best := math.Inf(1)
	for _, multErr := range []bool{false, true} {
		if multErr && !positive {
			continue
		}
		for _, m := range []etsModel{{multErr: multErr}, {multErr: multErr, trend: true}, {multErr: multErr, trend: true, damped: true}} {
			p, ok := fitETS(y, m)
			if ok && p.aicc < best {
				best, f.model, f.ets = p.aicc, m, p
			}
		}
	}
	if math.IsInf(best, 1) {
		return fmt.Errorf("auto_ets: no model could be fitted to %d steps", len(y))
	}
	f.Reset()
	for _, v := range y {
		f.Update(v)
	}
	return nil
}

func (f *autoETS) Reset() { f.level, f.slope, f.n = f.ets.level0, f.ets.slope0, 0 }

func (f *autoETS) Update(v float64) {
	f.level, f.slope, _, _ = f.model.step(f.ets, f.level, f.slope, v)
	f.n++
}

// Forecast is the level plus the (damped) slope over h steps: the point
// forecast of every model here, whatever its errors.
func (f *autoETS) Forecast(h int) (float64, error) {
	if f.n == 0 {
		return 0, baseline.ErrShortHistory
	}
	if !f.model.trend {
		return f.level, nil
	}
	if !f.model.damped {
		return f.level + float64(h)*f.slope, nil
	}
	var s, ph float64 = 0, 1
	for range h {
		ph *= f.ets.phi
		s += ph
	}
	return f.level + s*f.slope, nil
}
