package optimize

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/novacron/perfpredict/forecast"
)

// ForecastDemand is a DemandForecaster backed by a trained forecaster: it
// forecasts demand from the recent History and plans capacity for the
// forecast's upper quantile (p90) in every interval, so an allocation that
// meets the SLO in an interval does so for nine in ten of the demands the
// forecaster thinks possible there, not only for its median.
//
// Beyond the forecaster's horizon K the forecast goes on from its own
// median path (the p50 of the first K steps appended to the history, and
// so on); those steps' band is at least the band of the step K before them,
// so it never narrows where a new block starts. That band understates the
// uncertainty of a long recursive forecast: plan no further ahead than the
// forecaster was trained for where the decision allows.
type ForecastDemand struct {
	Forecaster *forecast.Forecaster
	// History is the recent demand in req/s, oldest first, in the same
	// cadence as the intervals planned; the forecast reads its last
	// Forecaster.Needs() values.
	History []float64
	// Median plans for the forecast's p50 instead of its p90.
	Median bool
}

// ForecastDemand returns horizon intervals of planned demand (the
// forecaster's horizon when horizon <= 0), never below zero.
func (d ForecastDemand) ForecastDemand(ctx context.Context, horizon int) ([]float64, error) {
	fc := d.Forecaster
	if fc == nil {
		return nil, errors.New("optimize: forecast demand: no forecaster")
	}
	if horizon <= 0 {
		horizon = fc.Horizon()
	}
	if len(d.History) < fc.Needs() {
		return nil, fmt.Errorf("optimize: forecast demand: history holds %d intervals; the forecaster needs the last %d: %w",
			len(d.History), fc.Needs(), forecast.ErrBadInput)
	}
	for i, v := range d.History[len(d.History)-fc.Needs():] {
		if !finiteNonNeg(v) {
			return nil, fmt.Errorf("optimize: forecast demand: history[%d]: must be a finite non-negative rate, got %v: %w",
				len(d.History)-fc.Needs()+i, v, forecast.ErrBadInput)
		}
	}
	// Only the last Needs() values matter; the path grows by the medians.
	path := append([]float64(nil), d.History[len(d.History)-fc.Needs():]...)
	out := make([]float64, 0, horizon)
	bands := make([]float64, 0, horizon) // p90 - p50 per step
	K := fc.Horizon()
	for len(out) < horizon {
		f, err := fc.Forecast(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("optimize: forecast demand: %w", err)
		}
		for _, p := range f.Points {
			if len(out) == horizon {
				break
			}
			band := p.P90 - p.P50
			if j := len(bands); j >= K {
				band = math.Max(band, bands[j-K])
			}
			bands = append(bands, band)
			v := p.P50
			if !d.Median {
				v += band
			}
			out = append(out, math.Max(0, v))
			path = append(path, math.Max(0, p.P50))
		}
		path = path[len(path)-fc.Needs():]
	}
	return out, nil
}
