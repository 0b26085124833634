package serve

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// synthData holds one synthetic series per seed, named after names, at
// five-minute steps; the series share one Times array.
func synthData(n int, names []string, seeds ...uint64) []baseline.Series {
	times := make([]time.Time, n)
	for i := range n {
		times[i] = t0.Add(time.Duration(i) * 5 * time.Minute)
	}
	var d []baseline.Series
	for i, s := range seeds {
		d = append(d, baseline.Series{Name: names[i], Times: times, Values: synth.Walk(n, s)})
	}
	return d
}

// sliceRows is rows [from, to) of every series of d, sharing the arrays.
func sliceRows(d []baseline.Series, from, to int) []baseline.Series {
	out := make([]baseline.Series, len(d))
	for i, s := range d {
		out[i] = s.Slice(from, to)
	}
	return out
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
		o.SwitchTrees.Params.Rounds = 20 // small trees: the followers' tests run the switch of three
		series := []baseline.Series{{Name: "a", Values: synth.Walk(1200, 1)}, {Name: "b", Values: synth.Walk(1000, 2)}}
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
