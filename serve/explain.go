package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// Importance is one input channel's permutation importance: how much the
// validation error grows when the channel's values are shuffled across
// windows.
type Importance struct {
	Feature string `json:"feature"`
	// Drop is the increase of the validation MAE (in units: the mean
	// absolute one-step change, what the networks minimise) with the
	// channel permuted.
	Drop float64 `json:"score_drop"`
	// Share is Drop over the sum of the positive drops.
	Share float64 `json:"share"`
}

// AttentionRow is the mean attention weight on the step Back steps before
// the last observation (0: the last observation), Ago before it in time.
type AttentionRow struct {
	Back           int           `json:"steps_back"`
	Ago            time.Duration `json:"ago_ns"`
	Label          string        `json:"label"` // "now", "2h30m ago"
	Weight         float64       `json:"weight"`
	Interpretation string        `json:"interpretation"`
}

// Attribution is one input channel's integrated gradient.
type Attribution struct {
	Feature string  `json:"feature"`
	Value   float64 `json:"value"`
}

// Explanation is Explain's answer.
type Explanation struct {
	// BaseMAE is the validation MAE (units) of the forecaster over Windows
	// validation windows, pooled over horizons and metrics; the drops are
	// measured against it.
	BaseMAE    float64        `json:"base_mae"`
	Windows    int            `json:"windows"`
	Networks   int            `json:"networks"`
	Importance []Importance   `json:"feature_importance"`
	Attention  []AttentionRow `json:"attention"`
	// Integrated gradients of IGTarget (the mean forecast of the first
	// metric over the horizon, original units) on the latest window of
	// recent, from the flat window (no change: every input 0), by input
	// channel; IGDelta = f(x) - f(flat), IGGap = |sum - IGDelta|
	// (completeness).
	IG       []Attribution `json:"integrated_gradients"`
	IGTarget string        `json:"ig_target"`
	IGDelta  float64       `json:"ig_delta"`
	IGGap    float64       `json:"ig_gap"`
}

// ExplainOptions tune Explain.
type ExplainOptions struct {
	// Repeats of each permutation (0: 3); Seed seeds them.
	Repeats int
	Seed    uint64
	// MaxWindows caps the validation windows used (0: 512, the most
	// recent, shared among the metrics).
	MaxWindows int
	// IGSteps is the number of points on the integration path (0: 16).
	IGSteps int
}

// attentionBacks are the steps back the attention table shows (those
// within the window, and the window's first step).
func attentionBacks(T int) []int {
	var out []int
	for _, b := range [...]int{0, 1, 5, 10, 30} {
		if b < T {
			out = append(out, b)
		}
	}
	if !slices.Contains(out, T-1) {
		out = append(out, T-1)
	}
	return out
}

// Explain explains the served forecaster as it forecasts: its inputs are
// the forecaster's own (Forecaster.Inputs), its outputs the mean of its
// networks. Permutation importance and mean attention come from the
// validation split of history (PROTOCOL.md's 70-85%, every served
// metric), integrated gradients from the last window of recent's first
// metric. The networks expose no input gradient, so the gradients are
// central finite differences along each channel's slice of the path
// (exact IG up to the difference and Riemann errors; IGGap reports the
// completeness error).
func (s *Service) Explain(ctx context.Context, history, recent []baseline.Series, opt ExplainOptions) (*Explanation, error) {
	fc := s.Predictor.Forecaster()
	if fc == nil {
		return nil, errors.New("serve: explain needs a forecaster")
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
	cols, err := s.columns(history)
	if err != nil {
		return nil, err
	}
	r := fc.Recipe()
	T, F, K, needs := r.Window, len(r.Inputs), r.Horizon, fc.Needs()
	names := make([]string, F)
	for i, in := range r.Inputs {
		names[i] = in.String()
	}
	split := baseline.SplitOf(rows(history))
	per := max(1, opt.MaxWindows/len(cols))
	var x []float32
	var y []float64 // targets in units
	for _, c := range cols {
		v := history[c].Values
		var origins []int
		for t := max(split.Train-1, needs-1); t+K < split.Fit(); t++ {
			origins = append(origins, t)
		}
		if len(origins) > per {
			origins = origins[len(origins)-per:]
		}
		for _, t := range origins {
			xi, u, err := fc.Inputs(v[:t+1])
			if err != nil {
				return nil, fmt.Errorf("%s%s at row %d: %w", prefix(s.name), history[c].Name, t+1, err)
			}
			x = append(x, xi...)
			for h := 1; h <= K; h++ {
				y = append(y, (v[t+h]-v[t])/u)
			}
		}
	}
	n := len(y) / K
	if n < 2 {
		return nil, fmt.Errorf("%s%d validation windows (%d rows; a window needs %d rows and %d more for its targets); need 2: %w",
			prefix(s.name), n, rows(history), needs, K, ErrBadInput)
	}
	ens := ensemble{fc: fc, T: T, K: K}
	pred := make([]float64, n*K)
	att := make([]float64, n*T)
	mae := func(xx []float32, att []float64) (float64, error) {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := ens.predict(pred, att, xx, n); err != nil {
			return 0, err
		}
		sum := 0.0
		for i, p := range pred {
			sum += math.Abs(p - y[i])
		}
		return sum / float64(len(pred)), nil
	}
	ex := &Explanation{Windows: n, Networks: fc.Members()}
	if ex.BaseMAE, err = mae(x, att); err != nil {
		return nil, err
	}
	for _, back := range attentionBacks(T) {
		w := 0.0
		for i := range n {
			w += att[i*T+T-1-back]
		}
		w /= float64(n)
		ago := time.Duration(back) * s.Cadence
		ex.Attention = append(ex.Attention, AttentionRow{Back: back, Ago: ago, Label: agoLabel(ago), Weight: w,
			Interpretation: interpretAttention(w, T, ago)})
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
			v, err := mae(xp, nil)
			if err != nil {
				return nil, err
			}
			drop += v - ex.BaseMAE
		}
		drop /= float64(opt.Repeats)
		ex.Importance = append(ex.Importance, Importance{Feature: names[f], Drop: drop})
		total += max(0, drop)
	}
	for i := range ex.Importance {
		if total > 0 {
			ex.Importance[i].Share = max(0, ex.Importance[i].Drop) / total
		}
	}
	slices.SortStableFunc(ex.Importance, func(a, b Importance) int { return cmpDesc(a.Drop, b.Drop) })
	// Integrated gradients on recent's last window of the first metric.
	rcols, err := s.columns(recent)
	if err != nil {
		return nil, err
	}
	v := recent[rcols[0]].Values
	win, u, err := fc.Inputs(v)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", prefix(s.name), s.Metrics[0], err)
	}
	if err := ens.integratedGradients(ex, win, u, opt.IGSteps, names); err != nil {
		return nil, err
	}
	ex.IGTarget = fmt.Sprintf("mean forecast of %s over steps 1..%d", s.Metrics[0], K)
	return ex, nil
}

