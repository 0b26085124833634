package device

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/novacron/perfpredict/internal/nn"
)

// ModelConfig is the performance model's architecture (the root package's
// PerfModel): a bidirectional LSTM stack, additive attention over its
// outputs, and a head of Linear, BatchNorm1d and ReLU layers ending in a
// Linear to Outputs values.
type ModelConfig struct {
	Features, Hidden, Layers, Outputs int
	Head                              []int
}

// Model runs the whole performance model on a device: prediction and
// training steps (MSE, Adam), each pass captured as a graph the first time a
// batch shape is seen and replayed after that,
// with every tensor resident on the device. Tensors carry the reference's
// state_dict names ("lstm.weight_ih_l0", "attention.proj.weight",
// "head.fc1.weight", "head.bn1.running_var", "head.out.bias", ...), so a
// checkpoint loads into it by name. Dropout is not applied (training matches
// the root model with Config.Dropout < 0). A Model is used by one goroutine
// at a time.
type Model struct {
	// Eager makes EnqueuePredict and TrainStep enqueue the operations one
	// by one instead of capturing and replaying graphs (for comparison and
	// debugging).
	Eager bool

	dev  Device
	q    Queue
	cfg  ModelConfig
	lstm *LSTM
	att  AttentionArgs
	fc   []*denseLayer
	outW *modelTensor
	outB *modelTensor

	tensors []*modelTensor // every tensor, in state_dict order
	byName  map[string]*modelTensor
	bufs    slots    // activation buffers, grown per shape
	fixed   []Buffer // parameters, moments, folded BatchNorm

	pred, dPred, zeros Buffer
	batch, steps       int
	train              bool

	// The captured passes: evaluation, and a training step's forward
	// (zeroing the gradients first) and backward (up to Adam, whose
	// step-dependent scalars are kernel arguments).
	predictGraph, trainFwdGraph, trainBwdGraph shapeGraph

	folded bool // scale/shift match the BatchNorm tensors
	step   int64
}

// shapeGraph is a pass captured for one batch shape, replayed while the
// shape and the buffers stay the same.
type shapeGraph struct {
	g            Graph
	batch, steps int
}

func (s *shapeGraph) drop() {
	if s.g != nil {
		s.g.Close()
		s.g = nil
	}
}

// runPass enqueues a pass of the prepared shape on queue 0: it replays s
// when s holds this shape, else captures enqueue's work into s and launches
// it (with Eager, it only calls enqueue).
func (m *Model) runPass(s *shapeGraph, enqueue func()) error {
	if m.Eager {
		enqueue()
		return nil
	}
	if s.g != nil && s.batch == m.batch && s.steps == m.steps {
		return s.g.Launch(m.q)
	}
	s.drop()
	if err := m.dev.BeginCapture(m.q); err != nil {
		return err
	}
	enqueue()
	g, err := m.dev.EndCapture(m.q)
	if err != nil {
		return err
	}
	s.g, s.batch, s.steps = g, m.batch, m.steps
	return g.Launch(m.q)
}

// modelTensor is one named tensor; grad is nil for BatchNorm's running
// statistics, m and v are Adam's moments (allocated at the first step).
type modelTensor struct {
	name             string
	data, grad, m, v Buffer
}

// denseLayer is Linear -> BatchNorm1d -> ReLU.
type denseLayer struct {
	in, out                    int
	w, b, gamma, beta, rm, rv  *modelTensor
	scale, shift               Buffer // BatchNorm in evaluation: y = z*scale + shift
	z, y, dy, dz, mean, invStd Buffer
}

