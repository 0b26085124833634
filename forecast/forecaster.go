package forecast

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	perfpredict "github.com/novacron/perfpredict"
)

// memberTarget is what member networks predict, saved in their checkpoints.
const memberTarget = "forecast.delta_over_unit"

// Forecaster is a trained recipe: its networks, their calibration and the
// recipe that featurises a history. It is safe for concurrent use.
type Forecaster struct {
	recipe    Recipe
	members   []*perfpredict.Model
	calib     Calibration
	info      Info
	histories []*perfpredict.History // from Train only
	trees     *treeModel             // nil: the networks alone
	// switchTrees are a Switch's third forecaster (nil: it has two).
	switchTrees *treeModel
}

// Info describes how a forecaster was made (saved in the artifact).
type Info struct {
	Created time.Time    `json:"created"`
	Series  []string     `json:"series"` // the series it was trained on
	Members []MemberInfo `json:"members"`
	// Trees, when the recipe has them, describes its tree models.
	Trees *TreesInfo `json:"trees,omitempty"`
	// SwitchTrees, when the forecaster has them, describes the trees a
	// Switch over it forecasts with (Weights empty).
	SwitchTrees *TreesInfo `json:"switch_trees,omitempty"`
}

// MemberInfo is one network of the ensemble.
type MemberInfo struct {
	Seed      uint64  `json:"seed"`
	BestEpoch int     `json:"best_epoch"`
	Epochs    int     `json:"epochs"`
	ValLoss   float64 `json:"val_loss"`
}

// Forecast is one forecast from one history.
type Forecast struct {
	// Last is the last observation of the history, Unit the size of one
	// network output unit there (the recent mean absolute change).
	Last, Unit float64
	// Points[h-1] is the forecast h steps after the last observation.
	Points []Point
	// Attention is the ensemble's mean attention over the Window steps the
	// network read, oldest first; it sums to 1.
	Attention []float64
}

// Point is the forecast at one horizon. Value is the point forecast (the
// networks' average, combined with the trees' when the recipe has them: a
// median, as both minimise absolute error) and equals P50; P10 and P90
// come from the quantiles of the validation residuals of that forecast
// (Calibration).
type Point struct {
	Horizon       int
	Value         float64
	P10, P50, P90 float64
}

// Recipe is the forecaster's recipe.
func (fc *Forecaster) Recipe() Recipe {
	r := fc.recipe
	r.Inputs = slices.Clone(r.Inputs)
	return r
}

// Needs is the number of most recent observations a forecast depends on:
// a shorter history is an error, a longer one gives the same forecast.
func (fc *Forecaster) Needs() int { return fc.recipe.Needs() }

// Horizon is the largest horizon forecast.
func (fc *Forecaster) Horizon() int { return fc.recipe.Horizon }

// Members is the number of networks averaged.
func (fc *Forecaster) Members() int { return len(fc.members) }

// Info says how the forecaster was made.
func (fc *Forecaster) Info() Info {
	in := fc.info
	in.Series = slices.Clone(in.Series)
	in.Members = slices.Clone(in.Members)
	in.Trees, in.SwitchTrees = in.Trees.clone(), in.SwitchTrees.clone()
	return in
}

// Calibration returns the interval quantiles per horizon.
func (fc *Forecaster) Calibration() Calibration { return fc.calib.clone() }

// Histories are the training histories of the networks (nil for a
// forecaster that was opened rather than trained).
func (fc *Forecaster) Histories() []*perfpredict.History { return slices.Clone(fc.histories) }

// Network returns network i of the ensemble (for explanations that need
// its gradients); callers must not change it.
func (fc *Forecaster) Network(i int) *perfpredict.Model { return fc.members[i] }

// UseDevice moves every network to a device ("cpu", "cuda", "auto").
func (fc *Forecaster) UseDevice(name string, logf func(string, ...any)) error {
	for i, m := range fc.members {
		if err := m.UseDevice(name, logf); err != nil {
			return fmt.Errorf("forecast: network %d: %w", i+1, err)
		}
		if name == perfpredict.DeviceAuto && m.Device() == perfpredict.DeviceCPU {
			name = perfpredict.DeviceCPU
		}
	}
	return nil
}

// Device names where the networks run.
func (fc *Forecaster) Device() string { return fc.members[0].Device() }

