package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/gbdt"
)

// SwitchTreeOptions train the third forecaster of a Switch: gradient-
// boosted trees, one model per horizon of Horizons (the others
// interpolated), global over the training series as LightGBM global models
// are, reading a series' long-run past in its own unit. Their features at
// an origin t (switchTreeFeatures) are the last SwitchTreeHistory
// observations' lags, rolling means and spreads against the value at t,
// and that value, all divided by the series' naive unit: the mean absolute
// one-step change over the rows that fit it (the training split in Train,
// the rows that choose the autoregression's penalty in Switch.Fit, the
// protocol's MASE denominator). Their target is the change from y[t] to
// y[t+h] in that unit, with an L1 loss. Each model stops early on the
// validation split, then is fitted again with its best number of trees on
// the training and validation splits.
type SwitchTreeOptions struct {
	// Params are every horizon's learner settings (Patience included).
	Params gbdt.Params
	// Horizons are the horizons that get their own model, ascending from 1
	// to the recipe's Horizon. Empty: h = 1, 3 and 9 below the recipe's
	// horizon, and at it (switchTreeHorizons).
	Horizons []int
}

// switchTreeHorizons are the switch trees' default horizons for a recipe
// of horizon K: on held-out series (PROTOCOL.md, "How many horizons the
// switch's trees model") models at 1, 3, 9 and 30 did as well as eleven
// (1, 2, 3, 4, 6, 9, 12, 16, 20, 25, 30) for half the trees, and models
// at 1 and 30 alone did worse at h = 12.
func switchTreeHorizons(K int) []int { return horizonsUpTo([]int{1, 3, 9}, K) }

// DefaultSwitchTreeOptions are the switch's trees DefaultOptions trains
// (PROTOCOL.md, "A third forecaster for the switch"): LightGBM's default
// leaves (31 of at least 20 rows), rate 0.05, up to 2000 trees stopped
// after 50 without progress, each tree fitted on half the rows and
// splitting on 80% of the features (as accurate on held-out series as
// all of both, and fitted in 40% less time), and the default horizons.
func DefaultSwitchTreeOptions() *SwitchTreeOptions {
	p := gbdt.DefaultParams()
	p.Loss, p.Rounds, p.LearningRate, p.Patience, p.Lambda = gbdt.LossL1, 2000, 0.05, 50, 0
	p.RowSample, p.ColSample = 0.5, 0.8
	return &SwitchTreeOptions{Params: p}
}

func (o *SwitchTreeOptions) check(K int) error {
	if err := o.Params.Check(); err != nil {
		return fmt.Errorf("SwitchTrees.%w", err)
	}
	if len(o.Horizons) > 0 {
		if err := checkTreeHorizons(o.Horizons, K); err != nil {
			return fmt.Errorf("SwitchTrees.Horizons %v: %w", o.Horizons, err)
		}
	}
	return nil
}

// SwitchTreeHistory is the number of observations up to an origin the
// switch's trees read: a day at a 5-minute cadence.
const SwitchTreeHistory = 288

// switchTreeFeatureSet names what switchTreeFeatures computes; an artifact
// records it, and a forecaster refuses trees built on another set.
const switchTreeFeatureSet = "naive-unit-v1"

var switchTreeWindows = []int{12, 48, SwitchTreeHistory}

// switchTreeLags is the number of lags read (1 .. switchTreeLags-1 steps
// before the origin).
const switchTreeLags = 60

var numSwitchTreeFeatures = switchTreeLags - 1 + 2*len(switchTreeWindows) + 1

// switchTreeFeatures writes into dst the features of the origin at the end
// of recent (at least SwitchTreeHistory observations) in the unit u: the
// values 1..59 steps before it less its value, each window's mean less its
// value and its standard deviation, and its value, all divided by u.
func switchTreeFeatures(dst, recent []float64, u float64) {
	n := len(recent)
	last := recent[n-1]
	i := 0
	for k := 1; k < switchTreeLags; k++ {
		dst[i] = (recent[n-1-k] - last) / u
		i++
	}
	for _, w := range switchTreeWindows {
		var sum, sq float64
		for _, v := range recent[n-w:] {
			sum += v
			sq += v * v
		}
		mean := sum / float64(w)
		dst[i], dst[i+1] = (mean-last)/u, math.Sqrt(max(0, sq/float64(w)-mean*mean))/u
		i += 2
	}
	dst[i] = last / u
}

// naiveUnit is the mean absolute one-step change of y (MASE's
// denominator), or 0 when y has fewer than two values.
func naiveUnit(y []float64) float64 {
	if len(y) < 2 {
		return 0
	}
	return baseline.NaiveScale(y, baseline.Split{Train: len(y)})
}

