package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/novacron/perfpredict/baseline"
)

// SwitchMethod is the name of a Switch in a Report.
const SwitchMethod = "switch"

// SwitchHalfLife is the half-life, in steps, of the errors a Switch
// compares: one day at a 5-minute cadence (chosen across series,
// PROTOCOL.md, "A per-series switch").
const SwitchHalfLife = 288

// SwitchLags is the number of lags of a Switch's ridge autoregression, as
// in the ridge_ar baseline.
const SwitchLags = 60

// Switch follows one series and forecasts it with whichever of two
// forecasters, or their average, has erred less on it lately, horizon by
// horizon: the
// Forecaster, which knows many series but reads only the last Needs()
// observations of this one, and a ridge autoregression fitted on this
// series' own history (baseline.RidgeAR, SwitchLags lags), which knows its
// long-run level and rhythm. For each horizon h it keeps the exponentially
// weighted mean absolute error (half-life SwitchHalfLife steps) of the two
// forecasters' h-step forecasts whose targets it has seen and of their
// average, and forecasts with the one of the three whose error is least
// (the average on a tie and before any target has been seen; the one that
// can forecast when the other cannot).
//
// Switch has the life cycle of a baseline.Forecaster (Fit once, then Update
// for every observation and never refit), so Evaluate scores it as the
// baselines are scored, and a user who follows a series serves it the same
// way. The network's forecasts are computed lazily, in batches, when a
// forecast is asked for.
type Switch struct {
	fc    *Forecaster
	ar    *baseline.RidgeAR
	decay float64
	ctx   context.Context

	// values[i] is observation base+i: every observation from the
	// earliest one the pending origins' windows read.
	values []float64
	base   int
	n      int // observations seen
	// pending is the first origin whose network forecast is not computed.
	pending int
	// net and ar hold each origin's forecasts for h = 1..K, ring-indexed
	// by origin mod (K+1); netOK and arOK say whether they exist.
	net, arF    [][]float64
	netOK, arOK []bool
	// The weighted error sums per horizon of the network, the
	// autoregression and their average, and the sum of their weights.
	errNet, errAR, errAvg, weight []float64
	// err is the first error of the network, returned by Forecast.
	err error
}

// NewSwitch returns an unfitted Switch over fc.
func NewSwitch(fc *Forecaster) *Switch {
	K := fc.Horizon()
	s := &Switch{fc: fc, ar: baseline.NewRidgeAR(SwitchLags, K), decay: math.Pow(0.5, 1/float64(SwitchHalfLife)), ctx: context.Background()}
	s.net, s.arF = make([][]float64, K+1), make([][]float64, K+1)
	for i := range s.net {
		s.net[i], s.arF[i] = make([]float64, K), make([]float64, K)
	}
	s.netOK, s.arOK = make([]bool, K+1), make([]bool, K+1)
	s.errNet, s.errAR, s.errAvg, s.weight = make([]float64, K), make([]float64, K), make([]float64, K), make([]float64, K)
	return s
}

// Name is SwitchMethod.
func (s *Switch) Name() string { return SwitchMethod }

// Fit fits the ridge autoregression on history (its first nTrain steps
// choose the penalty, as baseline.RidgeAR.Fit does), then replays history.
func (s *Switch) Fit(history baseline.Series, nTrain int) error {
	if err := s.ar.Fit(history, nTrain); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	s.Reset()
	for _, v := range history.Values {
		s.Update(v)
	}
	return nil
}

// Reset empties the state (observations, forecasts and errors), keeping
// the fitted autoregression.
func (s *Switch) Reset() {
	s.values, s.base, s.n, s.pending, s.err = s.values[:0], 0, 0, 0, nil
	clear(s.netOK)
	clear(s.arOK)
	clear(s.errNet)
	clear(s.errAR)
	clear(s.errAvg)
	clear(s.weight)
}

// Update appends the observation v.
func (s *Switch) Update(v float64) {
	if s.ar.Coef == nil {
		panic("forecast: switch: Update before Fit")
	}
	s.values = append(s.values, v)
	s.n++
	// Bound the memory: score in batches of origins.
	if s.n-s.pending >= 4096 {
		s.catchUp()
	}
}

