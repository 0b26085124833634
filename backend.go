package perfpredict

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/nn"
	"github.com/novacron/perfpredict/lstm"
)

// backend is where a model's predictions and training steps run. A model
// chooses one when it is built (New, UseDevice) and otherwise only calls
// through it: hostBackend is the pure-Go path of the lstm, attention and nn
// packages on the model's own Params; deviceBackend runs internal/device's
// Model with the weights resident in device memory.
//
// The Params stay the model's weights as far as its other code is concerned:
// before reading them (snapshot, checkpoint, Clone) it calls pull, which
// copies newer weights back from the device, and after overwriting them
// (restore) it calls push, so that the device reloads them before its next
// use.
type backend interface {
	// describe names where the model runs: "cpu", or the device's name.
	describe() string
	// predict writes the evaluation-mode predictions [batch, K] of x (and
	// the attention weights [batch, steps] when weights is not nil); the
	// caller has checked the shapes.
	predict(m *Model, pred, weights, x []float32, batch, steps int) error
	// newStepper makes the step of a new Trainer, with a fresh optimiser; an
	// error says why m's configuration cannot train on this backend.
	newStepper(m *Model) (stepper, error)
	// pull copies the weights the backend holds newer than m's Params into
	// them.
	pull(m *Model) error
	// push records that m's Params were overwritten.
	push()
	// fork returns the backend for a clone of the model: the same choice of
	// device, with nothing allocated yet.
	fork() backend
	// release pulls and then frees what the backend holds outside the Go
	// heap; a later use allocates it again.
	release(m *Model) error
}

// stepper is one Trainer's training step (the caller has checked shapes).
type stepper interface {
	step(x, y []float32, batch, steps int) (float64, error)
	stateBytes() int
}

// hostBackend is the pure-Go path, bit-identical for a given seed and CPU
// implementation.
type hostBackend struct{}

func (hostBackend) describe() string { return DeviceCPU }

func (hostBackend) predict(m *Model, pred, weights, x []float32, batch, steps int) error {
	ws := m.getWorkspace()
	defer m.putWorkspace(ws)
	ws.lstm.Serial, ws.att.Serial = m.Serial, m.Serial
	tf := steps * m.features
	for lo := 0; lo < batch; lo += predictChunk {
		n := min(predictChunk, batch-lo)
		p, w, err := m.forward(ws, x[lo*tf:(lo+n)*tf], n, steps, false)
		if err != nil {
			return err
		}
		copy(pred[lo*m.outputs:], p)
		if weights != nil {
			copy(weights[lo*steps:], w)
		}
	}
	return nil
}

func (hostBackend) newStepper(m *Model) (stepper, error) {
	for _, p := range m.trainable {
		p.EnsureGrad()
	}
	ws := m.newWorkspace()
	ws.rng = rand.New(rand.NewPCG(m.cfg.Seed, seedStreamDropout))
	ws.lstm.SetRand(rand.New(rand.NewPCG(m.cfg.Seed, seedStreamDropout+1)))
	ws.lstm.ParamGradsOnly = true // a training step discards the input's gradient
	ws.lstm.Serial, ws.att.Serial = m.Serial, m.Serial
	return &hostStepper{m: m, ws: ws, opt: nn.NewAdam(m.trainable, m.cfg.LearningRate)}, nil
}

func (hostBackend) pull(*Model) error    { return nil }
func (hostBackend) push()                {}
func (hostBackend) fork() backend        { return hostBackend{} }
func (hostBackend) release(*Model) error { return nil }

// hostStepper is the pure-Go training step: forward in training mode (with
// dropout), the configured loss, backward, Adam.
type hostStepper struct {
	m    *Model
	ws   *workspace
	opt  *nn.Adam
	grad []float32
}

func (s *hostStepper) step(x, y []float32, batch, steps int) (float64, error) {
	m := s.m
	pred, _, err := m.forward(s.ws, x, batch, steps, true)
	if err != nil {
		return 0, err
	}
	s.grad = grow(s.grad, len(pred))
	loss := m.cfg.lossFunc(pred, y, s.grad)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, ErrNonFiniteLoss
	}
	s.opt.ZeroGrad()
	m.backward(s.ws, s.grad)
	s.opt.Step()
	// The LSTM packs its weights for the GEMM kernels once per change.
	m.lstm.WeightsChanged()
	return loss, nil
}

func (s *hostStepper) stateBytes() int { return s.opt.StateBytes() }

// deviceChunk bounds the rows of one device prediction pass, and so the
// activation memory on the device (by a rough count, 2 GiB for 4096 windows
// of the default configuration's size).
const deviceChunk = 4096