// NewModel allocates the model's tensors (zero) on dev.
func NewModel(dev Device, cfg ModelConfig) (*Model, error) {
	if cfg.Features <= 0 || cfg.Hidden <= 0 || cfg.Layers <= 0 || cfg.Outputs <= 0 {
		return nil, fmt.Errorf("device: Model: features %d, hidden %d, layers %d and outputs %d must be positive",
			cfg.Features, cfg.Hidden, cfg.Layers, cfg.Outputs)
	}
	for i, w := range cfg.Head {
		if w <= 0 {
			return nil, fmt.Errorf("device: Model: head layer %d has width %d", i+1, w)
		}
	}
	cfg.Head = append([]int(nil), cfg.Head...)
	m := &Model{dev: dev, q: dev.Queue(0), cfg: cfg, byName: map[string]*modelTensor{}, bufs: newSlots(dev)}
	fail := func(err error) (*Model, error) { return nil, errors.Join(err, m.Close()) }
	var err error
	m.lstm, err = NewLSTM(dev, LSTMConfig{Input: cfg.Features, Hidden: cfg.Hidden, Layers: cfg.Layers, Bidirectional: true})
	if err != nil {
		return nil, err
	}
	for _, t := range m.lstm.Tensors() {
		m.add(&modelTensor{name: "lstm." + t.Name, data: t.Data, grad: t.Grad})
	}
	if p, ok := dev.(BF16Preferrer); ok && p.PrefersBF16() && cfg.Hidden%2 == 0 {
		m.lstm.SetBF16(true)
	}
	dim := m.lstm.OutputSize()
	newTensor := func(name string, n int, trainable bool) *modelTensor {
		if err != nil {
			return nil
		}
		t := &modelTensor{name: name}
		if t.data, err = m.fixedAlloc(n); err == nil && trainable {
			t.grad, err = m.fixedAlloc(n)
		}
		m.add(t)
		return t
	}
	pw := newTensor("attention.proj.weight", dim*dim, true)
	pb := newTensor("attention.proj.bias", dim, true)
	sw := newTensor("attention.score.weight", dim, true)
	in := dim
	for i, w := range cfg.Head {
		p := "head.fc" + strconv.Itoa(i+1) + "."
		bn := "head.bn" + strconv.Itoa(i+1) + "."
		l := &denseLayer{in: in, out: w}
		l.w, l.b = newTensor(p+"weight", w*in, true), newTensor(p+"bias", w, true)
		l.gamma, l.beta = newTensor(bn+"weight", w, true), newTensor(bn+"bias", w, true)
		l.rm, l.rv = newTensor(bn+"running_mean", w, false), newTensor(bn+"running_var", w, false)
		if err == nil {
			l.scale, err = m.fixedAlloc(w)
		}
		if err == nil {
			l.shift, err = m.fixedAlloc(w)
		}
		m.fc = append(m.fc, l)
		in = w
	}
	m.outW = newTensor("head.out.weight", cfg.Outputs*in, true)
	m.outB = newTensor("head.out.bias", cfg.Outputs, true)
	widest := dim
	for _, w := range cfg.Head {
		widest = max(widest, w)
	}
	if err == nil {
		m.zeros, err = m.fixedAlloc(widest)
	}
	if err != nil {
		return fail(err)
	}
	m.att = AttentionArgs{Dim: dim, ProjW: pw.data, ProjB: pb.data, ScoreW: sw.data, DProjW: pw.grad, DProjB: pb.grad, DScoreW: sw.grad}
	for _, l := range m.fc {
		// BatchNorm's defaults until a checkpoint is loaded: gamma 1,
		// running variance 1.
		m.q.Fill2D(1, l.out, l.gamma.data, l.out, 1)
		m.q.Fill2D(1, l.out, l.rv.data, l.out, 1)
	}
	return m, m.dev.Sync()
}

func (m *Model) add(t *modelTensor) {
	m.tensors = append(m.tensors, t)
	m.byName[t.name] = t
}

func (m *Model) fixedAlloc(n int) (Buffer, error) {
	b, err := m.dev.Alloc(max(n, 1))
	if err != nil {
		return nil, err
	}
	m.fixed = append(m.fixed, b)
	return b.Slice(0, n), nil
}

// SetBF16 switches the LSTM's bfloat16 matrix products in predictions on or
// off (see LSTM.SetBF16; training steps multiply in float32 either way).
// NewModel switches them on for a device that prefers them (BF16Preferrer).
func (m *Model) SetBF16(on bool) {
	if on != m.lstm.BF16() {
		m.lstm.SetBF16(on)
		m.dropGraph()
	}
}

// BF16 reports whether predictions multiply in bfloat16 in the LSTM.
func (m *Model) BF16() bool { return m.lstm.BF16() }

// dropGraph drops every captured pass (the buffers they use moved).
func (m *Model) dropGraph() {
	m.predictGraph.drop()
	m.trainFwdGraph.drop()
	m.trainBwdGraph.drop()
}

// Close frees everything the model holds on the device.
func (m *Model) Close() error {
	m.dropGraph()
	var errs []error
	if m.lstm != nil {
		errs = append(errs, m.lstm.Close())
	}
	errs = append(errs, m.bufs.free())
	for _, b := range m.fixed {
		errs = append(errs, m.dev.Free(b))
	}
	m.fixed = nil
	for _, t := range m.tensors {
		for _, b := range []Buffer{t.m, t.v} {
			if b != nil {
				errs = append(errs, m.dev.Free(b))
			}
		}
		t.m, t.v = nil, nil
	}
	return errors.Join(errs...)
}

