package perfpredict

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/novacron/perfpredict/internal/nn"
)

// EpochStats records one training epoch.
type EpochStats struct {
	Epoch     int           // 1-based
	TrainLoss float64       // mean training loss (Config.Loss) over the epoch's batches (scaled units, training mode)
	ValLoss   float64       // validation loss in evaluation mode; NaN without a validation set
	Duration  time.Duration // wall time of the epoch, validation included
	Best      bool          // the epoch improved the monitored loss and its weights were kept
}

// History is what Train did.
type History struct {
	Epochs []EpochStats
	// BestEpoch is the epoch whose weights the model holds (0 if none finished).
	BestEpoch int
	// BestLoss is the monitored loss of BestEpoch: validation loss, or training
	// loss without a validation set.
	BestLoss float64
	// EarlyStopped is true when training stopped for lack of improvement.
	EarlyStopped bool
}

// Progress is passed to the progress callback after every batch.
type Progress struct {
	Epoch, Epochs  int // current epoch (1-based) and the maximum
	Batch, Batches int // batch just done (1-based) and the batches per epoch
	Loss           float64
	EpochTrainLoss float64 // mean loss of the epoch's batches so far
	Elapsed        time.Duration
	EpochDone      bool    // set on the last call of an epoch, after validation
	ValLoss        float64 // when EpochDone (NaN without a validation set)
}

// TrainOption adjusts one Train call.
type TrainOption func(*trainOptions)

type trainOptions struct {
	progress func(Progress)
}

// WithProgress calls fn after every batch and at the end of every epoch, on
// the training goroutine (keep it quick).
func WithProgress(fn func(Progress)) TrainOption {
	return func(o *trainOptions) { o.progress = fn }
}

// Train fits the model to train with Adam on the configured loss (Config.Loss,
// mean squared error by default), shuffling
// with a generator seeded from Config.Seed, and keeps the weights of the epoch
// with the lowest validation loss (training loss when val is empty), stopping
// early after Config.Patience epochs without improvement. When the last batch
// of an epoch would hold a single sample it is skipped (batch statistics need
// two; shuffling makes it a different sample each epoch).
//
// Data are checked before anything changes: a shape mismatch or a NaN or
// infinite value is an error naming the sample and feature. When ctx is
// cancelled Train returns ctx.Err() with the best weights so far restored (the
// initial ones if no epoch finished); when the loss turns NaN or infinite it
// returns an error naming the epoch and step, likewise restoring. The history
// is returned in every case.
func (m *Model) Train(ctx context.Context, train, val Dataset, opts ...TrainOption) (*History, error) {
	var o trainOptions
	for _, opt := range opts {
		opt(&o)
	}
	hist := &History{BestLoss: math.Inf(1)}
	if err := m.checkDataset("training set", train); err != nil {
		return hist, err
	}
	if train.Samples < 2 {
		return hist, fmt.Errorf("perfpredict: training set has %d samples, need at least 2 (batch normalisation)", train.Samples)
	}
	if val.Samples > 0 {
		if err := m.checkDataset("validation set", val); err != nil {
			return hist, err
		}
	}

	cfg := m.cfg
	tr := m.NewTrainer()
	if tr.err != nil {
		return hist, tr.err
	}
	if err := m.backend.pull(m); err != nil {
		return hist, err
	}
	best := m.snapshot(nil)
	shuffle := rand.New(rand.NewPCG(cfg.Seed, seedStreamShuffle))

	n, bs := train.Samples, min(cfg.BatchSize, train.Samples)
	tf := train.Steps * train.Features
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	xb := make([]float32, bs*tf)
	yb := make([]float32, bs*m.outputs)
	// A last batch of one sample is dropped: batch statistics need two.
	batches := n / bs
	if r := n % bs; r >= 2 {
		batches++
	}
	start := time.Now()
	sinceBest := 0

	restore := func() { m.restore(best) }
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		t0 := time.Now()
		shuffle.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sum float64
		for b := 0; b < batches; b++ {
			if err := ctx.Err(); err != nil {
				restore()
				return hist, err
			}
			lo := b * bs
			cnt := min(bs, n-lo)
			for r := 0; r < cnt; r++ {
				x, y := train.Window(order[lo+r])
				copy(xb[r*tf:], x)
				copy(yb[r*m.outputs:], y)
			}
			loss, err := tr.Step(xb[:cnt*tf], yb[:cnt*m.outputs], cnt, train.Steps)
			if errors.Is(err, ErrNonFiniteLoss) {
				restore()
				kept := "the initial weights kept"
				if hist.BestEpoch > 0 {
					kept = fmt.Sprintf("the weights of epoch %d kept", hist.BestEpoch)
				}
				return hist, fmt.Errorf("%w: %v at epoch %d, step %d; %s", ErrNonFiniteLoss, loss, epoch, b+1, kept)
			}
			if err != nil {
				restore()
				return hist, err
			}
			sum += loss
			if o.progress != nil {
				o.progress(Progress{Epoch: epoch, Epochs: cfg.Epochs, Batch: b + 1, Batches: batches, Loss: loss,
					EpochTrainLoss: sum / float64(b+1), Elapsed: time.Since(start), ValLoss: math.NaN()})
			}
		}
		st := EpochStats{Epoch: epoch, TrainLoss: sum / float64(batches), ValLoss: math.NaN()}
		monitored := st.TrainLoss
		if val.Samples > 0 {
			l, err := m.loss(val)
			if err != nil {
				restore()
				return hist, err
			}
			st.ValLoss, monitored = l, l
		}
		if monitored < hist.BestLoss {
			hist.BestLoss, hist.BestEpoch, st.Best = monitored, epoch, true
			if err := m.backend.pull(m); err != nil {
				restore()
				return hist, err
			}
			best = m.snapshot(best)
			sinceBest = 0
		} else {
			sinceBest++
		}
		st.Duration = time.Since(t0)
		hist.Epochs = append(hist.Epochs, st)
		if o.progress != nil {
			o.progress(Progress{Epoch: epoch, Epochs: cfg.Epochs, Batch: batches, Batches: batches, Loss: st.TrainLoss,
				EpochTrainLoss: st.TrainLoss, Elapsed: time.Since(start), EpochDone: true, ValLoss: st.ValLoss})
		}
		if cfg.Patience > 0 && sinceBest >= cfg.Patience {
			hist.EarlyStopped = true
			break
		}
	}
	restore()
	return hist, nil
}

