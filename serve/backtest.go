package serve

import (
	"context"
	"fmt"
	perfpredict "github.com/novacron/perfpredict"
	"math"
	"slices"
	"time"
)

// Backtest is the degradation forecaster run over a stretch of data, every
// origin scored against what happened.
type Backtest struct {
	Horizon int
	Origins []int       // rows of the data
	Times   []time.Time // their times
	// Probability of a breach within the horizon at each origin, from the
	// calibrated distribution (recalibrated by the probability map;
	// RawProbability before it); Point is whether the point forecast itself
	// crosses a threshold within the horizon (the threshold-on-forecast
	// baseline); Event whether a breach actually happened.
	Probability    []float64
	RawProbability []float64
	Point          []bool
	Event          []bool
	// FallbackProbability and FallbackPoint are the same from the fallback
	// forecaster (Holt-Winters) with its own calibration: the statistical
	// degradation forecaster to compare with (nil without a fallback).
	FallbackProbability []float64
	FallbackPoint       []bool
	// Reliability of Probability against Event (10 bins), and of
	// RawProbability.
	Reliability, RawReliability []ReliabilityBin
	// Coverage of the 80% interval (10% to 90%) per step [h-1] and pooled
	// over steps and metrics; Brier score of Probability and of
	// RawProbability.
	Coverage        []float64
	CoverageAll     float64
	Brier, RawBrier float64
	FallbackUsed    int

	forecast [][]float64 // per origin, the point forecasts [M*K]
}

// Backtest runs PredictDegradation's forecaster at every origin t of d with
// from <= t < to whose horizon lies within d. With online set, the
// calibration rolls forward as outcomes arrive (adaptive split conformal):
// at origin t the residual paths of origins t' <= t - Horizon, whose
// targets are all observed by t, replace the oldest validation paths, so the
// intervals and probabilities follow the current regime; likewise the pair
// (raw probability, breach followed) of the origin t - horizon, whose
// outcome is known at t, replaces the oldest held-out pair and the
// probability map is refitted. Without online, the map is the
// calibration's (fitted for the model's horizon).
func (s *Service) Backtest(ctx context.Context, d *Data, from, to, horizon int, online bool) (*Backtest, error) {
	if horizon == 0 {
		horizon = DefaultHorizon
	}
	if horizon < 1 || horizon > s.Spec.Horizon {
		return nil, fmt.Errorf("serve: horizon %d: the model forecasts 1 to %d steps ahead", horizon, s.Spec.Horizon)
	}
	rows, cols, err := s.prepare(d)
	if err != nil {
		return nil, err
	}
	from = max(from, rows.First()+s.Spec.Steps-1)
	to = min(to, d.Len()-horizon)
	if from >= to {
		return nil, fmt.Errorf("serve: %s: no origin in [%d, %d) has a %d-step window and its horizon within %d rows", d.Name, from, to, s.Spec.Steps, d.Len())
	}
	var origins []int
	for t := from; t < to; t++ {
		origins = append(origins, t)
	}
	preds, srcs, err := s.forecastMany(ctx, d, rows, cols, origins)
	if err != nil {
		return nil, err
	}
	K, M := s.Spec.Horizon, len(cols)
	b := &Backtest{Horizon: horizon, Origins: origins, Coverage: make([]float64, horizon), forecast: preds}
	covered := make([]int, horizon)
	cal := s.cal.Load()
	rollModel := newRolling(cal.Model, cal.sortedModel)
	rollFB := newRolling(cal.Fallback, cal.sortedFallback)
	mapModel := newRollingPairs(cal.modelPairs, horizon, cal.ModelMap)
	mapFB := newRollingPairs(cal.fallbackPairs, horizon, cal.FallbackMap)
	rawFB := make([]float64, len(origins))
	modelUsed := make([]bool, len(origins))
	fbPreds := make([][]float64, len(origins))
	fb := s.Predictor.opt.Fallback
	var w Window
	fbPred := make([]float64, M*K)
	for i, t := range origins {
		if online && i >= K {
			// Origin i-K's targets are observed now.
			j, tj := i-K, origins[i-K]
			scj := s.scales(d, cols, tj)
			path := make([]float64, M*K)
			for m, c := range cols {
				for h := 1; h <= K; h++ {
					path[m*K+h-1] = (d.Values[c][tj+h] - preds[j][m*K+h-1]) / scj[m]
				}
			}
			if srcs[j] == SourceModel {
				rollModel.push(path)
			}
			if fbPreds[j] != nil {
				pf := make([]float64, M*K)
				for m, c := range cols {
					for h := 1; h <= K; h++ {
						pf[m*K+h-1] = (d.Values[c][tj+h] - fbPreds[j][m*K+h-1]) / scj[m]
					}
				}
				rollFB.push(pf)
			}
		}
		if online && i >= horizon {
			// Origin i-horizon's outcome is known now.
			j := i - horizon
			if modelUsed[j] {
				mapModel.push(probPair{b.RawProbability[j], b.Event[j]})
			}
			if fb != nil {
				mapFB.push(probPair{rawFB[j], b.Event[j]})
			}
		}
		sc := s.scales(d, cols, t)
		if fb != nil {
			s.window(&w, rows, d, cols, t)
			for m := range cols {
				if err := fb.Forecast(m, w.History[m], w.Phase, fbPred[m*K:(m+1)*K]); err != nil {
					return nil, err
				}
			}
			fbPreds[i] = append([]float64(nil), fbPred...)
			rf := assess(fbPred, K, horizon, s.Thresholds, rollFB.paths, sc)
			rawFB[i] = rf.raw
			rf.recalibrate(mapFB.m)
			pt := false
			for m := range cols {
				for h := 1; h <= horizon; h++ {
					pt = pt || s.Thresholds[m].breached(fbPred[m*K+h-1])
				}
			}
			b.FallbackProbability = append(b.FallbackProbability, rf.pAny)
			b.FallbackPoint = append(b.FallbackPoint, pt)
		}
		paths, sorted, pm := rollModel.paths, rollModel.sorted, mapModel
		modelUsed[i] = srcs[i] == SourceModel && len(paths) > 0
		if !modelUsed[i] {
			paths, sorted, pm = rollFB.paths, rollFB.sorted, mapFB
		}
		if srcs[i] != SourceModel {
			b.FallbackUsed++
		}
		r := assess(preds[i], K, horizon, s.Thresholds, paths, sc)
		r.recalibrate(pm.m)
		event, point := false, false
		for m, c := range cols {
			for h := 1; h <= horizon; h++ {
				y, f := d.Values[c][t+h], preds[i][m*K+h-1]
				if s.Thresholds[m].breached(y) {
					event = true
				}
				if s.Thresholds[m].breached(f) {
					point = true
				}
				if sorted != nil {
					col := sorted[m*K+h-1]
					if lo, hi := f+sc[m]*conformalQuantile(col, 0.1), f+sc[m]*conformalQuantile(col, 0.9); y >= lo && y <= hi {
						covered[h-1]++
					}
				}
			}
		}
		b.Times = append(b.Times, d.Times[t])
		b.Probability = append(b.Probability, r.pAny)
		b.RawProbability = append(b.RawProbability, r.raw)
		b.Event = append(b.Event, event)
		b.Point = append(b.Point, point)
	}
	n := float64(len(origins))
	all := 0
	for h := range covered {
		b.Coverage[h] = float64(covered[h]) / (n * float64(M))
		all += covered[h]
	}
	b.CoverageAll = float64(all) / (n * float64(M*horizon))
	b.Brier, b.RawBrier = BrierScore(b.Probability, b.Event), BrierScore(b.RawProbability, b.Event)
	b.Reliability = Reliability(b.Probability, b.Event, 10)
	b.RawReliability = Reliability(b.RawProbability, b.Event, 10)
	if math.IsNaN(b.CoverageAll) {
		b.CoverageAll = 0
	}
	return b, nil
}

