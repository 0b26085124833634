// Package perfmodel wires the LSTM performance model (package perfpredict)
// into the continuous-learning pipeline: a lifecycle.Trainer that trains it
// on collected samples, a lifecycle.Loader that loads its checkpoints, and
// the lifecycle.Forecaster they produce.
//
// Data flow: samples (one or more metrics) -> features.Engineer (temporal,
// rolling, lags, domain) -> windows of Steps rows, each feature column
// standardised on the window itself (calendar columns left as they are) ->
// model -> for h = 1..Horizon the change of the target from the window's last
// value, in units of the window's target standard deviation, further
// standardised by the checkpoint's target scaler. Normalising on the window
// keeps everything needed to predict inside the checkpoint (no input scaler
// to store) and lets a model trained at one level serve after the level
// moves, the failure PROTOCOL.md records for the absolute-level recipe.
//
// Checkpoints are ordinary perfpredict safetensors (perfpredict predict reads
// them) with Target "value_delta_window" and the feature names saved.
package perfmodel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"time"

	"github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/features"
	"github.com/novacron/perfpredict/lifecycle"
)

// Target is the Target recorded in checkpoints written here.
const Target = "value_delta_window"

// warmup is how many rows before a window Engineer needs for its longest
// lag (30) and rolling window to be the same as on the full history.
const warmup = 40

// Options configure the Trainer. Zero fields take the defaults in brackets.
type Options struct {
	// Metrics names the sample columns [value, or metric0, metric1 ...];
	// Target is the column forecast [0].
	Metrics []string
	Target  int
	// Horizon is how many steps ahead the model forecasts [1].
	Horizon int
	// Model is the architecture and schedule; zero fields take small
	// defaults suited to retraining on a CPU (Hidden 16, Layers 1, Head
	// 32,16, Steps 24, Epochs 10, Patience 3, BatchSize 32).
	Model perfpredict.Config
	// MaxWindows keeps the most recent training windows only [3000].
	MaxWindows int
	// ValFraction is the chronological share of windows kept for
	// validation [0.15].
	ValFraction float64
}

func (o Options) withDefaults() Options {
	if len(o.Metrics) == 0 {
		o.Metrics = []string{"value"}
	}
	if o.Horizon <= 0 {
		o.Horizon = 1
	}
	c := &o.Model
	if c.Hidden == 0 {
		c.Hidden = 16
	}
	if c.Layers == 0 {
		c.Layers = 1
	}
	if c.Head == nil {
		c.Head = []int{32, 16}
	}
	if c.Steps == 0 {
		c.Steps = 24
	}
	if c.Epochs == 0 {
		c.Epochs = 10
	}
	if c.Patience == 0 {
		c.Patience = 3
	}
	if c.BatchSize == 0 {
		c.BatchSize = 32
	}
	if o.MaxWindows <= 0 {
		o.MaxWindows = 3000
	}
	if o.ValFraction <= 0 || o.ValFraction >= 1 {
		o.ValFraction = 0.15
	}
	return o
}

// Trainer trains perfpredict models; it implements lifecycle.Trainer.
type Trainer struct{ Opt Options }

// frame engineers the features of samples.
func frame(samples []lifecycle.Sample, metrics []string) (*features.Frame, error) {
	n := len(samples)
	g := &features.Grid{Names: metrics, Times: make([]int64, n), Values: make([][]float64, len(metrics)), Break: make([]bool, n)}
	for m := range metrics {
		g.Values[m] = make([]float64, n)
	}
	var steps []time.Duration
	for i, s := range samples {
		if len(s.Values) != len(metrics) {
			return nil, fmt.Errorf("perfmodel: sample %d at %s has %d values, want %d (%v)", i, s.Time.Format(time.RFC3339), len(s.Values), len(metrics), metrics)
		}
		g.Times[i] = s.Time.UnixNano()
		for m, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("perfmodel: sample %d at %s: %s is %v", i, s.Time.Format(time.RFC3339), metrics[m], v)
			}
			g.Values[m][i] = v
		}
		if i > 0 {
			steps = append(steps, s.Time.Sub(samples[i-1].Time))
		}
	}
	g.Cadence = time.Minute
	if len(steps) > 0 {
		slices.Sort(steps)
		g.Cadence = steps[len(steps)/2]
	}
	return features.Engineer(g, nil)
}

