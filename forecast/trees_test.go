package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/gbdt"
)

func TestTreeFeatures(t *testing.T) {
	y := []float64{5, 1, 2, 4, 3, 7, 6, 8}
	u := 2.0
	f := make([]float64, numTreeFeatures)
	treeFeatures(f, y, u)
	// Lags 1..6: (y[n-1-j] - 8) / 2; lag 8, beyond the window, reads y[0].
	for i, want := range []float64{-1, -0.5, -2.5, -2, -3, -3.5, -1.5} {
		if f[i] != want {
			t.Errorf("lag feature %d (lag %d) = %v, want %v", i, treeLags[i], f[i], want)
		}
	}
	// The most recent change (8-6)/2 = 1, then (6-7)/2.
	if d := f[len(treeLags):]; d[0] != 1 || d[1] != -0.5 {
		t.Errorf("changes %v, want 1, -0.5, ...", d[:2])
	}
	// The mean of the last 3 (7, 6, 8) is 7: (7-8)/2.
	if m := f[len(treeLags)+treeDiffs]; m != -0.5 {
		t.Errorf("mean of 3 feature %v, want -0.5", m)
	}
	// The last value is the window's maximum.
	if pos := f[numTreeFeatures-2]; pos != 1 {
		t.Errorf("position %v, want 1", pos)
	}
	// Scaling the series and its unit changes nothing; shifting it changes
	// only the unit against the level.
	g := make([]float64, numTreeFeatures)
	scaled := make([]float64, len(y))
	for i, v := range y {
		scaled[i] = 1000 * v
	}
	treeFeatures(g, scaled, 1000*u)
	for i := range f {
		if math.Abs(f[i]-g[i]) > 1e-9*math.Max(1, math.Abs(f[i])) {
			t.Errorf("feature %d: %v, scaled by 1000 %v", i, f[i], g[i])
		}
	}
	for i, v := range y {
		scaled[i] = v + 100
	}
	treeFeatures(g, scaled, u)
	for i := range numTreeFeatures - 1 {
		if math.Abs(f[i]-g[i]) > 1e-9*math.Max(1, math.Abs(f[i])) {
			t.Errorf("feature %d: %v, shifted by 100 %v", i, f[i], g[i])
		}
	}
	if last := numTreeFeatures - 1; !(g[last] < f[last]) {
		t.Errorf("unit against level: %v, shifted up %v; want it lower", f[last], g[last])
	}
	// A tiny unit under huge values stays finite.
	treeFeatures(g, []float64{1e300, -1e300, 1e300}, 1e-12)
	for i, v := range g {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("feature %d is %v", i, v)
		}
	}
}

// tinyTreeOptions is tinyOptions with a few small trees.
func tinyTreeOptions() Options {
	o := tinyOptions()
	p := gbdt.DefaultParams()
	p.Loss, p.Rounds, p.MaxLeaves, p.LearningRate = gbdt.LossL1, 20, 8, 0.2
	o.Trees = &TreeOptions{Params: p, Horizons: []int{1, 2, 4}, Stride: 3}
	return o
}

var (
	treesOnce sync.Once
	treesFC   *Forecaster
	treesErr  error
)

func treeForecaster(t *testing.T) (*Forecaster, []baseline.Series) {
	t.Helper()
	_, ss := tinyForecaster(t)
	treesOnce.Do(func() { treesFC, treesErr = Train(context.Background(), ss, tinyTreeOptions()) })
	if treesErr != nil {
		t.Fatal(treesErr)
	}
	return treesFC, ss
}

