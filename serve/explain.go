package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/novacron/perfpredict/baseline"
)

// Importance is one feature's permutation importance: how much the
// validation error grows when the feature's values are shuffled across
// windows.
type Importance struct {
	Feature string `json:"feature"`
	// Drop is the increase of the validation MSE (in the model's
	// standardised output units) with the feature permuted.
	Drop float64 `json:"score_drop"`
	// Share is Drop over the sum of the positive drops.
	Share float64 `json:"share"`
}

// AttentionRow is the mean attention weight k steps back (t-k), as in the
// seed's table.
type AttentionRow struct {
	Lag            int     `json:"lag"`
	Weight         float64 `json:"weight"`
	Interpretation string  `json:"interpretation"`
}

// Attribution is one feature's integrated gradient.
type Attribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
}

// Explanation is Explain's answer.
type Explanation struct {
	// BaseMSE is the validation MSE (standardised output units) the drops
	// are measured against, over Windows validation windows.
	BaseMSE    float64        `json:"base_mse"`
	Windows    int            `json:"windows"`
	Importance []Importance   `json:"feature_importance"`
	Attention  []AttentionRow `json:"attention"`
	// Integrated gradients of IGTarget (the mean forecast of the first
	// metric over the horizon, original units) for the latest window,
	// against the all-zero (training mean) window, grouped by feature;
	// IGDelta = f(x) - f(baseline), IGGap = |sum - IGDelta| (completeness).
	IG       []Attribution `json:"integrated_gradients"`
	IGTarget string        `json:"ig_target"`
	IGDelta  float64       `json:"ig_delta"`
	IGGap    float64       `json:"ig_gap"`
}

// ExplainOptions tune Explain.
type ExplainOptions struct {
	// Repeats of each permutation (default 3); Seed seeds them.
	Repeats int
	Seed    uint64
	// MaxWindows caps the validation windows used (default 512, the most
	// recent).
	MaxWindows int
	// IGSteps is the number of points on the integration path (default 16).
	IGSteps int
}

// AttentionLags are the rows of the seed's attention table.
var AttentionLags = []int{60, 30, 10, 5, 1}

