package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/gbdt"
)

// TreeOptions add gradient-boosted trees to the recipe: one tree model per
// horizon of Horizons reads summary features of the same Needs()
// observations the networks read (treeFeatures), in the same unit, and
// predicts the same clipped change; the forecast at horizon h is
// (1-w[h]) * networks + w[h] * trees.
type TreeOptions struct {
	// Params are the learner's settings for every horizon's model (Seed
	// and Patience included: each model stops early on the validation
	// split).
	Params gbdt.Params
	// Horizons are the horizons that get their own model, ascending from
	// 1 to the recipe's Horizon; the others interpolate linearly between
	// their neighbours. Empty: every horizon.
	Horizons []int
	// Stride is the number of steps between consecutive training windows
	// of a series (neighbouring windows are nearly the same rows).
	Stride int
	// Weights are the trees' share of the forecast: empty, chosen per
	// horizon on the validation split of the training series (the share
	// in 0, 0.05, ..., 1 with the least geometric mean of the series'
	// mean absolute errors); one value, that share at every horizon; or
	// one per horizon.
	Weights []float64
}

// DefaultTreeOptions are the trees chosen on validation
// (docs/PROTOCOL.md) for a recipe of the given horizon: models at
// h = 1, 2, 3, 4, 6, 9, 12, 16, 20, 25, 30 up to it and at it.
func DefaultTreeOptions(horizon int) *TreeOptions {
	p := gbdt.DefaultParams()
	p.Loss = gbdt.LossL1
	p.Rounds, p.LearningRate, p.MaxLeaves, p.MinLeaf, p.Patience = 300, 0.08, 31, 50, 20
	p.RowSample, p.ColSample, p.Lambda = 0.35, 0.8, 1
	return &TreeOptions{Params: p, Horizons: horizonsUpTo([]int{1, 2, 3, 4, 6, 9, 12, 16, 20, 25, 30}, horizon), Stride: 1}
}

// horizonsUpTo are the horizons of hs below K, then K: the horizons a
// recipe of horizon K models out of the list hs.
func horizonsUpTo(hs []int, K int) []int {
	var out []int
	for _, h := range hs {
		if h < K {
			out = append(out, h)
		}
	}
	return append(out, max(K, 1))
}

// treeFeatureSet names the features treeFeatures computes; an artifact
// records it, and a forecaster refuses trees built on another set.
const treeFeatureSet = "summary-v1"

var (
	treeLags   = []int{1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 45, 60}
	treeMeans  = []int{3, 6, 12, 24, 60}
	treeStds   = []int{6, 12, 24, 60}
	treeRanges = []int{12, 60}
	treeVols   = []int{6, 12}
	treeSlopes = []int{12, 60}
)

// treeDiffs is the number of most recent one-step changes read.
const treeDiffs = 6

// numTreeFeatures is the length of a treeFeatures row.
var numTreeFeatures = len(treeLags) + treeDiffs + len(treeMeans) + len(treeStds) + 2*len(treeRanges) +
	len(treeVols) + len(treeSlopes) + 2