// deviceBackend runs the model as an internal/device Model. The device and
// the device model are allocated at the first use (New and UseDevice use
// it at once, so that their errors come back from there) and hold every
// tensor between calls. A mutex serialises the calls, since a device model
// is used by one goroutine at a time.
type deviceBackend struct {
	kind  string                        // the device's short name, e.g. "cuda"
	open  func() (device.Device, error) // opens a fresh device of that kind
	logf  func(format string, args ...any)
	auto  bool // chosen by DeviceAuto: train on the CPU what the device cannot
	chunk int  // rows per prediction pass; 0 means deviceChunk

	mu       sync.Mutex
	dev      device.Device
	dm       *device.Model
	hostOld  bool // the device holds newer weights than the Params
	devStale bool // the Params hold newer weights than the device
	owner    *deviceStepper
	cleanup  bool // a cleanup frees the device when the model is collected
}

func (b *deviceBackend) describe() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dev != nil {
		return b.dev.Name()
	}
	return b.kind
}

// ensure opens the device and uploads the Params if needed; b.mu is held.
func (b *deviceBackend) ensure(m *Model) error {
	if b.dev == nil {
		dev, err := b.open()
		if err != nil {
			return fmt.Errorf("perfpredict: %w", err)
		}
		b.dev = dev
	}
	if b.dm == nil {
		c := m.cfg
		dm, err := device.NewModel(b.dev, device.ModelConfig{Features: m.features, Hidden: c.Hidden, Layers: c.Layers, Outputs: m.outputs, Head: c.Head})
		if err != nil {
			return fmt.Errorf("perfpredict: allocating the model on %s: %w", b.dev.Name(), err)
		}
		b.dm, b.devStale, b.hostOld, b.owner = dm, true, false, nil
		if !b.cleanup {
			// The device memory is not the garbage collector's: free it
			// when the model is collected without Close.
			runtime.AddCleanup(m, (*deviceBackend).drop, b)
			b.cleanup = true
		}
	}
	if b.devStale {
		params := make(map[string][]float32, len(m.state))
		for _, e := range m.state {
			params[e.name] = e.p.Data
		}
		err := b.dm.Load(func(name string) ([]float32, error) {
			v, ok := params[name]
			if !ok {
				return nil, fmt.Errorf("the model has no tensor %q", name)
			}
			return v, nil
		})
		if err != nil {
			return fmt.Errorf("perfpredict: uploading the weights to %s: %w", b.dev.Name(), err)
		}
		b.devStale = false
	}
	return nil
}

func (b *deviceBackend) predict(m *Model, pred, weights, x []float32, batch, steps int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.ensure(m); err != nil {
		return err
	}
	tf, K := steps*m.features, m.outputs
	chunk := b.chunk
	if chunk <= 0 {
		chunk = deviceChunk
	}
	for lo := 0; lo < batch; lo += chunk {
		n := min(chunk, batch-lo)
		var w []float32
		if weights != nil {
			w = weights[lo*steps : (lo+n)*steps]
		}
		if err := b.dm.Predict(pred[lo*K:(lo+n)*K], w, x[lo*tf:(lo+n)*tf], n, steps); err != nil {
			return fmt.Errorf("perfpredict: predicting on %s: %w", b.dev.Name(), err)
		}
	}
	return nil
}

func (b *deviceBackend) newStepper(m *Model) (stepper, error) {
	if p := m.cfg.dropout(); p > 0 {
		why := fmt.Sprintf("the %s device does not apply dropout (Config.Dropout %v)", b.kind, p)
		if b.auto {
			b.logf("perfpredict: training on the CPU: %s; predictions stay on %s", why, b.kind)
			host, err := hostBackend{}.newStepper(m)
			if err != nil {
				return nil, err
			}
			return &syncedStepper{host: host, b: b, m: m}, nil
		}
		return nil, fmt.Errorf("perfpredict: cannot train on %s: set Config.Dropout below 0 to train without dropout, or train on the CPU", why)
	}
	return &deviceStepper{m: m, b: b}, nil
}

func (b *deviceBackend) fork() backend {
	return &deviceBackend{kind: b.kind, open: b.open, logf: b.logf, auto: b.auto, chunk: b.chunk}
}

func (b *deviceBackend) pull(m *Model) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.pullLocked(m)
}

