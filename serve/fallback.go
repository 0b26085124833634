package serve

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/novacron/perfpredict/baseline"
)

// A Fallback forecasts a metric from its recent values when the model cannot
// answer. It must be safe for concurrent use.
type Fallback interface {
	// Name is the method's key ("holt_winters", "persistence").
	Name() string
	// Forecast writes the forecasts of series m (Input.Series: the
	// metric's index in a Service) for the len(dst) steps after the last
	// value of history
	// (original units, oldest first). phase is the position of that last
	// value in the fitted season (its row index in the fitting history's
	// numbering; seasonal methods read it modulo their period).
	Forecast(m int, history []float64, phase int, dst []float64) error
}

// ErrNoHistory is returned by a Fallback given no usable history.
var ErrNoHistory = errors.New("serve: fallback: no finite history to forecast from")

// Persistence forecasts the last finite value for every step.
type Persistence struct{}

// Name implements Fallback.
func (Persistence) Name() string { return "persistence" }

// Forecast implements Fallback.
func (Persistence) Forecast(_ int, history []float64, _ int, dst []float64) error {
	for i := len(history) - 1; i >= 0; i-- {
		if v := history[i]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			for j := range dst {
				dst[j] = v
			}
			return nil
		}
	}
	return ErrNoHistory
}

// HoltWinters is the baseline package's Holt-Winters (no trend, additive
// daily season) as a stateless fallback: the smoothing parameters, scaler and
// seasonal profile are fitted once (FitHoltWinters); each call runs the
// error-correction recursion over the given history, starting its level
// from the first value, and forecasts from there. Non-finite values are
// skipped.
type HoltWinters struct {
	Alpha, Gamma float64
	Seasonal     bool
	Period       int
	Scaler       baseline.Scaler
	Season       []float64 // fitted initial seasonal terms, Season[p] for phase p

	scratch sync.Pool // *[]float64 of Period terms
}

// FitHoltWinters fits Holt-Winters on values (one step per value) whose
// first nTrain steps are the training split, with a season of period steps
// (288 for a day at five minutes; under two seasons of training data it is
// simple exponential smoothing), as baseline.HoltWinters.Fit does.
func FitHoltWinters(values []float64, nTrain, period int) (*HoltWinters, error) {
	if period < 1 {
		return nil, fmt.Errorf("serve: holt-winters: period %d, want >= 1", period)
	}
	hw := baseline.NewHoltWinters(period)
	if err := hw.Fit(baseline.Series{Name: "fallback", Values: values}, nTrain); err != nil {
		return nil, fmt.Errorf("serve: holt-winters: %w", err)
	}
	return &HoltWinters{Alpha: hw.Alpha, Gamma: hw.Gamma, Seasonal: hw.Seasonal, Period: period,
		Scaler: hw.Scaler, Season: append([]float64(nil), hw.Season0...)}, nil
}

// Name implements Fallback.
func (hw *HoltWinters) Name() string { return "holt_winters" }

// Forecast implements Fallback.
func (hw *HoltWinters) Forecast(_ int, history []float64, phase int, dst []float64) error {
	sc := hw.Scaler
	if sc.SD == 0 {
		sc.SD = 1
	}
	first := -1
	for i, v := range history {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			first = i
			break
		}
	}
	if first < 0 {
		return ErrNoHistory
	}
	n := len(history)
	if !hw.Seasonal || hw.Period <= 1 || len(hw.Season) != hw.Period {
		level := sc.Scale(history[first])
		for _, v := range history[first+1:] {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				level += hw.Alpha * (sc.Scale(v) - level)
			}
		}
		for j := range dst {
			dst[j] = sc.Unscale(level)
		}
		return nil
	}
	p := hw.Period
	sp, _ := hw.scratch.Get().(*[]float64)
	if sp == nil {
		s := make([]float64, p)
		sp = &s
	}
	seas := *sp
	copy(seas, hw.Season)
	ph := func(i int) int { // phase of history[i]
		return ((phase-(n-1-i))%p + p) % p
	}
	level := sc.Scale(history[first]) - seas[ph(first)]
	for i := first + 1; i < n; i++ {
		v := history[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		k := ph(i)
		e := sc.Scale(v) - level - seas[k]
		level += hw.Alpha * e
		seas[k] += hw.Gamma * e
	}
	for j := range dst {
		dst[j] = sc.Unscale(level + seas[((phase+1+j)%p+p)%p])
	}
	hw.scratch.Put(sp)
	return nil
}

// PerMetric answers metric m from Fallbacks[m] (one fitted per metric).
type PerMetric []Fallback

// Name implements Fallback.
func (p PerMetric) Name() string {
	if len(p) == 0 {
		return "none"
	}
	return p[0].Name()
}

// Forecast implements Fallback.
func (p PerMetric) Forecast(m int, history []float64, phase int, dst []float64) error {
	if m < 0 || m >= len(p) {
		return fmt.Errorf("serve: no fallback for metric %d of %d", m, len(p))
	}
	return p[m].Forecast(m, history, phase, dst)
}
