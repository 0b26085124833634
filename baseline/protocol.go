package baseline

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Split is the protocol's chronological cut by position: train [0, Train),
// validation [Train, Train+Val), test [Train+Val, N).
type Split struct {
	N, Train, Val int
}

// SplitOf cuts n steps 70/15/15: Train = floor(0.70 n), Val = floor(0.15 n),
// test the rest.
func SplitOf(n int) Split {
	// Integer arithmetic so that floor(0.70*n) is not lost to rounding
	// (0.7*10 is 6.999... in binary floating point).
	return Split{N: n, Train: n * 70 / 100, Val: n * 15 / 100}
}

// Fit is the number of steps forecasters may fit on: train and validation.
func (s Split) Fit() int { return s.Train + s.Val }

// TestStart is the first test index.
func (s Split) TestStart() int { return s.Train + s.Val }

// Scaler standardises with the training split's mean and standard deviation
// (ddof 0; SD = 1 when it is 0).
type Scaler struct {
	Mean, SD float64
}

// FitScaler fits a Scaler on y.
func FitScaler(y []float64) Scaler {
	if len(y) == 0 {
		return Scaler{Mean: 0, SD: 1}
	}
	var mu float64
	for _, v := range y {
		mu += v
	}
	mu /= float64(len(y))
	var ss float64
	for _, v := range y {
		ss += (v - mu) * (v - mu)
	}
	sd := math.Sqrt(ss / float64(len(y)))
	if sd == 0 {
		sd = 1
	}
	return Scaler{Mean: mu, SD: sd}
}

// Scale returns (v - Mean) / SD.
func (s Scaler) Scale(v float64) float64 { return (v - s.Mean) / s.SD }

// Unscale returns v*SD + Mean.
func (s Scaler) Unscale(v float64) float64 { return v*s.SD + s.Mean }

// NaiveScale is the MASE denominator: the mean absolute one-step change over
// the training split, mean |y[i] - y[i-1]| for 1 <= i < Train.
func NaiveScale(y []float64, sp Split) float64 {
	if sp.Train < 2 {
		return math.NaN()
	}
	var d float64
	for i := 1; i < sp.Train; i++ {
		d += math.Abs(y[i] - y[i-1])
	}
	return d / float64(sp.Train-1)
}

// Metrics are the protocol's accuracy figures over the test targets, in the
// series' original units. A figure that is undefined (MAPE with every |y|
// tiny, R2 on a constant test split, MASE on a constant train split) is NaN
// and encodes as JSON null.
type Metrics struct {
	MAE       float64 `json:"mae"`
	RMSE      float64 `json:"rmse"`
	MAPE      float64 `json:"mape"`
	R2        float64 `json:"r2"`
	MASE      float64 `json:"mase"`
	Accuracy5 float64 `json:"accuracy5"`
	// N is the number of targets.
	N int `json:"n"`
}

// MarshalJSON writes NaN and infinite figures as null, which JSON can hold.
func (m Metrics) MarshalJSON() ([]byte, error) {
	num := func(v float64) json.RawMessage {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return json.RawMessage("null")
		}
		return json.RawMessage(strconv.FormatFloat(v, 'g', -1, 64))
	}
	return json.Marshal(struct {
		MAE       json.RawMessage `json:"mae"`
		RMSE      json.RawMessage `json:"rmse"`
		MAPE      json.RawMessage `json:"mape"`
		R2        json.RawMessage `json:"r2"`
		MASE      json.RawMessage `json:"mase"`
		Accuracy5 json.RawMessage `json:"accuracy5"`
		N         int             `json:"n"`
	}{num(m.MAE), num(m.RMSE), num(m.MAPE), num(m.R2), num(m.MASE), num(m.Accuracy5), m.N})
}

// UnmarshalJSON reads what MarshalJSON writes, null as NaN.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	var raw struct {
		MAE, RMSE, MAPE, R2, MASE, Accuracy5 *float64
		N                                    int
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	val := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*m = Metrics{MAE: val(raw.MAE), RMSE: val(raw.RMSE), MAPE: val(raw.MAPE), R2: val(raw.R2),
		MASE: val(raw.MASE), Accuracy5: val(raw.Accuracy5), N: raw.N}
	return nil
}

// Targets are the indices every method is scored on: each index j of the test
// split, forecast from origin j-h. They do not depend on h.
func Targets(sp Split) []int {
	out := make([]int, 0, sp.N-sp.TestStart())
	for j := sp.TestStart(); j < sp.N; j++ {
		out = append(out, j)
	}
	return out
}

// Score computes the metrics of forecasts pred, where pred[k] forecasts
// y[Targets(SplitOf(len(y)))[k]]; the same for every method and horizon.
func Score(y []float64, pred []float64) (Metrics, error) {
	sp := SplitOf(len(y))
	tg := Targets(sp)
	if len(tg) == 0 {
		return Metrics{}, badInput("%d steps leave no test targets", len(y))
	}
	if len(pred) != len(tg) {
		return Metrics{}, fmt.Errorf("baseline: %d forecasts for %d test targets", len(pred), len(tg))
	}
	var m Metrics
	m.N = len(tg)
	var sumAbs, sumSq, sumAPE, meanY float64
	var nAPE, hits int
	for k, j := range tg {
		e := pred[k] - y[j]
		ae := math.Abs(e)
		sumAbs += ae
		sumSq += e * e
		if ay := math.Abs(y[j]); ay > 1e-9 {
			sumAPE += ae / ay
			nAPE++
		}
		if ae <= 0.05*math.Abs(y[j]) {
			hits++
		}
		meanY += y[j]
	}
	n := float64(len(tg))
	meanY /= n
	var ssTot float64
	for _, j := range tg {
		ssTot += (y[j] - meanY) * (y[j] - meanY)
	}
	m.MAE = sumAbs / n
	m.RMSE = math.Sqrt(sumSq / n)
	m.MAPE = math.NaN()
	if nAPE > 0 {
		m.MAPE = 100 * sumAPE / float64(nAPE)
	}
	m.R2 = math.NaN()
	if ssTot > 0 {
		m.R2 = 1 - sumSq/ssTot
	}
	m.MASE = math.NaN()
	if d := NaiveScale(y, sp); d > 0 {
		m.MASE = m.MAE / d
	}
	m.Accuracy5 = float64(hits) / n
	return m, nil
}