// Names lists the tensors in state_dict order.
func (m *Model) Names() []string {
	names := make([]string, len(m.tensors))
	for i, t := range m.tensors {
		names[i] = t.name
	}
	return names
}

// Load uploads every tensor: get returns the values of the named tensor,
// which must have its length.
func (m *Model) Load(get func(name string) ([]float32, error)) error {
	for _, t := range m.tensors {
		v, err := get(t.name)
		if err != nil {
			return fmt.Errorf("device: Model.Load %s: %w", t.name, err)
		}
		if len(v) != t.data.Len() {
			return fmt.Errorf("device: Model.Load %s: %d values, want %d", t.name, len(v), t.data.Len())
		}
		if err := m.q.Upload(t.data, v); err != nil {
			return fmt.Errorf("device: Model.Load %s: %w", t.name, err)
		}
	}
	m.lstm.WeightsChanged()
	m.folded = false
	return m.q.Sync()
}

// Save downloads every tensor and passes it to put.
func (m *Model) Save(put func(name string, v []float32) error) error {
	for _, t := range m.tensors {
		v := make([]float32, t.data.Len())
		if err := m.q.Download(v, t.data); err != nil {
			return fmt.Errorf("device: Model.Save %s: %w", t.name, err)
		}
		if err := put(t.name, v); err != nil {
			return err
		}
	}
	return nil
}

// prepare sizes every activation buffer for the shape.
func (m *Model) prepare(batch, steps int, train bool) error {
	if batch <= 0 || steps <= 0 {
		return fmt.Errorf("device: Model: batch (%d) and steps (%d) must be positive", batch, steps)
	}
	if train && batch < 2 {
		return fmt.Errorf("device: Model: a training batch needs at least 2 samples (batch normalisation), got %d", batch)
	}
	// A buffer that moves invalidates the captured passes that use it.
	gen := m.lstm.bufs.gen + m.bufs.gen
	defer func() {
		if m.lstm.bufs.gen+m.bufs.gen != gen {
			m.dropGraph()
		}
	}()
	if err := m.lstm.Prepare(batch, steps, train); err != nil {
		return err
	}
	rows, dim := batch*steps, m.att.Dim
	for _, s := range []struct {
		b *Buffer
		n int
	}{{&m.att.U, rows * dim}, {&m.att.Weights, rows}, {&m.att.Context, batch * dim},
		{&m.att.DContext, batch * dim}, {&m.att.DH, rows * dim}, {&m.att.Scratch, rows},
		{&m.pred, batch * m.cfg.Outputs}, {&m.dPred, batch * m.cfg.Outputs}} {
		if err := m.bufs.grow(s.b, s.n); err != nil {
			return err
		}
	}
	for _, l := range m.fc {
		for _, s := range []struct {
			b *Buffer
			n int
		}{{&l.z, batch * l.out}, {&l.y, batch * l.out}, {&l.dy, batch * l.out}, {&l.dz, batch * l.out},
			{&l.mean, l.out}, {&l.invStd, l.out}} {
			if err := m.bufs.grow(s.b, s.n); err != nil {
				return err
			}
		}
	}
	m.att.Batch, m.att.Steps = batch, steps
	m.batch, m.steps, m.train = batch, steps, train
	return nil
}

func (m *Model) bnArgs(l *denseLayer) BatchNormArgs {
	return BatchNormArgs{Batch: m.batch, N: l.out, Eps: 1e-5, Momentum: 0.1, X: l.z, Y: l.y,
		Gamma: l.gamma.data, Beta: l.beta.data, RunMean: l.rm.data, RunVar: l.rv.data, Mean: l.mean, InvStd: l.invStd,
		DY: l.dy, DX: l.dz, DGamma: l.gamma.grad, DBeta: l.beta.grad}
}

// enqueueForward enqueues the forward pass of the prepared shape on the
// input in the LSTM's Input().
func (m *Model) enqueueForward() {
	q, B := m.q, m.batch
	m.lstm.Enqueue()
	m.att.H = m.lstm.Output()
	q.AttentionForward(m.att)
	x, in := m.att.Context, m.att.Dim
	for _, l := range m.fc {
		q.Copy2D(B, l.out, l.z, l.out, l.b.data, 0)
		q.Gemm(GemmArgs{TransB: true, M: B, N: l.out, K: l.in, Alpha: 1, Beta: 1, A: x, LDA: l.in, B: l.w.data, LDB: l.in, C: l.z, LDC: l.out})
		if m.train {
			q.BatchNormTrain(m.bnArgs(l))
			q.Affine(B, l.out, l.y, l.y, nil, m.zeros, true)
		} else {
			q.Affine(B, l.out, l.y, l.z, l.scale, l.shift, true)
		}
		x, in = l.y, l.out
	}
	K := m.cfg.Outputs
	q.Copy2D(B, K, m.pred, K, m.outB.data, 0)
	q.Gemm(GemmArgs{TransB: true, M: B, N: K, K: in, Alpha: 1, Beta: 1, A: x, LDA: in, B: m.outW.data, LDB: in, C: m.pred, LDC: K})
}