// arForecast sets dst[h-1] to the autoregression's forecast from origin t
// (which must have SwitchLags observations up to it in s.values).
func (s *Switch) arForecast(dst []float64, t int) {
	r := s.ar
	x := s.values[t+1-SwitchLags-s.base : t+1-s.base]
	for h := range dst {
		p := r.Intercept[h]
		for i, c := range r.Coef[h] {
			p += c * r.Scaler.Scale(x[i])
		}
		dst[h] = r.Scaler.Unscale(p)
	}
}

// catchUp forecasts from every pending origin with both forecasters and
// scores, in order, every target observed since.
func (s *Switch) catchUp() {
	K, need := s.fc.Horizon(), s.fc.Needs()
	last := s.n - 1
	for s.pending <= last {
		hi := min(last, s.pending+1023)
		// The network forecasts from origins first..hi in one batch.
		first := max(s.pending, need-1)
		var hist [][]float64
		for t := first; t <= hi; t++ {
			hist = append(hist, s.values[t+1-need-s.base:t+1-s.base])
		}
		var fs []Forecast
		if len(hist) > 0 && s.err == nil {
			var err error
			if fs, err = s.fc.ForecastBatch(s.ctx, hist); err != nil {
				s.err, fs = err, nil
			}
		}
		for t := s.pending; t <= hi; t++ {
			// Score target t with the forecasts made before it, then
			// store origin t's (its slot held origin t-K-1's).
			y := s.values[t-s.base]
			for h := 1; h <= K && h <= t; h++ {
				o := (t - h) % (K + 1)
				if !s.netOK[o] || !s.arOK[o] {
					continue
				}
				s.errNet[h-1] = s.decay*s.errNet[h-1] + math.Abs(s.net[o][h-1]-y)
				s.errAR[h-1] = s.decay*s.errAR[h-1] + math.Abs(s.arF[o][h-1]-y)
				s.errAvg[h-1] = s.decay*s.errAvg[h-1] + math.Abs((s.net[o][h-1]+s.arF[o][h-1])/2-y)
				s.weight[h-1] = s.decay*s.weight[h-1] + 1
			}
			slot := t % (K + 1)
			s.netOK[slot], s.arOK[slot] = false, false
			if t >= first && fs != nil {
				for h, p := range fs[t-first].Points {
					s.net[slot][h] = p.Value
				}
				s.netOK[slot] = true
			}
			if t+1 >= SwitchLags {
				s.arForecast(s.arF[slot], t)
				s.arOK[slot] = true
			}
		}
		s.pending = hi + 1
		// Keep what the next origins' windows need.
		if drop := s.pending - max(need, SwitchLags) - s.base; drop > 0 {
			s.values = append(s.values[:0], s.values[drop:]...)
			s.base += drop
		}
	}
}

// Forecast forecasts the value h steps after the last observation.
func (s *Switch) Forecast(h int) (float64, error) {
	K := s.fc.Horizon()
	if h < 1 || h > K {
		return 0, fmt.Errorf("forecast: switch: horizon %d: the forecaster forecasts h = 1..%d", h, K)
	}
	if s.n == 0 {
		return 0, baseline.ErrShortHistory
	}
	s.catchUp()
	slot := (s.n - 1) % (K + 1)
	netOK, arOK := s.netOK[slot], s.arOK[slot]
	switch {
	case netOK && arOK:
		n, a := s.net[slot][h-1], s.arF[slot][h-1]
		en, ea, em := s.errNet[h-1], s.errAR[h-1], s.errAvg[h-1]
		switch {
		case s.weight[h-1] == 0 || (em <= en && em <= ea):
			return (n + a) / 2, nil
		case ea < en:
			return a, nil
		default:
			return n, nil
		}
	case netOK:
		return s.net[slot][h-1], nil
	case arOK:
		return s.arF[slot][h-1], nil
	case s.err != nil:
		return 0, s.err
	}
	return 0, errors.Join(baseline.ErrShortHistory, fmt.Errorf("forecast: switch: %d observations; the forecaster needs %d", s.n, s.fc.Needs()))
}