func TestTreesServeTheCombination(t *testing.T) {
	fc, ss := treeForecaster(t)
	ctx := context.Background()
	ti := fc.Info().Trees
	if ti == nil || len(ti.Weights) != 4 || len(ti.Trees) != 3 || ti.Features != treeFeatureSet {
		t.Fatalf("trees info %+v", ti)
	}
	for _, w := range ti.Weights {
		if w < 0 || w > 1 {
			t.Fatalf("weights %v", ti.Weights)
		}
	}
	// Forecast is (1-w) networks + w trees at every horizon, the trees
	// interpolated at h = 3.
	hist := ss[0].Values[:500]
	f, err := fc.Forecast(ctx, hist)
	if err != nil {
		t.Fatal(err)
	}
	x, u, err := fc.Inputs(hist)
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := fc.predict(ctx, x, nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	feats := make([]float64, numTreeFeatures)
	treeFeatures(feats, hist[len(hist)-fc.Needs():], u)
	per := make([]float64, 3)
	for i, m := range fc.trees.models {
		per[i] = m.Predict(feats)
	}
	tree := []float64{per[0], per[1], (per[1] + per[2]) / 2, per[2]}
	for k, p := range f.Points {
		w := ti.Weights[k]
		want := hist[len(hist)-1] + u*float64(float32((1-w)*float64(net[k])+w*tree[k]))
		if rel(p.Value, want) > 1e-12 {
			t.Errorf("h=%d: served %v, want %v (weight %v)", k+1, p.Value, want, w)
		}
	}
	// The artifact serves the same forecasts and says it needs version 2
	// (3: its calibration has a scale, TestCalibrationScaleArtifacts).
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(buf.Bytes(), "mem")
	if err != nil {
		t.Fatal(err)
	}
	g, err := got.Forecast(ctx, hist)
	if err != nil {
		t.Fatal(err)
	}
	for k := range f.Points {
		if g.Points[k] != f.Points[k] {
			t.Fatalf("h=%d: %+v before saving, %+v after", k+1, f.Points[k], g.Points[k])
		}
	}
	if v := manifestVersion(t, buf.Bytes()); v != 3 {
		t.Errorf("an artifact with trees and a calibration scale has version %d, want 3", v)
	}
	unit := *fc
	unit.calib.Scale = ""
	buf.Reset()
	if err := unit.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if v := manifestVersion(t, buf.Bytes()); v != 2 {
		t.Errorf("an artifact with trees calibrated in the unit has version %d, want 2", v)
	}
	plain, _ := tinyForecaster(t)
	buf.Reset()
	plainUnit := *plain
	plainUnit.calib.Scale = ""
	if err := plainUnit.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if v := manifestVersion(t, buf.Bytes()); v != 1 {
		t.Errorf("an artifact without trees calibrated in the unit has version %d, want 1 (older builds read it)", v)
	}
}

func manifestVersion(t *testing.T, data []byte) int {
	var version int
	rewrite(t, data, func(name string, b []byte) []byte {
		if name == manifestName {
			var m manifest
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			version = m.Version
		}
		return b
	})
	return version
}

func TestTreesScoredEqualsServed(t *testing.T) {
	fc, ss := treeForecaster(t)
	ctx := context.Background()
	rep, err := Evaluate(ctx, fc, ss[:1], []int{1, 4}, EvalOptions{Forecasts: true})
	if err != nil {
		t.Fatal(err)
	}
	s := ss[0]
	for i := 0; i < len(rep.Forecasts); i += 29 {
		sf := rep.Forecasts[i]
		f, err := fc.Forecast(ctx, s.Values[:sf.Origin+1])
		if err != nil {
			t.Fatal(err)
		}
		got := f.Points[sf.Horizon-1]
		if rel(got.Value, sf.Forecast) > 1e-12 || rel(got.P10, sf.P10) > 1e-12 || rel(got.P90, sf.P90) > 1e-12 {
			t.Fatalf("origin %d h=%d: served %+v, scored %+v", sf.Origin, sf.Horizon, got, sf)
		}
	}
}

func TestAddTreesFixedWeights(t *testing.T) {
	plain, ss := tinyForecaster(t)
	ctx := context.Background()
	o := tinyTreeOptions()
	o.Trees.Weights = []float64{1}
	fc, err := AddTrees(ctx, plain, ss, o)
	if err != nil {
		t.Fatal(err)
	}
	// Weight 1: the trees alone, whatever the networks say.
	hist := ss[1].Values[:400]
	f, err := fc.Forecast(ctx, hist)
	if err != nil {
		t.Fatal(err)
	}
	_, u, _ := fc.Inputs(hist)
	feats := make([]float64, numTreeFeatures)
	treeFeatures(feats, hist[len(hist)-fc.Needs():], u)
	if want := hist[len(hist)-1] + u*float64(float32(fc.trees.models[0].Predict(feats))); rel(f.Points[0].Value, want) > 1e-12 {
		t.Errorf("h=1: %v, trees alone %v", f.Points[0].Value, want)
	}
	// The calibration is the combination's, not the networks'.
	if c, p := fc.Calibration(), plain.Calibration(); c.Q10[0] == p.Q10[0] && c.Q90[0] == p.Q90[0] {
		t.Errorf("calibration unchanged by the trees: %+v", c)
	}
	// The original forecaster keeps serving its networks alone.
	if plain.trees != nil {
		t.Fatal("AddTrees changed its argument")
	}
	for _, tc := range []struct {
		edit func(*TreeOptions)
		want string
	}{
		{func(t *TreeOptions) { t.Weights = []float64{0.5, 2} }, "Trees.Weights: 2 values"},
		{func(t *TreeOptions) { t.Weights = []float64{1.5} }, "must be in [0, 1]"},
		{func(t *TreeOptions) { t.Horizons = []int{2, 4} }, "Trees.Horizons [2 4]: must run from 1 to the horizon 4"},
		{func(t *TreeOptions) { t.Stride = 0 }, "Trees.Stride 0"},
		{func(t *TreeOptions) { t.Params.MaxBins = 1 }, "Trees.gbdt: params: MaxBins 1"},
	} {
		o := tinyTreeOptions()
		tc.edit(o.Trees)
		if _, err := Train(ctx, ss, o); err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Train: error %v, want bad input naming %q", err, tc.want)
		}
	}
}

