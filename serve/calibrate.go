package serve

import (
	"math"
	"slices"
)

// Calibration holds split-conformal residual paths: for each validation
// origin, the errors y - forecast of every metric at every step, from the
// model and from the fallback. Forecast plus a residual path drawn from it
// is the predictive distribution of the path: quantiles per step give the
// intervals, the share of paths crossing a threshold the breach
// probability, with the dependence between steps and metrics kept.
type Calibration struct {
	Metrics []string
	Horizon int
	// Model and Fallback hold one residual path per validation origin,
	// [metric*Horizon + h-1].
	Model, Fallback [][]float64

	sortedModel, sortedFallback [][]float64 // per output, ascending
}

func newCalibration(metrics []string, horizon int, model, fallback [][]float64) *Calibration {
	c := &Calibration{Metrics: metrics, Horizon: horizon, Model: model, Fallback: fallback}
	c.sortedModel = sortColumns(model, len(metrics)*horizon)
	c.sortedFallback = sortColumns(fallback, len(metrics)*horizon)
	return c
}

func sortColumns(paths [][]float64, k int) [][]float64 {
	if len(paths) == 0 {
		return nil
	}
	out := make([][]float64, k)
	for j := range k {
		col := make([]float64, 0, len(paths))
		for _, p := range paths {
			if !math.IsNaN(p[j]) {
				col = append(col, p[j])
			}
		}
		slices.Sort(col)
		out[j] = col
	}
	return out
}

// residuals returns the paths and sorted columns for a source.
func (c *Calibration) residuals(src Source) ([][]float64, [][]float64) {
	if src == SourceFallback || len(c.Model) == 0 {
		return c.Fallback, c.sortedFallback
	}
	return c.Model, c.sortedModel
}

// conformalQuantile is the split-conformal quantile at level q of sorted
// residuals: the ceil((n+1)q)-th smallest (clamped to the sample).
func conformalQuantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	r := int(math.Ceil(float64(n+1)*q)) - 1
	return sorted[max(0, min(n-1, r))]
}

// Threshold is a service level objective on one metric: breached when the
// metric goes above Above or below Below (nil: no bound).
type Threshold struct {
	Metric string   `json:"metric"`
	Above  *float64 `json:"above,omitempty"`
	Below  *float64 `json:"below,omitempty"`
	// Origin says where the bound came from ("p99 of training", "user").
	Origin string `json:"origin,omitempty"`
}

func (t Threshold) breached(v float64) bool {
	return (t.Above != nil && v > *t.Above) || (t.Below != nil && v < *t.Below)
}

// risk is the breach assessment of one forecast under a calibration.
type risk struct {
	pAny      float64   // P(any metric breaches within the horizon)
	pMetric   []float64 // per metric
	cum       []float64 // P(first breach at or before step h), [h-1]
	marginal  []float64 // per metric and step: P(breached at that step)
	firstStep int       // first step with cum >= 0.5 (0: none)
}

// assess computes the breach probabilities of the forecast pred [M*K] for
// the first horizon steps from residual paths, scaled per metric by scale.
func assess(pred []float64, K, horizon int, th []Threshold, paths [][]float64, scale []float64) risk {
	M := len(th)
	r := risk{pMetric: make([]float64, M), cum: make([]float64, horizon), marginal: make([]float64, M*horizon)}
	if len(paths) == 0 {
		return r
	}
	first := make([]int, horizon+1) // count of paths whose first breach is at step h
	for _, p := range paths {
		earliest := 0
		for m := range M {
			hit := false
			for h := 1; h <= horizon; h++ {
				v := pred[m*K+h-1] + scale[m]*p[m*K+h-1]
				if th[m].breached(v) {
					r.marginal[m*horizon+h-1]++
					if !hit {
						hit = true
						r.pMetric[m]++
					}
					if earliest == 0 || h < earliest {
						earliest = h
					}
				}
			}
		}
		if earliest > 0 {
			first[earliest]++
		}
	}
	n := float64(len(paths))
	acc := 0.0
	for h := 1; h <= horizon; h++ {
		acc += float64(first[h])
		r.cum[h-1] = acc / n
		if r.firstStep == 0 && r.cum[h-1] >= 0.5 {
			r.firstStep = h
		}
	}
	r.pAny = acc / n
	for m := range r.pMetric {
		r.pMetric[m] /= n
	}
	for i := range r.marginal {
		r.marginal[i] /= n
	}
	return r
}

// ReliabilityBin is one bin of a reliability table: forecasts whose
// probability fell in [Lo, Hi), their mean probability and how often the
// event happened.
type ReliabilityBin struct {
	Lo       float64 `json:"lo"`
	Hi       float64 `json:"hi"`
	N        int     `json:"n"`
	MeanProb float64 `json:"mean_prob"`
	Observed float64 `json:"observed"`
}

// Reliability bins probabilities and outcomes into bins equal-width bins.
func Reliability(probs []float64, events []bool, bins int) []ReliabilityBin {
	out := make([]ReliabilityBin, bins)
	for i := range out {
		out[i].Lo, out[i].Hi = float64(i)/float64(bins), float64(i+1)/float64(bins)
	}
	for i, p := range probs {
		b := min(bins-1, max(0, int(p*float64(bins))))
		out[b].N++
		out[b].MeanProb += p
		if events[i] {
			out[b].Observed++
		}
	}
	for i := range out {
		if out[i].N > 0 {
			out[i].MeanProb /= float64(out[i].N)
			out[i].Observed /= float64(out[i].N)
		} else {
			out[i].MeanProb, out[i].Observed = math.NaN(), math.NaN()
		}
	}
	return out
}
