package perfpredict

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/novacron/perfpredict/attention"
	"github.com/novacron/perfpredict/internal/nn"
	"github.com/novacron/perfpredict/lstm"
)

// Model is the performance model: a stacked bidirectional LSTM, additive
// attention over its outputs and a head of Linear, BatchNorm1d, ReLU and
// Dropout layers ending in a Linear to K outputs (the reference's PerfModel).
//
// Predict and Evaluate may run concurrently with each other (on a GPU they
// take turns); Train, Load of weights, UseDevice and field changes must not
// run concurrently with anything else. Config.Device chooses where it runs.
type Model struct {
	// FeatureNames names the F input features, in order (optional; saved).
	FeatureNames []string
	// Target names what the model predicts (optional; saved).
	Target string
	// Horizon is how many steps ahead the targets lie (optional; saved).
	Horizon int
	// Scaler maps the model's scaled outputs to original units (optional;
	// saved). Evaluate reports metrics in original units when it is set.
	Scaler *TargetScaler
	// Serial keeps each Predict call, and the steps of a Trainer made
	// while it is set, on its own goroutine (no parallel matrix products or
	// LSTM directions), for callers that already run one Predict or one
	// training per core.
	Serial bool

	cfg      Config
	features int
	outputs  int

	lstm *lstm.Stack
	att  *attention.Attention
	fc   []*nn.Linear
	bn   []*nn.BatchNorm1d
	out  *nn.Linear

	state     []stateEntry // every tensor of the state_dict, in its order
	trainable []*nn.Param

	// backend runs predictions and training steps (see backend.go).
	backend backend

	// idle holds Predict's workspaces between calls. Unlike a sync.Pool it
	// survives garbage collections, so a serving model does not reallocate
	// its activation buffers after every GC.
	idleMu sync.Mutex
	idle   []*workspace
}

// stateEntry is one float32 tensor of the checkpoint; BatchNorm's integer
// counters are handled beside it through bn.
type stateEntry struct {
	name string
	p    *nn.Param
}

// TargetScaler converts between the model's scaled outputs and original
// units, per output: original = scaled*Std + Mean.
type TargetScaler struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// Unscale converts one row of K scaled values to original units in place.
func (s *TargetScaler) Unscale(row []float64) {
	for k := range row {
		row[k] = row[k]*s.Std[k] + s.Mean[k]
	}
}

// Scale converts one row of K original values to scaled units in place.
func (s *TargetScaler) Scale(row []float64) {
	for k := range row {
		row[k] = (row[k] - s.Mean[k]) / s.Std[k]
	}
}

func (s *TargetScaler) check(outputs int) error {
	if len(s.Mean) != outputs || len(s.Std) != outputs {
		return fmt.Errorf("perfpredict: target scaler has %d means and %d standard deviations, want one per output (%d)", len(s.Mean), len(s.Std), outputs)
	}
	for k, sd := range s.Std {
		if !(sd > 0) {
			return fmt.Errorf("perfpredict: target scaler: std of output %d is %v, want > 0", k, sd)
		}
	}
	return nil
}

// New builds a model for windows of `features` inputs predicting `outputs`
// values, with weights drawn as PyTorch initialises them from cfg.Seed.
func New(cfg Config, features, outputs int) (*Model, error) {
	m, err := build(cfg, features, outputs)
	if err != nil {
		return nil, err
	}
	m.initWeights(rand.New(rand.NewPCG(m.cfg.Seed, seedStreamInit)))
	if err := m.useDevice(m.cfg.Device, m.cfg.Precision, m.cfg.Logf); err != nil {
		return nil, err
	}
	return m, nil
}

// Streams of the generators derived from Config.Seed.
const (
	seedStreamInit    = 0x696e6974 // "init"
	seedStreamShuffle = 0x73687566 // "shuf"
	seedStreamDropout = 0x64726f70 // "drop"
)

// build allocates a zero model.
func build(cfg Config, features, outputs int) (*Model, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if features <= 0 {
		return nil, fmt.Errorf("perfpredict: the model needs at least one input feature, got %d", features)
	}
	if outputs <= 0 {
		return nil, fmt.Errorf("perfpredict: the model needs at least one output, got %d", outputs)
	}
	var lstmDropout float32
	if cfg.Layers > 1 {
		lstmDropout = cfg.dropout()
	}
	stack, err := lstm.New(lstm.Config{Input: features, Hidden: cfg.Hidden, Layers: cfg.Layers, Bidirectional: true, Dropout: lstmDropout})
	if err != nil {
		return nil, fmt.Errorf("perfpredict: %w", err)
	}
	// The CPU's precision (checked where the model moves to the CPU), so
	// that a clone predicts as its original.
	if err := stack.SetPrecision(hostPrecision(cfg.Precision)); err != nil {
		return nil, fmt.Errorf("perfpredict: %w", err)
	}
	m := &Model{cfg: cfg, features: features, outputs: outputs, lstm: stack, backend: hostBackend{}}
	dim := stack.OutputSize()
	m.att = attention.New(dim)
	prev := dim
	for i, w := range cfg.Head {
		n := strconv.Itoa(i + 1)
		m.fc = append(m.fc, nn.NewLinear("head.fc"+n+".", prev, w, true))
		m.bn = append(m.bn, nn.NewBatchNorm1d("head.bn"+n+".", w))
		prev = w
	}
	m.out = nn.NewLinear("head.out.", prev, outputs, true)

	add := func(prefix string, ps ...*nn.Param) {
		for _, p := range ps {
			m.state = append(m.state, stateEntry{prefix + p.Name, p})
			if p.Trainable() {
				m.trainable = append(m.trainable, p)
			}
		}
	}
	add("lstm.", stack.Params()...)
	add("attention.", m.att.Params()...)
	for i := range m.fc {
		add("", m.fc[i].Params()...)
		add("", m.bn[i].Params()...)
	}
	add("", m.out.Params()...)
	return m, nil
}