// fold computes each evaluation BatchNorm's scale and shift from its
// tensors, as nn.BatchNorm1d.ForwardEval does.
func (m *Model) fold() error {
	for _, l := range m.fc {
		vals := make([][]float32, 4)
		for i, t := range []*modelTensor{l.gamma, l.beta, l.rm, l.rv} {
			vals[i] = make([]float32, l.out)
			if err := m.q.Download(vals[i], t.data); err != nil {
				return err
			}
		}
		scale, shift := make([]float32, l.out), make([]float32, l.out)
		for j := range scale {
			inv := 1 / float32(math.Sqrt(float64(vals[3][j]+1e-5)))
			scale[j] = inv * vals[0][j]
			shift[j] = vals[1][j] - vals[2][j]*scale[j]
		}
		if err := m.q.Upload(l.scale, scale); err != nil {
			return err
		}
		if err := m.q.Upload(l.shift, shift); err != nil {
			return err
		}
	}
	m.folded = true
	return nil
}

// Input is the device buffer EnqueuePredict reads x [batch, steps, F] from
// (valid after PreparePredict).
func (m *Model) Input() Buffer { return m.lstm.Input() }

// Outputs are the device buffers EnqueuePredict leaves the predictions
// [batch, K] and attention weights [batch, steps] in.
func (m *Model) Outputs() (pred, weights Buffer) { return m.pred, m.att.Weights }

// PreparePredict sizes the buffers for an evaluation pass of this shape.
func (m *Model) PreparePredict(batch, steps int) error {
	if err := m.prepare(batch, steps, false); err != nil {
		return err
	}
	if !m.folded {
		return m.fold()
	}
	return nil
}

// EnqueuePredict enqueues the evaluation pass of the prepared shape on
// queue 0, reading Input() and writing Outputs(): the first call of a shape
// captures it as a graph, later ones replay it.
func (m *Model) EnqueuePredict() error {
	return m.runPass(&m.predictGraph, m.enqueueForward)
}

// Predict runs the model in evaluation mode on x [batch, steps, F] and writes
// the predictions [batch, K] into pred and the attention weights
// [batch, steps] into weights (nil to skip them).
func (m *Model) Predict(pred, weights, x []float32, batch, steps int) error {
	if len(x) != batch*steps*m.cfg.Features {
		return fmt.Errorf("device: Model: input has %d values, want batch %d x steps %d x features %d", len(x), batch, steps, m.cfg.Features)
	}
	if len(pred) < batch*m.cfg.Outputs || (weights != nil && len(weights) < batch*steps) {
		return fmt.Errorf("device: Model: output buffers too small for batch %d, steps %d", batch, steps)
	}
	if err := m.PreparePredict(batch, steps); err != nil {
		return err
	}
	if err := m.q.Upload(m.Input(), x); err != nil {
		return err
	}
	if err := m.EnqueuePredict(); err != nil {
		return err
	}
	if err := m.q.Download(pred[:batch*m.cfg.Outputs], m.pred); err != nil {
		return err
	}
	if weights != nil {
		return m.q.Download(weights[:batch*steps], m.att.Weights)
	}
	return nil
}

// TrainStep runs one training step on x [batch, steps, F] and targets y
// [batch, K]: forward with batch statistics, the MSE (computed on the host
// from the downloaded predictions), backward and one Adam update of every
// trainable tensor at learning rate lr. It returns the loss before the
// update; a NaN or infinite loss is an error and changes no weight.
func (m *Model) TrainStep(x, y []float32, batch, steps int, lr float64) (float64, error) {
	return m.TrainStepLoss(x, y, batch, steps, lr, nn.MSELoss)
}

// LossFunc returns the loss of pred against target and writes its gradient
// with respect to pred into grad (as nn.MSELoss does).
type LossFunc func(pred, target, grad []float32) float64

