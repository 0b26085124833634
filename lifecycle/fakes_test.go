package lifecycle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
)

// arModel is a ridge autoregression on the target column, the stand-in for
// the LSTM in these tests: y[t+1] = b + sum_k w[k] y[t-k].
type arModel struct {
	W []float64 `json:"w"`
	B float64   `json:"b"`
	// Mean, if set, makes a broken model that always forecasts it.
	Mean *float64 `json:"mean,omitempty"`
}

func (m *arModel) Forecast(h []Sample, horizon int) ([]float64, error) {
	p := len(m.W)
	if len(h) < p {
		return nil, fmt.Errorf("ar: need %d samples of history, got %d", p, len(h))
	}
	buf := make([]float64, 0, p+horizon)
	for _, s := range h[len(h)-p:] {
		buf = append(buf, s.Values[0])
	}
	out := make([]float64, horizon)
	for k := range out {
		if m.Mean != nil {
			out[k] = *m.Mean
			continue
		}
		y := m.B
		for j, w := range m.W {
			y += w * buf[len(buf)-1-j]
		}
		buf = append(buf, y)
		out[k] = y
	}
	return out, nil
}

// fitAR solves the ridge normal equations (centred, intercept free).
func fitAR(y []float64, p int, alpha float64) (*arModel, error) {
	n := len(y) - p
	if n < 2*p {
		return nil, fmt.Errorf("ar: %d samples for order %d", len(y), p)
	}
	mu := make([]float64, p)
	tm := 0.0
	for t := p; t < len(y); t++ {
		tm += y[t]
		for j := 0; j < p; j++ {
			mu[j] += y[t-1-j]
		}
	}
	tm /= float64(n)
	for j := range mu {
		mu[j] /= float64(n)
	}
	a := make([][]float64, p)
	for i := range a {
		a[i] = make([]float64, p+1)
		a[i][i] = alpha
	}
	for t := p; t < len(y); t++ {
		for i := 0; i < p; i++ {
			xi := y[t-1-i] - mu[i]
			for j := 0; j < p; j++ {
				a[i][j] += xi * (y[t-1-j] - mu[j])
			}
			a[i][p] += xi * (y[t] - tm)
		}
	}
	// Gaussian elimination with partial pivoting.
	for c := 0; c < p; c++ {
		piv := c
		for r := c + 1; r < p; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[piv][c]) {
				piv = r
			}
		}
		a[c], a[piv] = a[piv], a[c]
		if a[c][c] == 0 {
			return nil, errors.New("ar: singular")
		}
		for r := 0; r < p; r++ {
			if r != c {
				f := a[r][c] / a[c][c]
				for k := c; k <= p; k++ {
					a[r][k] -= f * a[c][k]
				}
			}
		}
	}
	m := &arModel{W: make([]float64, p), B: tm}
	for i := range m.W {
		m.W[i] = a[i][p] / a[i][i]
		m.B -= m.W[i] * mu[i]
	}
	return m, nil
}

// arTrainer fits arModel checkpoints (JSON). Broken lists the call numbers
// (1-based) that produce a mean-only model, to test the promotion gate.
type arTrainer struct {
	mu     sync.Mutex
	calls  int
	Order  int
	Broken map[int]bool
	// Gate, if set, is waited on inside Train (to hold a training open).
	Gate chan struct{}
}

func (tr *arTrainer) Train(ctx context.Context, req TrainRequest) (TrainResult, error) {
	tr.mu.Lock()
	tr.calls++
	call := tr.calls
	tr.mu.Unlock()
	if tr.Gate != nil {
		select {
		case <-tr.Gate:
		case <-ctx.Done():
			return TrainResult{}, ctx.Err()
		}
	}
	y := make([]float64, len(req.Train))
	for i, s := range req.Train {
		y[i] = s.Values[0]
	}
	// Last 15% for the trainer's own validation.
	nv := len(y) * 15 / 100
	m, err := fitAR(y[:len(y)-nv], tr.Order, 1)
	if err != nil {
		return TrainResult{}, err
	}
	if tr.Broken[call] {
		mean := 0.0
		for _, v := range y {
			mean += v
		}
		mean /= float64(len(y))
		m.Mean = &mean
	}
	val, err := HoldoutEvaluator{}.Evaluate(ctx, m, req.Train[:len(y)-nv], req.Train[len(y)-nv:])
	if err != nil {
		return TrainResult{}, err
	}
	b, _ := json.Marshal(m)
	path := filepath.Join(req.Dir, "model.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return TrainResult{}, err
	}
	return TrainResult{Checkpoint: path, Validation: val, Features: []string{"value"},
		Extra: map[string]string{"kind": "ridge-ar", "order": fmt.Sprint(tr.Order), "call": fmt.Sprint(call)}}, nil
}

type arLoader struct{}

func (arLoader) Load(_ context.Context, path string) (Forecaster, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m arModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("ar checkpoint %s: %w", path, err)
	}
	if len(m.W) == 0 && m.Mean == nil {
		return nil, fmt.Errorf("ar checkpoint %s: no coefficients", path)
	}
	return &m, nil
}