// switchTreeTargets are the targets [lo, hi) of series si at horizon h
// that lie in [from(si), to(si)) and have a full history before their
// origin; none where the series' unit is not positive.
func switchTreeTargets(units []float64, si, h int, from, to func(s int) int) (lo, hi int) {
	if !(units[si] > 0) {
		return 0, 0
	}
	return max(from(si), SwitchTreeHistory-1+h), to(si)
}

// switchTreeRows are the examples of the origins of each series whose
// targets at horizon h lie in [from(s), to(s)), with the series' units.
func switchTreeRows(series []baseline.Series, units []float64, h int, from, to func(s int) int) *gbdt.Data {
	d := &gbdt.Data{Cols: numSwitchTreeFeatures}
	for si, s := range series {
		y, u := s.Values, units[si]
		lo, hi := switchTreeTargets(units, si, h, from, to)
		for j := lo; j < hi; j++ {
			t := j - h
			d.X = slices.Grow(d.X, d.Cols)[:len(d.X)+d.Cols]
			switchTreeFeatures(d.X[len(d.X)-d.Cols:], y[t+1-SwitchTreeHistory:t+1], u)
			d.Y = append(d.Y, (y[j]-y[t])/u)
			d.Rows++
		}
	}
	return d
}

// minSwitchTreeRows is the fewest training windows at the longest horizon
// the switch's trees are fitted on; with fewer, Train leaves them out.
const minSwitchTreeRows = 100

// fitSwitchTrees fits the switch's trees of opt.SwitchTrees on series,
// split by opt.Split,
// or leaves them out, saying so, when the series are too short.
func (fc *Forecaster) fitSwitchTrees(ctx context.Context, series []baseline.Series, opt Options) error {
	o, logf := opt.SwitchTrees, opt.logger()
	K := fc.recipe.Horizon
	hs := o.Horizons
	if len(hs) == 0 {
		hs = switchTreeHorizons(K)
	}
	units := make([]float64, len(series))
	trainEnd, valEnd := make([]int, len(series)), make([]int, len(series))
	for i, s := range series {
		trainEnd[i], valEnd[i] = opt.Split(s.Len())
		units[i] = naiveUnit(s.Values[:trainEnd[i]])
	}
	zero := func(int) int { return 0 }
	fitEnd := func(s int) int { return trainEnd[s] }
	validEnd := func(s int) int { return valEnd[s] }
	windows := 0 // at the longest horizon: counted, not built
	for si := range series {
		lo, hi := switchTreeTargets(units, si, K, zero, fitEnd)
		windows += max(0, hi-lo)
	}
	if windows < minSwitchTreeRows {
		logf("switch trees: left out: fewer than %d training windows of %d steps and a horizon of %d (the switch keeps two forecasters)",
			minSwitchTreeRows, SwitchTreeHistory, K)
		return nil
	}
	logf("switch trees: %d models (horizons %v), %d features of the last %d observations", len(hs), hs, numSwitchTreeFeatures, SwitchTreeHistory)
	models := make([]*gbdt.Model, len(hs))
	if err := eachHorizon(hs, func(i, h int) error {
		p := o.Params
		p.Workers = 1
		train := switchTreeRows(series, units, h, zero, fitEnd)
		valid := switchTreeRows(series, units, h, fitEnd, validEnd)
		if valid.Rows == 0 {
			valid = nil
		}
		var err error
		models[i], err = fitStopped(ctx, p, train, valid, func() *gbdt.Data { return switchTreeRows(series, units, h, zero, validEnd) })
		return err
	}); err != nil {
		return fmt.Errorf("forecast: switch trees for %w", err)
	}
	tm := &treeModel{horizons: slices.Clone(hs), models: models}
	trees := make([]int, len(models))
	for i, m := range models {
		trees[i] = m.Trees()
	}
	logf("switch trees: %v trees per model", trees)
	fc.switchTrees = tm
	fc.info.SwitchTrees = &TreesInfo{Features: switchTreeFeatureSet, Horizons: tm.horizons, Trees: trees}
	return nil
}

// fitStopped fits trees of p on train stopped early on valid, then fits
// them again with their best number of trees on both (all() builds those
// rows), as LightGBM users refit; with no valid the first fit is the
// model.
func fitStopped(ctx context.Context, p gbdt.Params, train, valid *gbdt.Data, all func() *gbdt.Data) (*gbdt.Model, error) {
	m, hist, err := gbdt.Fit(ctx, p, train, valid)
	if err != nil || valid == nil {
		return m, err
	}
	p.Rounds, p.Patience = max(1, hist.Best), 0
	m, _, err = gbdt.Fit(ctx, p, all(), nil)
	return m, err
}