// calendar reports the columns left unnormalised (bounded already, and
// constant within most windows).
func calendar(names []string) []bool {
	out := make([]bool, len(names))
	for i, n := range names {
		out[i] = slices.Contains(features.TemporalNames, n) || n == features.GapName
	}
	return out
}

// window writes the T rows of fr ending at row t into dst [T, F], each
// non-calendar column standardised over the window, and returns the
// target column's mean-free scale (its standard deviation, floored).
func window(dst []float32, fr *features.Frame, t, T, targetCol int, cal []bool) float64 {
	F := fr.Cols()
	lo := t - T + 1
	var scale float64
	for c := 0; c < F; c++ {
		mean, m2 := 0.0, 0.0
		for r := 0; r < T; r++ {
			v := float64(fr.Data[(lo+r)*F+c])
			d := v - mean
			mean += d / float64(r+1)
			m2 += d * (v - mean)
		}
		sd := math.Sqrt(m2 / float64(T))
		if c == targetCol {
			scale = math.Max(sd, 1e-6*math.Max(math.Abs(mean), 1e-3))
		}
		for r := 0; r < T; r++ {
			v := float64(fr.Data[(lo+r)*F+c])
			switch {
			case cal[c]:
			case sd > 1e-12:
				v = (v - mean) / sd
			default:
				v = 0
			}
			dst[r*F+c] = float32(v)
		}
	}
	return scale
}

// Train builds windows from req.Train, trains a model (keeping the epoch
// with the best validation loss) and saves it in req.Dir. The validation
// metrics are PROTOCOL.md's at the model's horizon, in original units, on
// the last ValFraction of the windows.
func (tr Trainer) Train(ctx context.Context, req lifecycle.TrainRequest) (lifecycle.TrainResult, error) {
	o := tr.Opt.withDefaults()
	T, K := o.Model.Steps, o.Horizon
	fr, err := frame(req.Train, o.Metrics)
	if err != nil {
		return lifecycle.TrainResult{}, err
	}
	tcol := fr.Column(o.Metrics[o.Target])
	if tcol < 0 {
		return lifecycle.TrainResult{}, fmt.Errorf("perfmodel: no feature column for target %q", o.Metrics[o.Target])
	}
	first, last := warmup+T-1, len(req.Train)-1-K
	if last-first+1 < 20 {
		return lifecycle.TrainResult{}, fmt.Errorf("perfmodel: %d samples give %d windows of %d steps at horizon %d; need 20", len(req.Train), max(last-first+1, 0), T, K)
	}
	first = max(first, last-o.MaxWindows+1)
	n := last - first + 1
	F := fr.Cols()
	cal := calendar(fr.Names)
	x := make([]float32, n*T*F)
	y := make([]float64, n*K)
	for i := 0; i < n; i++ {
		t := first + i
		s := window(x[i*T*F:(i+1)*T*F], fr, t, T, tcol, cal)
		yt := req.Train[t].Values[o.Target]
		for k := 0; k < K; k++ {
			y[i*K+k] = (req.Train[t+k+1].Values[o.Target] - yt) / s
		}
	}
	nVal := max(int(float64(n)*o.ValFraction), 1)
	nTr := n - nVal
	sc := &perfpredict.TargetScaler{Mean: make([]float64, K), Std: make([]float64, K)}
	for k := 0; k < K; k++ {
		var sum, sq float64
		for i := 0; i < nTr; i++ {
			sum += y[i*K+k]
		}
		sc.Mean[k] = sum / float64(nTr)
		for i := 0; i < nTr; i++ {
			d := y[i*K+k] - sc.Mean[k]
			sq += d * d
		}
		sc.Std[k] = math.Sqrt(sq / float64(nTr))
		if sc.Std[k] == 0 {
			sc.Std[k] = 1
		}
	}
	ys := make([]float32, len(y))
	row := make([]float64, K)
	for i := 0; i < n; i++ {
		copy(row, y[i*K:(i+1)*K])
		sc.Scale(row)
		for k, v := range row {
			ys[i*K+k] = float32(v)
		}
	}
	trainSet, err := perfpredict.NewDataset(x[:nTr*T*F], ys[:nTr*K], nTr, T, F, K)
	if err != nil {
		return lifecycle.TrainResult{}, err
	}
	valSet, err := perfpredict.NewDataset(x[nTr*T*F:], ys[nTr*K:], nVal, T, F, K)
	if err != nil {
		return lifecycle.TrainResult{}, err
	}
	m, err := perfpredict.New(o.Model, F, K)
	if err != nil {
		return lifecycle.TrainResult{}, err
	}
	m.FeatureNames, m.Target, m.Horizon, m.Scaler = fr.Names, Target, K, sc
	hist, err := m.Train(ctx, trainSet, valSet)
	if err != nil {
		return lifecycle.TrainResult{}, fmt.Errorf("perfmodel: train: %w", err)
	}
	path := filepath.Join(req.Dir, "model.safetensors")
	if err := m.Save(path); err != nil {
		return lifecycle.TrainResult{}, err
	}
	f := &Forecaster{m: m, metrics: o.Metrics, target: o.Target}
	valFrom := first + nTr
	val, err := lifecycle.HoldoutEvaluator{Target: o.Target, Horizon: K}.Evaluate(ctx, f, req.Train[:valFrom+1], req.Train[valFrom+1:])
	if err != nil {
		return lifecycle.TrainResult{}, err
	}
	return lifecycle.TrainResult{Checkpoint: path, Validation: val, Features: fr.Names, Extra: map[string]string{
		"trainer": "perfmodel", "target": Target, "metrics": fmt.Sprint(o.Metrics), "steps": fmt.Sprint(T), "horizon": fmt.Sprint(K),
		"hidden": fmt.Sprint(o.Model.Hidden), "layers": fmt.Sprint(o.Model.Layers), "windows": fmt.Sprint(n),
		"best_epoch": fmt.Sprint(hist.BestEpoch), "best_val_loss": fmt.Sprintf("%.6g", hist.BestLoss)}}, nil
}