// Explain explains the model: permutation importance and mean attention on
// history's validation split, integrated gradients on recent's last window.
// The model has no input-gradient API, so the gradients are central finite
// differences along each feature's slice of the path (exact IG up to the
// difference and Riemann errors; IGGap reports the completeness error).
func (s *Service) Explain(ctx context.Context, history, recent *Data, opt ExplainOptions) (*Explanation, error) {
	net := s.Predictor.model
	if net == nil {
		return nil, errors.New("serve: explain needs a model")
	}
	if opt.Repeats <= 0 {
		opt.Repeats = 3
	}
	if opt.MaxWindows <= 0 {
		opt.MaxWindows = 512
	}
	if opt.IGSteps <= 0 {
		opt.IGSteps = 16
	}
	rows, cols, err := s.prepare(history)
	if err != nil {
		return nil, err
	}
	T, F, K := s.Spec.Steps, s.Spec.Inputs, s.Spec.Outputs()
	H := s.Spec.Horizon
	split := baseline.SplitOf(history.Len())
	var origins []int
	for t := max(split.Train-1, rows.First()+T-1); t+H < split.Fit(); t++ {
		origins = append(origins, t)
	}
	if len(origins) > opt.MaxWindows {
		origins = origins[len(origins)-opt.MaxWindows:]
	}
	if len(origins) < 2 {
		return nil, fmt.Errorf("serve: %s: %d validation windows; need 2", history.Name, len(origins))
	}
	n := len(origins)
	x := make([]float32, n*T*F)
	y := make([]float64, n*K) // targets in standardised output units
	sc := s.Spec.Scaler
	for i, t := range origins {
		rows.Window(x[i*T*F:(i+1)*T*F], t, T)
		for m, c := range cols {
			for h := 1; h <= H; h++ {
				k := m*H + h - 1
				v := history.Values[c][t+h]
				if s.Spec.Delta {
					v -= history.Values[c][t]
				}
				if sc != nil {
					v = (v - sc.Mean[k]) / sc.Std[k]
				}
				y[i*K+k] = v
			}
		}
	}
	pred := make([]float32, n*K)
	att := make([]float32, n*T)
	mse := func(xx []float32, weights []float32) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := net.PredictInto(pred, weights, xx, n, T); err != nil {
			return 0, err
		}
		sum := 0.0
		for i, v := range pred {
			e := float64(v) - y[i]
			sum += e * e
		}
		return sum / float64(len(pred)), nil
	}
	ex := &Explanation{Windows: n}
	if ex.BaseMSE, err = mse(x, att); err != nil {
		return nil, err
	}
	// Attention by lag.
	for _, lag := range AttentionLags {
		if lag > T {
			continue
		}
		w := 0.0
		for i := range n {
			w += float64(att[i*T+T-lag])
		}
		w /= float64(n)
		ex.Attention = append(ex.Attention, AttentionRow{Lag: lag, Weight: w, Interpretation: interpretAttention(w, T, lag)})
	}
	// Permutation importance.
	rng := rand.New(rand.NewPCG(opt.Seed, 0x5e7e))
	xp := make([]float32, len(x))
	perm := make([]int, n)
	total := 0.0
	for f := range F {
		drop := 0.0
		for range opt.Repeats {
			copy(xp, x)
			for i := range perm {
				perm[i] = i
			}
			rng.Shuffle(n, func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
			for i, j := range perm {
				for r := range T {
					xp[(i*T+r)*F+f] = x[(j*T+r)*F+f]
				}
			}
			v, err := mse(xp, nil)
			if err != nil {
				return nil, err
			}
			drop += v - ex.BaseMSE
		}
		drop /= float64(opt.Repeats)
		name := fmt.Sprint("feature ", f)
		if s.Spec.Features != nil {
			name = s.Spec.Features[f]
		}
		ex.Importance = append(ex.Importance, Importance{Feature: name, Drop: drop})
		total += max(0, drop)
	}
	for i := range ex.Importance {
		if total > 0 {
			ex.Importance[i].Share = max(0, ex.Importance[i].Drop) / total
		}
	}
	slices.SortStableFunc(ex.Importance, func(a, b Importance) int { return cmpDesc(a.Drop, b.Drop) })
	// Integrated gradients on recent's last window.
	rrows, _, err := s.prepare(recent)
	if err != nil {
		return nil, err
	}
	win := make([]float32, T*F)
	rrows.Window(win, recent.Len()-1, T)
	if err := s.integratedGradients(ex, win, opt.IGSteps); err != nil {
		return nil, err
	}
	return ex, nil
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// interpretAttention words a weight against the uniform 1/T, as the seed's
// table does.
func interpretAttention(w float64, T, lag int) string {
	r := w * float64(T)
	level := "low importance"
	switch {
	case r >= 4:
		level = "critical"
	case r >= 2:
		level = "very high"
	case r >= 1.2:
		level = "high"
	case r >= 0.8:
		level = "moderate"
	}
	what := "distant past"
	switch {
	case lag == 1:
		what = "latest measurement"
	case lag <= 5:
		what = "immediate context"
	case lag <= 10:
		what = "recent trend"
	case lag <= 30:
		what = "half-hour pattern"
	}
	return fmt.Sprintf("%s (%s, %.1fx uniform)", level, what, r)
}

// integratedGradients fills ex.IG for window x (the first metric's mean
// forecast over the horizon, in original units).
func (s *Service) integratedGradients(ex *Explanation, x []float32, steps int) error {
	net := s.Predictor.model
	T, F, H := s.Spec.Steps, s.Spec.Inputs, s.Spec.Horizon
	K := s.Spec.Outputs()
	sc := s.Spec.Scaler
	target := func(pred []float32) float64 { // mean over steps of metric 0, original units (up to the constant last value)
		v := 0.0
		for h := range H {
			p := float64(pred[h])
			if sc != nil {
				p = p*sc.Std[h] + sc.Mean[h]
			}
			v += p
		}
		return v / float64(H)
	}
	const eps = 1e-2
	batch := 2*F + 2
	xs := make([]float32, batch*T*F)
	pred := make([]float32, batch*K)
	ig := make([]float64, F)
	var fx, f0 float64
	for j := range steps {
		alpha := (float64(j) + 0.5) / float64(steps)
		for b := range batch {
			dst := xs[b*T*F : (b+1)*T*F]
			for i, v := range x {
				dst[i] = float32(alpha) * v
			}
		}
		for f := range F {
			for _, sign := range []int{0, 1} {
				dst := xs[(2*f+sign)*T*F : (2*f+sign+1)*T*F]
				d := float32(eps)
				if sign == 1 {
					d = -d
				}
				for r := range T {
					dst[r*F+f] += d * x[r*F+f]
				}
			}
		}
		// The last two rows: the path's ends (x and the zero baseline).
		copy(xs[2*F*T*F:(2*F+1)*T*F], x)
		clear(xs[(2*F+1)*T*F:])
		if err := net.PredictInto(pred, nil, xs, batch, T); err != nil {
			return err
		}
		for f := range F {
			up, down := target(pred[2*f*K:]), target(pred[(2*f+1)*K:])
			ig[f] += (up - down) / (2 * eps) / float64(steps)
		}
		fx, f0 = target(pred[2*F*K:]), target(pred[(2*F+1)*K:])
	}
	sum := 0.0
	for f := range F {
		name := fmt.Sprint("feature ", f)
		if s.Spec.Features != nil {
			name = s.Spec.Features[f]
		}
		ex.IG = append(ex.IG, Attribution{Feature: name, Value: ig[f]})
		sum += ig[f]
	}
	slices.SortStableFunc(ex.IG, func(a, b Attribution) int { return cmpDesc(math.Abs(a.Value), math.Abs(b.Value)) })
	ex.IGTarget = fmt.Sprintf("mean forecast of %s over steps 1..%d", s.Spec.Metrics[0], H)
	ex.IGDelta = fx - f0
	ex.IGGap = math.Abs(sum - ex.IGDelta)
	return nil
}
