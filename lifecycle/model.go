package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"
)

// Source collects the samples that arrived since the last call. It should
// honour ctx; the pipeline also gives up on a call that outlives its timeout.
type Source interface {
	Collect(ctx context.Context, now time.Time) ([]Sample, error)
}

// SourceFunc adapts a function to Source.
type SourceFunc func(ctx context.Context, now time.Time) ([]Sample, error)

func (f SourceFunc) Collect(ctx context.Context, now time.Time) ([]Sample, error) { return f(ctx, now) }

// Forecaster is a loaded model: given the history up to an origin (oldest
// first), it forecasts the target for the next horizon steps.
type Forecaster interface {
	Forecast(history []Sample, horizon int) ([]float64, error)
}

// TrainRequest is what the pipeline asks a Trainer for.
type TrainRequest struct {
	Model string
	// Train is the data to fit (and to carve a validation split from);
	// the pipeline keeps the most recent data out of it for its own test.
	Train []Sample
	// Parent is the Active version, nil if none.
	Parent *VersionInfo
	// Reason says why: "schedule", or the alert that asked.
	Reason string
	// Dir is an empty directory for the checkpoint; it is removed after
	// the checkpoint is copied into the registry.
	Dir string
}

// TrainResult is a trained candidate.
type TrainResult struct {
	Checkpoint string   // a file inside TrainRequest.Dir
	Validation Metrics  // on the trainer's own validation split
	Features   []string // the feature schema the model reads
	Extra      map[string]string
}

// Trainer fits a candidate model.
type Trainer interface {
	Train(ctx context.Context, req TrainRequest) (TrainResult, error)
}

// Loader turns a checkpoint file into a Forecaster.
type Loader interface {
	Load(ctx context.Context, checkpoint string) (Forecaster, error)
}

// Evaluator scores a forecaster on held-out samples, with context (the
// samples just before them) available as history.
type Evaluator interface {
	Evaluate(ctx context.Context, f Forecaster, context, heldOut []Sample) (Metrics, error)
}

// HoldoutEvaluator walks the held-out samples one by one: at each origin the
// forecaster sees every sample up to it and forecasts Horizon steps ahead;
// the forecast of step Horizon is scored against the actual target column
// (PROTOCOL.md's metrics).
type HoldoutEvaluator struct {
	Target  int
	Horizon int // 1 if zero
	// MaxContext bounds the history handed to the forecaster (0: all).
	MaxContext int
}

func (e HoldoutEvaluator) Evaluate(ctx context.Context, f Forecaster, context, heldOut []Sample) (Metrics, error) {
	h := e.Horizon
	if h <= 0 {
		h = 1
	}
	all := make([]Sample, 0, len(context)+len(heldOut))
	all = append(append(all, context...), heldOut...)
	var acc metricAcc
	for j := len(context); j < len(all); j++ {
		if err := ctx.Err(); err != nil {
			return Metrics{}, err
		}
		origin := j - h
		if origin < 0 {
			continue
		}
		lo := 0
		if e.MaxContext > 0 && origin+1-e.MaxContext > 0 {
			lo = origin + 1 - e.MaxContext
		}
		fc, err := f.Forecast(all[lo:origin+1], h)
		if err != nil {
			return Metrics{}, fmt.Errorf("lifecycle: forecast at %s: %w", all[origin].Time.Format(time.RFC3339), err)
		}
		if len(fc) < h {
			return Metrics{}, fmt.Errorf("lifecycle: forecaster returned %d steps, want %d", len(fc), h)
		}
		if e.Target >= len(all[j].Values) {
			return Metrics{}, fmt.Errorf("lifecycle: target column %d, sample has %d values", e.Target, len(all[j].Values))
		}
		acc.add(fc[h-1], all[j].Values[e.Target])
	}
	if acc.n == 0 {
		return Metrics{}, errors.New("lifecycle: no held-out targets to evaluate")
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

// Served is the model version answering requests.
type Served struct {
	Version    VersionInfo
	Forecaster Forecaster
	Since      time.Time
}

// Serving holds the served version behind an atomic pointer: readers never
// wait for a retrain or a swap, and always see a whole version.
type Serving struct{ p atomic.Pointer[Served] }

// Current returns the served version, nil before the first.
func (s *Serving) Current() *Served { return s.p.Load() }

// Swap installs a version and returns the previous one.
func (s *Serving) Swap(v *Served) *Served { return s.p.Swap(v) }