func TestTreesArtifactErrors(t *testing.T) {
	fc, _ := treeForecaster(t)
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	treesEdit := func(f func(m map[string]any)) []byte { return editManifest(t, good, "trees", f) }
	checkDecodeErrors(t, []decodeCase{
		{"missing entry", dropEntry(t, good, treesEntry), "trees.json: missing"},
		{"other features", treesEdit(func(m map[string]any) { m["features"] = "summary-v0" }), `trees read features "summary-v0"`},
		{"weights", treesEdit(func(m map[string]any) { m["weights"] = []float64{0, 0, 0, 7} }), "weight at h=4 is 7"},
		{"horizons", treesEdit(func(m map[string]any) { m["horizons"] = []int{1, 4} }), "3 models for 2 horizons"},
		{"entry name", treesEdit(func(m map[string]any) { m["entry"] = "../x" }), `trees entry "../x"`},
		{"bad model", rewrite(t, good, func(name string, b []byte) []byte {
			if name == treesEntry {
				return bytes.Replace(b, []byte(`"features":`+itoa(numTreeFeatures)), []byte(`"features":3`), 1)
			}
			return b
		}), "model 1 (h=1)"},
	})
}

// decodeCase is an artifact Decode must refuse, and what its error says.
type decodeCase struct {
	name string
	data []byte
	want string
}

// checkDecodeErrors checks that Decode refuses each case with bad input
// naming the source and the case's words.
func checkDecodeErrors(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data, "f.zip")
			if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "f.zip") {
				t.Fatalf("err = %v, want one naming f.zip and %q", err, c.want)
			}
		})
	}
}

// editManifest is the artifact good with f applied to its manifest's
// object under key.
func editManifest(t *testing.T, good []byte, key string, f func(m map[string]any)) []byte {
	return rewrite(t, good, func(name string, b []byte) []byte {
		if name != manifestName {
			return b
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		f(m[key].(map[string]any))
		out, _ := json.Marshal(m)
		return out
	})
}

// dropEntry is the artifact good without its entry name.
func dropEntry(t *testing.T, good []byte, name string) []byte {
	return rewrite(t, good, func(n string, b []byte) []byte {
		if n == name {
			return nil
		}
		return b
	})
}

func itoa(v int) string { b, _ := json.Marshal(v); return string(b) }

// FuzzDecodeTrees mutates the manifest and the trees entry of a valid
// artifact with trees (its network kept), so mutations reach the trees'
// checks and the gbdt decoder past the zip's CRC.
func FuzzDecodeTrees(f *testing.F) { fuzzManifestAnd(f, "tiny_trees.zip", treesEntry) }
