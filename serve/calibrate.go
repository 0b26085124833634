package serve

import (
	"math"
	"slices"
)

// Calibration holds split-conformal residual paths: for each validation
// origin, the errors y - forecast of every metric at every step, from the
// model and from the fallback. Forecast plus a residual path drawn from it
// is the predictive distribution of the path: quantiles per step give the
// intervals, the share of paths crossing a threshold the raw breach
// probability, with the dependence between steps and metrics kept.
//
// The raw probability of a breach within the horizon is then recalibrated
// by ModelMap or FallbackMap, fitted on the same origins cross-fitted: the
// raw probability at each origin comes from the paths of the other
// origins, leaving out those whose horizon overlaps its own (their outcomes
// are its outcomes), so every pair (raw probability, breach followed) is
// held out from the paths that produced it.
type Calibration struct {
	Metrics []string
	Horizon int
	// Model and Fallback hold one residual path per validation origin,
	// [metric*Horizon + h-1].
	Model, Fallback [][]float64
	// ModelMap and FallbackMap recalibrate the probability of a breach
	// within Horizon steps (nil: too few origins; identity).
	ModelMap, FallbackMap *ProbabilityMap

	sortedModel, sortedFallback [][]float64 // per output, ascending
	modelPairs, fallbackPairs   []probPair  // the maps' held-out pairs
}

func newCalibration(metrics []string, horizon int, model, fallback [][]float64, modelPairs, fallbackPairs []probPair) *Calibration {
	c := &Calibration{Metrics: metrics, Horizon: horizon, Model: model, Fallback: fallback,
		modelPairs: modelPairs, fallbackPairs: fallbackPairs}
	c.sortedModel = sortColumns(model, len(metrics)*horizon)
	c.sortedFallback = sortColumns(fallback, len(metrics)*horizon)
	c.ModelMap = fitForHorizon(modelPairs, horizon)
	c.FallbackMap = fitForHorizon(fallbackPairs, horizon)
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

// residuals returns the paths, sorted columns and probability map for a
// source.
func (c *Calibration) residuals(src Source) ([][]float64, [][]float64, *ProbabilityMap) {
	if src == SourceFallback || len(c.Model) == 0 {
		return c.Fallback, c.sortedFallback, c.FallbackMap
	}
	return c.Model, c.sortedModel, c.ModelMap
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
	raw       float64   // pAny before recalibration
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
	r.raw = r.pAny
	for m := range r.pMetric {
		r.pMetric[m] /= n
	}
	for i := range r.marginal {
		r.marginal[i] /= n
	}
	return r
}

// recalibrate maps the probabilities of a breach within the horizon (any
// metric, per metric, and by step: the map is monotone, so the cumulative
// curve stays non-decreasing) and moves the first likely breach to the
// first step whose mapped cumulative probability reaches 0.5. The
// per-step marginals stay the conformal ones: they match the intervals.
func (r *risk) recalibrate(m *ProbabilityMap) {
	if m == nil {
		return
	}
	r.pAny = m.Apply(r.pAny)
	for i := range r.pMetric {
		r.pMetric[i] = m.Apply(r.pMetric[i])
	}
	r.firstStep = 0
	for h := range r.cum {
		r.cum[h] = m.Apply(r.cum[h])
		if r.firstStep == 0 && r.cum[h] >= 0.5 {
			r.firstStep = h + 1
		}
	}
}

// Caps on crossFit's work (see there).
const (
	crossFitOrigins = 4096
	crossFitPaths   = 4096
)

// anyBreach reports whether forecast pred [M*K] plus residual path p
// (scaled per metric) breaches any threshold within horizon steps.
func anyBreach(pred, p []float64, K, horizon int, th []Threshold, scale []float64) bool {
	for m := range th {
		for h := 0; h < horizon; h++ {
			if th[m].breached(pred[m*K+h] + scale[m]*p[m*K+h]) {
				return true
			}
		}
	}
	return false
}

// crossFit returns the held-out pairs of origins (rows of the data, in
// increasing order) with forecasts preds, scales and outcomes events: the
// raw probability at origin i from the paths of the origins j with
// |origin j - origin i| >= K (paths[j] belongs to origins[j]; nil paths
// are skipped).
//
// The work grows with the square of the origins: past crossFitOrigins
// origins every s-th is scored, past crossFitPaths paths every s-th path
// scores (neighbouring origins are nearly the same evidence anyway).
func crossFit(origins []int, preds, paths, scales [][]float64, events []bool, K, horizon int, th []Threshold) []probPair {
	oStride := max(1, (len(origins)+crossFitOrigins-1)/crossFitOrigins)
	pStride := max(1, (len(origins)+crossFitPaths-1)/crossFitPaths)
	out := make([]probPair, 0, len(origins)/oStride+1)
	for i := 0; i < len(origins); i += oStride {
		ti := origins[i]
		if preds[i] == nil {
			continue
		}
		hits, n := 0, 0
		for j := 0; j < len(origins); j += pStride {
			if tj := origins[j]; paths[j] == nil || tj > ti-K && tj < ti+K {
				continue
			}
			n++
			if anyBreach(preds[i], paths[j], K, horizon, th, scales[i]) {
				hits++
			}
		}
		if n > 0 {
			out = append(out, probPair{float64(hits) / float64(n), events[i]})
		}
	}
	return out
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

// BrierScore is the mean squared difference between probabilities and
// outcomes (0 or 1).
func BrierScore(probs []float64, events []bool) float64 {
	sum := 0.0
	for i, p := range probs {
		o := 0.0
		if events[i] {
			o = 1
		}
		sum += (p - o) * (p - o)
	}
	return sum / float64(len(probs))
}

// ECE is the expected calibration error of a reliability table: the
// count-weighted mean gap between mean probability and observed frequency.
func ECE(bins []ReliabilityBin) float64 {
	sum, n := 0.0, 0
	for _, b := range bins {
		if b.N > 0 {
			sum += float64(b.N) * math.Abs(b.MeanProb-b.Observed)
			n += b.N
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}
