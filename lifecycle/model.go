package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/novacron/perfpredict/forecast"
)

// Source collects the samples that arrived since the last call. It should
// honour ctx; the pipeline also gives up on a call that outlives its timeout.
type Source interface {
	Collect(ctx context.Context, now time.Time) ([]Sample, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, now time.Time) ([]Sample, error)

func (f SourceFunc) Collect(ctx context.Context, now time.Time) ([]Sample, error) { return f(ctx, now) }

// column returns column col of samples as a series, oldest first; an error
// names the first sample without a finite value there.
func column(samples []Sample, col int) ([]float64, error) {
	out := make([]float64, len(samples))
	for i, s := range samples {
		if col >= len(s.Values) {
			return nil, fmt.Errorf("lifecycle: sample at %s has %d values, no column %d", s.Time.Format(time.RFC3339), len(s.Values), col)
		}
		v := s.Values[col]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("lifecycle: sample at %s: column %d is %v", s.Time.Format(time.RFC3339), col, v)
		}
		out[i] = v
	}
	return out, nil
}

// scoreBatch bounds the origins forecast in one ForecastBatch call.
const scoreBatch = 512

// score forecasts y[j] for every j in [from, len(y)) from the history up to
// h steps before it (y[:j-h+1]), with the forecaster's own batch path, and
// returns PROTOCOL.md's metrics.
func score(ctx context.Context, fc *forecast.Forecaster, y []float64, from, h int) (Metrics, error) {
	if h < 1 || h > fc.Horizon() {
		return Metrics{}, fmt.Errorf("lifecycle: horizon %d: the forecaster forecasts h = 1..%d", h, fc.Horizon())
	}
	if from >= len(y) {
		return Metrics{}, errors.New("lifecycle: no held-out targets to evaluate")
	}
	if from-h+1 < fc.Needs() {
		return Metrics{}, fmt.Errorf("lifecycle: the first target (step %d) at h=%d leaves %d observations of history; the forecaster needs %d",
			from+1, h, max(from-h+1, 0), fc.Needs())
	}
	var acc metricAcc
	hist := make([][]float64, 0, min(scoreBatch, len(y)-from))
	for j0 := from; j0 < len(y); j0 += scoreBatch {
		hist = hist[:0]
		for j := j0; j < min(j0+scoreBatch, len(y)); j++ {
			hist = append(hist, y[:j-h+1])
		}
		fs, err := fc.ForecastBatch(ctx, hist)
		if err != nil {
			return Metrics{}, err
		}
		for k, f := range fs {
			acc.add(f.Points[h-1].Value, y[j0+k])
		}
	}
	return acc.metrics(), nil
}

// metricAcc accumulates PROTOCOL.md's metrics.
type metricAcc struct {
	n, nAPE, nAcc5, missing int
	sumAbs, sumSq, ape      float64
}

func (a *metricAcc) add(pred, y float64) {
	e := pred - y
	if math.IsNaN(e) || math.IsInf(e, 0) {
		// A non-finite forecast is a miss for accuracy5, counted apart so
		// that the error averages stay finite.
		a.n++
		a.missing++
		return
	}
	a.n++
	a.sumAbs += math.Abs(e)
	a.sumSq += e * e
	if math.Abs(e) <= 0.05*math.Abs(y) {
		a.nAcc5++
	}
	if math.Abs(y) > 1e-9 {
		a.ape += math.Abs(e) / math.Abs(y)
		a.nAPE++
	}
}

func (a *metricAcc) metrics() Metrics {
	m := Metrics{N: a.n, Missing: a.missing, Accuracy5: float64(a.nAcc5) / float64(a.n)}
	if k := a.n - a.missing; k > 0 {
		m.MAE, m.RMSE = a.sumAbs/float64(k), math.Sqrt(a.sumSq/float64(k))
	} else {
		m.MAE, m.RMSE = math.Inf(1), math.Inf(1)
	}
	if a.nAPE > 0 {
		m.MAPE = 100 * a.ape / float64(a.nAPE)
	}
	return m
}

// Served is a model version answering requests: its registry entry and the
// forecaster opened from its artifact.
type Served struct {
	Version    VersionInfo
	Forecaster *forecast.Forecaster
	Since      time.Time
}

// Serving holds the served version behind an atomic pointer: readers never
// wait for a retrain or a swap, and always see a whole version.
type Serving struct{ p atomic.Pointer[Served] }

// Current returns the served version, nil before the first.
func (s *Serving) Current() *Served { return s.p.Load() }

// Swap installs a version and returns the previous one.
func (s *Serving) Swap(v *Served) *Served { return s.p.Swap(v) }