// Trainer takes single optimisation steps on a model: forward in training
// mode, the configured loss (MSE by default), backward, Adam. Train uses one per call; it also serves
// callers that feed batches themselves (online updates, benchmarks). Its
// dropout generators are seeded from the model's Config.Seed. A Trainer is
// not safe for concurrent use, and nothing else may use the model during
// Step. On a GPU the optimiser's state lives with the model: a step of
// another Trainer of the same model starts it afresh.
type Trainer struct {
	m   *Model
	s   stepper
	err error // why the model cannot train where it runs
}

// NewTrainer makes a trainer with a fresh Adam state at the configured
// learning rate. When the model's device cannot train with its
// configuration (dropout on a GPU), every Step returns the error saying so.
func (m *Model) NewTrainer() *Trainer {
	s, err := m.backend.newStepper(m)
	return &Trainer{m: m, s: s, err: err}
}

// ErrNonFiniteLoss marks a NaN or infinite training loss (Trainer.Step does
// not apply that step; Train stops and restores the best weights).
var ErrNonFiniteLoss = errors.New("perfpredict: training loss is not finite")

// Step runs one training step on x [batch, steps, F] and targets y [batch, K]
// (batch >= 2) and returns the batch's loss before the update. A NaN or
// infinite loss leaves the weights untouched (apart from BatchNorm's running
// statistics) and returns an error.
func (t *Trainer) Step(x, y []float32, batch, steps int) (float64, error) {
	m := t.m
	if t.err != nil {
		return 0, t.err
	}
	if err := m.checkInput(x, batch, steps); err != nil {
		return 0, err
	}
	if batch < 2 {
		return 0, fmt.Errorf("perfpredict: a training batch needs at least 2 samples (batch normalisation), got %d", batch)
	}
	if len(y) != batch*m.outputs {
		return 0, fmt.Errorf("perfpredict: targets have %d values, want batch %d x outputs %d", len(y), batch, m.outputs)
	}
	return t.s.step(x, y, batch, steps)
}

