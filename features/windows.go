package features

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// DefaultSteps is the default window length T (five hours at a 5-minute cadence).
const DefaultSteps = 60

// WindowOptions choose the windows' shape and targets.
type WindowOptions struct {
	// Steps is T, the rows per window; default 60.
	Steps int
	// Targets are the feature columns to predict; default the first
	// metric's value column (Frame.Metrics[0]).
	Targets []string
	// Horizons are the steps ahead (>= 1); default {1}.
	Horizons []int
}

// Windows indexes the windows of a Frame: window s holds rows [s, s+T) and,
// for horizon h, the target row s+T-1+h. A window never spans a Break.
// Targets are laid out target-major: Y[i, t*len(Horizons)+j] is target t at
// horizon Horizons[j].
type Windows struct {
	frame    *Frame
	steps    int
	targets  []int
	names    []string
	horizons []int
	reach    int   // T - 1 + max horizon: rows after s that a window uses
	starts   []int // window start rows, ascending
}

// NewWindows indexes every window of f that stays within one segment.
func NewWindows(f *Frame, opt WindowOptions) (*Windows, error) {
	w := &Windows{frame: f, steps: opt.Steps, horizons: opt.Horizons}
	if w.steps == 0 {
		w.steps = DefaultSteps
	}
	if w.steps < 1 {
		return nil, fmt.Errorf("features: window length %d", w.steps)
	}
	if w.horizons == nil {
		w.horizons = []int{1}
	}
	maxH := 0
	for _, h := range w.horizons {
		if h < 1 {
			return nil, fmt.Errorf("features: horizon %d must be >= 1", h)
		}
		maxH = max(maxH, h)
	}
	if len(w.horizons) == 0 {
		return nil, fmt.Errorf("features: no horizon")
	}
	targets := opt.Targets
	if targets == nil {
		if len(f.Metrics) == 0 {
			return nil, fmt.Errorf("features: frame has no metric to predict")
		}
		targets = f.Metrics[:1]
	}
	if len(targets) == 0 {
		return nil, fmt.Errorf("features: no target")
	}
	for _, t := range targets {
		c := f.Column(t)
		if c < 0 {
			return nil, fmt.Errorf("features: target %q is not a feature column", t)
		}
		w.targets = append(w.targets, c)
		for _, h := range w.horizons {
			w.names = append(w.names, fmt.Sprintf("%s_h%d", t, h))
		}
	}
	w.reach = w.steps - 1 + maxH
	// breaks[i] counts breaks in rows [0, i]; window s is valid when no
	// break lies in (s, s+reach].
	n := f.Rows()
	breaks := make([]int32, n)
	var cnt int32
	for i, b := range f.Break {
		if b {
			cnt++
		}
		breaks[i] = cnt
	}
	var out []int
	for s := 0; s+w.reach < n; s++ {
		if breaks[s+w.reach] == breaks[s] {
			out = append(out, s)
		}
	}
	w.starts = out
	return w, nil
}

// Len is the number of windows N.
func (w *Windows) Len() int { return len(w.starts) }

// Steps is T.
func (w *Windows) Steps() int { return w.steps }

// Features is F.
func (w *Windows) Features() int { return w.frame.Cols() }

// K is the number of outputs: targets x horizons.
func (w *Windows) K() int { return len(w.names) }

// TargetNames names Y's columns: <target>_h<horizon>.
func (w *Windows) TargetNames() []string { return w.names }

// TargetColumns are the frame columns of the targets, in Y's target order:
// Y comes from the frame's data as it is (standardised if the scaler was
// applied), so Scaler.InverseValue(TargetColumns()[t], y) gives units back.
func (w *Windows) TargetColumns() []int { return w.targets }

// Starts are the windows' first rows.
func (w *Windows) Starts() []int { return w.starts }

// Range keeps the windows whose rows, inputs and targets, all lie in [lo, hi).
func (w *Windows) Range(lo, hi int) *Windows {
	r := *w
	r.starts = nil
	for _, s := range w.starts {
		if s >= lo && s+w.reach < hi {
			r.starts = append(r.starts, s)
		}
	}
	return &r
}

