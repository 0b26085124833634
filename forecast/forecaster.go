package forecast

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
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
}

// Info describes how a forecaster was made (saved in the artifact).
type Info struct {
	Created time.Time    `json:"created"`
	Series  []string     `json:"series"` // the series it was trained on
	Members []MemberInfo `json:"members"`
	// Trees, when the recipe has them, describes its tree models.
	Trees *TreesInfo `json:"trees,omitempty"`
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
// come from the quantiles of the validation residuals of that forecast.
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
	if in.Trees != nil {
		t := *in.Trees
		t.Horizons, t.Trees, t.Weights = slices.Clone(t.Horizons), slices.Clone(t.Trees), slices.Clone(t.Weights)
		in.Trees = &t
	}
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
			treeFeatures(feats[i*numTreeFeatures:(i+1)*numTreeFeatures], h[len(h)-r.Needs():], u)
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
	for i, h := range histories {
		last, u := h[len(h)-1], units[i]
		f := Forecast{Last: last, Unit: u, Points: make([]Point, K), Attention: make([]float64, T)}
		for k := range K {
			v := last + u*float64(pred[i*K+k])
			lo, hi := fc.calib.interval(k, u)
			f.Points[k] = Point{Horizon: k + 1, Value: v, P50: v, P10: v + lo, P90: v + hi}
		}
		for j := range T {
			f.Attention[j] = float64(att[i*T+j])
		}
		out[i] = f
	}
	return out, nil
}

// Calibration holds, per horizon, the 10% and 90% quantiles of the
// validation residuals (actual - forecast) in units, and how many
// residuals each was taken from.
type Calibration struct {
	Q10 []float64 `json:"q10"`
	Q90 []float64 `json:"q90"`
	N   []int     `json:"n"`
}

func newCalibration(res [][]float64) Calibration {
	c := Calibration{Q10: make([]float64, len(res)), Q90: make([]float64, len(res)), N: make([]int, len(res))}
	for k, r := range res {
		c.N[k] = len(r)
		if len(r) == 0 {
			continue
		}
		s := slices.Clone(r)
		slices.Sort(s)
		c.Q10[k], c.Q90[k] = baseline.QuantileSorted(s, 0.1), baseline.QuantileSorted(s, 0.9)
	}
	return c
}

func (c Calibration) clone() Calibration {
	return Calibration{Q10: slices.Clone(c.Q10), Q90: slices.Clone(c.Q90), N: slices.Clone(c.N)}
}

// interval is the offsets of p10 and p90 from the point at horizon index k
// for unit u; the band always contains the point.
func (c Calibration) interval(k int, u float64) (lo, hi float64) {
	return math.Min(0, u*c.Q10[k]), math.Max(0, u*c.Q90[k])
}
