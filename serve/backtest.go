package serve

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// Backtest is PredictDegradation run at every origin of a stretch of data
// and scored against what happened.
type Backtest struct {
	Horizon int
	Origins []int       // rows of the data
	Times   []time.Time // their times
	// Probability of a breach within the horizon at each origin (as
	// PredictDegradation answers it now: recalibrated when Recalibrate was
	// called for this horizon), RawProbability before the map; Point
	// whether the median forecast itself crosses a threshold within the
	// horizon (the threshold-on-forecast baseline); Event whether a breach
	// happened.
	Probability    []float64
	RawProbability []float64
	Point          []bool
	Event          []bool
	// Reliability of Probability against Event (10 bins) and the Brier
	// scores of Probability and RawProbability.
	Reliability     []ReliabilityBin
	Brier, RawBrier float64
	// Coverage of the 80% interval (p10 to p90) per step [h-1] and pooled
	// over steps and metrics (0.8 when calibrated).
	Coverage    []float64
	CoverageAll float64
	// FallbackUsed counts forecasts (origin x metric) the fallback
	// answered.
	FallbackUsed int
}

// Backtest runs PredictDegradation's forecast at every origin t of d (a
// series per metric, sharing their times) with from <= t < to that has
// Needs() rows up to it and its horizon within d. With
// ServiceOptions.Switch a metric's forecast at t is that of a switch
// fitted as the service's was and fed d's rows up to t (as an evaluation
// makes the switch's forecasts).
func (s *Service) Backtest(ctx context.Context, d []baseline.Series, from, to, horizon int) (*Backtest, error) {
	if horizon == 0 {
		horizon = DefaultHorizon
	}
	if horizon < 1 || horizon > s.Horizon() {
		return nil, fmt.Errorf("serve: horizon %d: the forecaster forecasts 1 to %d steps ahead: %w", horizon, s.Horizon(), ErrBadInput)
	}
	cols, err := s.columns(d)
	if err != nil {
		return nil, err
	}
	from = max(from, s.Needs()-1)
	n := rows(d)
	to = min(to, n-horizon)
	if from >= to {
		return nil, fmt.Errorf("%sno origin in range has the %d rows a forecast needs and its %d-step horizon within %d rows: %w",
			prefix(s.name), s.Needs(), horizon, n, ErrBadInput)
	}
	M := len(cols)
	sws := s.replays(d, cols, to)
	fed := 0 // rows of d the replays have seen
	b := &Backtest{Horizon: horizon, Coverage: make([]float64, horizon)}
	covered := make([]int, horizon)
	const chunk = 128 // origins per PredictBatch
	for lo := from; lo < to; lo += chunk {
		hi := min(to, lo+chunk)
		var ins []Input
		for t := lo; t < hi; t++ {
			ins = append(ins, s.inputs(d, cols, t)...)
		}
		ps, err := s.Predictor.PredictBatch(ctx, ins)
		if err != nil {
			return nil, err
		}
		for t := lo; t < hi; t++ {
			p := ps[(t-lo)*M : (t-lo+1)*M]
			for m, sw := range sws {
				if sw == nil {
					continue
				}
				for _, v := range d[cols[m]].Values[fed : t+1] {
					sw.Update(v)
				}
				if p[m].Source != SourceModel {
					continue
				}
				if pts, ok := switchPoints(sw, s.Horizon()); ok {
					p[m].Points, p[m].Method = pts, forecast.SwitchMethod
				}
			}
			fed = t + 1
			deg := s.assess(p, d[0].Times[t], horizon)
			event, point := false, false
			for m, c := range cols {
				if p[m].Source != SourceModel {
					b.FallbackUsed++
				}
				th := s.Thresholds[m]
				for h := 1; h <= horizon; h++ {
					y, pt := d[c].Values[t+h], p[m].Points[h-1]
					event = event || th.breached(y)
					point = point || th.breached(pt.P50)
					if y >= pt.P10 && y <= pt.P90 {
						covered[h-1]++
					}
				}
			}
			b.Origins = append(b.Origins, t)
			b.Times = append(b.Times, d[0].Times[t])
			b.Probability = append(b.Probability, deg.Probability)
			b.RawProbability = append(b.RawProbability, deg.RawProbability)
			b.Event = append(b.Event, event)
			b.Point = append(b.Point, point)
		}
	}
	forecasts := float64(len(b.Origins) * M)
	all := 0
	for h, c := range covered {
		b.Coverage[h] = float64(c) / forecasts
		all += c
	}
	b.CoverageAll = float64(all) / (forecasts * float64(horizon))
	b.Brier, b.RawBrier = BrierScore(b.Probability, b.Event), BrierScore(b.RawProbability, b.Event)
	b.Reliability = Reliability(b.Probability, b.Event, 10)
	return b, nil
}

// Recalibrate fits the map from the raw probability of a breach within
// horizon steps (0: DefaultHorizon) to the frequency of breaches that
// followed, on the origins t of d with from <= t < to whose outcomes d
// holds, and applies it to PredictDegradation's answers for that horizon
// from now on (replacing any earlier map). Fit it on outcomes the answers
// to be calibrated do not include: the most recent ones before a
// forecast, say. Safe to call while other goroutines forecast.
func (s *Service) Recalibrate(ctx context.Context, d []baseline.Series, from, to, horizon int) error {
	if horizon == 0 {
		horizon = DefaultHorizon
	}
	b, err := s.Backtest(ctx, d, from, to, horizon)
	if err != nil {
		return err
	}
	if need := mapMinHorizons * horizon; len(b.Origins) < need {
		return fmt.Errorf("%s%d origins with outcomes in range; recalibrating for %d steps needs %d: %w",
			prefix(s.name), len(b.Origins), horizon, need, ErrBadInput)
	}
	m := FitProbabilityMap(b.RawProbability, b.Event, mapMinHorizons*horizon, float64(mapPriorHorizons*horizon))
	s.pmap.Store(&fittedMap{m: m, horizon: horizon})
	return nil
}

// RecalibrateRecent is Recalibrate on d's latest origins whose outcomes d
// holds: as many as 15% of its rows, and at least two horizons' worth.
// `perfpredict degradation` and the HTTP degradation route recalibrate
// this way by default.
func (s *Service) RecalibrateRecent(ctx context.Context, d []baseline.Series, horizon int) error {
	if horizon == 0 {
		horizon = DefaultHorizon
	}
	n := rows(d)
	to := n - horizon
	return s.Recalibrate(ctx, d, to-max(n*15/100, 2*horizon), to, horizon)
}