func (b *deviceBackend) pullLocked(m *Model) error {
	if !b.hostOld || b.dm == nil {
		return nil
	}
	params := make(map[string]*nn.Param, len(m.state))
	for _, e := range m.state {
		params[e.name] = e.p
	}
	err := b.dm.Save(func(name string, v []float32) error {
		p, ok := params[name]
		if !ok || len(p.Data) != len(v) {
			return fmt.Errorf("the model has no tensor %q of %d values", name, len(v))
		}
		copy(p.Data, v)
		return nil
	})
	if err != nil {
		return fmt.Errorf("perfpredict: reading the weights from %s: %w", b.dev.Name(), err)
	}
	m.lstm.WeightsChanged()
	b.hostOld = false
	return nil
}

func (b *deviceBackend) push() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.devStale, b.hostOld = true, false
}

func (b *deviceBackend) release(m *Model) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.pullLocked(m); err != nil {
		return err
	}
	return b.freeLocked()
}

// drop frees the device without reading the weights back (the model is
// gone). No caller is left to return an error to: it goes to the model's
// Logf, if any.
func (b *deviceBackend) drop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.freeLocked(); err != nil && b.logf != nil {
		b.logf("perfpredict: freeing %s: %v", b.kind, err)
	}
}

func (b *deviceBackend) freeLocked() error {
	var errs []error
	if b.dm != nil {
		errs = append(errs, b.dm.Close())
	}
	if b.dev != nil && b.dev != device.CPU() {
		errs = append(errs, b.dev.Close())
	}
	b.dm, b.dev, b.owner = nil, nil, nil
	b.devStale, b.hostOld = true, false
	return errors.Join(errs...)
}

// deviceStepper trains on the device: forward with batch statistics, the
// configured loss on the host, backward and Adam on the device. The Adam
// moments live in the device model, so they belong to the last Trainer that
// stepped: a step of another Trainer starts them afresh.
type deviceStepper struct {
	m *Model
	b *deviceBackend
}

func (s *deviceStepper) step(x, y []float32, batch, steps int) (float64, error) {
	m, b := s.m, s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.ensure(m); err != nil {
		return 0, err
	}
	if b.owner != s {
		if err := b.dm.ResetOptimizer(); err != nil {
			return 0, fmt.Errorf("perfpredict: resetting Adam on %s: %w", b.dev.Name(), err)
		}
		b.owner = s
	}
	loss, err := b.dm.TrainStepLoss(x, y, batch, steps, m.cfg.LearningRate, m.cfg.lossFunc)
	// Even a step that fails on its loss moved the running statistics, as
	// on the host.
	b.hostOld = true
	for _, bn := range m.bn {
		bn.NumBatchesTracked++
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, ErrNonFiniteLoss
	}
	if err != nil {
		return loss, fmt.Errorf("perfpredict: training step on %s: %w", b.dev.Name(), err)
	}
	return loss, nil
}

// stateBytes is the device memory of the Adam moments.
func (s *deviceStepper) stateBytes() int { return 8 * s.m.NumParams() }

// syncedStepper is the host step of a model whose predictions run on a
// device (DeviceAuto with dropout): the Params are brought up to date before
// each step and the device reloads them after it.
type syncedStepper struct {
	host stepper
	b    *deviceBackend
	m    *Model
}

func (s *syncedStepper) step(x, y []float32, batch, steps int) (float64, error) {
	if err := s.b.pull(s.m); err != nil {
		return 0, err
	}
	defer s.b.push()
	return s.host.step(x, y, batch, steps)
}

func (s *syncedStepper) stateBytes() int { return s.host.stateBytes() }

