package lifecycle_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/novacron/perfpredict/lifecycle"
)

func ExampleRegistry() {
	dir, _ := os.MkdirTemp("", "registry-example-")
	defer os.RemoveAll(dir)
	reg, _ := lifecycle.Open(filepath.Join(dir, "registry"))
	day := time.Date(2025, 1, 15, 0, 0, 0, 0, time.UTC)
	reg.SetClock(func() time.Time { return day })
	ckpt := filepath.Join(dir, "model.safetensors")
	for i, acc := range []float64{0.948, 0.962, 0.971} {
		os.WriteFile(ckpt, []byte("weights "+strconv.Itoa(i)), 0o644)
		in, _ := reg.Add(lifecycle.Manifest{Model: "latency", Test: lifecycle.Metrics{N: 288, Accuracy5: acc}}, ckpt)
		if i < 2 {
			reg.Promote("latency", in.Version.String(), "held-out accuracy5 above 0.95")
		}
		day = day.AddDate(0, 0, 15)
	}
	infos, _ := reg.List("latency")
	for _, in := range infos {
		fmt.Printf("%s  %s  %.1f%%  %s\n", in.Version, in.Created.Format("2006-01-02"), 100*in.Test.Accuracy5, in.Status)
	}
	back, _ := reg.Rollback("latency", "", "regression in production")
	fmt.Println("rolled back to", back)
	// Output:
	// v1.0.0  2025-01-15  94.8%  Deprecated
	// v1.1.0  2025-01-30  96.2%  Active
	// v1.2.0  2025-02-14  97.1%  Candidate
	// rolled back to v1.0.0
}

// lastPlus forecasts the last value plus a bias.
type lastPlus float64

func (b lastPlus) Forecast(h []lifecycle.Sample, horizon int) ([]float64, error) {
	return []float64{h[len(h)-1].Values[0] + float64(b)}, nil
}

func ExampleABTest() {
	control := &lifecycle.Served{Version: lifecycle.VersionInfo{Manifest: lifecycle.Manifest{Model: "cpu", Version: lifecycle.Version{1, 0, 0}}}, Forecaster: lastPlus(2)}
	cand := &lifecycle.Served{Version: lifecycle.VersionInfo{Manifest: lifecycle.Manifest{Model: "cpu", Version: lifecycle.Version{1, 1, 0}}}, Forecaster: lastPlus(0.5)}
	ab, _ := lifecycle.NewABTest(lifecycle.ABConfig{Mode: lifecycle.Shadow, MinSamples: 50}, control, cand)
	y := 50.0
	for i := 0; i < 60; i++ {
		p, _ := ab.Predict(fmt.Sprint("vm-", i), []lifecycle.Sample{{Values: []float64{y}}}, 1)
		y += float64(i%3) - 1 // -1, 0, +1
		ab.Observe(p.ID, y)
	}
	r := ab.Result()
	fmt.Printf("%s: control MAE %.2f, candidate MAE %.2f over %d -> %s\n", r.Mode, r.Control.MAE, r.Candidate.MAE, r.Candidate.N, r.Decision)
	// Output:
	// shadow: control MAE 2.00, candidate MAE 0.83 over 60 -> promote
}

// meanTrainer "trains" a model that forecasts the training mean; the
// checkpoint holds the number.
type meanTrainer struct{}

func (meanTrainer) Train(_ context.Context, req lifecycle.TrainRequest) (lifecycle.TrainResult, error) {
	s := 0.0
	for _, x := range req.Train {
		s += x.Values[0]
	}
	path := filepath.Join(req.Dir, "mean.txt")
	err := os.WriteFile(path, []byte(strconv.FormatFloat(s/float64(len(req.Train)), 'g', -1, 64)), 0o644)
	return lifecycle.TrainResult{Checkpoint: path, Features: []string{"value"}}, err
}

type meanModel float64

func (m meanModel) Forecast([]lifecycle.Sample, int) ([]float64, error) {
	return []float64{float64(m)}, nil
}

type meanLoader struct{}

func (meanLoader) Load(_ context.Context, path string) (lifecycle.Forecaster, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseFloat(string(b), 64)
	return meanModel(v), err
}

func ExamplePipeline() {
	dir, _ := os.MkdirTemp("", "pipeline-example-")
	defer os.RemoveAll(dir)
	clock := lifecycle.NewSimClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	reg, _ := lifecycle.Open(dir)
	reg.SetClock(clock.Now)
	// A metric at 100 that moves to 200 on January 4th. The daily retrains
	// on all history keep learning 100; the retrain on recent data that an
	// alert asks for learns 200 and is promoted.
	src := lifecycle.SourceFunc(func(_ context.Context, now time.Time) ([]lifecycle.Sample, error) {
		v := 100.0
		if now.Day() >= 4 {
			v = 200
		}
		return []lifecycle.Sample{{Time: now, Values: []float64{v}}}, nil
	})
	p, _ := lifecycle.New(context.Background(), lifecycle.Config{
		Model: "cpu", Registry: reg, Source: src, Trainer: meanTrainer{}, Loader: meanLoader{}, Clock: clock,
		Holdout: 6 * time.Hour, RecentWindow: 12 * time.Hour, MinTrain: 100, SyncTraining: true,
		OnEvent: func(e lifecycle.Event) {
			if e.Kind == "promoted" || e.Kind == "rejected" {
				fmt.Println(e)
			}
		},
	})
	for i := 0; i < 5*288; i++ { // five days, every 5 minutes
		p.Step(context.Background())
		if i == 3*288+216 { // 18 hours into the change, an alert asks for recent data
			p.RequestRetrain("alert ModelDrift", true)
		}
		clock.Advance(5 * time.Minute)
	}
	fmt.Println("serving", p.Serving.Current().Version.Version)
	// Output:
	// 2025-01-02 00:00 promoted v1.0.0: held-out accuracy5 1.0000 >= threshold 0.95 (no Active version)
	// 2025-01-03 00:00 promoted v1.1.0: held-out accuracy5 1.0000 >= threshold 0.95 and >= Active v1.0.0's 1.0000
	// 2025-01-04 00:00 promoted v1.2.0: held-out accuracy5 0.9861 >= threshold 0.95 and >= Active v1.1.0's 0.9861
	// 2025-01-04 18:05 promoted v1.3.0: held-out accuracy5 1.0000 >= threshold 0.95 and >= Active v1.2.0's 0.0000
	// 2025-01-05 18:05 rejected v1.4.0: held-out accuracy5 0.0000 below threshold 0.95 (Active v1.3.0: 1.0000)
	// serving v1.3.0
}