// Loader loads checkpoints written by Trainer; it implements lifecycle.Loader.
type Loader struct {
	// Metrics and Target as the Trainer's Options (default: one "value").
	Metrics []string
	Target  int
}

// Load reads a checkpoint and checks it was written by this package.
func (l Loader) Load(_ context.Context, path string) (lifecycle.Forecaster, error) {
	m, err := perfpredict.Load(path)
	if err != nil {
		return nil, err
	}
	if m.Target != Target || m.Scaler == nil || m.Horizon < 1 || len(m.FeatureNames) != m.Features() {
		return nil, fmt.Errorf("perfmodel: %s: target %q, horizon %d: not a checkpoint of perfmodel.Trainer", path, m.Target, m.Horizon)
	}
	metrics := l.Metrics
	if len(metrics) == 0 {
		metrics = []string{"value"}
	}
	return &Forecaster{m: m, metrics: metrics, target: l.Target}, nil
}

// Forecaster forecasts with a loaded model; safe for concurrent use.
type Forecaster struct {
	m       *perfpredict.Model
	metrics []string
	target  int
}

// Model is the underlying model.
func (f *Forecaster) Model() *perfpredict.Model { return f.m }

// ErrShortHistory is returned when the history is shorter than the
// model's window plus the feature warm-up.
var ErrShortHistory = errors.New("perfmodel: history too short for the model's window")

// Forecast predicts the target 1..horizon steps after the last sample.
func (f *Forecaster) Forecast(history []lifecycle.Sample, horizon int) ([]float64, error) {
	T, K := f.m.Config().Steps, f.m.Outputs()
	if horizon < 1 || horizon > K {
		return nil, fmt.Errorf("perfmodel: horizon %d outside the model's 1..%d", horizon, K)
	}
	if len(history) < T+warmup {
		return nil, fmt.Errorf("%w: %d samples, need %d", ErrShortHistory, len(history), T+warmup)
	}
	tail := history[len(history)-T-warmup:]
	fr, err := frame(tail, f.metrics)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(fr.Names, f.m.FeatureNames) {
		return nil, fmt.Errorf("perfmodel: the samples give features %v, the model was trained on %v", fr.Names, f.m.FeatureNames)
	}
	tcol := fr.Column(f.metrics[f.target])
	x := make([]float32, T*fr.Cols())
	s := window(x, fr, fr.Rows()-1, T, tcol, calendar(fr.Names))
	pred, _, err := f.m.Predict(x, 1, T)
	if err != nil {
		return nil, err
	}
	row := make([]float64, K)
	for k := range row {
		row[k] = float64(pred[k])
	}
	f.m.Scaler.Unscale(row)
	last := tail[len(tail)-1].Values[f.target]
	out := make([]float64, horizon)
	for k := range out {
		out[k] = last + row[k]*s
	}
	return out, nil
}