// Fill copies windows idx (indices into Starts) into x [len(idx),T,F] and
// y [len(idx),K].
func (w *Windows) Fill(idx []int, x, y []float32) {
	f := w.frame
	c := f.Cols()
	tf := w.steps * c
	k := w.K()
	if len(x) < len(idx)*tf || len(y) < len(idx)*k {
		panic(fmt.Sprintf("features: Fill: buffers of %d and %d for %d windows of %dx%d and %d", len(x), len(y), len(idx), w.steps, c, k))
	}
	nh := len(w.horizons)
	for i, wi := range idx {
		s := w.starts[wi]
		copy(x[i*tf:(i+1)*tf], f.Data[s*c:(s+w.steps)*c])
		for t, col := range w.targets {
			for j, h := range w.horizons {
				y[i*k+t*nh+j] = f.Data[(s+w.steps-1+h)*c+col]
			}
		}
	}
}

// Tensors materialises every window: X [N,T,F] and Y [N,K], row-major.
func (w *Windows) Tensors() (x, y []float32) {
	idx := make([]int, w.Len())
	for i := range idx {
		idx[i] = i
	}
	x = make([]float32, w.Len()*w.steps*w.Features())
	y = make([]float32, w.Len()*w.K())
	w.Fill(idx, x, y)
	return x, y
}

// Batches iterates over shuffled mini-batches, one epoch per pass, reusing
// its buffers.
type Batches struct {
	w     *Windows
	size  int
	rng   *rand.Rand
	order []int
	pos   int
	n     int
	// X [size,T,F] and Y [size,K] hold the current batch in their first N rows.
	X, Y []float32
}

// Batches returns an iterator over mini-batches of size windows, shuffled
// with the seed (the same seed gives the same batches).
func (w *Windows) Batches(size int, seed uint64) *Batches {
	if size < 1 {
		panic("features: batch size must be >= 1")
	}
	b := &Batches{w: w, size: size, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
	b.order = make([]int, w.Len())
	for i := range b.order {
		b.order[i] = i
	}
	b.X = make([]float32, size*w.steps*w.Features())
	b.Y = make([]float32, size*w.K())
	b.shuffle()
	return b
}

func (b *Batches) shuffle() {
	b.rng.Shuffle(len(b.order), func(i, j int) { b.order[i], b.order[j] = b.order[j], b.order[i] })
	b.pos = 0
}

// Next loads the next batch; at the end of an epoch it returns false and
// reshuffles, so the next call starts a new epoch.
func (b *Batches) Next() bool {
	if b.pos >= len(b.order) {
		b.shuffle()
		b.n = 0
		return false
	}
	end := min(b.pos+b.size, len(b.order))
	b.n = end - b.pos
	b.w.Fill(b.order[b.pos:end], b.X, b.Y)
	b.pos = end
	return true
}

// N is the number of windows in the current batch (the last may be short).
func (b *Batches) N() int { return b.n }

// Batch returns views of the current batch: x [N,T,F], y [N,K].
func (b *Batches) Batch() (x, y []float32) {
	return b.X[:b.n*b.w.steps*b.w.Features()], b.Y[:b.n*b.w.K()]
}

// Split is a chronological split of rows: train [0, TrainEnd), validation
// [TrainEnd, ValEnd), test [ValEnd, N).
type Split struct {
	TrainEnd, ValEnd, N int
}

// SplitRatios are the train and validation shares; test gets the rest.
type SplitRatios struct {
	Train, Val float64
}

// DefaultRatios returns the 70/15/15 split (a function, so no caller can
// change the split every Prepare uses).
func DefaultRatios() SplitRatios { return SplitRatios{Train: 0.70, Val: 0.15} }

// SplitRows splits n rows: TrainEnd = floor(Train n), ValEnd = TrainEnd +
// floor(Val n) (docs/PROTOCOL.md). Shares given for test and validation
// instead, such as test 0.2 and validation 0.1, are SplitRatios{Train: 0.7,
// Val: 0.1}.
func SplitRows(n int, r SplitRatios) (Split, error) {
	if !(r.Train > 0) || r.Val < 0 || r.Train+r.Val > 1+1e-12 || math.IsNaN(r.Val) {
		return Split{}, fmt.Errorf("features: split ratios train %v, val %v", r.Train, r.Val)
	}
	tr := int(math.Floor(r.Train*float64(n) + 1e-9))
	va := int(math.Floor(r.Val*float64(n) + 1e-9))
	return Split{TrainEnd: tr, ValEnd: min(tr+va, n), N: n}, nil
}

// Sets returns the train, validation and test windows of w under s.
func (s Split) Sets(w *Windows) (train, val, test *Windows) {
	return w.Range(0, s.TrainEnd), w.Range(s.TrainEnd, s.ValEnd), w.Range(s.ValEnd, s.N)
}
