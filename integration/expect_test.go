package integration

import (
	"context"
	"errors"
	"math"
	"testing"
)

// trainedHDE is a tuner that has learned response() at loads 400 and 1000
// and ends converged at load 400 on level 9 (latency 20 ms, the target).
func trainedHDE(t *testing.T) (*HDETuner, *fakeHDE) {
	t.Helper()
	e := &fakeHDE{level: 3, chunk: 64 << 10}
	tu, err := NewHDETuner(e, HDESettings{3, 64 << 10}, HDETarget{LatencyMs: 20, MaxCPU: 0.8}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, tu, e, 150, 400, -1)
	run(t, tu, e, 150, 1000, -1)
	run(t, tu, e, 150, 400, -1)
	if e.level != 9 {
		t.Fatalf("setup: converged on level %d at load 400, want 9", e.level)
	}
	tu.core.opts.NoExplore = true // only the forecast may move it below
	return tu, e
}

func TestHDEPlansOnExpectedLoad(t *testing.T) {
	ctx := context.Background()
	tu, e := trainedHDE(t)
	// Reactive: the interval just measured (load 400) says level 9 is right.
	if err := tu.Observe(response(9, e.chunk, 400, -1)); err != nil {
		t.Fatal(err)
	}
	if d, err := tu.Decide(ctx); err != nil || d.Changed {
		t.Fatalf("reactive decision at load 400 changed settings: %+v, %v", d, err)
	}
	// Forecast: load 1000 next, where level 9 takes 47 ms; the tuner steps
	// down before the load arrives.
	if err := tu.Observe(response(9, e.chunk, 400, -1)); err != nil {
		t.Fatal(err)
	}
	if err := tu.Expect(Expectation{Load: 1000}); err != nil {
		t.Fatal(err)
	}
	d, err := tu.Decide(ctx)
	if err != nil || !d.Changed || e.level >= 9 {
		t.Fatalf("expected load 1000: decision %+v, %v; engine level %d, want below 9", d, err, e.level)
	}
	if tu.Expectations() != 1 {
		t.Fatalf("Expectations() = %d, want 1", tu.Expectations())
	}
	// The expectation applies until the next observation only.
	if tu.core.plan == nil {
		t.Fatal("plan dropped before the next observation")
	}
	if err := tu.Observe(response(e.level, e.chunk, 400, -1)); err != nil {
		t.Fatal(err)
	}
	if tu.core.plan != nil {
		t.Fatal("plan survives a new observation")
	}
}

func TestHDEPlansOnExpectedLatency(t *testing.T) {
	ctx := context.Background()
	tu, e := trainedHDE(t)
	if err := tu.Observe(response(9, e.chunk, 400, -1)); err != nil {
		t.Fatal(err)
	}
	// Same load, but the forecaster expects level 9's latency to double:
	// the current setting misses the target, a lower level does not.
	if err := tu.Expect(Expectation{Load: 400, LatencyMs: 40}); err != nil {
		t.Fatal(err)
	}
	if d, err := tu.Decide(ctx); err != nil || !d.Changed || e.level != 8 {
		t.Fatalf("expected latency 40 ms: decision %+v, %v; level %d, want 8", d, err, e.level)
	}
	// A latency forecast below the learned one changes nothing: the
	// forecast only ever raises the current setting's prediction.
	tu2, e2 := trainedHDE(t)
	if err := tu2.Observe(response(9, e2.chunk, 400, -1)); err != nil {
		t.Fatal(err)
	}
	if err := tu2.Expect(Expectation{Load: 400, LatencyMs: 5}); err != nil {
		t.Fatal(err)
	}
	if d, err := tu2.Decide(ctx); err != nil || d.Changed || e2.level != 9 {
		t.Fatalf("expected latency 5 ms: decision %+v, %v; level %d, want 9", d, err, e2.level)
	}
}

