package perfpredict

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/safetensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The device path is tested by running whole models through internal/device's
// CPU device (a deviceBackend that opens device.CPU()) against the pure-Go
// path from the same weights; under -tags cuda the same comparison runs on
// the fake CUDA library of internal/device/cuda (backend_cuda_test.go) and,
// on a machine with a GPU, on the GPU.

// cpuDevice is a deviceBackend on internal/device's CPU device, predicting
// in chunks of 4 rows so that the tests cover the chunking.
func cpuDevice(auto bool, logf func(string, ...any)) *deviceBackend {
	return &deviceBackend{kind: "cpu-device", open: func() (device.Device, error) { return device.CPU(), nil },
		logf: logf, auto: auto, chunk: 4}
}

// mustClone is m.Clone for a model whose device is known to work.
func mustClone(t *testing.T, m *Model) *Model {
	t.Helper()
	c, err := m.Clone()
	require.NoError(t, err)
	return c
}

// onCPUDevice returns a copy of m running through the CPU device.
func onCPUDevice(t *testing.T, m *Model) *Model {
	t.Helper()
	d := mustClone(t, m)
	if err := d.setBackend(cpuDevice(false, t.Logf)); err != nil {
		t.Fatal(err)
	}
	return d
}

// deviceTestConfig is small and trains without dropout.
func deviceTestConfig() Config {
	return Config{Hidden: 12, Layers: 2, Head: []int{10, 6}, Dropout: -1, Seed: 5, BatchSize: 6, Epochs: 3, Patience: -1}
}

// closeTo fails unless got and want agree within tol, scaled by the larger
// of 1 and |want|.
func closeTo(t *testing.T, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i])-float64(want[i])) / math.Max(1, math.Abs(float64(want[i])))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
		if math.IsNaN(d) {
			break
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: [%d] = %v, want %v (scaled error %.3g > %g)", what, at, got[at], want[at], worst, tol)
	}
}

// tensorsOf returns m's checkpoint tensors by name.
func tensorsOf(t *testing.T, m *Model) (map[string][]float32, map[string]int64) {
	t.Helper()
	f, err := safetensors.Parse(encodeModel(t, m), "model")
	if err != nil {
		t.Fatal(err)
	}
	fs, is := map[string][]float32{}, map[string]int64{}
	for _, name := range f.Names() {
		if v, _, err := f.Float32(name); err == nil {
			fs[name] = v
		} else if v, _, err := f.Int64(name); err == nil {
			is[name] = v[0]
		} else {
			t.Fatalf("tensor %s: %v", name, err)
		}
	}
	return fs, is
}

// compareTensors compares every tensor of got's checkpoint with want's after
// `steps` Adam steps at learning rate lr.
func compareTensors(t *testing.T, what string, got, want *Model, steps int, lr float64) {
	t.Helper()
	gf, gi := tensorsOf(t, got)
	wf, wi := tensorsOf(t, want)
	for name, w := range wf {
		tol := 1e-4
		switch {
		case strings.HasPrefix(name, "head.fc") && strings.HasSuffix(name, ".bias"):
			// A Linear's bias right before a BatchNorm has a zero gradient
			// in exact arithmetic; its float32 gradient is rounding noise,
			// which Adam turns into steps of up to lr either way.
			tol = 2 * lr * float64(steps)
		case strings.HasSuffix(name, ".running_mean"):
			// The batch means include those biases: the running mean, a
			// moving average with momentum 0.1, differs by at most
			// sum_s 0.1*0.9^(n-s)*2*lr*s.
			n := float64(steps)
			tol = 1e-4 + 2*lr*n*(1-math.Pow(0.9, n))
		}
		closeTo(t, what+": "+name, gf[name], w, tol)
	}
	for name, w := range wi {
		if gi[name] != w {
			t.Errorf("%s: %s = %d, want %d", what, name, gi[name], w)
		}
	}
}