// Close releases device memory held by the networks.
func (fc *Forecaster) Close() error {
	var first error
	for _, m := range fc.members {
		if err := m.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// chunk bounds the windows of one forward pass.
const chunk = 256

// predict is the forecaster's outputs [n, K] in units on windows x [n, T,
// F] with tree features feats [n, numTreeFeatures]: the members' average,
// combined with the trees' forecasts when the forecaster has trees and
// feats is not nil; and the members' mean attention [n, T] when
// withAttention.
func (fc *Forecaster) predict(ctx context.Context, x []float32, feats []float64, n int, withAttention bool) (pred, att []float32, err error) {
	T, K, F := fc.recipe.Window, fc.recipe.Horizon, len(fc.recipe.Inputs)
	pred = make([]float32, n*K)
	if withAttention {
		att = make([]float32, n*T)
	}
	sum := make([]float64, min(n, chunk)*K)
	asum := make([]float64, min(n, chunk)*T)
	p := make([]float32, min(n, chunk)*K)
	var w []float32
	if withAttention {
		w = make([]float32, min(n, chunk)*T)
	}
	for i0 := 0; i0 < n; i0 += chunk {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		b := min(chunk, n-i0)
		clear(sum[:b*K])
		clear(asum[:b*T])
		for mi, m := range fc.members {
			var wb []float32
			if withAttention {
				wb = w[:b*T]
			}
			if err := m.PredictInto(p[:b*K], wb, x[i0*T*F:(i0+b)*T*F], b, T); err != nil {
				return nil, nil, fmt.Errorf("forecast: network %d: %w", mi+1, err)
			}
			for j, v := range p[:b*K] {
				sum[j] += float64(v)
			}
			for j, v := range wb {
				asum[j] += float64(v)
			}
		}
		inv := 1 / float64(len(fc.members))
		for j := range b * K {
			pred[i0*K+j] = float32(sum[j] * inv)
		}
		if withAttention {
			for j := range b * T {
				att[i0*T+j] = float32(asum[j] * inv)
			}
		}
	}
	if fc.trees != nil && feats != nil {
		fc.trees.combine(pred, feats, n, K)
	}
	return pred, att, nil
}

// Forecast forecasts h = 1..Horizon() steps after the last value of
// history (oldest first), which must hold at least Needs() finite values;
// only the last Needs() are read.
func (fc *Forecaster) Forecast(ctx context.Context, history []float64) (Forecast, error) {
	out, err := fc.ForecastBatch(ctx, [][]float64{history})
	if err != nil {
		return Forecast{}, err
	}
	return out[0], nil
}

// ForecastBatch is Forecast for many histories in one pass (the fast way to
// forecast many series or origins). An error names the history at fault.
func (fc *Forecaster) ForecastBatch(ctx context.Context, histories [][]float64) ([]Forecast, error) {
	r := fc.recipe
	T, F := r.Window, len(r.Inputs)
	x := make([]float32, len(histories)*T*F)
	units := make([]float64, len(histories))
	var feats []float64
	if fc.trees != nil {
		feats = make([]float64, len(histories)*numTreeFeatures)
	}
	for i, h := range histories {
		u, err := r.inputs(x[i*T*F:(i+1)*T*F], h, i)
		if err != nil {
			return nil, err
		}
		units[i] = u
		if feats != nil {
			treeFeatures(feats[i*numTreeFeatures:(i+1)*numTreeFeatures], h[len(h)-r.core():], u)
		}
	}
	if len(histories) == 0 {
		return nil, nil
	}
	pred, att, err := fc.predict(ctx, x, feats, len(histories), true)
	if err != nil {
		return nil, err
	}
	K := r.Horizon
	out := make([]Forecast, len(histories))
	sc := make([]float64, K)
	for i, h := range histories {
		last, u := h[len(h)-1], units[i]
		f := Forecast{Last: last, Unit: u, Points: make([]Point, K), Attention: make([]float64, T)}
		fc.calib.scales(sc, h[len(h)-r.core():], u)
		for k := range K {
			v := last + u*float64(pred[i*K+k])
			lo, hi := fc.calib.interval(k, sc[k])
			f.Points[k] = Point{Horizon: k + 1, Value: v, P50: v, P10: v + lo, P90: v + hi}
		}
		for j := range T {
			f.Attention[j] = float64(att[i*T+j])
		}
		out[i] = f
	}
	return out, nil
}

// Calibration holds, per horizon, the offsets of p10 and p90 from the
// point forecast, in units of a scale read from the history, and how many
// validation residuals each was taken from.
//
// Scale says which scale (see ScaleSpread): "" is the unit of the network
// (the recent mean absolute one-step change) and Q10/Q90 are the plain 10%
// and 90% quantiles of the pooled validation residuals, as artifacts of
// version 1 and 2 hold; ScaleSpread is what Train calibrates now.
type Calibration struct {
	Q10   []float64 `json:"q10"`
	Q90   []float64 `json:"q90"`
	N     []int     `json:"n"`
	Scale string    `json:"scale,omitempty"`
}

// ScaleSpread is the interval scale Train calibrates with: at horizon h,
// the mean of two spreads of the Needs() observations a forecast reads,
// the mean absolute h-step change over the window (mean |y[i] - y[i-h]|)
// and the mean absolute distance of the earlier observations from the
// last (mean |y[i] - y[last]|), each at least 5% of the unit. The 10% and
// 90% quantiles of the validation residuals in this scale, each series'
// windows weighted equally, times IntervalWidth, are Q10 and Q90
// (PROTOCOL.md, "Intervals").
const ScaleSpread = "spread"

// IntervalWidth widens the validation quantiles: the residuals of series a
// forecaster never saw are wider than those of the validation splits of
// the series it trained on (chosen across series, PROTOCOL.md).
const IntervalWidth = 1.1

// weightedQuantile is the q-quantile of vals with weights w (positive):
// sorted, each value sits at the middle of its share of the total weight,
// linear in between and flat beyond the ends. Equal weights give the
// quantile at position q n - 1/2 of the sorted values.
func weightedQuantile(vals, w []float64, q float64) float64 {
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(vals[a], vals[b]) })
	var total float64
	for _, v := range w {
		total += v
	}
	var cum, prevP float64
	for k, i := range idx {
		p := (cum + w[i]/2) / total
		cum += w[i]
		if p >= q {
			if k == 0 {
				return vals[i]
			}
			prev := vals[idx[k-1]]
			return prev + (q-prevP)/(p-prevP)*(vals[i]-prev)
		}
		prevP = p
	}
	return vals[idx[len(idx)-1]]
}

