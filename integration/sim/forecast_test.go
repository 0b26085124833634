package sim

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/integration"
)

// tinyOptions train in well under a second.
func tinyOptions() forecast.Options {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 4
	o.Hidden, o.Head, o.Epochs, o.Ensemble, o.SwitchTrees = 4, []int{8}, 2, 1, nil
	return o
}

func testTrace(t *testing.T, n int) []float64 {
	t.Helper()
	raw, err := LoadTrace("../../" + DefaultTrace)
	if err != nil {
		t.Fatal(err)
	}
	rps, err := ScaleToMedian(raw[:n], 600)
	if err != nil {
		t.Fatal(err)
	}
	return rps
}

func TestRunThree(t *testing.T) {
	ctx := context.Background()
	rps := testTrace(t, 160)
	cfg := Config{Seed: 2, SliceSeconds: 0.1}
	setup := ForecastSetup{Split: 0.5, Options: tinyOptions(), Lookahead: 2, Upper: true}
	r, err := RunThree(ctx, rps, cfg, DefaultTargets(), integration.Options{}, setup)
	if err != nil {
		t.Fatal(err)
	}
	if r.Split != 80 || r.Intervals != 160 || len(r.Telemetry) != 160 {
		t.Fatalf("split %d of %d intervals, %d telemetry rows", r.Split, r.Intervals, len(r.Telemetry))
	}

	// The static run is reported over the intervals after the split alone.
	c, err := NewCluster(cfg)
	if err != nil {
		t.Fatal(err)
	}
	whole, _, err := c.Run(ctx, rps, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Static == whole {
		t.Fatal("static run reported over the whole trace, not after the split")
	}
	c, _ = NewCluster(cfg)
	split, _, err := c.runSplit(ctx, rps, nil, 80)
	if err != nil {
		t.Fatal(err)
	}
	if r.Static != split {
		t.Fatalf("static %+v, want %+v", r.Static, split)
	}

	// The forecast run's tuners received a forecast after every interval
	// with requests from the one before the split on (arrivals are the
	// same in every run), all three of them, and the reactive run's none.
	want := 0
	for _, st := range r.Telemetry[79:] {
		if st.Requests > 0 {
			want++
		}
	}
	f := r.ForecastTuners.Forecasting
	if f == nil || f.Forecasts() != want || want < 70 {
		t.Fatalf("forecasts given after %d intervals, want %d", f.Forecasts(), want)
	}
	for name, n := range map[string]int{"HDE": r.ForecastTuners.HDE.Expectations(), "PBA": r.ForecastTuners.PBA.Expectations(),
		"ACP": r.ForecastTuners.ACP.Expectations()} {
		if n != want {
			t.Errorf("forecast run: %s tuner received %d expectations, want %d", name, n, want)
		}
	}
	if r.ReactiveTuners.Forecasting != nil || r.ReactiveTuners.HDE.Expectations()+r.ReactiveTuners.ACP.Expectations()+r.ReactiveTuners.PBA.Expectations() != 0 {
		t.Fatal("reactive run's tuners received forecasts")
	}
	if r.Forecaster.Horizon() != 4 {
		t.Fatalf("forecaster horizon %d, want the options' 4", r.Forecaster.Horizon())
	}

	// Phases partition the intervals after the split.
	for _, run := range []string{"static", "reactive", "forecast"} {
		n := 0
		for _, ph := range []string{"calm", "ramp", "peak"} {
			n += r.Phases[run][ph].Intervals
		}
		if n != 80 {
			t.Errorf("%s: phases cover %d intervals, want 80", run, n)
		}
	}

	// The JSON is the three runs, each with the six figures.
	b, err := json.Marshal(r.Runs)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, run := range []string{"static", "reactive", "forecast"} {
		var m map[string]float64
		if err := json.Unmarshal(got[run], &m); err != nil {
			t.Fatalf("%s: %v in %s", run, err, b)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		for _, k := range []string{"latency_avg_ms", "latency_p95_ms", "latency_p99_ms", "throughput_rps", "error_rate", "utilization"} {
			if _, ok := m[k]; !ok {
				t.Errorf("%s.%s missing: %v", run, k, keys)
			}
		}
	}

	// Same trace, seed and options: the same three runs.
	r2, err := RunThree(ctx, rps, cfg, DefaultTargets(), integration.Options{}, setup)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.Runs, r2.Runs) {
		t.Fatalf("two identical RunThree calls differ:\n%+v\n%+v", r.Runs, r2.Runs)
	}
}

// What the tuners receive is the forecaster's forecast of their telemetry:
// the peak of its p50 (or p90) over the lookahead.
func TestForecastingExpectations(t *testing.T) {
	ctx := context.Background()
	rps := testTrace(t, 120)
	c, err := NewCluster(Config{Seed: 1, SliceSeconds: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	_, stats, err := c.Run(ctx, rps, nil)
	if err != nil {
		t.Fatal(err)
	}
	series, err := TelemetrySeries(stats, forecastSeries...)
	if err != nil {
		t.Fatal(err)
	}
	fc, err := forecast.Train(ctx, series, tinyOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, upper := range []bool{false, true} {
		f := &Forecasting{Forecaster: fc, Lookahead: 3, Upper: upper, From: 50}
		for _, st := range stats[:40] {
			f.record(st)
		}
		if _, _, _, ok, err := f.expectations(ctx, stats[39]); ok || err != nil {
			t.Fatalf("before From: ok %v, %v", ok, err)
		}
		for _, st := range stats[40:60] {
			f.record(st)
		}
		hde, acp, pba, ok, err := f.expectations(ctx, stats[59])
		if !ok || err != nil {
			t.Fatalf("after From: ok %v, %v", ok, err)
		}
		want := make([]float64, len(forecastSeries))
		hist := make([][]float64, len(series))
		for i, s := range series {
			hist[i] = s.Values[:60]
		}
		fcs, err := fc.ForecastBatch(ctx, hist)
		if err != nil {
			t.Fatal(err)
		}
		for i, got := range fcs {
			v := make([]float64, 3)
			for k := range v {
				v[k] = got.Points[k].P50
				if upper {
					v[k] = got.Points[k].P90
				}
			}
			want[i] = integration.Peak(v, 3)
		}
		if hde != (integration.Expectation{Load: want[0], LatencyMs: want[1]}) ||
			acp != (integration.Expectation{Load: want[0], LatencyMs: want[2]}) ||
			pba != (integration.Expectation{Load: want[3], LatencyMs: want[4]}) {
			t.Fatalf("upper %v: got HDE %+v ACP %+v PBA %+v; want the peaks %v", upper, hde, acp, pba, want)
		}
		if f.Forecasts() != 1 {
			t.Fatalf("Forecasts() = %d, want 1", f.Forecasts())
		}
	}
}

func TestRunThreeBadInput(t *testing.T) {
	ctx := context.Background()
	rps := testTrace(t, 60)
	for _, split := range []float64{-0.1, 1, 1.5} {
		if _, err := RunThree(ctx, rps, Config{SliceSeconds: 0.1}, DefaultTargets(), integration.Options{}, ForecastSetup{Split: split, Options: tinyOptions()}); err == nil || !strings.Contains(err.Error(), "split") {
			t.Errorf("split %v: %v", split, err)
		}
	}
	// Forecasting without a forecaster is an error, not a panic.
	c, err := NewCluster(Config{SliceSeconds: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	tu, err := NewTuners(c, DefaultTargets(), integration.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tu.Forecasting = &Forecasting{}
	if _, _, err := c.Run(ctx, rps, tu); err == nil || !strings.Contains(err.Error(), "no forecaster") {
		t.Errorf("forecasting without a forecaster: %v", err)
	}
	// Too little history before the split for the recipe: the forecaster's
	// error, naming the series.
	o := tinyOptions()
	o.Window, o.ScaleWindow = 40, 40
	if _, err := RunThree(ctx, rps, Config{SliceSeconds: 0.1}, DefaultTargets(), integration.Options{}, ForecastSetup{Options: o}); err == nil || !strings.Contains(err.Error(), "arrival_rps") {
		t.Errorf("short history: %v", err)
	}
}