// TrainStepLoss is TrainStep with another loss, computed on the host from
// the downloaded predictions like the MSE (L1, Huber).
func (m *Model) TrainStepLoss(x, y []float32, batch, steps int, lr float64, lossFn LossFunc) (float64, error) {
	K := m.cfg.Outputs
	if len(x) != batch*steps*m.cfg.Features || len(y) != batch*K {
		return 0, fmt.Errorf("device: Model.TrainStep: %d inputs and %d targets, want %d and %d", len(x), len(y), batch*steps*m.cfg.Features, batch*K)
	}
	if err := m.prepare(batch, steps, true); err != nil {
		return 0, err
	}
	q := m.q
	if err := q.Upload(m.Input(), x); err != nil {
		return 0, err
	}
	err := m.runPass(&m.trainFwdGraph, func() {
		for _, t := range m.tensors {
			if t.grad != nil {
				q.Fill2D(1, t.grad.Len(), t.grad, t.grad.Len(), 0)
			}
		}
		m.enqueueForward()
	})
	if err != nil {
		return 0, err
	}
	m.lstm.ready = true // also after a replay: the activations are there for backward
	m.folded = false    // the running statistics moved
	pred := make([]float32, batch*K)
	if err := q.Download(pred, m.pred); err != nil {
		return 0, err
	}
	grad := make([]float32, len(pred))
	loss := lossFn(pred, y, grad)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("device: Model.TrainStep: loss is %v", loss)
	}
	if err := q.Upload(m.dPred, grad); err != nil {
		return 0, err
	}
	if err := m.runPass(&m.trainBwdGraph, m.backward); err != nil {
		return 0, err
	}
	m.step++
	for _, t := range m.tensors {
		if t.grad == nil {
			continue
		}
		if t.m == nil {
			var err error
			if t.m, err = m.dev.Alloc(t.data.Len()); err != nil {
				return 0, err
			}
			if t.v, err = m.dev.Alloc(t.data.Len()); err != nil {
				return 0, err
			}
		}
		q.Adam(AdamArgs{Param: t.data, Grad: t.grad, M: t.m, V: t.v, LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Step: m.step})
	}
	m.lstm.WeightsChanged()
	return loss, m.dev.Sync()
}

// ResetOptimizer starts Adam afresh: the next TrainStep is step 1 with zero
// moments (a new optimiser on the same weights).
func (m *Model) ResetOptimizer() error {
	m.step = 0
	for _, t := range m.tensors {
		for _, b := range []Buffer{t.m, t.v} {
			if b != nil {
				m.q.Fill2D(1, b.Len(), b, b.Len(), 0)
			}
		}
	}
	return m.q.Sync()
}

// backward enqueues the gradient of the loss given dPred, accumulating into
// every tensor's gradient.
func (m *Model) backward() {
	q, B, K := m.q, m.batch, m.cfg.Outputs
	x, dx, in := m.att.Context, m.att.DContext, m.att.Dim
	if n := len(m.fc); n > 0 {
		x, dx, in = m.fc[n-1].y, m.fc[n-1].dy, m.fc[n-1].out
	}
	q.Gemm(GemmArgs{TransA: true, M: K, N: in, K: B, Alpha: 1, Beta: 1, A: m.dPred, LDA: K, B: x, LDB: in, C: m.outW.grad, LDC: in})
	q.ColumnSum(B, K, m.outB.grad, 1, m.dPred, K)
	q.Gemm(GemmArgs{M: B, N: in, K: K, Alpha: 1, A: m.dPred, LDA: K, B: m.outW.data, LDB: in, C: dx, LDC: in})
	for i := len(m.fc) - 1; i >= 0; i-- {
		l := m.fc[i]
		x, dx := m.att.Context, m.att.DContext
		if i > 0 {
			x, dx = m.fc[i-1].y, m.fc[i-1].dy
		}
		q.ReLUBackward(l.dy, l.dy, l.y)
		q.BatchNormBackward(m.bnArgs(l))
		q.Gemm(GemmArgs{TransA: true, M: l.out, N: l.in, K: B, Alpha: 1, Beta: 1, A: l.dz, LDA: l.out, B: x, LDB: l.in, C: l.w.grad, LDC: l.in})
		q.ColumnSum(B, l.out, l.b.grad, 1, l.dz, l.out)
		q.Gemm(GemmArgs{M: B, N: l.in, K: l.out, Alpha: 1, A: l.dz, LDA: l.out, B: l.w.data, LDB: l.in, C: dx, LDC: l.in})
	}
	q.AttentionBackward(m.att)
	m.lstm.Backward(m.att.DH)
}