// treeFeatures writes the trees' features of the window ending at the last
// value of recent (at least 2 values; every window is cut to what recent
// holds) with unit u into dst: values, changes, means, spreads, ranges and
// slopes in units relative to the last value, where the last value stands
// in the range, and the unit against the level.
func treeFeatures(dst, recent []float64, u float64) {
	n := len(recent)
	last := recent[n-1]
	k := 0
	put := func(v float64) {
		// Finite whatever the data: sums of huge values overflow, and a
		// tiny unit under them too.
		if math.IsNaN(v) {
			v = 0
		}
		dst[k] = math.Max(-1e6, math.Min(1e6, v))
		k++
	}
	for _, j := range treeLags {
		j = min(j, n-1)
		put((recent[n-1-j] - last) / u)
	}
	for j := range treeDiffs {
		i := max(n-1-j, 1)
		put((recent[i] - recent[i-1]) / u)
	}
	for _, w := range treeMeans {
		w = min(w, n)
		var s float64
		for _, v := range recent[n-w:] {
			s += v
		}
		put((s/float64(w) - last) / u)
	}
	for _, w := range treeStds {
		w = min(w, n)
		var s, ss float64
		for _, v := range recent[n-w:] {
			s += v - last
			ss += (v - last) * (v - last)
		}
		m := s / float64(w)
		put(math.Sqrt(math.Max(0, ss/float64(w)-m*m)) / u)
	}
	for _, w := range treeRanges {
		w = min(w, n)
		lo, hi := slices.Min(recent[n-w:]), slices.Max(recent[n-w:])
		put((lo - last) / u)
		put((hi - last) / u)
	}
	for _, w := range treeVols {
		w = min(w, n-1)
		var s float64
		for i := n - w; i < n; i++ {
			s += math.Abs(recent[i] - recent[i-1])
		}
		put(s / float64(w) / u)
	}
	for _, w := range treeSlopes {
		w = min(w, n)
		// Least-squares slope over the last w steps, per step.
		var sx, sy, sxx, sxy float64
		for i, v := range recent[n-w:] {
			x, y := float64(i), (v-last)/u
			sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
		}
		fw := float64(w)
		if d := fw*sxx - sx*sx; d > 0 {
			put((fw*sxy - sx*sy) / d)
		} else {
			put(0)
		}
	}
	lo, hi := slices.Min(recent), slices.Max(recent)
	if hi > lo {
		put((last - lo) / (hi - lo))
	} else {
		put(0.5)
	}
	var level float64
	for _, v := range recent {
		level += math.Abs(v)
	}
	level /= float64(n)
	put(math.Log(u / (level + u)))
}

// eachHorizon runs fit(i, hs[i]) for every horizon, as many at a time as
// there are cores (the horizons' models are independent), and returns the
// first horizon's error, naming it.
func eachHorizon(hs []int, fit func(i, h int) error) error {
	errs := make([]error, len(hs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, h := range hs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fit(i, h)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("h=%d: %w", hs[i], err)
		}
	}
	return nil
}

// treeModel is the trees of a forecaster.
type treeModel struct {
	horizons []int
	models   []*gbdt.Model // models[i] forecasts horizons[i]
	weights  []float64     // per horizon 1..K: the trees' share
	// local, when not nil, are corrections fitted on one series (a
	// Switch's, fitLocal): local[i] is added to models[i]'s forecast.
	local []*gbdt.Model
}

// predict writes the trees' forecasts [n, K] in units for the feature
// rows feats [n, numTreeFeatures] into out, interpolating between the
// modelled horizons. The models' own forecasts go into scratch, grown if
// needed and returned, so that a caller that keeps it (a Switch, once per
// origin) allocates nothing; nil is fine.
func (tm *treeModel) predict(out []float64, feats []float64, n, K int, scratch []float64) []float64 {
	size := len(tm.models) * n
	if tm.local != nil {
		size += n
	}
	scratch = slices.Grow(scratch[:0], size)[:size]
	for i, m := range tm.models {
		m.PredictBatch(scratch[i*n:(i+1)*n:(i+1)*n], feats, n)
	}
	if tm.local != nil {
		corr := scratch[len(tm.models)*n:]
		for i, m := range tm.local {
			m.PredictBatch(corr, feats, n)
			for r, v := range corr {
				scratch[i*n+r] += v
			}
		}
	}
	for r := range n {
		for k := range K {
			h := k + 1
			j, _ := slices.BinarySearch(tm.horizons, h) // tm.horizons[j] >= h
			if tm.horizons[j] == h {
				out[r*K+k] = scratch[j*n+r]
				continue
			}
			h0, h1 := tm.horizons[j-1], tm.horizons[j]
			a := float64(h-h0) / float64(h1-h0)
			out[r*K+k] = (1-a)*scratch[(j-1)*n+r] + a*scratch[j*n+r]
		}
	}
	return scratch
}

// check validates t against a recipe of horizon K; errors name the field.
func (t *TreeOptions) check(K int) error {
	if err := t.Params.Check(); err != nil {
		return fmt.Errorf("Trees.%w", err)
	}
	if t.Stride < 1 {
		return fmt.Errorf("Trees.Stride %d: must be at least 1", t.Stride)
	}
	if len(t.Horizons) > 0 {
		if err := checkTreeHorizons(t.Horizons, K); err != nil {
			return fmt.Errorf("Trees.Horizons %v: %w", t.Horizons, err)
		}
	}
	if n := len(t.Weights); n > 1 && n != K {
		return fmt.Errorf("Trees.Weights: %d values: want none, one or %d (one per horizon)", n, K)
	}
	for _, w := range t.Weights {
		if !(w >= 0 && w <= 1) {
			return fmt.Errorf("Trees.Weights %v: must be in [0, 1]", t.Weights)
		}
	}
	return nil
}

