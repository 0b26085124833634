package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Rule is how an Ensemble combines its members' forecasts.
type Rule uint8

// Combination rules.
const (
	Mean     Rule = iota // the plain mean
	Median               // the median per output (robust to one bad member)
	Weighted             // weights, e.g. InverseErrorWeights of validation MSEs
)

func (r Rule) String() string {
	switch r {
	case Mean:
		return "mean"
	case Median:
		return "median"
	case Weighted:
		return "weighted"
	}
	return "unknown"
}

// Ensemble combines Predictors of the same metrics and horizon. Members
// answering from their fallback are left out while any member's model
// answers; a member's error leaves it out. It is safe for concurrent use.
type Ensemble struct {
	Members []*Predictor
	Rule    Rule
	// Weights per member for Weighted (normalised over the members that
	// answer).
	Weights []float64
	name    string
}

// NewEnsemble checks that the members agree on metrics and horizon.
func NewEnsemble(rule Rule, weights []float64, members ...*Predictor) (*Ensemble, error) {
	if len(members) == 0 {
		return nil, errors.New("serve: ensemble of no members")
	}
	sp := members[0].Spec()
	for i, m := range members[1:] {
		if s := m.Spec(); !slices.Equal(s.Metrics, sp.Metrics) || s.Horizon != sp.Horizon {
			return nil, fmt.Errorf("serve: ensemble member %d predicts %v for %d steps, member 0 %v for %d", i+1, s.Metrics, s.Horizon, sp.Metrics, sp.Horizon)
		}
	}
	if rule == Weighted {
		if len(weights) != len(members) {
			return nil, fmt.Errorf("serve: %d weights for %d ensemble members", len(weights), len(members))
		}
		for i, w := range weights {
			if !(w >= 0) || math.IsInf(w, 0) {
				return nil, fmt.Errorf("serve: ensemble weight %d is %v", i, w)
			}
		}
	}
	return &Ensemble{Members: members, Rule: rule, Weights: weights, name: "ensemble(" + rule.String() + ")"}, nil
}

// InverseErrorWeights weights members by 1/MSE on validation, normalised.
func InverseErrorWeights(mse []float64) []float64 {
	w := make([]float64, len(mse))
	sum := 0.0
	for i, e := range mse {
		if e > 0 && !math.IsInf(e, 0) {
			w[i] = 1 / e
			sum += w[i]
		}
	}
	for i := range w {
		if sum > 0 {
			w[i] /= sum
		}
	}
	return w
}

// MSE is the mean squared validation residual of the model (the fallback's
// when no model residuals were recorded), pooled over metrics and steps.
func (c *Calibration) MSE() float64 {
	paths, _, _ := c.residuals(SourceModel)
	sum, n := 0.0, 0
	for _, p := range paths {
		for _, r := range p {
			if !math.IsNaN(r) {
				sum += r * r
				n++
			}
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Predict asks every member and combines their answers. Windows are given
// per member (members may read different features); a single window is
// used for all when len(ws) == 1.
func (e *Ensemble) Predict(ctx context.Context, ws ...Window) (Prediction, error) {
	if len(ws) != 1 && len(ws) != len(e.Members) {
		return Prediction{}, fmt.Errorf("serve: ensemble of %d members given %d windows", len(e.Members), len(ws))
	}
	answers := make([]Prediction, len(e.Members))
	var errs []error
	models := 0
	for i, m := range e.Members {
		w := ws[0]
		if len(ws) > 1 {
			w = ws[i]
		}
		if err := m.PredictInto(ctx, &w, &answers[i]); err != nil {
			errs = append(errs, fmt.Errorf("member %d: %w", i, err))
			answers[i].Source = 0
			continue
		}
		if answers[i].Source == SourceModel {
			models++
		}
	}
	var use []int
	for i, a := range answers {
		if a.Source == SourceModel || (models == 0 && a.Source == SourceFallback) {
			use = append(use, i)
		}
	}
	if len(use) == 0 {
		return Prediction{}, fmt.Errorf("serve: no ensemble member answered: %w", errors.Join(errs...))
	}
	first := answers[use[0]]
	out := Prediction{Values: make([]float64, len(first.Values)), Metrics: first.Metrics, Horizon: first.Horizon,
		Source: SourceEnsemble, Method: e.name, Version: e.version(use, answers)}
	if models == 0 {
		out.Reason = first.Reason
	}
	w := make([]float64, len(use))
	sum := 0.0
	for j, i := range use {
		w[j] = 1
		if e.Rule == Weighted {
			w[j] = e.Weights[i]
		}
		sum += w[j]
	}
	if sum == 0 {
		for j := range w {
			w[j] = 1
		}
		sum = float64(len(w))
	}
	vals := make([]float64, len(use))
	for k := range out.Values {
		if e.Rule == Median {
			for j, i := range use {
				vals[j] = answers[i].Values[k]
			}
			slices.Sort(vals)
			if n := len(vals); n%2 == 1 {
				out.Values[k] = vals[n/2]
			} else {
				out.Values[k] = (vals[n/2-1] + vals[n/2]) / 2
			}
			continue
		}
		v := 0.0
		for j, i := range use {
			v += w[j] * answers[i].Values[k]
		}
		out.Values[k] = v / sum
	}
	// Attention: the weighted mean when every answering member has it.
	T := len(first.Attention)
	if T > 0 {
		att := make([]float32, T)
		ok := true
		for j, i := range use {
			if len(answers[i].Attention) != T {
				ok = false
				break
			}
			for t, a := range answers[i].Attention {
				att[t] += float32(w[j]/sum) * a
			}
		}
		if ok {
			out.Attention = att
		}
	}
	return out, nil
}

func (e *Ensemble) version(use []int, answers []Prediction) string {
	v := ""
	for j, i := range use {
		if j > 0 {
			v += "+"
		}
		v += answers[i].Version
	}
	return v
}