// Accuracy scores the forecasts from every origin t of d with from <= t <
// to (whose targets lie within d) per metric in original units, with the
// protocol's definitions (perfpredict.Score): at step h, or pooled over
// steps 1..Horizon when h is 0. Outputs follow Spec.Metrics.
func (s *Service) Accuracy(ctx context.Context, d *Data, from, to, h int) (perfpredict.Metrics, error) {
	K, M := s.Spec.Horizon, len(s.Spec.Metrics)
	if h < 0 || h > K {
		return perfpredict.Metrics{}, fmt.Errorf("serve: step %d: the model forecasts 1 to %d steps ahead", h, K)
	}
	rows, cols, err := s.prepare(d)
	if err != nil {
		return perfpredict.Metrics{}, err
	}
	from = max(from, rows.First()+s.Spec.Steps-1)
	to = min(to, d.Len()-K)
	if from >= to {
		return perfpredict.Metrics{}, fmt.Errorf("serve: %s: no origin in range with its targets within the data", d.Name)
	}
	var origins []int
	for t := from; t < to; t++ {
		origins = append(origins, t)
	}
	preds, _, err := s.forecastMany(ctx, d, rows, cols, origins)
	if err != nil {
		return perfpredict.Metrics{}, err
	}
	var pred, truth []float64
	for i, t := range origins {
		for step := 1; step <= K; step++ {
			if h != 0 && step != h {
				continue
			}
			for m, c := range cols {
				pred = append(pred, preds[i][m*K+step-1])
				truth = append(truth, d.Values[c][t+step])
			}
		}
	}
	out := perfpredict.Score(pred, truth, M)
	out.OriginalUnits = true
	return out, nil
}

// rolling is a calibration set of fixed size whose oldest path gives way to
// each new one, with its columns kept sorted.
type rolling struct {
	paths  [][]float64 // oldest first
	sorted [][]float64
}

func newRolling(paths, sorted [][]float64) *rolling {
	r := &rolling{paths: slices.Clone(paths)}
	for _, c := range sorted {
		r.sorted = append(r.sorted, slices.Clone(c))
	}
	return r
}

func (r *rolling) push(path []float64) {
	if len(r.paths) == 0 {
		return
	}
	old := r.paths[0]
	r.paths = append(r.paths[1:], path)
	for j, col := range r.sorted {
		if !math.IsNaN(old[j]) {
			if i, ok := slices.BinarySearch(col, old[j]); ok {
				col = slices.Delete(col, i, i+1)
			}
		}
		if !math.IsNaN(path[j]) {
			i, _ := slices.BinarySearch(col, path[j])
			col = slices.Insert(col, i, path[j])
		}
		r.sorted[j] = col
	}
}
