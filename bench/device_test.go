package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/internal/device"
	_ "github.com/novacron/perfpredict/internal/device/cuda" // registers "cuda" (a stub without -tags cuda)
	"github.com/novacron/perfpredict/internal/nn"
)

// The device benchmarks run the default model (F=30, T=60, 3 bidirectional
// layers of 128, attention over 256, head 128/64/32 -> 1, random weights, no
// dropout) as internal/device.Model on the device PERFPREDICT_DEVICE names
// (cpu by default; cuda needs -tags cuda, and PERFPREDICT_CUDA_PRECISION
// picks fp32, tf32 or bf16). BenchmarkModelPredict and BenchmarkModelTrain
// run the root package's Model, which uses a device.Model on that device.
//
//	BenchmarkDeviceModelPredict/batch=N/graph     input resident on the device,
//	                                              the pass replayed as a graph
//	                                              (as model_torch_bench.py times m(x))
//	BenchmarkDeviceModelPredict/batch=N/eager     the same, launched op by op
//	BenchmarkDeviceModelPredict/batch=N/host      Predict with the host copies
//	BenchmarkDeviceModelTrain/batch=32/graph      a training step: forward,
//	                                              MSE, backward, Adam, the
//	                                              passes replayed as graphs
//	BenchmarkDeviceModelTrain/batch=32/eager      the same, op by op
//
// Compare with tools/fixtures/model_torch_bench.py's inference and
// train_seq_per_s (--device cuda) from the same machine (the benchmark reads
// the environment variables, the library does not).
// PERFPREDICT_BENCH_BATCHES overrides the batch sizes (default 1,32 on the
// CPU, 1,1024,4096 on another device).

const devFeatures, devSteps = 30, 60

func benchDevice(b *testing.B) device.Device {
	// The benchmarks, not the library, read the environment.
	o := device.Options{Precision: os.Getenv("PERFPREDICT_CUDA_PRECISION")}
	d, err := device.OpenWith(os.Getenv("PERFPREDICT_DEVICE"), o, func(f string, a ...any) { b.Logf(f, a...) })
	if err != nil {
		b.Skipf("PERFPREDICT_DEVICE=%q: %v", os.Getenv("PERFPREDICT_DEVICE"), err)
	}
	b.Logf("device: %s", d.Name())
	return d
}

func benchBatches(b *testing.B, d device.Device) []int {
	spec := os.Getenv("PERFPREDICT_BENCH_BATCHES")
	if spec == "" {
		if d == device.CPU() {
			return []int{1, 32}
		}
		return []int{1, 1024, 4096}
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("PERFPREDICT_BENCH_BATCHES=%q: %q is not a batch size", spec, f)
		}
		out = append(out, n)
	}
	return out
}

// defaultDeviceModel builds the default model on d with random weights.
func defaultDeviceModel(b *testing.B, d device.Device) *device.Model {
	m, err := device.NewModel(d, device.ModelConfig{Features: devFeatures, Hidden: 128, Layers: 3, Outputs: 1, Head: []int{128, 64, 32}})
	if err != nil {
		b.Fatal(err)
	}
	if err := loadRandom(m, rand.New(rand.NewPCG(1, 2))); err != nil {
		b.Fatal(err)
	}
	return m
}

// loadRandom fills every tensor with small random values (BatchNorm's
// variances with 1), enough to time the model.
func loadRandom(m *device.Model, rng *rand.Rand) error {
	sizes := map[string]int{}
	if err := m.Save(func(name string, v []float32) error { sizes[name] = len(v); return nil }); err != nil {
		return err
	}
	return m.Load(func(name string) ([]float32, error) {
		v := make([]float32, sizes[name])
		if strings.HasSuffix(name, "running_var") || strings.Contains(name, ".bn") && strings.HasSuffix(name, ".weight") {
			for i := range v {
				v[i] = 1
			}
			return v, nil
		}
		nn.Uniform(rng, v, -0.1, 0.1)
		return v, nil
	})
}

func BenchmarkDeviceModelPredict(b *testing.B) {
	d := benchDevice(b)
	m := defaultDeviceModel(b, d)
	defer m.Close()
	q := d.Queue(0)
	for _, batch := range benchBatches(b, d) {
		x := modelInput(1, batch*devSteps*devFeatures)
		for _, mode := range []string{"graph", "eager"} {
			b.Run(fmt.Sprintf("batch=%d/%s", batch, mode), func(b *testing.B) {
				m.Eager = mode == "eager"
				if err := m.PreparePredict(batch, devSteps); err != nil {
					b.Fatal(err)
				}
				if err := q.Upload(m.Input(), x); err != nil {
					b.Fatal(err)
				}
				// Warm up outside the timing: the graph's capture, first touches.
				if err := m.EnqueuePredict(); err != nil {
					b.Fatal(err)
				}
				if err := q.Sync(); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if err := m.EnqueuePredict(); err != nil {
						b.Fatal(err)
					}
					if err := q.Sync(); err != nil {
						b.Fatal(err)
					}
				}
				reportDevRate(b, batch)
			})
		}
		b.Run(fmt.Sprintf("batch=%d/host", batch), func(b *testing.B) {
			m.Eager = false
			pred, w := make([]float32, batch), make([]float32, batch*devSteps)
			for b.Loop() {
				if err := m.Predict(pred, w, x, batch, devSteps); err != nil {
					b.Fatal(err)
				}
			}
			reportDevRate(b, batch)
		})
	}
}

func BenchmarkDeviceModelTrain(b *testing.B) {
	const batch = 32
	d := benchDevice(b)
	m := defaultDeviceModel(b, d)
	defer m.Close()
	x := modelInput(2, batch*devSteps*devFeatures)
	y := modelInput(3, batch)
	for _, mode := range []string{"graph", "eager"} {
		b.Run(fmt.Sprintf("batch=%d/%s", batch, mode), func(b *testing.B) {
			m.Eager = mode == "eager"
			for b.Loop() {
				if _, err := m.TrainStep(x, y, batch, devSteps, 1e-3); err != nil {
					b.Fatal(err)
				}
			}
			reportDevRate(b, batch)
		})
	}
}

func reportDevRate(b *testing.B, batch int) {
	s := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(s*1e3, "ms/op")
	b.ReportMetric(float64(batch)/s, "seq/s")
}
