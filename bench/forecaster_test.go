package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// The default forecaster: the recipe `perfpredict train` ships
// (forecast.DefaultOptions: its networks' size, window, horizon and
// ensemble), trained for one epoch on synthetic series, since speed does
// not depend on the weights. Compare with tools/fixtures/forecaster_torch_cpu.py,
// which runs the same networks in PyTorch at one thread.

var (
	benchFCOnce sync.Once
	benchFC     *forecast.Forecaster
	benchFCErr  error
	benchSeries []baseline.Series
)

func defaultForecaster(b *testing.B) *forecast.Forecaster {
	benchFCOnce.Do(func() {
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 2 {
			s := baseline.Series{Name: fmt.Sprint(i)}
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			for j := range 1500 {
				s.Times = append(s.Times, t0.Add(time.Duration(j)*5*time.Minute))
				s.Values = append(s.Values, 50+10*math.Sin(float64(j)/40)+rng.NormFloat64())
			}
			benchSeries = append(benchSeries, s)
		}
		o := forecast.DefaultOptions()
		o.Epochs = 1
		benchFC, benchFCErr = forecast.Train(context.Background(), benchSeries, o)
	})
	if benchFCErr != nil {
		b.Fatal(benchFCErr)
	}
	return benchFC
}

// BenchmarkForecaster is the served path: Forecast from a history at batch
// 1 (featurisation, every network of the ensemble, intervals), ForecastBatch
// at 256 histories, and a training step of one network at the recipe's batch
// size (forward, backward, Adam).
func BenchmarkForecaster(b *testing.B) {
	fc := defaultForecaster(b)
	ctx := context.Background()
	y := benchSeries[0].Values
	b.Run("batch=1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fc.Forecast(ctx, y); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1e3, "ms/forecast")
	})
	b.Run("batch=256", func(b *testing.B) {
		hist := make([][]float64, 256)
		for i := range hist {
			hist[i] = y[:len(y)-i]
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := fc.ForecastBatch(ctx, hist); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(256*float64(b.N)/b.Elapsed().Seconds(), "forecasts/s")
	})
	b.Run("train", func(b *testing.B) {
		o := forecast.DefaultOptions()
		r := fc.Recipe()
		net, err := fc.Network(0).Clone()
		if err != nil {
			b.Fatal(err)
		}
		tr := net.NewTrainer()
		x := modelInput(3, o.BatchSize*r.Window*len(r.Inputs))
		target := modelInput(4, o.BatchSize*r.Horizon)
		for b.Loop() {
			if _, err := tr.Step(x, target, o.BatchSize, r.Window); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(o.BatchSize)*float64(b.N)/b.Elapsed().Seconds(), "seq/s")
	})
	// The ensemble's two networks stepping side by side, one goroutine
	// each, as forecast.Train runs them on two cores: serial=true is what
	// it does (Model.Serial while training), serial=false lets each network
	// also split its directions and products over both cores.
	for _, serial := range []bool{false, true} {
		b.Run(fmt.Sprintf("train-ensemble/serial=%v", serial), func(b *testing.B) {
			o := forecast.DefaultOptions()
			r := fc.Recipe()
			var steps [2]func() error
			for i := range steps {
				net, err := fc.Network(i).Clone()
				if err != nil {
					b.Fatal(err)
				}
				net.Serial = serial
				tr := net.NewTrainer()
				x := modelInput(uint64(5+i), o.BatchSize*r.Window*len(r.Inputs))
				target := modelInput(uint64(7+i), o.BatchSize*r.Horizon)
				steps[i] = func() error { _, err := tr.Step(x, target, o.BatchSize, r.Window); return err }
			}
			var errs [2]error
			for b.Loop() {
				var wg sync.WaitGroup
				for i := range steps {
					wg.Go(func() { errs[i] = steps[i]() })
				}
				wg.Wait()
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(2*float64(o.BatchSize)*float64(b.N)/b.Elapsed().Seconds(), "seq/s")
		})
	}
}