func checkTreeHorizons(hs []int, K int) error {
	if len(hs) == 0 || hs[0] != 1 || hs[len(hs)-1] != K {
		return fmt.Errorf("must run from 1 to the horizon %d", K)
	}
	for i := 1; i < len(hs); i++ {
		if hs[i] <= hs[i-1] {
			return errors.New("must be strictly ascending")
		}
	}
	return nil
}

// treeRows holds tree feature rows and, per window, where it comes from.
type treeRows struct {
	x      []float64
	n      int
	series []int
	origin []int
	unit   []float64
}

func (tr *treeRows) add(r Recipe, y []float64, s, t int) {
	recent := y[t+1-r.core() : t+1]
	u := r.unit(recent)
	f := numTreeFeatures
	tr.x = slices.Grow(tr.x, f)[:len(tr.x)+f]
	treeFeatures(tr.x[len(tr.x)-f:], recent, u)
	tr.series, tr.origin, tr.unit = append(tr.series, s), append(tr.origin, t), append(tr.unit, u)
	tr.n++
}

// data is the gbdt data set of rows tr at horizon h, targets clipped.
func (tr *treeRows) data(series []baseline.Series, h int, clip float64) *gbdt.Data {
	d := &gbdt.Data{X: tr.x, Y: make([]float64, tr.n), Rows: tr.n, Cols: numTreeFeatures}
	for i := range tr.n {
		y, t := series[tr.series[i]].Values, tr.origin[i]
		d.Y[i] = math.Max(-clip, math.Min(clip, (y[t+h]-y[t])/tr.unit[i]))
	}
	return d
}

