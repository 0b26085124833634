package lifecycle

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// tinyOptions is the shipped recipe shrunk to train in tens of
// milliseconds (a faster step makes up for the few epochs): the tests'
// forecasters go through forecast.Train like the pipeline's.
func tinyOptions() forecast.Options {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 4
	o.Hidden, o.Head, o.Epochs, o.Ensemble, o.SwitchTrees = 4, []int{8}, 20, 1, nil
	o.LearningRate = 1e-2
	return o
}

// smooth is a level near 100 with a 2-hour cycle at 5-minute steps and a
// little deterministic wiggle: forecastable to well within 5%.
func smooth(i int) float64 {
	return 100 + 10*math.Sin(2*math.Pi*float64(i)/24) + 0.3*math.Sin(float64(i)*1.7)
}

// choppy swings by 12 every step around 100 (a 30-minute oscillation): a
// forecaster trained on it predicts big moves.
func choppy(i int) float64 {
	return 100 + 12*math.Sin(2*math.Pi*float64(i)/6) + 0.3*math.Sin(float64(i)*1.7)
}

func values(f func(int) float64, from, n int) []float64 {
	y := make([]float64, n)
	for i := range y {
		y[i] = f(from + i)
	}
	return y
}

type tinyKey struct {
	signal         string
	hidden, epochs int
	seed           uint64
}

var (
	tinyMu    sync.Mutex
	tinyCache = map[tinyKey]*forecast.Forecaster{}
)

// tinyForecaster trains (once per test binary and key) a tinyOptions
// forecaster on 400 steps of signal ("smooth" or "choppy") with seed: on
// the smooth signal, the smooth one's one-step MAE is about 0.4, the
// choppy one's about 4.5 (persistence: 1.7).
func tinyForecaster(t testing.TB, signal string, seed uint64) *forecast.Forecaster {
	return trainedForecaster(t, signal, 4, 20, seed)
}

func trainedForecaster(t testing.TB, signal string, hidden, epochs int, seed uint64) *forecast.Forecaster {
	t.Helper()
	tinyMu.Lock()
	defer tinyMu.Unlock()
	k := tinyKey{signal, hidden, epochs, seed}
	if fc := tinyCache[k]; fc != nil {
		return fc
	}
	f := smooth
	if signal == "choppy" {
		f = choppy
	}
	o := tinyOptions()
	o.Hidden, o.Epochs, o.Seed = hidden, epochs, seed
	fc, err := forecast.Train(context.Background(), []baseline.Series{{Name: signal, Values: values(f, 0, 400)}}, o)
	if err != nil {
		t.Fatal(err)
	}
	tinyCache[k] = fc
	return fc
}

// writeArtifact saves a tiny forecaster trained on the smooth signal with
// seed as an artifact file in dir and returns its path; different seeds
// give different files.
func writeArtifact(t testing.TB, dir string, seed uint64) string {
	t.Helper()
	p := filepath.Join(dir, fmt.Sprintf("forecaster-%d-%s.zip", seed, randomSuffix()))
	if err := tinyForecaster(t, "smooth", seed).Save(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// flipByte changes one byte in the middle of a file, keeping its size:
// only a checksum can tell.
func flipByte(t testing.TB, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0x55
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