// initWeights draws every parameter as PyTorch's constructors do (the values
// differ from PyTorch's, the distributions are the same).
func (m *Model) initWeights(rng *rand.Rand) {
	m.lstm.InitUniform(rng)
	m.att.Init(rng)
	for i := range m.fc {
		m.fc[i].Init(rng)
		m.bn[i].Reset()
	}
	m.out.Init(rng)
}

// Config returns the model's configuration with defaults filled in.
func (m *Model) Config() Config {
	c := m.cfg
	c.Head = append([]int(nil), c.Head...)
	return c
}

// Features is the number of input features F.
func (m *Model) Features() int { return m.features }

// Outputs is the number of predicted values K.
func (m *Model) Outputs() int { return m.outputs }

// NumParams is the number of trainable scalars.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.trainable {
		n += len(p.Data)
	}
	return n
}

// ParamBytes is the memory held by the weights and buffers (float32).
func (m *Model) ParamBytes() int {
	n := 0
	for _, e := range m.state {
		n += 4 * len(e.p.Data)
	}
	return n
}

// workspace holds one forward (and backward) pass's activations. Buffers grow
// to the largest batch seen and are reused afterwards.
type workspace struct {
	lstm *lstm.Workspace
	att  *attention.Workspace
	rng  *rand.Rand // head dropout in training

	batch   int
	ctx     []float32   // attention context [B, 2H], owned by att
	fcOut   [][]float32 // per hidden layer: Linear output [B, W]
	act     [][]float32 // BatchNorm then ReLU output [B, W]
	drop    [][]float32 // Dropout output (training) [B, W]
	mask    [][]float32
	bnCache []nn.BatchNormCache
	pred    []float32 // [B, K]

	gradA, gradB []float32 // head gradients, ping-pong [B, max width]
	dPred        []float32
}

// getWorkspace takes an idle prediction workspace or makes one.
func (m *Model) getWorkspace() *workspace {
	m.idleMu.Lock()
	defer m.idleMu.Unlock()
	if n := len(m.idle); n > 0 {
		ws := m.idle[n-1]
		m.idle = m.idle[:n-1]
		return ws
	}
	return m.newWorkspace()
}

// putWorkspace keeps ws for the next call, up to one per core.
func (m *Model) putWorkspace(ws *workspace) {
	m.idleMu.Lock()
	defer m.idleMu.Unlock()
	if len(m.idle) < max(2, runtime.GOMAXPROCS(0)) {
		m.idle = append(m.idle, ws)
	}
}

