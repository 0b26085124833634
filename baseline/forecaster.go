package baseline

import (
	"errors"
	"fmt"
)

// Forecaster is a statistical forecaster with the protocol's life cycle:
// parameters are estimated once (Fit), then the state is advanced one
// observation at a time (Update) and never refitted, so a forecast from
// origin t uses y[0..t] only.
type Forecaster interface {
	// Name is the method's key in tables and JSON ("persistence", ...).
	Name() string
	// Fit estimates the parameters from history, whose first nTrain steps
	// are the training split (scaler, model selection) and the rest the
	// validation split, then leaves the state after the last step of
	// history, as if Reset and Update had been called for each of its steps.
	Fit(history Series, nTrain int) error
	// Reset empties the state, keeping the fitted parameters.
	Reset()
	// Update appends one observation to the state.
	Update(v float64)
	// Forecast predicts the value h >= 1 steps after the last observation.
	// It fails with ErrShortHistory when the state holds too few steps.
	Forecast(h int) (float64, error)
}

// ErrShortHistory is returned by Forecast when too few observations have
// been seen.
var ErrShortHistory = errors.New("baseline: too little history to forecast")

// replay resets f and feeds it every value of y.
func replay(f Forecaster, y []float64) {
	f.Reset()
	for _, v := range y {
		f.Update(v)
	}
}

func checkHorizon(name string, h int) {
	if h < 1 {
		panic(fmt.Sprintf("baseline: %s: horizon %d < 1", name, h))
	}
}

// Persistence forecasts the last observation: y[t+h] = y[t].
type Persistence struct {
	last float64
	n    int
}

func (p *Persistence) Name() string { return "persistence" }

func (p *Persistence) Fit(history Series, nTrain int) error {
	replay(p, history.Values)
	return nil
}

func (p *Persistence) Reset()           { *p = Persistence{} }
func (p *Persistence) Update(v float64) { p.last, p.n = v, p.n+1 }

func (p *Persistence) Forecast(h int) (float64, error) {
	checkHorizon(p.Name(), h)
	if p.n == 0 {
		return 0, ErrShortHistory
	}
	return p.last, nil
}

// SeasonalNaive forecasts the value one season earlier than the target:
// y[t+h] = y[t+h-k*Period] with the smallest k >= 1 that reaches the past.
type SeasonalNaive struct {
	Period int
	last   lastValues
}

// lastValues keeps the last len(ring) observations: ring[i%len(ring)] = y[i]
// for the n seen so far.
type lastValues struct {
	ring []float64
	n    int
}

func (l *lastValues) reset(size int) {
	l.ring = make([]float64, size)
	l.n = 0
}

// push records v, starting afresh when the size changed.
func (l *lastValues) push(size int, v float64) {
	if len(l.ring) != size {
		l.reset(size)
	}
	l.ring[l.n%size] = v
	l.n++
}

// NewSeasonalNaive returns a seasonal naive forecaster with a season of
// period steps (288 for a daily season at 5 minutes).
func NewSeasonalNaive(period int) *SeasonalNaive {
	if period < 1 {
		panic(fmt.Sprintf("baseline: seasonal naive: period %d < 1", period))
	}
	return &SeasonalNaive{Period: period}
}

func (s *SeasonalNaive) Name() string { return "seasonal_naive" }

func (s *SeasonalNaive) Fit(history Series, nTrain int) error {
	replay(s, history.Values)
	return nil
}

func (s *SeasonalNaive) Reset() { s.last.reset(s.Period) }

func (s *SeasonalNaive) Update(v float64) { s.last.push(s.Period, v) }

func (s *SeasonalNaive) Forecast(h int) (float64, error) {
	checkHorizon(s.Name(), h)
	t := s.last.n - 1 // origin
	k := (h + s.Period - 1) / s.Period
	src := t + h - k*s.Period
	if src < 0 {
		return 0, ErrShortHistory
	}
	return s.last.ring[src%s.Period], nil
}

// MovingAverage forecasts the mean of the last Window observations (fewer
// while fewer have been seen) for every horizon.
type MovingAverage struct {
	Window int
	last   lastValues
}

// NewMovingAverage returns a moving-average forecaster over window steps.
func NewMovingAverage(window int) *MovingAverage {
	if window < 1 {
		panic(fmt.Sprintf("baseline: moving average: window %d < 1", window))
	}
	return &MovingAverage{Window: window}
}

func (m *MovingAverage) Name() string { return fmt.Sprintf("ma%d", m.Window) }

func (m *MovingAverage) Fit(history Series, nTrain int) error {
	replay(m, history.Values)
	return nil
}

func (m *MovingAverage) Reset() { m.last.reset(m.Window) }

func (m *MovingAverage) Update(v float64) { m.last.push(m.Window, v) }

func (m *MovingAverage) Forecast(h int) (float64, error) {
	checkHorizon(m.Name(), h)
	n := m.last.n
	k := min(n, m.Window)
	if k == 0 {
		return 0, ErrShortHistory
	}
	// Summed afresh rather than kept as a running sum so that rounding does
	// not drift over long series.
	var sum float64
	for i := n - k; i < n; i++ {
		sum += m.last.ring[i%m.Window]
	}
	return sum / float64(k), nil
}
