package serve

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// synthValues is a daily-seasonal random walk at 5-minute cadence.
func synthValues(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]float64, n)
	level := 50 + 10*rng.Float64()
	for i := range v {
		level += 0.2 * rng.NormFloat64()
		v[i] = level + 10*math.Sin(2*math.Pi*float64(i)/288) + rng.NormFloat64()
	}
	return v
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// synthData holds one synthetic column per seed, named after names.
func synthData(n int, names []string, seeds ...uint64) *Data {
	d := &Data{Name: "synth", Times: make([]time.Time, n), Metrics: names}
	for i := range n {
		d.Times[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
	}
	for _, s := range seeds {
		d.Values = append(d.Values, synthValues(n, s))
	}
	return d
}

var (
	tinyOnce sync.Once
	tinyFC   *forecast.Forecaster
	tinyErr  error
)

// tinyForecaster is a forecaster small enough to train in a test, with the
// design's horizon of 30 steps and two networks.
func tinyForecaster(t testing.TB) *forecast.Forecaster {
	t.Helper()
	tinyOnce.Do(func() {
		o := forecast.DefaultOptions()
		o.Window, o.ScaleWindow, o.Horizon = 8, 16, 30
		o.Hidden, o.Head, o.Epochs, o.Ensemble, o.BatchSize = 4, []int{8}, 2, 2, 32
		o.Stride = 2
		series := []baseline.Series{{Name: "a", Values: synthValues(1200, 1)}, {Name: "b", Values: synthValues(1000, 2)}}
		tinyFC, tinyErr = forecast.Train(context.Background(), series, o)
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyFC
}

// near reports whether a and b agree to rel relative difference.
func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
