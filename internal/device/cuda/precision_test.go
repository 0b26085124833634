//go:build cuda && cgo

package cuda_test

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/device/cuda"
	"github.com/novacron/perfpredict/internal/device/devicetest"
)

// TestPrecisions runs the default model on the GPU in each precision against
// the CPU device with the same weights (on machines without a GPU it skips;
// TestFakeCUDA's "precision" child runs the same check on the fake).
func TestPrecisions(t *testing.T) {
	if os.Getenv("FAKE_CUDA") != "" {
		t.Skip("running under the fake CUDA")
	}
	d, err := cuda.Open()
	if err != nil {
		t.Skipf("no usable CUDA device, skipping the precision checks: %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	checkPrecisions(t, 64, 60)
}

// checkPrecisions predicts batch sequences of steps steps with the default
// architecture (F=30, 3 bidirectional layers of 128, head 128/64/32 -> 1)
// in fp32, tf32 and bf16, and compares each with the CPU device: fp32 within
// devicetest.Tol, tf32 and bf16 within devicetest.TolBF16 (2e-2) of the
// largest prediction, and bf16 must differ from both (bfloat16 was used).
func checkPrecisions(t *testing.T, batch, steps int) {
	cfg := device.ModelConfig{Features: 30, Hidden: 128, Layers: 3, Outputs: 1, Head: []int{128, 64, 32}}
	rng := rand.New(rand.NewPCG(7, 8))
	ref, err := device.NewModel(device.CPU(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	weights := map[string][]float32{}
	if err := ref.Save(func(name string, v []float32) error {
		w := make([]float32, len(v))
		for i := range w {
			switch {
			case strings.HasSuffix(name, "running_var"):
				w[i] = 0.5 + rng.Float32()
			case strings.Contains(name, "bn") && strings.HasSuffix(name, ".weight"):
				w[i] = 0.5 + rng.Float32()
			default:
				w[i] = 0.2 * (rng.Float32() - 0.5)
			}
		}
		weights[name] = w
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	get := func(name string) ([]float32, error) { return weights[name], nil }
	if err := ref.Load(get); err != nil {
		t.Fatal(err)
	}
	x := make([]float32, batch*steps*cfg.Features)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	want := make([]float32, batch)
	if err := ref.Predict(want, nil, x, batch, steps); err != nil {
		t.Fatal(err)
	}
	predict := func(p cuda.Precision) []float32 {
		d, err := cuda.OpenPrecision(p)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := d.Close(); err != nil {
				t.Error(err)
			}
		}()
		if p != cuda.FP32 && !strings.Contains(d.Name(), string(p)+" matrix products") {
			t.Errorf("Name() = %q does not say the precision", d.Name())
		}
		m, err := device.NewModel(d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.BF16() != (p == cuda.BF16) {
			t.Errorf("%s: the model's LSTM multiplies in bf16: %v", p, m.BF16())
		}
		if err := m.Load(get); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, batch)
		if err := m.Predict(got, nil, x, batch, steps); err != nil {
			t.Fatal(err)
		}
		return got
	}
	worst := func(a, b []float32) float64 {
		w := 0.0
		for i := range a {
			w = math.Max(w, math.Abs(float64(a[i])-float64(b[i])))
		}
		return w
	}
	fp32 := predict(cuda.FP32)
	devicetest.CloseTo(t, "fp32 predictions", fp32, want, devicetest.Tol)
	got := map[cuda.Precision][]float32{}
	for _, p := range []cuda.Precision{cuda.TF32, cuda.BF16} {
		got[p] = predict(p)
		devicetest.CloseRelative(t, string(p)+" predictions", got[p], want, devicetest.TolBF16, false)
	}
	if worst(got[cuda.BF16], fp32) == 0 || worst(got[cuda.BF16], got[cuda.TF32]) == 0 {
		t.Error("bf16 predictions equal the fp32 or tf32 ones: bfloat16 was not used")
	}
}