// StateBytes is the memory held by the optimiser's moment estimates (on
// the device for a model on a GPU).
func (t *Trainer) StateBytes() int {
	if t.s == nil {
		return 0
	}
	return t.s.stateBytes()
}

// checkDataset validates a dataset's shape against the model and its values.
func (m *Model) checkDataset(what string, d Dataset) error {
	if err := d.checkShape(what); err != nil {
		return err
	}
	if d.Samples == 0 {
		return fmt.Errorf("perfpredict: %s is empty", what)
	}
	if d.Features != m.features {
		return fmt.Errorf("perfpredict: %s has %d features per step, the model expects %d", what, d.Features, m.features)
	}
	if d.Outputs != m.outputs {
		return fmt.Errorf("perfpredict: %s has %d outputs per sample, the model predicts %d", what, d.Outputs, m.outputs)
	}
	return d.checkFinite(what, m.FeatureNames)
}

// loss is the evaluation-mode loss (Config.Loss) over d in scaled units.
func (m *Model) loss(d Dataset) (float64, error) {
	pred := make([]float32, d.Samples*m.outputs)
	if err := m.PredictInto(pred, nil, d.X, d.Samples, d.Steps); err != nil {
		return 0, err
	}
	return m.cfg.lossFunc(pred, d.Y, nil), nil
}

// lossFunc returns the configured loss of pred against target, averaged over
// every element (float64 accumulation), and writes its gradient with respect
// to pred into grad when grad is not nil.
func (c Config) lossFunc(pred, target, grad []float32) float64 {
	switch c.Loss {
	case LossL1:
		return l1Loss(pred, target, grad)
	case LossHuber:
		return huberLoss(pred, target, grad, c.HuberDelta)
	default:
		return nn.MSELoss(pred, target, grad)
	}
}

// l1Loss is mean |pred-target|; its gradient sign(pred-target)/n is 0 where
// they are equal (PyTorch's convention).
func l1Loss(pred, target, grad []float32) float64 {
	n := len(pred)
	if len(target) != n || (grad != nil && len(grad) < n) {
		panic("perfpredict: l1Loss: lengths differ")
	}
	var s float64
	g := 1 / float32(n)
	for i, p := range pred {
		d := p - target[i]
		s += math.Abs(float64(d))
		if grad != nil {
			switch {
			case d > 0:
				grad[i] = g
			case d < 0:
				grad[i] = -g
			default:
				grad[i] = 0
			}
		}
	}
	return s / float64(n)
}

// huberLoss is the mean of 0.5 e^2 where |e| <= delta and delta(|e| - 0.5
// delta) beyond (PyTorch's huber_loss), e = pred - target.
func huberLoss(pred, target, grad []float32, delta float64) float64 {
	n := len(pred)
	if len(target) != n || (grad != nil && len(grad) < n) {
		panic("perfpredict: huberLoss: lengths differ")
	}
	var s float64
	inv := 1 / float64(n)
	for i, p := range pred {
		e := float64(p - target[i])
		a := math.Abs(e)
		if a <= delta {
			s += 0.5 * e * e
			if grad != nil {
				grad[i] = float32(e * inv)
			}
			continue
		}
		s += delta * (a - 0.5*delta)
		if grad != nil {
			grad[i] = float32(math.Copysign(delta, e) * inv)
		}
	}
	return s * inv
}

// weights is a copy of every tensor and BatchNorm counter.
type weights struct {
	data     [][]float32
	counters []int64
}

// snapshot copies every tensor and BatchNorm counter into dst (reused when
// large enough). The Params must be current: callers pull from the backend
// first.
func (m *Model) snapshot(dst *weights) *weights {
	if dst == nil {
		dst = &weights{data: make([][]float32, len(m.state)), counters: make([]int64, len(m.bn))}
	}
	for i, e := range m.state {
		dst.data[i] = append(dst.data[i][:0], e.p.Data...)
	}
	for i, bn := range m.bn {
		dst.counters[i] = bn.NumBatchesTracked
	}
	return dst
}

func (m *Model) restore(w *weights) {
	for i, e := range m.state {
		copy(e.p.Data, w.data[i])
	}
	m.lstm.WeightsChanged()
	m.backend.push()
	for i, bn := range m.bn {
		bn.NumBatchesTracked = w.counters[i]
	}
}
