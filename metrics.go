package perfpredict

import (
	"fmt"
	"math"
)

// OutputMetrics scores the predictions of one output, with the definitions of
// the evaluation protocol (docs/PROTOCOL.md), e = prediction - truth:
// MSE = mean e^2, RMSE = sqrt(MSE), MAE = mean |e|,
// R2 = 1 - sum e^2 / sum (y - mean y)^2 (NaN when y is constant),
// MAPE = 100 * mean(|e|/|y|) over targets with |y| > 1e-9 (NaN when none),
// Accuracy5 = share of targets with |e| <= 0.05 |y|.
type OutputMetrics struct {
	N         int     `json:"n"`
	MSE       float64 `json:"mse"`
	RMSE      float64 `json:"rmse"`
	MAE       float64 `json:"mae"`
	R2        float64 `json:"r2"`
	MAPE      float64 `json:"mape"`
	Accuracy5 float64 `json:"accuracy5"`
}

// Metrics scores a model on a dataset, per output and over all outputs pooled.
type Metrics struct {
	// Outputs holds one entry per output, in order.
	Outputs []OutputMetrics `json:"outputs"`
	// All pools every output's targets (meaningful when they share units).
	All OutputMetrics `json:"all"`
	// OriginalUnits is true when the predictions and targets were converted
	// with the model's target scaler before scoring.
	OriginalUnits bool `json:"original_units"`
}

// Score computes Metrics for pred and truth, both [n, outputs] row-major.
// Slices of different lengths, or of a length that is not a multiple of
// outputs, are an error: they come from the caller's data, so they must not
// panic.
func Score(pred, truth []float64, outputs int) (Metrics, error) {
	switch {
	case outputs <= 0:
		return Metrics{}, fmt.Errorf("perfpredict: Score: %d outputs, want at least 1", outputs)
	case len(pred) != len(truth):
		return Metrics{}, fmt.Errorf("perfpredict: Score: %d predictions for %d targets", len(pred), len(truth))
	case len(pred)%outputs != 0:
		return Metrics{}, fmt.Errorf("perfpredict: Score: %d values are not rows of %d outputs", len(pred), outputs)
	}
	n := len(pred) / outputs
	m := Metrics{Outputs: make([]OutputMetrics, outputs)}
	for k := 0; k < outputs; k++ {
		m.Outputs[k] = scoreStrided(pred, truth, k, outputs, n)
	}
	m.All = scoreStrided(pred, truth, 0, 1, len(pred))
	return m, nil
}

// scoreStrided scores elements off, off+stride, ... (count of them).
func scoreStrided(pred, truth []float64, off, stride, count int) OutputMetrics {
	r := OutputMetrics{N: count}
	if count == 0 {
		nan := math.NaN()
		r.MSE, r.RMSE, r.MAE, r.R2, r.MAPE, r.Accuracy5 = nan, nan, nan, nan, nan, nan
		return r
	}
	var mean float64
	for i := 0; i < count; i++ {
		mean += truth[off+i*stride]
	}
	mean /= float64(count)
	var sse, sae, sst, ape float64
	var nape, within int
	for i := 0; i < count; i++ {
		y, p := truth[off+i*stride], pred[off+i*stride]
		e := p - y
		sse += e * e
		sae += math.Abs(e)
		sst += (y - mean) * (y - mean)
		if math.Abs(y) > 1e-9 {
			ape += math.Abs(e) / math.Abs(y)
			nape++
		}
		if math.Abs(e) <= 0.05*math.Abs(y) {
			within++
		}
	}
	fc := float64(count)
	r.MSE = sse / fc
	r.RMSE = math.Sqrt(r.MSE)
	r.MAE = sae / fc
	r.R2 = math.NaN()
	if sst > 0 {
		r.R2 = 1 - sse/sst
	}
	r.MAPE = math.NaN()
	if nape > 0 {
		r.MAPE = 100 * ape / float64(nape)
	}
	r.Accuracy5 = float64(within) / fc
	return r
}