// localTreeParams are the settings of the trees a Switch fits on the
// series it follows to correct its global trees (fitLocal): the global
// trees' but for 7 leaves instead of 31, which on held-out series'
// validation splits did better than 3, 4, 15 (of at least 50 rows) and
// 31 leaves and than rates 0.02 and 0.1 (PROTOCOL.md, "The switch's trees
// learn the series they follow").
func localTreeParams() gbdt.Params {
	p := DefaultSwitchTreeOptions().Params
	p.MaxLeaves = 7
	return p
}

// fitLocal returns tm with a correction per modelled horizon fitted on
// one series' history y in the unit u: trees of the change tm's model
// leaves unexplained, stopped early on the targets from step nTrain on,
// then fitted again with their best number of trees on all of y, as the
// global trees are fitted on their series. Rows that are not finite (an
// absurd value in y overflows the spreads) are left out. It returns tm
// itself when some horizon keeps fewer than minSwitchTreeRows rows before
// nTrain, or none after.
func (tm *treeModel) fitLocal(ctx context.Context, y []float64, nTrain int, u float64) (*treeModel, error) {
	hs := tm.horizons
	units := []float64{u}
	one := []baseline.Series{{Values: y}}
	zero := func(int) int { return 0 }
	end := func(int) int { return len(y) }
	local := make([]*gbdt.Model, len(hs))
	err := eachHorizon(hs, func(i, h int) error {
		// Every target's row once, the change left over by the global
		// model in place of the change; those before nTrain come first.
		all := switchTreeRows(one, units, h, zero, end)
		g := make([]float64, all.Rows)
		tm.models[i].PredictBatch(g, all.X, all.Rows)
		for r := range g {
			all.Y[r] -= g[r]
		}
		first, _ := switchTreeTargets(units, 0, h, zero, end)
		k := keepFinite(all, nTrain-first)
		if k < minSwitchTreeRows || k == all.Rows {
			return errTooFewRows
		}
		c := all.Cols
		train := &gbdt.Data{X: all.X[:k*c], Y: all.Y[:k], Rows: k, Cols: c}
		valid := &gbdt.Data{X: all.X[k*c:], Y: all.Y[k:], Rows: all.Rows - k, Cols: c}
		var err error
		local[i], err = fitStopped(ctx, localTreeParams(), train, valid, func() *gbdt.Data { return all })
		return err
	})
	switch {
	case errors.Is(err, errTooFewRows):
		return tm, nil
	case err != nil:
		return nil, fmt.Errorf("local trees for %w", err)
	}
	return &treeModel{horizons: hs, models: tm.models, local: local}, nil
}

// errTooFewRows says a horizon's corrections had too few rows to fit.
var errTooFewRows = errors.New("too few rows")

// keepFinite drops the rows of d whose features or target are not finite
// (a history's absurd values overflow the spreads), keeping the order,
// and returns how many of its first k rows are kept.
func keepFinite(d *gbdt.Data, k int) int {
	c, kept, keptFirst := d.Cols, 0, 0
	for r := range d.Rows {
		x := d.X[r*c : (r+1)*c]
		if math.IsNaN(d.Y[r]) || math.IsInf(d.Y[r], 0) || slices.ContainsFunc(x, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
			continue
		}
		copy(d.X[kept*c:(kept+1)*c], x)
		d.Y[kept] = d.Y[r]
		if r < k {
			keptFirst++
		}
		kept++
	}
	d.X, d.Y, d.Rows = d.X[:kept*c], d.Y[:kept], kept
	return keptFirst
}

// AddSwitchTrees returns a forecaster that serves fc's networks (and its
// trees, if any) as they are, with the switch's trees of opt.SwitchTrees
// fitted on series as Train fits them, so that its Switch chooses among
// seven forecasts. opt supplies the split, the trees and Logf.
func AddSwitchTrees(ctx context.Context, fc *Forecaster, series []baseline.Series, opt Options) (*Forecaster, error) {
	if opt.SwitchTrees == nil {
		return nil, badInput(errors.New("forecast: AddSwitchTrees: options hold no SwitchTrees"))
	}
	if err := opt.SwitchTrees.check(fc.recipe.Horizon); err != nil {
		return nil, badInput(fmt.Errorf("forecast: options: %w", err))
	}
	out := &Forecaster{recipe: fc.recipe, members: fc.members, calib: fc.calib.clone(), info: fc.Info(), histories: fc.histories, trees: fc.trees}
	if err := out.fitSwitchTrees(ctx, series, opt); err != nil {
		return nil, err
	}
	return out, nil
}

// The artifact's switch trees entry: one JSON object holding every
// horizon's model in the order of the manifest's horizons.
const switchTreesEntry = "switch-trees.json"
