package baseline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// IntervalAlpha is the miscoverage of the protocol's intervals: p10 to p90,
// a nominal 80% interval.
const IntervalAlpha = 0.2

// IntervalMetrics score probabilistic forecasts (p10, p50, p90) over the
// test targets. Winkler and Pinball are divided by the training split's
// one-step naive MAE (NaiveScale), like MASE, so that they are comparable
// across series.
type IntervalMetrics struct {
	// Coverage is the share of targets inside [p10, p90] (both ends in).
	Coverage float64
	// Hits is the number of targets inside; N the number of targets.
	Hits, N int
	// Winkler is the mean interval score at IntervalAlpha, scaled:
	// (hi-lo) + 2/alpha*(lo-y) when y < lo, + 2/alpha*(y-hi) when y > hi.
	Winkler float64
	// Pinball is the mean pinball loss over the quantiles 0.1, 0.5, 0.9,
	// scaled.
	Pinball float64
}

// MarshalJSON writes NaN and infinite figures as null.
func (m IntervalMetrics) MarshalJSON() ([]byte, error) {
	num := func(v float64) json.RawMessage {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return json.RawMessage("null")
		}
		return json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return json.Marshal(struct {
		Coverage json.RawMessage `json:"coverage"`
		Hits     int             `json:"hits"`
		N        int             `json:"n"`
		Winkler  json.RawMessage `json:"winkler"`
		Pinball  json.RawMessage `json:"pinball"`
	}{num(m.Coverage), m.Hits, m.N, num(m.Winkler), num(m.Pinball)})
}

// Pinball is the pinball (quantile) loss of forecast x for the q-quantile
// of y: q(y-x) when y >= x, (1-q)(x-y) otherwise.
func Pinball(q, x, y float64) float64 {
	if y >= x {
		return q * (y - x)
	}
	return (1 - q) * (x - y)
}

// Winkler is the interval score of [lo, hi] for y at miscoverage alpha:
// the width plus 2/alpha times the distance by which y falls outside.
func Winkler(alpha, lo, hi, y float64) float64 {
	s := hi - lo
	if y < lo {
		s += 2 / alpha * (lo - y)
	} else if y > hi {
		s += 2 / alpha * (y - hi)
	}
	return s
}

// ScoreIntervals scores p10 lo, median mid and p90 hi, each aligned with
// Targets(SplitOf(len(y))) as in Score.
func ScoreIntervals(y, lo, mid, hi []float64) (IntervalMetrics, error) {
	sp := SplitOf(len(y))
	tg := Targets(sp)
	if len(tg) == 0 {
		return IntervalMetrics{}, badInput("%d steps leave no test targets", len(y))
	}
	if len(lo) != len(tg) || len(mid) != len(tg) || len(hi) != len(tg) {
		return IntervalMetrics{}, fmt.Errorf("baseline: %d/%d/%d quantile forecasts for %d test targets", len(lo), len(mid), len(hi), len(tg))
	}
	m := IntervalMetrics{N: len(tg)}
	var wink, pin float64
	for k, j := range tg {
		v := y[j]
		if v >= lo[k] && v <= hi[k] {
			m.Hits++
		}
		wink += Winkler(IntervalAlpha, lo[k], hi[k], v)
		pin += (Pinball(0.1, lo[k], v) + Pinball(0.5, mid[k], v) + Pinball(0.9, hi[k], v)) / 3
	}
	n := float64(len(tg))
	m.Coverage = float64(m.Hits) / n
	m.Winkler, m.Pinball = math.NaN(), math.NaN()
	if d := NaiveScale(y, sp); d > 0 {
		m.Winkler, m.Pinball = wink/n/d, pin/n/d
	}
	return m, nil
}

// ConformalOffsets are split-conformal 80% bounds for f at each horizon of
// hs: f is fitted on the training split alone (Fit sees it as its whole
// history), run forward without refitting through the validation split,
// and for every validation target j forecast from origin j-h the residual
// y[j] - forecast is kept; lo[i] and hi[i] are the 10% and 90% quantiles
// (linear between order statistics) of those at hs[i]. Added to the
// protocol's point forecasts (Forecasts, fitted on train and validation)
// they give the intervals. The validation split is data the test never
// sees, the same the neural forecaster's intervals are calibrated on.
func ConformalOffsets(s Series, f Forecaster, hs ...int) (lo, hi []float64, err error) {
	if len(hs) == 0 {
		return nil, nil, errors.New("baseline: no horizon")
	}
	maxH := 0
	for _, h := range hs {
		if h < 1 {
			return nil, nil, fmt.Errorf("baseline: horizon %d < 1", h)
		}
		maxH = max(maxH, h)
	}
	if err := CheckSeries(s, maxH); err != nil {
		return nil, nil, err
	}
	y := s.Values
	sp := SplitOf(len(y))
	if err := f.Fit(s.Slice(0, sp.Train), sp.Train); err != nil {
		return nil, nil, fmt.Errorf("%s: fitting %s on the training split: %w", s.Name, f.Name(), err)
	}
	f.Reset()
	res := make([][]float64, len(hs))
	for t := 0; t < sp.Fit()-1; t++ {
		f.Update(y[t])
		for i, h := range hs {
			j := t + h
			if j < sp.Train || j >= sp.Fit() {
				continue
			}
			p, err := f.Forecast(h)
			if errors.Is(err, ErrShortHistory) {
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %s at origin %d, h=%d: %w", s.Name, f.Name(), t, h, err)
			}
			res[i] = append(res[i], y[j]-p)
		}
	}
	lo, hi = make([]float64, len(hs)), make([]float64, len(hs))
	for i, r := range res {
		if len(r) == 0 {
			return nil, nil, fmt.Errorf("%s: %s: no validation forecast at h=%d: %w", s.Name, f.Name(), hs[i], ErrShortHistory)
		}
		slices.Sort(r)
		lo[i], hi[i] = QuantileSorted(r, 0.1), QuantileSorted(r, 0.9)
	}
	return lo, hi, nil
}

// QuantileSorted is the q-quantile of sorted s, linear between order
// statistics (numpy's default); the forecaster's calibration and the
// conformal intervals here read residual quantiles the same way.
func QuantileSorted(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	frac := pos - float64(i)
	return s[i] + frac*(s[i+1]-s[i])
}