// Forecasts runs f through s by the protocol at each horizon of hs: f is
// fitted once on the train and validation splits, then reset and fed the
// series from its first step; after the observation at origin j-h it
// forecasts every test target j. out[i] is aligned with Targets for hs[i].
func Forecasts(s Series, f Forecaster, hs ...int) ([][]float64, error) {
	if len(hs) == 0 {
		return nil, errors.New("baseline: no horizon")
	}
	maxH := 0
	for _, h := range hs {
		if h < 1 {
			return nil, fmt.Errorf("baseline: horizon %d < 1", h)
		}
		maxH = max(maxH, h)
	}
	if err := CheckSeries(s, maxH); err != nil {
		return nil, err
	}
	y := s.Values
	sp := SplitOf(len(y))
	if err := f.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
		return nil, fmt.Errorf("%s: fitting %s: %w", s.Name, f.Name(), err)
	}
	f.Reset()
	start := sp.TestStart()
	out := make([][]float64, len(hs))
	for i := range out {
		out[i] = make([]float64, 0, sp.N-start)
	}
	for t := 0; t < sp.N-1; t++ {
		f.Update(y[t])
		for i, h := range hs {
			if j := t + h; j < start || j >= sp.N {
				continue
			}
			p, err := f.Forecast(h)
			if err != nil {
				return nil, fmt.Errorf("%s: %s at origin %d, h=%d: %w", s.Name, f.Name(), t, h, err)
			}
			out[i] = append(out[i], p)
		}
	}
	return out, nil
}

// EvaluateHorizons scores f on s at each horizon of hs by the protocol,
// fitting it once.
func EvaluateHorizons(s Series, f Forecaster, hs ...int) ([]Metrics, error) {
	preds, err := Forecasts(s, f, hs...)
	if err != nil {
		return nil, err
	}
	out := make([]Metrics, len(hs))
	for i, p := range preds {
		if out[i], err = Score(s.Values, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Evaluate scores f on s at horizon h by the protocol.
func Evaluate(s Series, f Forecaster, h int) (Metrics, error) {
	m, err := EvaluateHorizons(s, f, h)
	if err != nil {
		return Metrics{}, err
	}
	return m[0], nil
}

// MinTrainLags is the longest history a standard forecaster needs before its
// first fitted window (ridge AR's lags).
const MinTrainLags = 60

// CheckSeries reports, as an ErrBadInput error, a series the protocol cannot
// evaluate at horizon h: too short for a 60-step window plus the horizon in
// every split, or constant, or with a constant training split (MASE would
// divide by zero).
func CheckSeries(s Series, h int) error {
	n := len(s.Values)
	sp := SplitOf(n)
	// Ridge AR needs windows with targets in train and in validation, and
	// every split must hold at least one target.
	need := MinTrainLags + h
	if sp.Train < need+1 || sp.Val < 1 || sp.N-sp.TestStart() < 1 {
		minN := n + 1
		for sp := SplitOf(minN); sp.Train < need+1 || sp.Val < 1 || sp.N-sp.TestStart() < 1; sp = SplitOf(minN) {
			minN++
		}
		return badInput("%s: %d steps are too few for a %d-step window plus horizon %d (need at least %d)",
			s.Name, n, MinTrainLags, h, minN)
	}
	constant := func(v []float64) bool {
		for _, x := range v[1:] {
			if x != v[0] {
				return false
			}
		}
		return true
	}
	if constant(s.Values) {
		return badInput("%s: all %d values are %g; nothing to forecast", s.Name, n, s.Values[0])
	}
	if constant(s.Values[:sp.Train]) {
		return badInput("%s: the training split (first %d steps) is constant; MASE is undefined", s.Name, sp.Train)
	}
	return nil
}

// GeoMean is the geometric mean of xs, the protocol's summary of MASE over
// series; NaN when xs is empty or holds a value that is not positive and
// finite.
func GeoMean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		if !(x > 0) || math.IsInf(x, 0) {
			return math.NaN()
		}
		s += math.Log(x)
	}
	return math.Exp(s / float64(len(xs)))
}

// Standard returns the protocol's five baselines for a series with a daily
// season of period steps, able to forecast up to maxHorizon steps ahead:
// persistence, seasonal naive, ma12, Holt-Winters and ridge AR60.
func Standard(period, maxHorizon int) []Forecaster {
	return []Forecaster{
		&Persistence{},
		NewSeasonalNaive(period),
		NewMovingAverage(12),
		NewHoltWinters(period),
		NewRidgeAR(60, maxHorizon),
	}
}

// errNotFitted is returned by forecasters that need Fit before Forecast.
var errNotFitted = errors.New("baseline: forecaster used before Fit")
