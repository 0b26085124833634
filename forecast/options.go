package forecast

import (
	"errors"
	"fmt"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

// Options are the recipe and the training settings. Every field means what
// it says, zero included (Dropout 0 is no dropout, Patience 0 trains every
// epoch); start from DefaultOptions and change what you need.
type Options struct {
	// Window is the number of steps the network reads.
	Window int
	// ScaleWindow is the number of recent one-step changes whose mean
	// absolute value is the unit of the inputs and outputs.
	ScaleWindow int
	// Horizon is the largest horizon: the forecaster predicts h = 1..Horizon.
	Horizon int
	// Inputs are the input channels (see Input).
	Inputs []Input
	// Season is the season in steps of the season input (288: a day at
	// 5 minutes); unused without that input.
	Season int
	// TargetClip bounds training targets in units.
	TargetClip float64

	// Hidden is the LSTM's hidden size per direction, Layers the number of
	// stacked bidirectional layers, Head the widths of the head's hidden
	// layers (at least one).
	Hidden, Layers int
	Head           []int
	// Dropout is the dropout probability between LSTM layers and in the
	// head while training (0: none).
	Dropout float64

	// Epochs is the most passes over the training windows; Patience stops
	// after that many epochs without a better validation loss (0: never
	// stops early).
	Epochs, Patience int
	// BatchSize is the mini-batch size (at least 2: batch normalisation).
	BatchSize int
	// LearningRate is Adam's step size.
	LearningRate float64
	// Stride is the number of steps between consecutive training windows of
	// a series.
	Stride int
	// Ensemble is the number of networks, trained alike but for their seeds
	// (Seed, Seed+1, ...), whose forecasts are averaged.
	Ensemble int
	// Seed seeds the first network's weights, shuffling and dropout.
	Seed uint64
	// Trees, when not nil, adds gradient-boosted trees to the recipe,
	// combined with the networks per horizon (see TreeOptions).
	Trees *TreeOptions
	// SwitchTrees, when not nil, trains the trees a Switch over the
	// forecaster forecasts with beside the networks and its
	// autoregression (see SwitchTreeOptions); the forecaster's own
	// forecasts do not use them.
	SwitchTrees *SwitchTreeOptions
	// NoTestSplit says the series hold no test split: training reads the
	// first 85% of each series and early stopping and calibration the last
	// 15%. For a live pipeline that keeps its own held-out data. By default
	// the protocol's split applies: 70% training, 15% validation, and the
	// last 15% (the test split) is never read.
	NoTestSplit bool
	// Sequential trains the networks one after another. By default the
	// networks of an ensemble train at the same time on the CPU, as many as
	// GOMAXPROCS allows; the result is the same either way.
	Sequential bool

	// Device is where the networks train and run: "" or "cpu", "cuda",
	// "auto" (see perfpredict.Config.Device).
	Device string
	// Precision is the arithmetic of the matrix products on a GPU: "" or
	// "fp32", "tf32", "bf16" (see perfpredict.Config.Precision). It is not
	// saved: a forecaster opened later runs at fp32 unless its networks are
	// set otherwise (perfpredict.Model.SetPrecision).
	Precision string
	// ShiftAugment adds that fraction of the training windows again, each
	// copied with a level shift of 3 to 30 units (either sign) from a
	// random step of its input window on, targets included, so that the
	// networks learn that a shift persists where a spike reverts; 0: none.
	// It lengthens training by its share (docs/PROTOCOL.md, "Level
	// shifts").
	ShiftAugment float64
	// Init, when set, is a forecaster whose networks the new ones start
	// from instead of random weights (fine-tuning a pretrained forecaster):
	// network i starts from Init's network i modulo their number, then
	// trains under its own seed and schedule. Init's recipe and
	// architecture must be the options'.
	Init *Forecaster

	// Logf receives progress lines (one per network and phase); nil: none.
	Logf func(format string, args ...any)
	// Progress, when set, is called after every batch of network member
	// (0-based) of Ensemble, from the goroutine training it: networks that
	// train at the same time call it concurrently.
	Progress func(member int, p perfpredict.Progress)
}

// DefaultOptions is the recipe `perfpredict train` ships. Its choices were
// made on validation data (docs/PROTOCOL.md, "How the recipe was chosen"):
// ScaleWindow 60 had the least geometric-mean validation MASE over the 13
// NAB series among 30, 60, 120, 288 and 1000 (0.435, 0.496, 0.576 at
// h = 1, 12, 30 against 0.458, 0.510, 0.606 for 288, one network each);
// ShiftAugment 0.1 had the lower MASE on held-out series' validation splits
// (leave-series-out, 4 folds, two seed pairs).
func DefaultOptions() Options {
	return Options{
		Window:       60,
		ScaleWindow:  60,
		Horizon:      30,
		Season:       288,
		Inputs:       []Input{{InputRelLast, 30}, {InputDiff, 30}},
		TargetClip:   100,
		Hidden:       32,
		Layers:       1,
		Head:         perfpredict.DefaultHead(),
		Dropout:      0.1,
		Epochs:       20,
		Patience:     5,
		BatchSize:    64,
		LearningRate: 1e-3,
		Stride:       1,
		ShiftAugment: 0.1,
		Ensemble:     2,
		Seed:         1,
		SwitchTrees:  DefaultSwitchTreeOptions(),
	}
}

// logger is Logf, or a function that drops the lines.
func (o Options) logger() func(string, ...any) {
	if o.Logf == nil {
		return func(string, ...any) {}
	}
	return o.Logf
}

// Split is where training ends and where validation ends in a series of n
// steps (see NoTestSplit).
func (o Options) Split(n int) (trainEnd, validationEnd int) {
	sp := baseline.SplitOf(n)
	if o.NoTestSplit {
		return sp.Fit(), n
	}
	return sp.Train, sp.Fit()
}

// recipe is the part of o saved with the forecaster.
func (o Options) recipe() Recipe {
	r := Recipe{Window: o.Window, ScaleWindow: o.ScaleWindow, Horizon: o.Horizon,
		Inputs: append([]Input(nil), o.Inputs...), TargetClip: o.TargetClip}
	if r.reads(InputSeason) {
		r.Season = o.Season
	}
	return r
}

// Check reports what Train would reject in o before any data is read: the
// error names the field and wraps ErrBadInput. Callers that hold options
// for later training (a retraining pipeline) check them up front.
func (o Options) Check() error {
	if err := o.check(); err != nil {
		return badInput(err)
	}
	return nil
}

// check validates o; its errors name the field.
func (o Options) check() error {
	if err := o.recipe().check(); err != nil {
		return fmt.Errorf("forecast: options: %w", err)
	}
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("forecast: options: %s %v: %s", field, v, want)
	}
	switch {
	case o.Hidden < 1:
		return bad("Hidden", o.Hidden, "must be at least 1")
	case o.Layers < 1:
		return bad("Layers", o.Layers, "must be at least 1")
	case len(o.Head) == 0:
		return bad("Head", o.Head, "needs at least one layer")
	case !(o.Dropout >= 0 && o.Dropout < 1):
		return bad("Dropout", o.Dropout, "must be in [0, 1)")
	case o.Epochs < 1:
		return bad("Epochs", o.Epochs, "must be at least 1")
	case o.Patience < 0:
		return bad("Patience", o.Patience, "must not be negative")
	case o.BatchSize < 2:
		return bad("BatchSize", o.BatchSize, "must be at least 2 (batch normalisation)")
	case !(o.LearningRate > 0):
		return bad("LearningRate", o.LearningRate, "must be positive")
	case o.Stride < 1:
		return bad("Stride", o.Stride, "must be at least 1")
	case !(o.ShiftAugment >= 0 && o.ShiftAugment <= 10):
		return bad("ShiftAugment", o.ShiftAugment, "must be in [0, 10]")
	case o.Ensemble < 1:
		return bad("Ensemble", o.Ensemble, "must be at least 1")
	case o.Seed > ^uint64(0)-uint64(o.Ensemble):
		return bad("Seed", o.Seed, fmt.Sprintf("leaves no room for %d networks' seeds", o.Ensemble))
	}
	for _, w := range o.Head {
		if w < 1 {
			return bad("Head", o.Head, "widths must be positive")
		}
	}
	if o.SwitchTrees != nil {
		if err := o.SwitchTrees.check(o.Horizon); err != nil {
			return fmt.Errorf("forecast: options: %w", err)
		}
	}
	if o.Trees != nil {
		if err := o.Trees.check(o.Horizon); err != nil {
			return fmt.Errorf("forecast: options: %w", err)
		}
	}
	return o.checkInit()
}