// newCalibration calibrates on residuals res[k] (at horizon index k, in
// the scale) with weights w[k]: their weighted 10% and 90% quantiles
// times width.
func newCalibration(res, w [][]float64, scale string, width float64) Calibration {
	c := Calibration{Q10: make([]float64, len(res)), Q90: make([]float64, len(res)), N: make([]int, len(res)), Scale: scale}
	for k, r := range res {
		c.N[k] = len(r)
		if len(r) == 0 {
			continue
		}
		c.Q10[k], c.Q90[k] = width*weightedQuantile(r, w[k], 0.1), width*weightedQuantile(r, w[k], 0.9)
	}
	return c
}

func (c Calibration) clone() Calibration {
	return Calibration{Q10: slices.Clone(c.Q10), Q90: slices.Clone(c.Q90), N: slices.Clone(c.N), Scale: c.Scale}
}

// scales writes into dst[k] the interval scale at horizon index k for the
// window recent (the last Needs() observations, oldest first) with unit u.
func (c Calibration) scales(dst []float64, recent []float64, u float64) {
	if c.Scale != ScaleSpread {
		for k := range dst {
			dst[k] = u
		}
		return
	}
	spreadScales(dst, recent, u)
}

// spreadScales is ScaleSpread's scale at horizons 1..len(dst) (a lag
// longer than the window reads the longest it holds).
func spreadScales(dst []float64, recent []float64, u float64) {
	n := len(recent)
	last := recent[n-1]
	var dist float64
	for _, v := range recent[:n-1] {
		dist += math.Abs(v - last)
	}
	dist = math.Max(dist/float64(n-1), 0.05*u)
	for k := range dst {
		lag := min(k+1, n-1)
		var s float64
		for i := lag; i < n; i++ {
			s += math.Abs(recent[i] - recent[i-lag])
		}
		dst[k] = (math.Max(s/float64(n-lag), 0.05*u) + dist) / 2
	}
}

// interval is the offsets of p10 and p90 from the point at horizon index k
// for scale s; the band always contains the point.
func (c Calibration) interval(k int, s float64) (lo, hi float64) {
	return math.Min(0, s*c.Q10[k]), math.Max(0, s*c.Q90[k])
}
