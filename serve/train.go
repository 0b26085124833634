package serve

import (
	"context"
	"fmt"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

// TrainOptions configure Train.
type TrainOptions struct {
	// Config is the model's architecture and schedule.
	Config perfpredict.Config
	// Horizon is the number of steps predicted per metric (default 30).
	Horizon int
	// Stride is the step between training origins (default 1).
	Stride int
	// MaxWindows keeps the most recent training windows (0: all).
	MaxWindows int
	// Progress, if set, is passed to Model.Train.
	Progress func(perfpredict.Progress)
}

// Train trains a model on d with featurizer fz (FitProtocol or
// FitEngineered on d) the way the train command does: training origins
// whose targets lie in the training split, validation origins whose targets
// lie in the validation split, targets the changes from the window's last
// value in fz's units, standardised per output for the engineered recipe.
// The checkpoint's metadata (feature names, Target, Horizon, Scaler) lets
// FitFeaturizer rebuild fz from history.
func Train(ctx context.Context, d *Data, fz Featurizer, opt TrainOptions) (*perfpredict.Model, *perfpredict.History, error) {
	if err := d.check(); err != nil {
		return nil, nil, err
	}
	K := opt.Horizon
	if K == 0 {
		K = 30
	}
	stride := max(1, opt.Stride)
	cfg := opt.Config
	T := cfg.Steps
	if T == 0 {
		T = perfpredict.DefaultSteps
		cfg.Steps = T
	}
	rows, err := fz.Prepare(d)
	if err != nil {
		return nil, nil, err
	}
	metrics := fz.Metrics()
	cols, err := metricColumns(d, metrics)
	if err != nil {
		return nil, nil, err
	}
	sp := baseline.SplitOf(d.Len())
	F, M := len(fz.Names()), len(metrics)
	first := max(T-1, rows.First()+T-1)
	build := func(origins []int) ([]float32, []float64) {
		x := make([]float32, len(origins)*T*F)
		y := make([]float64, len(origins)*M*K)
		for i, t := range origins {
			rows.Window(x[i*T*F:(i+1)*T*F], t, T)
			for m, c := range cols {
				v := d.Values[c]
				for h := 1; h <= K; h++ {
					y[(i*M+m)*K+h-1] = (v[t+h] - v[t]) / fz.Unit(m)
				}
			}
		}
		return x, y
	}
	var to, vo []int
	for t := sp.Train - 1 - K; t >= first; t -= stride {
		to = append(to, t)
		if opt.MaxWindows > 0 && len(to) == opt.MaxWindows {
			break
		}
	}
	for t := max(sp.Train-1, first); t+K < sp.Fit(); t++ {
		vo = append(vo, t)
	}
	if len(to) < 2 {
		return nil, nil, fmt.Errorf("serve: %s: %d training windows of %d steps for horizon %d; need 2", d.Name, len(to), T, K)
	}
	xt, yt := build(to)
	xv, yv := build(vo)
	m, err := perfpredict.New(cfg, F, M*K)
	if err != nil {
		return nil, nil, err
	}
	m.FeatureNames, m.Horizon = fz.Names(), K
	if _, ok := fz.(*Protocol); ok {
		if M != 1 {
			return nil, nil, fmt.Errorf("serve: the protocol recipe predicts one metric, not %d", M)
		}
		m.Target = ProtocolTarget
	} else {
		m.Target = TargetName(metrics, true)
		m.Scaler = fitTargetScaler(yt, M*K)
	}
	f32 := func(y []float64) []float32 {
		out := make([]float32, len(y))
		row := make([]float64, M*K)
		for i := 0; i < len(y); i += M * K {
			copy(row, y[i:i+M*K])
			if m.Scaler != nil {
				m.Scaler.Scale(row)
			}
			for k, v := range row {
				out[i+k] = float32(v)
			}
		}
		return out
	}
	train, err := perfpredict.NewDataset(xt, f32(yt), len(to), T, F, M*K)
	if err != nil {
		return nil, nil, err
	}
	var val perfpredict.Dataset
	if len(vo) > 0 {
		if val, err = perfpredict.NewDataset(xv, f32(yv), len(vo), T, F, M*K); err != nil {
			return nil, nil, err
		}
	}
	var topts []perfpredict.TrainOption
	if opt.Progress != nil {
		topts = append(topts, perfpredict.WithProgress(opt.Progress))
	}
	hist, err := m.Train(ctx, train, val, topts...)
	if err != nil {
		return nil, hist, fmt.Errorf("serve: %s: training: %w", d.Name, err)
	}
	return m, hist, nil
}

// fitTargetScaler standardises each of k columns of y.
func fitTargetScaler(y []float64, k int) *perfpredict.TargetScaler {
	s := &perfpredict.TargetScaler{Mean: make([]float64, k), Std: make([]float64, k)}
	n := len(y) / k
	for j := range k {
		col := make([]float64, n)
		for i := range n {
			col[i] = y[i*k+j]
		}
		sc := baseline.FitScaler(col)
		s.Mean[j], s.Std[j] = sc.Mean, sc.SD
	}
	return s
}

// metricColumns maps predicted metrics to d's columns ("value" is a
// one-metric Data's only column).
func metricColumns(d *Data, metrics []string) ([]int, error) {
	cols := make([]int, len(metrics))
	for i, m := range metrics {
		c := d.Metric(m)
		if c < 0 && m == "value" && len(d.Metrics) == 1 {
			c = 0
		}
		if c < 0 {
			return nil, fmt.Errorf("serve: %s has no metric %q (it has %v)", d.Name, m, d.Metrics)
		}
		cols[i] = c
	}
	return cols, nil
}