// ensemble runs the forecaster's networks on raw inputs and averages them
// as Forecast does.
type ensemble struct {
	fc   *forecast.Forecaster
	T, K int
}

// predict writes the mean outputs [n, K] (units) and, when att is not
// nil, the mean attention [n, T] for windows x [n, T, F].
func (e ensemble) predict(pred, att []float64, x []float32, n int) error {
	p := make([]float32, n*e.K)
	var w []float32
	if att != nil {
		w = make([]float32, n*e.T)
		clear(att)
	}
	clear(pred)
	inv := 1 / float64(e.fc.Members())
	for i := range e.fc.Members() {
		if err := e.fc.Network(i).PredictInto(p, w, x, n, e.T); err != nil {
			return fmt.Errorf("serve: network %d: %w", i+1, err)
		}
		for j, v := range p {
			pred[j] += float64(v) * inv
		}
		for j, v := range w {
			att[j] += float64(v) * inv
		}
	}
	return nil
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

// agoLabel writes d compactly: "now", "5m ago", "2h30m ago", "1d2h ago".
func agoLabel(d time.Duration) string {
	if d <= 0 {
		return "now"
	}
	var b strings.Builder
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if k := d / u.d; k > 0 {
			fmt.Fprintf(&b, "%d%s", k, u.name)
			d -= k * u.d
		}
	}
	if b.Len() == 0 {
		return d.String() + " ago"
	}
	return b.String() + " ago"
}

// interpretAttention words a weight against the uniform 1/T and the time
// it looks back.
func interpretAttention(w float64, T int, ago time.Duration) string {
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
	what := "daily pattern or older"
	switch {
	case ago == 0:
		what = "latest measurement"
	case ago <= 15*time.Minute:
		what = "immediate context"
	case ago <= time.Hour:
		what = "recent trend"
	case ago <= 6*time.Hour:
		what = "pattern over hours"
	}
	return fmt.Sprintf("%s (%s, %.1fx uniform)", level, what, r)
}

// integratedGradients fills ex.IG for window x with unit u: the target is
// the mean forecast over the horizon in original units less the last
// value, u * mean(outputs).
func (e ensemble) integratedGradients(ex *Explanation, x []float32, u float64, steps int, names []string) error {
	T, K := e.T, e.K
	F := len(x) / T
	target := func(pred []float64) float64 {
		v := 0.0
		for _, p := range pred[:K] {
			v += p
		}
		return u * v / float64(K)
	}
	const eps = 1e-2
	batch := 2*F + 2
	xs := make([]float32, batch*T*F)
	pred := make([]float64, batch*K)
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
			for sign := range 2 {
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
		// The last two rows: the path's ends (x and the flat window).
		copy(xs[2*F*T*F:(2*F+1)*T*F], x)
		clear(xs[(2*F+1)*T*F:])
		if err := e.predict(pred, nil, xs, batch); err != nil {
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
		ex.IG = append(ex.IG, Attribution{Feature: names[f], Value: ig[f]})
		sum += ig[f]
	}
	slices.SortStableFunc(ex.IG, func(a, b Attribution) int { return cmpDesc(math.Abs(a.Value), math.Abs(b.Value)) })
	ex.IGDelta = fx - f0
	ex.IGGap = math.Abs(sum - ex.IGDelta)
	return nil
}
