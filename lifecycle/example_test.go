package lifecycle_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/lifecycle"
)

// smallRecipe is the shipped recipe shrunk to train in a blink.
func smallRecipe() forecast.Options {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 4
	o.Hidden, o.Head, o.Epochs, o.Ensemble, o.LearningRate, o.SwitchTrees = 4, []int{8}, 20, 1, 1e-2, nil
	return o
}

// metric is a daily cycle around 100 with a faster ripple, every 5 minutes.
func metric(i int) float64 {
	return 100 + 10*math.Sin(2*math.Pi*float64(i)/288) + 2*math.Sin(2*math.Pi*float64(i)/24)
}

// metricFunc is a metric that cycles every period steps with amplitude a.
func metricFunc(period, a float64) func(int) float64 {
	return func(i int) float64 { return 100 + a*math.Sin(2*math.Pi*float64(i)/period) }
}

func series(name string, f func(int) float64, n int) baseline.Series {
	s := baseline.Series{Name: name, Values: make([]float64, n)}
	for i := range s.Values {
		s.Values[i] = f(i)
	}
	return s
}

func ExampleRegistry() {
	dir, _ := os.MkdirTemp("", "registry-example-")
	defer os.RemoveAll(dir)
	// Create makes the registry; Open, for reading, never does.
	reg, _ := lifecycle.Create(filepath.Join(dir, "registry"))
	day := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	reg.SetClock(func() time.Time { return day })
	fc, err := forecast.Train(context.Background(), []baseline.Series{series("latency", metric, 600)}, smallRecipe())
	if err != nil {
		fmt.Println(err)
		return
	}
	artifact := filepath.Join(dir, "forecaster.zip")
	fc.Save(artifact) // what `perfpredict train` writes
	for i, acc := range []float64{0.948, 0.962, 0.971} {
		in, _ := reg.Add(lifecycle.Manifest{Model: "latency", Test: lifecycle.Metrics{N: 288, Accuracy5: acc}}, artifact)
		if i < 2 {
			reg.Promote("latency", in.Version.String(), "held-out accuracy5 above 0.95")
		}
		day = day.AddDate(0, 0, 15)
	}
	infos, _ := reg.List("latency")
	for _, in := range infos {
		fmt.Printf("%s  %s  %.1f%%  %s  h=1..%d\n", in.Version, in.Created.Format("2006-01-02"), 100*in.Test.Accuracy5, in.Status, in.Recipe.Horizon)
	}
	back, _ := reg.Rollback("latency", "", "regression in production")
	served, info, _ := reg.LoadActive("latency")
	fmt.Println("rolled back to", back, "serving", info.Version, "needs", served.Needs(), "observations")
	// Output:
	// v1.0.0  2025-01-15  94.8%  Deprecated  h=1..4
	// v1.1.0  2025-01-30  96.2%  Active  h=1..4
	// v1.2.0  2025-02-14  97.1%  Candidate  h=1..4
	// rolled back to v1.0.0 serving v1.0.0 needs 17 observations
}

func ExampleABTest() {
	dir, _ := os.MkdirTemp("", "abtest-example-")
	defer os.RemoveAll(dir)
	reg, _ := lifecycle.Create(dir)
	ctx := context.Background()
	// The control learnt a metric that swings every 30 minutes; the
	// candidate the smooth one that is live now.
	ctrlFC, _ := forecast.Train(ctx, []baseline.Series{series("cpu", metricFunc(6, 12), 400)}, smallRecipe())
	candFC, _ := forecast.Train(ctx, []baseline.Series{series("cpu", metricFunc(24, 10), 400)}, smallRecipe())
	a, _ := reg.AddForecaster(lifecycle.Manifest{Model: "cpu"}, ctrlFC)
	b, _ := reg.AddForecaster(lifecycle.Manifest{Model: "cpu"}, candFC)
	reg.Promote("cpu", a.Version.String(), "")
	ab, _ := lifecycle.NewABTest(lifecycle.ABConfig{Mode: lifecycle.Shadow, MinSamples: 50, Registry: reg},
		&lifecycle.Served{Version: a, Forecaster: ctrlFC}, &lifecycle.Served{Version: b, Forecaster: candFC})
	live := metricFunc(24, 10)
	var history []float64
	for i := 0; i < 100; i++ {
		history = append(history, live(i))
		if len(history) < ctrlFC.Needs() {
			continue
		}
		p, _ := ab.Predict(ctx, fmt.Sprint("vm-", i), history, 1) // answered by the control
		ab.Observe(p.ID, live(i+1))                               // scored when the actual arrives
	}
	r, _ := ab.Conclude(true)
	fmt.Printf("%s over %d: candidate MAE lower %v -> %s\n", r.Mode, r.Candidate.N, r.Candidate.MAE < r.Control.MAE, r.Decision)
	active, _ := reg.ActiveVersion("cpu")
	fmt.Println("Active:", active)
	// Output:
	// shadow over 84: candidate MAE lower true -> promote
	// Active: v1.1.0
}

func ExamplePipeline() {
	dir, _ := os.MkdirTemp("", "pipeline-example-")
	defer os.RemoveAll(dir)
	clock := lifecycle.NewSimClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	reg, _ := lifecycle.Create(dir)
	reg.SetClock(clock.Now)
	i := 0
	src := lifecycle.SourceFunc(func(_ context.Context, now time.Time) ([]lifecycle.Sample, error) {
		i++
		return []lifecycle.Sample{{Time: now, Values: []float64{metric(i)}}}, nil
	})
	// Retrain daily with the recipe `perfpredict train` ships, shrunk here
	// (leave Train nil for the full recipe), and promote a candidate whose
	// held-out accuracy is good enough and no worse than the Active one's.
	// The first day leaves too few samples beside the 6 held-out hours.
	opts := smallRecipe()
	p, _ := lifecycle.New(context.Background(), lifecycle.Config{
		Model: "cpu", Registry: reg, Source: src, Train: &opts, Clock: clock,
		Holdout: 6 * time.Hour, SyncTraining: true,
		OnEvent: func(e lifecycle.Event) {
			if e.Kind == "promoted" || e.Kind == "rejected" || e.Kind == "train_error" {
				fmt.Println(e)
			}
		},
	})
	for range 4 * 288 { // four days, every 5 minutes
		p.Step(context.Background())
		clock.Advance(5 * time.Minute)
	}
	f, served, _ := p.Forecast(context.Background())
	fmt.Printf("serving %s: %d steps ahead, p10 <= p50 <= p90: %v\n", served.Version.Version, len(f.Points),
		f.Points[0].P10 <= f.Points[0].P50 && f.Points[0].P50 <= f.Points[0].P90)
	// Output:
	// 2025-01-03 00:00 promoted v1.0.0: held-out accuracy5 1.0000 >= threshold 0.95 (no Active version)
	// 2025-01-04 00:00 promoted v1.1.0: held-out accuracy5 1.0000 >= threshold 0.95 and >= Active v1.0.0's 1.0000
	// serving v1.1.0: 4 steps ahead, p10 <= p50 <= p90: true
}