func (m *Model) newWorkspace() *workspace {
	n := len(m.fc)
	return &workspace{
		lstm:    m.lstm.NewWorkspace(),
		att:     m.att.NewWorkspace(),
		fcOut:   make([][]float32, n),
		act:     make([][]float32, n),
		drop:    make([][]float32, n),
		mask:    make([][]float32, n),
		bnCache: make([]nn.BatchNormCache, n),
	}
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func grow64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// forward runs the network on x [batch, steps, F]; train selects batch
// statistics and dropout. The results belong to ws.
func (m *Model) forward(ws *workspace, x []float32, batch, steps int, train bool) (pred, weights []float32, err error) {
	h, err := m.lstm.Forward(ws.lstm, x, batch, steps, train)
	if err != nil {
		return nil, nil, fmt.Errorf("perfpredict: %w", err)
	}
	ctx, weights := m.att.Forward(ws.att, h, batch, steps)
	ws.batch, ws.ctx = batch, ctx
	in := ctx
	p := m.cfg.dropout()
	for i, fc := range m.fc {
		w := fc.Out
		ws.fcOut[i] = grow(ws.fcOut[i], batch*w)
		ws.act[i] = grow(ws.act[i], batch*w)
		fc.Forward(ws.fcOut[i], in, batch)
		if train {
			c := &ws.bnCache[i]
			c.Mean = grow64(c.Mean, w)
			c.InvStd = grow64(c.InvStd, w)
			m.bn[i].ForwardTrain(ws.act[i], ws.fcOut[i], batch, c)
		} else {
			m.bn[i].ForwardEval(ws.act[i], ws.fcOut[i], batch)
		}
		nn.ReLU(ws.act[i], ws.act[i])
		in = ws.act[i]
		if train && p > 0 {
			ws.drop[i] = grow(ws.drop[i], batch*w)
			ws.mask[i] = grow(ws.mask[i], batch*w)
			nn.Dropout(ws.rng, p, ws.drop[i], ws.act[i], ws.mask[i])
			in = ws.drop[i]
		}
	}
	ws.pred = grow(ws.pred, batch*m.outputs)
	m.out.Forward(ws.pred, in, batch)
	return ws.pred, weights, nil
}

// backward follows a training forward on ws: it accumulates every
// parameter's gradient from dPred [batch, K] and returns the gradient with
// respect to x (owned by ws; nil when ws.lstm.ParamGradsOnly).
func (m *Model) backward(ws *workspace, dPred []float32) []float32 {
	batch := ws.batch
	widest := m.att.Dim
	for _, fc := range m.fc {
		widest = max(widest, fc.Out)
	}
	ws.gradA = grow(ws.gradA, batch*widest)
	ws.gradB = grow(ws.gradB, batch*widest)
	p := m.cfg.dropout()
	last := len(m.fc) - 1
	input := func(i int) []float32 { // the input of hidden layer i+1 (or of out)
		if p > 0 {
			return ws.drop[i]
		}
		return ws.act[i]
	}
	g, spare := ws.gradA, ws.gradB
	outIn := ws.ctx // the head's input when it has no hidden layer
	if last >= 0 {
		outIn = input(last)
	}
	m.out.Backward(g[:batch*m.out.In], dPred, outIn, batch)
	for i := last; i >= 0; i-- {
		n := batch * m.fc[i].Out
		gi := g[:n]
		if p > 0 {
			nn.DropoutBackward(gi, gi, ws.mask[i][:n])
		}
		nn.ReLUBackward(gi, gi, ws.act[i][:n])
		m.bn[i].Backward(gi, gi, batch, &ws.bnCache[i])
		var in []float32
		if i > 0 {
			in = input(i - 1)
		} else {
			in = ws.ctx
		}
		m.fc[i].Backward(spare[:batch*m.fc[i].In], gi, in, batch)
		g, spare = spare, g
	}
	dh := m.att.Backward(ws.att, g[:batch*m.att.Dim], nil)
	return m.lstm.Backward(ws.lstm, dh)
}

// CopyWeights sets m's weights and BatchNorm statistics to src's, keeping
// m's configuration (seed, schedule, loss): how a network starts from
// pretrained weights. The two must have the same architecture; the error
// names the first tensor that differs.
func (m *Model) CopyWeights(src *Model) error {
	if len(src.state) != len(m.state) || len(src.bn) != len(m.bn) {
		return fmt.Errorf("perfpredict: CopyWeights: %d tensors, want %d", len(src.state), len(m.state))
	}
	for i, e := range m.state {
		if s := src.state[i]; s.name != e.name || !slices.Equal(s.p.Shape, e.p.Shape) {
			return fmt.Errorf("perfpredict: CopyWeights: tensor %q has shape %v, want %q %v", s.name, s.p.Shape, e.name, e.p.Shape)
		}
	}
	if err := src.backend.pull(src); err != nil {
		return fmt.Errorf("perfpredict: CopyWeights: %w", err)
	}
	m.restore(src.snapshot(nil))
	return nil
}

// Clone returns an independent copy of the model: weights, BatchNorm
// statistics, configuration and metadata (so one copy can be trained while
// the other serves). Gradient storage is not copied. A clone of a model on a
// GPU runs on a device of its own, opened at its first use. The error says
// why the weights could not be read back from the model's device; m is left
// as it was.
func (m *Model) Clone() (*Model, error) {
	c, err := build(m.cfg, m.features, m.outputs)
	if err != nil {
		return nil, fmt.Errorf("perfpredict: Clone: %w", err)
	}
	if err := m.backend.pull(m); err != nil {
		return nil, fmt.Errorf("perfpredict: Clone: %w", err)
	}
	c.backend = m.backend.fork()
	c.restore(m.snapshot(nil))
	c.FeatureNames = append([]string(nil), m.FeatureNames...)
	if m.FeatureNames == nil {
		c.FeatureNames = nil
	}
	c.Target, c.Horizon, c.Serial = m.Target, m.Horizon, m.Serial
	if m.Scaler != nil {
		c.Scaler = &TargetScaler{Mean: append([]float64(nil), m.Scaler.Mean...), Std: append([]float64(nil), m.Scaler.Std...)}
	}
	for _, p := range c.trainable {
		p.ReleaseGrad()
	}
	return c, nil
}