// checkDeviceModel runs dev (a model on a device) against host (the same
// weights on the pure-Go path): predictions and attention weights (chunked
// and not, replayed), training steps with the MSE and the L1 loss, every
// tensor after them, the weights read back (checkpoint, Clone), Train with
// early-stopping bookkeeping, and Close.
func checkDeviceModel(t *testing.T, host, dev *Model) {
	if dev.Device() == DeviceCPU {
		t.Fatalf("the device model runs on %q", dev.Device())
	}
	t.Logf("device: %s", dev.Device())
	F, K := host.Features(), host.Outputs()
	predict := func(what string, a, b *Model, batch, steps int, tol float64) {
		t.Helper()
		x := randInput(uint64(batch*100+steps), batch*steps*F)
		wantP, wantW, err := b.Predict(x, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		for call := 1; call <= 2; call++ { // the second replays the graph
			p, w, err := a.Predict(x, batch, steps)
			if err != nil {
				t.Fatal(err)
			}
			closeTo(t, fmt.Sprintf("%s B%d T%d call %d: predictions", what, batch, steps, call), p, wantP, tol)
			closeTo(t, fmt.Sprintf("%s B%d T%d call %d: attention", what, batch, steps, call), w, wantW, tol)
		}
		p := make([]float32, batch*K)
		if err := a.PredictInto(p, nil, x, batch, steps); err != nil {
			t.Fatal(err)
		}
		closeTo(t, what+": PredictInto without weights", p, wantP, tol)
	}
	predict("initial", dev, host, 3, 8, 1e-5)
	predict("initial", dev, host, 10, 11, 1e-5) // several chunks on the CPU device

	// Concurrent predictions of different shapes are serialised.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			batch, steps := 2+g, 5+g
			x := randInput(uint64(g), batch*steps*F)
			want, _, _ := host.Predict(x, batch, steps)
			for range 3 {
				got, _, err := dev.Predict(x, batch, steps)
				if err != nil {
					t.Error(err)
					return
				}
				closeTo(t, fmt.Sprintf("concurrent B%d T%d", batch, steps), got, want, 1e-5)
			}
		}()
	}
	wg.Wait()

	// Training steps, MSE.
	lr := host.Config().LearningRate
	const batch, steps = 6, 9
	x := randInput(1, batch*steps*F)
	y := randInput(2, batch*K)
	th, td := host.NewTrainer(), dev.NewTrainer()
	for step := 1; step <= 3; step++ {
		want, err := th.Step(x, y, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		got, err := td.Step(x, y, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Errorf("step %d: loss %v, want %v", step, got, want)
		}
	}
	compareTensors(t, "after 3 steps", dev, host, 3, lr)
	// The device's weights as read back: a host model built from its
	// checkpoint predicts what it predicts.
	back, err := Decode(encodeModel(t, dev), "device checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	predict("trained vs its checkpoint", dev, back, 5, 8, 1e-5)
	clone := mustClone(t, dev)
	predict("clone", clone, back, 5, 8, 1e-5)
	if clone.Device() != dev.Device() {
		t.Errorf("clone runs on %q, the model on %q", clone.Device(), dev.Device())
	}
	if err := clone.Close(); err != nil {
		t.Error(err)
	}

	// A second Trainer starts Adam afresh, as on the host.
	th, td = host.NewTrainer(), dev.NewTrainer()
	for step := 1; step <= 2; step++ {
		want, _ := th.Step(x, y, batch, steps)
		got, err := td.Step(x, y, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
			t.Errorf("second trainer, step %d: loss %v, want %v", step, got, want)
		}
	}
	compareTensors(t, "after a second trainer", dev, host, 5, lr)

	// Close reads the weights back; the next call uploads them again.
	before := encodeModel(t, dev)
	if err := dev.Close(); err != nil {
		t.Fatal(err)
	}
	if after := encodeModel(t, dev); string(after) != string(before) {
		t.Error("Close changed the weights")
	}
	predict("after Close", dev, back, 3, 8, 1e-2) // back is 2 steps behind: only a sanity bound
	back, err = Decode(before, "device checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	predict("after Close", dev, back, 3, 8, 1e-5)
}

// checkDeviceTrain runs Train on both models from the same weights, on
// trainN training and valN validation samples: the histories agree and the
// kept weights are those of the same epoch.
func checkDeviceTrain(t *testing.T, host, dev *Model, trainN, valN int) {
	train, val := laggedTask(11, trainN), laggedTask(12, valN)
	hh, err := host.Train(context.Background(), train, val)
	if err != nil {
		t.Fatal(err)
	}
	hd, err := dev.Train(context.Background(), train, val)
	if err != nil {
		t.Fatal(err)
	}
	if len(hd.Epochs) != len(hh.Epochs) || hd.BestEpoch != hh.BestEpoch {
		t.Fatalf("device trained %d epochs keeping %d, host %d keeping %d", len(hd.Epochs), hd.BestEpoch, len(hh.Epochs), hh.BestEpoch)
	}
	for i, e := range hh.Epochs {
		d := hd.Epochs[i]
		if math.Abs(d.TrainLoss-e.TrainLoss) > 1e-3 || math.Abs(d.ValLoss-e.ValLoss) > 1e-3 {
			t.Errorf("epoch %d: device losses %v / %v, host %v / %v", i+1, d.TrainLoss, d.ValLoss, e.TrainLoss, e.ValLoss)
		}
	}
	bs := host.Config().BatchSize
	batches := train.Samples / bs
	if train.Samples%bs >= 2 {
		batches++
	}
	steps := len(hh.Epochs) * batches
	compareTensors(t, "after Train", dev, host, steps, host.Config().LearningRate)
}

func TestDeviceMatchesHost(t *testing.T) {
	host, err := New(deviceTestConfig(), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	dev := onCPUDevice(t, host)
	checkDeviceModel(t, host, dev)

	cfg := deviceTestConfig()
	cfg.Loss = LossL1
	host, err = New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	checkDeviceTrain(t, host, onCPUDevice(t, host), 40, 16)
}

func TestDeviceHuberStep(t *testing.T) {
	cfg := deviceTestConfig()
	cfg.Loss, cfg.HuberDelta = LossHuber, 0.5
	host, err := New(cfg, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	dev := onCPUDevice(t, host)
	x, y := randInput(3, 8*5*3), randInput(4, 8*2)
	for i := range y {
		y[i] *= 3 // beyond delta for some
	}
	want, err := host.NewTrainer().Step(x, y, 8, 5)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dev.NewTrainer().Step(x, y, 8, 5)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-4*math.Max(1, want) {
		t.Errorf("Huber loss %v, want %v", got, want)
	}
	// The model's learning rate: cfg leaves it 0, for New's default.
	compareTensors(t, "Huber step", dev, host, 1, host.Config().LearningRate)
}

// TestDeviceDropout: a device that cannot apply dropout refuses to train
// with it, naming the setting; DeviceAuto trains on the CPU instead, with
// one log line, exactly as the pure-Go path does.
func TestDeviceDropout(t *testing.T) {
	cfg := deviceTestConfig()
	cfg.Dropout = 0.3
	host, err := New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	dev := onCPUDevice(t, host)
	before := encodeModel(t, dev)
	x, y := randInput(5, 6*7*2), randInput(6, 6)
	_, err = dev.NewTrainer().Step(x, y, 6, 7)
	if err == nil || !strings.Contains(err.Error(), "dropout") || !strings.Contains(err.Error(), "Dropout below 0") {
		t.Fatalf("Step with dropout on a device: %v, want an error naming dropout", err)
	}
	if _, err := dev.Train(context.Background(), laggedTask(1, 12), Dataset{}); err == nil || !strings.Contains(err.Error(), "dropout") {
		t.Fatalf("Train with dropout on a device: %v", err)
	}
	if string(encodeModel(t, dev)) != string(before) {
		t.Error("refused training changed the weights")
	}

	var lines []string
	auto := mustClone(t, host)
	if err := auto.setBackend(cpuDevice(true, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })); err != nil {
		t.Fatal(err)
	}
	th, ta := host.NewTrainer(), auto.NewTrainer()
	if len(lines) != 1 || !strings.Contains(lines[0], "training on the CPU") {
		t.Fatalf("auto logged %q, want one line saying it trains on the CPU", lines)
	}
	for step := 1; step <= 2; step++ {
		want, err := th.Step(x, y, 6, 7)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ta.Step(x, y, 6, 7)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("auto step %d: loss %v, want %v (the same CPU path)", step, got, want)
		}
	}
	if string(encodeModel(t, auto)) != string(encodeModel(t, host)) {
		t.Error("training on the CPU under auto differs from the pure-Go path")
	}
	// Its predictions run on the device, with the trained weights.
	xp := randInput(7, 5*7*2)
	want, _, _ := host.Predict(xp, 5, 7)
	got, _, err := auto.Predict(xp, 5, 7)
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "auto predictions after CPU training", got, want, 1e-5)
}

func TestDeviceConfig(t *testing.T) {
	cfg := tinyConfig()
	cfg.Device = "tpu"
	if _, err := New(cfg, 3, 1); err == nil || !strings.Contains(err.Error(), `device "tpu"`) {
		t.Errorf("New with device tpu: %v, want an error naming it", err)
	}
	cfg.Device = " CPU "
	m, err := New(cfg, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config().Device != DeviceCPU || m.Device() != DeviceCPU {
		t.Errorf("device %q runs on %q, want cpu", m.Config().Device, m.Device())
	}
	if err := m.UseDevice("gpu", nil); err == nil || !strings.Contains(err.Error(), `"gpu"`) {
		t.Errorf("UseDevice(gpu): %v", err)
	}
	if d, err := device.Open(DeviceCUDA, nil); err == nil {
		d.Close()
		t.Skip("a GPU is usable here: the fallbacks are not reachable")
	} else {
		cfg.Device = DeviceCUDA
		_, err2 := New(cfg, 3, 1)
		if err2 == nil || !strings.Contains(err2.Error(), err.Error()) {
			t.Errorf("New on cuda without a GPU: %v, want the device's error %q", err2, err)
		}
		if err := m.UseDevice(DeviceCUDA, nil); err == nil || m.Device() != DeviceCPU {
			t.Errorf("UseDevice(cuda) without a GPU: %v, model on %q", err, m.Device())
		}
	}
	var lines []string
	cfg.Device = DeviceAuto
	cfg.Logf = func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	a, err := New(cfg, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || a.Device() != DeviceCPU || a.Config().Device != DeviceAuto {
		t.Errorf("auto without a GPU: %d log lines %q, runs on %q", len(lines), lines, a.Device())
	}
	if string(encodeModel(t, a)) != string(encodeModel(t, m)) {
		t.Error("the auto model's weights differ from the cpu model's")
	}
	if err := m.UseDevice(DeviceAuto, cfg.Logf); err != nil || len(lines) != 2 {
		t.Errorf("UseDevice(auto): %v, %d log lines", err, len(lines))
	}
	if !errors.Is(m.Close(), nil) {
		t.Error("Close on the CPU failed")
	}
}

// fullDevice is the CPU device with no memory left.
type fullDevice struct{ device.Device }

func (fullDevice) Alloc(n int) (device.Buffer, error) {
	return nil, fmt.Errorf("out of memory allocating %d values", n)
}

// TestDeviceOutOfMemory: a model that does not fit on the device is New's
// error, or under auto runs on the CPU with a log line.
func TestDeviceOutOfMemory(t *testing.T) {
	m, err := New(tinyConfig(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = m.attachDevice(fullDevice{device.CPU()}, "full", device.Options{}, false, t.Logf)
	if err == nil || !strings.Contains(err.Error(), "out of memory") || m.Device() != DeviceCPU {
		t.Errorf("attaching a full device: %v, model on %q", err, m.Device())
	}
	var lines []string
	err = m.attachDevice(fullDevice{device.CPU()}, "full", device.Options{}, true, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	if err != nil || m.Device() != DeviceCPU || len(lines) != 1 || !strings.Contains(lines[0], "out of memory") {
		t.Errorf("auto on a full device: %v, model on %q, logged %q", err, m.Device(), lines)
	}
}

// TestCloneReadBackError: a device that cannot give the weights back makes
// Clone return its error (it used to panic), and the model still clones once
// the device works again.
func TestCloneReadBackError(t *testing.T) {
	m, err := New(deviceTestConfig(), 3, 1)
	require.NoError(t, err)
	dev := onCPUDevice(t, m)
	// A training step leaves the newer weights on the device only.
	_, err = dev.NewTrainer().Step(randInput(1, 6*5*3), randInput(2, 6), 6, 5)
	require.NoError(t, err)
	// The CPU device refuses host copies while it records a graph.
	cpu := device.CPU()
	require.NoError(t, cpu.BeginCapture(cpu.Queue(0)))
	c, err := dev.Clone()
	g, endErr := cpu.EndCapture(cpu.Queue(0))
	require.NoError(t, endErr)
	require.NoError(t, g.Close())
	assert.Nil(t, c)
	assert.ErrorIs(t, err, device.ErrCapturing)

	c, err = dev.Clone()
	require.NoError(t, err)
	x := randInput(3, 2*5*3)
	want, _, err := dev.Predict(x, 2, 5)
	require.NoError(t, err)
	got, _, err := c.Predict(x, 2, 5)
	require.NoError(t, err)
	closeTo(t, "clone after the failure", got, want, 1e-5)
}

// unclosableDevice is the CPU device whose Close fails.
type unclosableDevice struct{ device.Device }

func (unclosableDevice) Close() error { return errors.New("device busy") }

// TestDeviceLogsToCaller: the library's log lines go to the caller's Logf,
// never to the standard logger, and a nil Logf means none.
func TestDeviceLogsToCaller(t *testing.T) {
	var global strings.Builder
	defer log.SetOutput(log.Writer())
	log.SetOutput(&global)

	// A device that cannot be freed when its model is collected.
	var lines []string
	m, err := New(tinyConfig(), 3, 1)
	require.NoError(t, err)
	require.NoError(t, m.attachDevice(unclosableDevice{device.CPU()}, "busy", device.Options{}, false,
		func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }))
	m.backend.(*deviceBackend).drop()
	if assert.Len(t, lines, 1) {
		assert.Contains(t, lines[0], "device busy")
	}
	require.NoError(t, m.attachDevice(unclosableDevice{device.CPU()}, "busy", device.Options{}, false, nil))
	m.backend.(*deviceBackend).drop()

	// DeviceAuto's fallback line with no Logf (in a build without the CUDA
	// backend, or on a machine without a GPU).
	m, err = New(tinyConfig(), 3, 1)
	require.NoError(t, err)
	if err := m.UseDevice(DeviceAuto, nil); err != nil {
		t.Logf("UseDevice(auto): %v", err)
	}
	assert.Empty(t, global.String(), "written to the standard logger")
}

// TestConfigPrecision: Config.Precision is validated, normalised, kept by
// clones, and settable on a model; the CPU runs tf32 as fp32, bf16 only
// with AVX512_BF16 and int8 only with AVX512_VNNI.
func TestConfigPrecision(t *testing.T) {
	assert.Equal(t, PrecisionFP32, DefaultConfig().Precision)
	for _, p := range []string{"fp16", "float32", "tf-32"} {
		cfg := tinyConfig()
		cfg.Precision = p
		_, err := New(cfg, 3, 1)
		if assert.Error(t, err, p) {
			assert.Contains(t, err.Error(), fmt.Sprintf("precision %q", p))
		}
	}
	cfg := tinyConfig()
	cfg.Precision = " TF32 "
	m, err := New(cfg, 3, 1)
	require.NoError(t, err)
	assert.Equal(t, PrecisionTF32, m.cfg.Precision)
	assert.Equal(t, DeviceCPU, m.Device())
	assert.Equal(t, PrecisionTF32, mustClone(t, m).cfg.Precision)

	assert.ErrorContains(t, m.SetPrecision("fp16"), `precision "fp16"`)
	assert.Equal(t, PrecisionTF32, m.cfg.Precision, "after a failed SetPrecision")
	for _, c := range []struct{ prec, miss, feature string }{
		{PrecisionBF16, asm.BF16Missing(), "AVX512_BF16"},
		{PrecisionInt8, asm.Int8Missing(), "AVX512_VNNI"},
	} {
		if c.miss != "" {
			assert.ErrorContains(t, m.SetPrecision(c.prec), "precision "+c.prec+" on the CPU needs "+c.feature)
			assert.Equal(t, PrecisionTF32, m.cfg.Precision, "after a failed SetPrecision")
			continue
		}
		require.NoError(t, m.SetPrecision(c.prec))
		assert.Equal(t, c.prec, m.cfg.Precision)
		require.NoError(t, m.SetPrecision(PrecisionTF32))
	}
}