// fitTrees fits the tree models of opt.Trees on the training split of
// every series, stopping each early on the validation windows va, and
// chooses their weights there against fc's networks.
func (fc *Forecaster) fitTrees(ctx context.Context, series []baseline.Series, opt Options, va *windows) error {
	to := opt.Trees
	r := fc.recipe
	K, needs := r.Horizon, r.Needs()
	hs := to.Horizons
	if len(hs) == 0 {
		for h := 1; h <= K; h++ {
			hs = append(hs, h)
		}
	}
	tr, tv := &treeRows{}, &treeRows{}
	for si, s := range series {
		trainEnd, _ := opt.Split(s.Len())
		for t := trainEnd - 1 - K; t >= needs-1; t -= to.Stride {
			tr.add(r, s.Values, si, t)
		}
	}
	for i := range va.n {
		tv.add(r, series[va.series[i]].Values, va.series[i], va.origin[i])
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	logf := opt.logger()
	logf("trees: %d models (horizons %v), %d training rows (every %d steps), %d validation rows, %d features",
		len(hs), hs, tr.n, to.Stride, tv.n, numTreeFeatures)
	models := make([]*gbdt.Model, len(hs))
	if err := eachHorizon(hs, func(i, h int) (err error) {
		p := to.Params
		p.Workers = 1
		var valid *gbdt.Data
		if tv.n > 0 {
			valid = tv.data(series, h, r.TargetClip)
		}
		models[i], _, err = gbdt.Fit(ctx, p, tr.data(series, h, r.TargetClip), valid)
		return err
	}); err != nil {
		return fmt.Errorf("forecast: trees for %w", err)
	}
	tm := &treeModel{horizons: slices.Clone(hs), models: models}
	trees := make([]int, len(models))
	for i, m := range models {
		trees[i] = m.Trees()
	}
	logf("trees: %v trees per model", trees)
	switch len(to.Weights) {
	case 0:
		tm.weights = make([]float64, K)
		if va.n > 0 {
			net, _, err := fc.predict(ctx, va.x, nil, va.n, false)
			if err != nil {
				return err
			}
			tp := make([]float64, va.n*K)
			tm.predict(tp, tv.x, tv.n, K, nil)
			tm.weights = chooseWeights(series, va, net, tp, K)
		}
	case 1:
		tm.weights = make([]float64, K)
		for k := range tm.weights {
			tm.weights[k] = to.Weights[0]
		}
	default:
		tm.weights = slices.Clone(to.Weights)
	}
	logf("trees: weights per horizon %v", tm.weights)
	fc.trees = tm
	fc.info.Trees = &TreesInfo{Features: treeFeatureSet, Horizons: tm.horizons, Trees: trees, Weights: slices.Clone(tm.weights)}
	return nil
}

// weightGrid is the number of steps between 0 and 1 in the weights tried.
const weightGrid = 20

// chooseWeights picks, per horizon, the trees' share whose combined
// forecast has the least geometric mean over the series of the mean
// absolute error on the validation windows (the protocol's score, as the
// series' naive scale is a constant factor per series).
func chooseWeights(series []baseline.Series, va *windows, net []float32, trees []float64, K int) []float64 {
	out := make([]float64, K)
	sum := make([]float64, len(series))
	cnt := make([]int, len(series))
	for k := range K {
		best := math.Inf(1)
		for g := 0; g <= weightGrid; g++ {
			w := float64(g) / weightGrid
			clear(sum)
			clear(cnt)
			for i := range va.n {
				s, t, u := va.series[i], va.origin[i], va.unit[i]
				y := series[s].Values
				p := (1-w)*float64(net[i*K+k]) + w*trees[i*K+k]
				sum[s] += math.Abs(y[t+k+1] - (y[t] + u*p))
				cnt[s]++
			}
			var score float64
			for s, c := range cnt {
				if c > 0 && sum[s] > 0 {
					score += math.Log(sum[s] / float64(c))
				}
			}
			if score < best {
				best, out[k] = score, w
			}
		}
	}
	return out
}

// treeInputs are the feature rows of the windows va.
func (fc *Forecaster) treeInputs(series []baseline.Series, va *windows) []float64 {
	if fc.trees == nil {
		return nil
	}
	tv := &treeRows{}
	for i := range va.n {
		tv.add(fc.recipe, series[va.series[i]].Values, va.series[i], va.origin[i])
	}
	return tv.x
}

// combine mixes the trees' forecasts for the feature rows feats into the
// networks' pred [n, K] by the per-horizon weights.
func (tm *treeModel) combine(pred []float32, feats []float64, n, K int) {
	tp := make([]float64, n*K)
	tm.predict(tp, feats, n, K, nil)
	for i := range n * K {
		w := tm.weights[i%K]
		pred[i] = float32((1-w)*float64(pred[i]) + w*tp[i])
	}
}

// TreesInfo describes a forecaster's trees: the feature set they read,
// the horizons with a model, each model's number of trees, and the trees'
// share of the forecast per horizon.
type TreesInfo struct {
	Features string    `json:"features"`
	Horizons []int     `json:"horizons"`
	Trees    []int     `json:"trees"`
	Weights  []float64 `json:"weights,omitempty"`
}

func (t *TreesInfo) clone() *TreesInfo {
	if t == nil {
		return nil
	}
	c := *t
	c.Horizons, c.Trees, c.Weights = slices.Clone(t.Horizons), slices.Clone(t.Trees), slices.Clone(t.Weights)
	return &c
}

// AddTrees returns a forecaster that serves fc's networks combined with
// trees fitted by opt.Trees on series (as Train fits them: the training
// split, early stopping and weights on the validation split), calibrated
// anew on the combination. fc's recipe is kept; opt supplies the split,
// the trees and Logf.
func AddTrees(ctx context.Context, fc *Forecaster, series []baseline.Series, opt Options) (*Forecaster, error) {
	if opt.Trees == nil {
		return nil, badInput(errors.New("forecast: AddTrees: options hold no Trees"))
	}
	if err := opt.Trees.check(fc.recipe.Horizon); err != nil {
		return nil, badInput(fmt.Errorf("forecast: options: %w", err))
	}
	r := fc.recipe
	va := &windows{}
	for si, s := range series {
		trainEnd, valEnd := opt.Split(s.Len())
		if err := checkTrainable(s, r, trainEnd, valEnd); err != nil {
			return nil, err
		}
		for t := max(trainEnd-1, r.Needs()-1); t+r.Horizon < valEnd; t++ {
			va.add(r, s.Values, si, t)
		}
	}
	out := &Forecaster{recipe: r, members: fc.members, info: fc.Info(), histories: fc.histories, switchTrees: fc.switchTrees}
	if err := out.fitTrees(ctx, series, opt, va); err != nil {
		return nil, err
	}
	if err := out.calibrate(ctx, series, va); err != nil {
		return nil, err
	}
	return out, nil
}

// The artifact's trees entry: one JSON object holding every horizon's
// model in the order of the manifest's horizons.
const treesEntry = "trees.json"

// A treeKind is one of a forecaster's two kinds of trees as its artifact
// stores them: the trees blended into its own forecasts (weights per
// horizon) and the switch's trees (no weights).
type treeKind struct {
	name        string // in errors
	entry       string
	features    string // the feature set's name
	numFeatures int
	weighted    bool
}

var (
	blendedTreeKind = treeKind{"trees", treesEntry, treeFeatureSet, numTreeFeatures, true}
	switchTreeKind  = treeKind{"switch trees", switchTreesEntry, switchTreeFeatureSet, numSwitchTreeFeatures, false}
)

// treesManifest is the manifest's record of one kind of trees.
type treesManifest struct {
	Entry    string    `json:"entry"`
	Features string    `json:"features"`
	Horizons []int     `json:"horizons"`
	Weights  []float64 `json:"weights,omitempty"`
}

type treesFile struct {
	Models []json.RawMessage `json:"models"`
}

func (tm *treeModel) manifest(k treeKind) *treesManifest {
	return &treesManifest{Entry: k.entry, Features: k.features, Horizons: tm.horizons, Weights: tm.weights}
}

func (tm *treeModel) encode() ([]byte, error) {
	var f treesFile
	for _, m := range tm.models {
		var b bytes.Buffer
		if err := m.Encode(&b); err != nil {
			return nil, err
		}
		f.Models = append(f.Models, bytes.TrimSpace(b.Bytes()))
	}
	return json.Marshal(f)
}

// decodeTrees checks the manifest's trees of kind k against a recipe of
// horizon K and decodes their entry; errors say what is wrong, the caller
// names the entry.
func decodeTrees(k treeKind, man *treesManifest, data []byte, K int) (*treeModel, error) {
	if man.Features != k.features {
		return nil, fmt.Errorf("%s read features %q; this build computes %q", k.name, man.Features, k.features)
	}
	if err := checkTreeHorizons(man.Horizons, K); err != nil {
		return nil, fmt.Errorf("%s' horizons %v: %w", k.name, man.Horizons, err)
	}
	tm := &treeModel{horizons: man.Horizons}
	if k.weighted {
		if len(man.Weights) != K {
			return nil, fmt.Errorf("%s' weights: %d values for horizon %d", k.name, len(man.Weights), K)
		}
		for h, w := range man.Weights {
			if !(w >= 0 && w <= 1) {
				return nil, fmt.Errorf("%s' weight at h=%d is %v: must be in [0, 1]", k.name, h+1, w)
			}
		}
		tm.weights = man.Weights
	}
	var err error
	if tm.models, err = decodeTreeModels(data, man.Horizons, k.numFeatures); err != nil {
		return nil, err
	}
	return tm, nil
}

// decodeTreeModels decodes a trees entry: one model per horizon of hs,
// each reading features features.
func decodeTreeModels(data []byte, hs []int, features int) ([]*gbdt.Model, error) {
	var f treesFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if len(f.Models) != len(hs) {
		return nil, fmt.Errorf("%d models for %d horizons", len(f.Models), len(hs))
	}
	var models []*gbdt.Model
	for i, raw := range f.Models {
		m, err := gbdt.Decode(raw)
		if err != nil {
			return nil, fmt.Errorf("model %d (h=%d): %w", i+1, hs[i], err)
		}
		if m.Features() != features {
			return nil, fmt.Errorf("model %d (h=%d) reads %d features; the feature set has %d", i+1, hs[i], m.Features(), features)
		}
		models = append(models, m)
	}
	return models, nil
}
