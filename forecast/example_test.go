package forecast_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// cpuSeries is a day-cycle CPU metric at 5-minute steps.
func cpuSeries(name string, n int, phase float64) baseline.Series {
	s := baseline.Series{Name: name}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*5*time.Minute))
		s.Values = append(s.Values, 40+15*math.Sin(2*math.Pi*float64(i)/288+phase)+3*math.Sin(float64(i)*0.9))
	}
	return s
}

// A forecaster is trained on many series at once, saved as one file, and
// opened wherever it is served; a forecast reads the last Needs() values.
func Example() {
	ctx := context.Background()
	opts := forecast.DefaultOptions()
	opts.Horizon, opts.Epochs, opts.Ensemble, opts.SwitchTrees = 12, 2, 1, nil // small, for the example
	series := []baseline.Series{cpuSeries("web-1", 1200, 0), cpuSeries("web-2", 1200, 1)}
	fc, err := forecast.Train(ctx, series, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	path := filepath.Join(os.TempDir(), "example-forecaster.zip")
	defer os.Remove(path)
	if err := fc.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	served, err := forecast.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	recent := cpuSeries("web-3", 500, 2).Values // a server it never saw
	f, err := served.Forecast(ctx, recent)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := f.Points[11]
	fmt.Println("needs", served.Needs(), "observations; forecasts", len(f.Points), "steps")
	fmt.Println("one hour ahead, p10 <= forecast <= p90:", p.P10 <= p.Value && p.Value <= p.P90)
	// Output:
	// needs 61 observations; forecasts 12 steps
	// one hour ahead, p10 <= forecast <= p90: true
}

// Evaluate scores a forecaster beside the baselines under the protocol.
func ExampleEvaluate() {
	ctx := context.Background()
	opts := forecast.DefaultOptions()
	opts.Horizon, opts.Epochs, opts.Ensemble, opts.SwitchTrees = 12, 1, 1, nil // small, for the example
	series := []baseline.Series{cpuSeries("web-1", 1200, 0)}
	fc, err := forecast.Train(ctx, series, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := forecast.Evaluate(ctx, fc, series, []int{1, 12}, forecast.EvalOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, row := range rep.Series {
		fmt.Println(row.Name, "h =", row.Horizon, "targets:", row.Targets, "methods:", forecast.OrderedMethods(row.Methods))
	}
	// Output:
	// web-1 h = 1 targets: 180 methods: [persistence seasonal_naive ma12 holt_winters ridge_ar model switch]
	// web-1 h = 12 targets: 180 methods: [persistence seasonal_naive ma12 holt_winters ridge_ar model switch]
}

// A Switch follows one series: fitted once on its history, then fed each
// new observation, it forecasts with the forecaster's networks, the series'
// own ridge autoregression, the forecaster's switch trees or an average of
// them, whichever has erred less there lately.
func ExampleSwitch() {
	ctx := context.Background()
	opts := forecast.DefaultOptions()
	opts.Horizon, opts.Epochs, opts.Ensemble = 12, 1, 1 // small, for the example
	opts.SwitchTrees.Params.Rounds = 50                 // the switch's trees, small too
	series := cpuSeries("web-1", 1200, 0)
	fc, err := forecast.Train(ctx, []baseline.Series{series}, opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	sw := forecast.NewSwitch(fc)
	if err := sw.Fit(series.Slice(0, 1000), 800); err != nil {
		fmt.Println(err)
		return
	}
	for _, v := range series.Values[1000:] {
		sw.Update(v)
	}
	p, err := sw.Forecast(12)
	fmt.Println(sw.Name(), err == nil && p > 0 && p < 100)
	// The same forecast with its 80% interval.
	pt, err := sw.Point(12)
	fmt.Println(err == nil && pt.Value == p && pt.P10 < pt.Value && pt.Value < pt.P90)
	// Output:
	// switch true
	// true
}