// config is the network configuration of member i.
func (o Options) config(i int) perfpredict.Config {
	drop := float32(o.Dropout)
	if drop == 0 {
		drop = -1 // perfpredict's zero means its default
	}
	pat := o.Patience
	if pat == 0 {
		pat = -1
	}
	dev := o.Device
	if dev == "" {
		dev = perfpredict.DeviceCPU
	}
	return perfpredict.Config{
		Hidden: o.Hidden, Layers: o.Layers, Head: append([]int(nil), o.Head...), Dropout: drop,
		Steps: o.Window, BatchSize: o.BatchSize, LearningRate: o.LearningRate, Epochs: o.Epochs,
		Patience: pat, Seed: o.Seed + uint64(i), Loss: perfpredict.LossL1, Device: dev,
		Precision: o.Precision, Logf: o.Logf,
	}
}

// ErrBadInput marks errors caused by the data or the options rather than by
// the machine (the command line exits 2 on them).
var ErrBadInput = errors.New("bad input")

// ErrInterrupted marks a Train cancelled part way that still returned a
// usable forecaster.
var ErrInterrupted = errors.New("training interrupted")

// badInputError marks err as bad input without changing its message.
type badInputError struct{ err error }

func (e badInputError) Error() string   { return e.err.Error() }
func (e badInputError) Unwrap() []error { return []error{e.err, ErrBadInput} }

func badInput(err error) error { return badInputError{err} }