func TestACPPredictOptimalUsesExpectedLoad(t *testing.T) {
	// Commit time grows with the batch at low load and falls with it at
	// high load (batching amortises the slots).
	tu, err := NewACPTuner(nopACP{}, ACPSettings{TimeoutMs: 50, BatchSize: 32}, ACPTarget{LatencyBudgetMs: 40}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, load := range []float64{100, 3000} {
		for _, b := range []int{1, 256} {
			commit := 5 + float64(b)/32
			if load > 1000 {
				commit = 5 + 256/float64(b)
			}
			for range 5 {
				if err := tu.Observe(ACPTelemetry{Settings: ACPSettings{TimeoutMs: 50, BatchSize: b}, ClusterSize: 5,
					LoadRPS: load, CommitMs: commit}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := tu.Observe(ACPTelemetry{Settings: ACPSettings{TimeoutMs: 50, BatchSize: 1}, ClusterSize: 5, LoadRPS: 100, CommitMs: 5}); err != nil {
		t.Fatal(err)
	}
	if got, err := tu.PredictOptimalACPSettings(5, 40); err != nil || got.BatchSize != 1 {
		t.Fatalf("at the load observed (100/s): %+v, %v; want batch 1", got, err)
	}
	if err := tu.Expect(Expectation{Load: 3000}); err != nil {
		t.Fatal(err)
	}
	if got, err := tu.PredictOptimalACPSettings(5, 40); err != nil || got.BatchSize != 256 {
		t.Fatalf("at the load expected (3000/s): %+v, %v; want batch 256", got, err)
	}
}

func TestExpectBadInput(t *testing.T) {
	h, err := NewHDETuner(&fakeHDE{level: 3, chunk: 64 << 10}, HDESettings{3, 64 << 10}, HDETarget{LatencyMs: 20}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewACPTuner(nopACP{}, DefaultACP(), ACPTarget{LatencyBudgetMs: 20}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPBATuner(nopPBA{}, DefaultPBA(), PBATarget{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Expectation{{Load: math.NaN()}, {Load: -1}, {Load: math.Inf(1)}, {Load: 1, LatencyMs: math.NaN()}, {Load: 1, LatencyMs: -2}} {
		if h.Expect(e) == nil || a.Expect(e) == nil || p.Expect(e) == nil {
			t.Errorf("%+v accepted", e)
		}
	}
	if h.Expectations() != 0 || a.Expectations() != 0 {
		t.Error("a rejected expectation was counted")
	}
	// PBA relates the offered load to the bandwidth it measured: nothing
	// to relate it to before its first telemetry.
	if err := p.Expect(Expectation{Load: 100}); !errors.Is(err, ErrNoTelemetry) {
		t.Errorf("PBA before telemetry: %v, want ErrNoTelemetry", err)
	}
}

func TestPeak(t *testing.T) {
	f := []float64{-3, 5, 2, 9}
	for _, c := range []struct {
		look int
		want float64
	}{{1, 0}, {2, 5}, {3, 5}, {4, 9}, {0, 9}, {10, 9}} {
		if got := Peak(f, c.look); got != c.want {
			t.Errorf("Peak(%v, %d) = %v, want %v", f, c.look, got, c.want)
		}
	}
	if Peak(nil, 3) != 0 {
		t.Error("Peak of nothing is not 0")
	}
}

// A latency forecast counts only beyond the learned prediction plus one
// standard deviation of a single interval's latency.
func TestLatencyFactorAllowsUsualSpread(t *testing.T) {
	tu, _ := trainedHDE(t)
	if err := tu.Observe(response(9, 64<<10, 400, -1)); err != nil {
		t.Fatal(err)
	}
	g := tu.core
	g.pooled[0] = 4 // sd 2 ms around the learned 20 ms
	for _, c := range []struct{ forecast, want float64 }{{0, 1}, {15, 1}, {21.9, 1}, {44, 2}} {
		if got := g.latencyFactor(&plan{cond: 400, latency: c.forecast}); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("forecast %v ms: factor %v, want %v", c.forecast, got, c.want)
		}
	}
	if got := g.latencyFactor(nil); got != 1 {
		t.Errorf("no plan: factor %v", got)
	}
}