// useDevice chooses the model's backend for the device called name (a
// Config.Device value after withDefaults), opened with the given precision,
// and uploads the weights. A nil logf discards the log lines.
func (m *Model) useDevice(name, precision string, logf func(format string, args ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if name == DeviceCPU {
		return m.toHost(precision)
	}
	opts := device.Options{Precision: precision}
	dev, err := device.OpenWith(name, opts, logf)
	if err != nil {
		return fmt.Errorf("perfpredict: %w", err)
	}
	if dev == device.CPU() { // DeviceAuto without a usable GPU, logged
		return m.toHost(precision)
	}
	// DeviceAuto opened the only accelerator backend there is.
	return m.attachDevice(dev, DeviceCUDA, opts, name == DeviceAuto, logf)
}

// attachDevice moves the model to dev, an opened device of the given kind
// (clones open their own with device.OpenWith(kind, opts)). When the model
// does not fit there, auto falls back to the CPU with a log line.
func (m *Model) attachDevice(dev device.Device, kind string, opts device.Options, auto bool, logf func(format string, args ...any)) error {
	opened := dev
	open := func() (device.Device, error) {
		if d := opened; d != nil {
			opened = nil
			return d, nil
		}
		return device.OpenWith(kind, opts, nil)
	}
	err := m.setBackend(&deviceBackend{kind: kind, open: open, logf: logf, auto: auto})
	if err != nil && auto {
		logf("perfpredict: auto: running on the CPU: %v", err)
		return m.toHost(opts.Precision)
	}
	return err
}

// hostPrecision is the LSTM's arithmetic on the CPU for a Config.Precision:
// bf16 and int8 run its matrix products in bf16 (lstm.BF16) and int8
// (lstm.INT8); fp32, and tf32 (a GPU format), in float32.
func hostPrecision(p string) lstm.Precision {
	switch p {
	case PrecisionBF16:
		return lstm.BF16
	case PrecisionInt8:
		return lstm.INT8
	}
	return lstm.FP32
}

// checkHostPrecision fails for a precision whose instructions the CPU (or
// the kernel level PERFPREDICT_CPU chose) lacks: the Go fallback would be
// many times slower than float32.
func checkHostPrecision(p string) error {
	miss := ""
	switch hostPrecision(p) {
	case lstm.BF16:
		miss = asm.BF16Missing()
	case lstm.INT8:
		miss = asm.Int8Missing()
	}
	if miss != "" {
		return fmt.Errorf("perfpredict: precision %s on the CPU needs %s", p, miss)
	}
	return nil
}

// toHost moves the model to the CPU, where its LSTM runs in the given
// precision; a precision the CPU lacks is an error, and the model stays
// where it was.
func (m *Model) toHost(precision string) error {
	if err := checkHostPrecision(precision); err != nil {
		return err
	}
	if err := m.setBackend(hostBackend{}); err != nil {
		return err
	}
	return m.lstm.SetPrecision(hostPrecision(precision))
}

// setBackend moves the model to b: the weights go back to the Params from
// the old backend, which is released, and on to b.
func (m *Model) setBackend(b backend) error {
	if m.backend != nil {
		if err := m.backend.release(m); err != nil {
			return err
		}
	}
	if d, ok := b.(*deviceBackend); ok {
		d.mu.Lock()
		err := d.ensure(m)
		if err != nil {
			err = errors.Join(err, d.freeLocked())
		}
		d.mu.Unlock()
		if err != nil {
			return err
		}
	}
	m.backend = b
	return nil
}

// UseDevice moves the model to the device called name, as Config.Device
// chooses one for New (DeviceCPU, DeviceCUDA or DeviceAuto): its weights are
// uploaded and stay there, in the precision of the model's configuration
// (see SetPrecision); logf receives DeviceAuto's fallback line (nil: none).
// On an error the model stays where it was. It must not run concurrently
// with anything else on the model.
func (m *Model) UseDevice(name string, logf func(format string, args ...any)) error {
	c := m.cfg
	c.Device, c.Logf = name, logf
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return err
	}
	if err := m.useDevice(c.Device, c.Precision, c.Logf); err != nil {
		return err
	}
	m.cfg.Device, m.cfg.Logf = c.Device, c.Logf
	return nil
}

// SetPrecision sets Config.Precision of a model, for one loaded from a
// checkpoint (which does not record it): a model on a GPU moves to a device
// opened with the new precision; one on the CPU makes the reduced-precision
// copies of its weights at its next prediction (PrecisionBF16,
// PrecisionInt8; PrecisionTF32 runs as PrecisionFP32 there). An unknown
// precision, or one the CPU lacks (bf16 without AVX512_BF16, int8 without
// AVX512_VNNI), is an error and, as any error, leaves the
// model as it was. It must not run concurrently with anything else on the
// model.
func (m *Model) SetPrecision(p string) error {
	c := m.cfg
	c.Precision = p
	c = c.withDefaults()
	if err := c.validate(); err != nil {
		return err
	}
	if c.Precision == m.cfg.Precision {
		return nil
	}
	if _, onCPU := m.backend.(hostBackend); onCPU {
		if err := checkHostPrecision(c.Precision); err != nil {
			return err
		}
	} else if err := m.useDevice(m.cfg.Device, c.Precision, m.cfg.Logf); err != nil {
		return err
	}
	m.cfg.Precision = c.Precision
	return m.lstm.SetPrecision(hostPrecision(c.Precision))
}

// Device describes where the model runs: "cpu" for the pure-Go path, or
// the device's name (e.g. "cuda:0 NVIDIA H100 80GB HBM3 (sm_90, ...)").
func (m *Model) Device() string { return m.backend.describe() }

// Close frees the device memory of a model that runs on a GPU, after
// copying its weights back; a later use of the model uploads them again.
// For a model on the CPU it does nothing.
func (m *Model) Close() error { return m.backend.release(m) }
