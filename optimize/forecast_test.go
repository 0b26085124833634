package optimize

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

var (
	tinyOnce sync.Once
	tinyFC   *forecast.Forecaster
	tinyErr  error
)

// tinyForecaster is a forecaster small enough to train in a test, on demand
// series that ramp up and down with noise.
func tinyForecaster(t *testing.T) *forecast.Forecaster {
	t.Helper()
	tinyOnce.Do(func() {
		rng := rand.New(rand.NewPCG(7, 7))
		var series []baseline.Series
		for s := range 3 {
			v := make([]float64, 400)
			level, slope := 1000.0, 20.0*float64(s+1)
			for i := range v {
				if i%80 == 0 {
					slope = -slope
				}
				level += slope + 10*rng.NormFloat64()
				v[i] = math.Max(0, level)
			}
			series = append(series, baseline.Series{Name: "demand", Values: v})
		}
		opts := forecast.DefaultOptions()
		opts.Window, opts.ScaleWindow, opts.Horizon = 8, 16, 4
		opts.Hidden, opts.Head, opts.Epochs, opts.Ensemble, opts.SwitchTrees = 4, []int{8}, 2, 1, nil
		tinyFC, tinyErr = forecast.Train(context.Background(), series, opts)
	})
	if tinyErr != nil {
		t.Fatal(tinyErr)
	}
	return tinyFC
}

// The same last demand, reached by a steady rise or held flat: the rising
// history is forecast higher and less certain, and gets more capacity.
func TestForecastDemandRisingPlansMoreThanFlat(t *testing.T) {
	ctx := context.Background()
	fc := tinyForecaster(t)
	n := fc.Needs()
	rising, flat := make([]float64, n), make([]float64, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range n {
		rising[i] = 3000 - 100*float64(n-1-i) + 5*rng.NormFloat64()
		flat[i] = 3000 + 5*rng.NormFloat64()
	}
	rising[n-1], flat[n-1] = 3000, 3000
	dr, err := ForecastDemand{Forecaster: fc, History: rising}.ForecastDemand(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	df, err := ForecastDemand{Forecaster: fc, History: flat}.ForecastDemand(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(dr) != fc.Horizon() || len(df) != fc.Horizon() {
		t.Fatalf("horizon 0: %d and %d intervals, want the forecaster's %d", len(dr), len(df), fc.Horizon())
	}
	if !(maxOf(dr) > maxOf(df)) {
		t.Fatalf("rising history plans for %v req/s at most, flat for %v", dr, df)
	}
	// Planned for p90: at least the median forecast in every interval.
	med, err := ForecastDemand{Forecaster: fc, History: rising, Median: true}.ForecastDemand(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	f, err := fc.Forecast(ctx, rising)
	if err != nil {
		t.Fatal(err)
	}
	for i := range dr {
		if med[i] != math.Max(0, f.Points[i].P50) || dr[i] != math.Max(0, f.Points[i].P90) {
			t.Fatalf("interval %d: planned %v (median %v), forecast p50 %v p90 %v", i, dr[i], med[i], f.Points[i].P50, f.Points[i].P90)
		}
	}

	opt := func(hist []float64) *Result {
		o := &Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity(),
			Forecaster: ForecastDemand{Forecaster: fc, History: hist}}
		r, err := o.OptimizeAllocation(ctx, Constraints{MinPerformance: 1, Zone: "us-east-1a"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rr, rf := opt(rising), opt(flat)
	t.Logf("rising %v -> %d vCPU; flat %v -> %d vCPU", dr, rr.Allocation.VCPUs, df, rf.Allocation.VCPUs)
	if !(rr.Allocation.VCPUs > rf.Allocation.VCPUs && rr.CostEstimate > rf.CostEstimate) {
		t.Fatalf("rising: %s (%d vCPU, $%.3f/h); flat: %s (%d vCPU, $%.3f/h)", rr.Allocation, rr.Allocation.VCPUs, rr.CostEstimate,
			rf.Allocation, rf.Allocation.VCPUs, rf.CostEstimate)
	}
}

// Past the forecaster's horizon the forecast continues from its median path
// and its band never narrows where a block starts.
func TestForecastDemandBeyondHorizon(t *testing.T) {
	ctx := context.Background()
	fc := tinyForecaster(t)
	hist := make([]float64, fc.Needs()+5)
	for i := range hist {
		hist[i] = 800 + 30*float64(i)
	}
	K := fc.Horizon()
	long, err := ForecastDemand{Forecaster: fc, History: hist}.ForecastDemand(ctx, 3*K+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(long) != 3*K+1 {
		t.Fatalf("%d intervals, want %d", len(long), 3*K+1)
	}
	first, err := ForecastDemand{Forecaster: fc, History: hist}.ForecastDemand(ctx, K)
	if err != nil {
		t.Fatal(err)
	}
	for i := range K {
		if long[i] != first[i] {
			t.Fatalf("interval %d: %v in the long forecast, %v in the first block", i, long[i], first[i])
		}
	}
	lo, err := ForecastDemand{Forecaster: fc, History: hist, Median: true}.ForecastDemand(ctx, 3*K+1)
	if err != nil {
		t.Fatal(err)
	}
	for i := K; i < len(long); i++ {
		if long[i]-lo[i] < (long[i-K]-lo[i-K])-1e-9 && long[i] > 0 {
			t.Fatalf("band narrows at interval %d: %v < %v", i, long[i]-lo[i], long[i-K]-lo[i-K])
		}
	}
}

func TestForecastDemandBadInput(t *testing.T) {
	ctx := context.Background()
	if _, err := (ForecastDemand{}).ForecastDemand(ctx, 4); err == nil {
		t.Error("no forecaster accepted")
	}
	fc := tinyForecaster(t)
	short := make([]float64, fc.Needs()-1)
	if _, err := (ForecastDemand{Forecaster: fc, History: short}).ForecastDemand(ctx, 4); !errors.Is(err, forecast.ErrBadInput) {
		t.Errorf("short history: %v", err)
	}
	for _, bad := range []float64{math.NaN(), -1, math.Inf(1)} {
		h := make([]float64, fc.Needs())
		for i := range h {
			h[i] = 100
		}
		h[3] = bad
		if _, err := (ForecastDemand{Forecaster: fc, History: h}).ForecastDemand(ctx, 4); !errors.Is(err, forecast.ErrBadInput) {
			t.Errorf("history value %v: %v", bad, err)
		}
	}
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}
