package forecast

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/gbdt"
)

func TestSwitchTreeFeatures(t *testing.T) {
	y := make([]float64, 400)
	for i := range y {
		y[i] = 100 + 10*math.Sin(float64(i)/7) + float64(i%5)
	}
	const u = 2.5
	f := make([]float64, numSwitchTreeFeatures)
	switchTreeFeatures(f, y, u)
	last := y[len(y)-1]
	// Lags 1..59 against the last value, in the unit.
	for k := 1; k < 60; k++ {
		if want := (y[len(y)-1-k] - last) / u; math.Abs(f[k-1]-want) > 1e-12 {
			t.Fatalf("lag %d: %v, want %v", k, f[k-1], want)
		}
	}
	// Each window's mean against the last value and its standard
	// deviation (two-pass), in the unit.
	for i, w := range []int{12, 48, 288} {
		win := y[len(y)-w:]
		var mean, ss float64
		for _, v := range win {
			mean += v / float64(w)
		}
		for _, v := range win {
			ss += (v - mean) * (v - mean)
		}
		got := f[59+2*i : 61+2*i]
		if want := (mean - last) / u; math.Abs(got[0]-want) > 1e-9 {
			t.Errorf("window %d mean: %v, want %v", w, got[0], want)
		}
		if want := math.Sqrt(ss/float64(w)) / u; math.Abs(got[1]-want) > 1e-9 {
			t.Errorf("window %d spread: %v, want %v", w, got[1], want)
		}
	}
	if got := f[len(f)-1]; got != last/u {
		t.Errorf("level %v, want %v", got, last/u)
	}
	if len(f) != 66 {
		t.Errorf("%d features, want 66", len(f))
	}
	// A series shifted by a constant changes only the level; one scaled
	// with its unit changes nothing.
	g := make([]float64, numSwitchTreeFeatures)
	shifted, scaled := slices.Clone(y), slices.Clone(y)
	for i := range y {
		shifted[i] += 1000
		scaled[i] *= 4
	}
	switchTreeFeatures(g, shifted, u)
	for i := range len(f) - 1 {
		if math.Abs(g[i]-f[i]) > 1e-9 {
			t.Fatalf("shifted: feature %d is %v, was %v", i, g[i], f[i])
		}
	}
	switchTreeFeatures(g, scaled, 4*u)
	for i := range f {
		if math.Abs(g[i]-f[i]) > 1e-9 {
			t.Fatalf("scaled: feature %d is %v, was %v", i, g[i], f[i])
		}
	}
}

func TestTrainFitsSwitchTrees(t *testing.T) {
	opt := tinyOptions()
	opt.Ensemble = 1
	opt.SwitchTrees = DefaultSwitchTreeOptions()
	opt.SwitchTrees.Params.Rounds = 20
	series := []baseline.Series{synthSeries("a", 1400, 1), synthSeries("b", 1100, 2)}
	fc, err := Train(context.Background(), series, opt)
	if err != nil {
		t.Fatal(err)
	}
	in := fc.Info().SwitchTrees
	if in == nil || in.Features != switchTreeFeatureSet || !slices.Equal(in.Horizons, []int{1, 3, 4}) || len(in.Trees) != 3 {
		t.Fatalf("Info().SwitchTrees = %+v", in)
	}
	for h, n := range in.Trees {
		if n < 1 || n > 20 {
			t.Errorf("h=%d: %d trees, want 1..20", h+1, n)
		}
	}
	// The trees learnt something: on the validation rows their L1 error
	// at h = 1 is below the error of forecasting no change.
	units := []float64{naiveUnit(series[0].Values[:980]), naiveUnit(series[1].Values[:770])}
	valid := switchTreeRows(series, units, 1, func(s int) int { return []int{980, 770}[s] }, func(s int) int { return []int{1190, 935}[s] })
	var model, still float64
	for r := range valid.Rows {
		model += math.Abs(fc.switchTrees.models[0].Predict(valid.X[r*valid.Cols:(r+1)*valid.Cols]) - valid.Y[r])
		still += math.Abs(valid.Y[r])
	}
	if !(model < still) {
		t.Errorf("validation L1 at h=1: trees %.1f, no change %.1f", model, still)
	}

	// The options are checked, and the error names the field.
	bad := opt
	bad.SwitchTrees = &SwitchTreeOptions{Params: opt.SwitchTrees.Params, Horizons: []int{1, 3}}
	if _, err := Train(context.Background(), series, bad); err == nil || !strings.Contains(err.Error(), "SwitchTrees.Horizons [1 3]") {
		t.Errorf("horizons ending short: err %v", err)
	}
	bad.SwitchTrees = &SwitchTreeOptions{Params: opt.SwitchTrees.Params}
	bad.SwitchTrees.Params.Rounds = 0
	if _, err := Train(context.Background(), series, bad); err == nil || !strings.Contains(err.Error(), "SwitchTrees.gbdt: params: Rounds 0") {
		t.Errorf("no rounds: err %v", err)
	}
}

// TestSwitchTreesNeedWindows: Train fits the switch's trees when the
// series give minSwitchTreeRows training windows of SwitchTreeHistory steps
// and the horizon, and leaves them out, saying so, with one fewer.
func TestSwitchTreesNeedWindows(t *testing.T) {
	opt := tinyOptions()
	opt.Ensemble = 1
	opt.SwitchTrees = DefaultSwitchTreeOptions()
	opt.SwitchTrees.Params.Rounds = 5
	K := opt.Horizon
	for _, want := range []int{minSwitchTreeRows, minSwitchTreeRows - 1} {
		n := 0
		for trainEnd, _ := opt.Split(n); trainEnd-(SwitchTreeHistory-1+K) < want; trainEnd, _ = opt.Split(n) {
			n++
		}
		if trainEnd, _ := opt.Split(n); trainEnd-(SwitchTreeHistory-1+K) != want {
			t.Fatalf("no series length gives %d windows", want)
		}
		var log strings.Builder
		o := opt
		o.Logf = func(format string, args ...any) { fmt.Fprintf(&log, format+"\n", args...) }
		fc, err := Train(context.Background(), []baseline.Series{synthSeries("a", n, 1)}, o)
		if err != nil {
			t.Fatal(err)
		}
		fitted, said := fc.Info().SwitchTrees != nil, strings.Contains(log.String(), "switch trees: left out")
		if fitted != (want >= minSwitchTreeRows) || said == fitted {
			t.Errorf("%d windows: trees fitted %v, left out said %v", want, fitted, said)
		}
	}
}

func TestSwitchTreesArtifact(t *testing.T) {
	base, _ := tinyForecaster(t)
	fc := withSwitchTrees(t, base)
	var buf bytes.Buffer
	if err := fc.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	back, err := Decode(good, "f.zip")
	if err != nil {
		t.Fatal(err)
	}
	if back.Info().SwitchTrees == nil || back.switchTrees == nil {
		t.Fatal("the switch trees were lost in the round trip")
	}
	// A switch over the artifact forecasts as the one over the original.
	y := synthSeries("e", 1500, 9).Values
	forecasts := func(fc *Forecaster) []float64 {
		sw := NewSwitch(fc)
		if err := sw.Fit(baseline.Series{Values: y[:1000]}, 800); err != nil {
			t.Fatal(err)
		}
		for _, v := range y[1000:] {
			sw.Update(v)
		}
		var out []float64
		for h := 1; h <= fc.Horizon(); h++ {
			v, err := sw.Forecast(h)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		return out
	}
	if a, b := forecasts(fc), forecasts(back); !slices.Equal(a, b) {
		t.Errorf("after the round trip the switch forecasts %v, before %v", b, a)
	}
	if a, b := forecasts(fc), forecasts(base); slices.Equal(a, b) {
		t.Errorf("the switch forecasts %v with the trees and without them", a)
	}
	var man map[string]any
	json.Unmarshal(entryOf(t, good, manifestName), &man)
	if man["version"] != 4.0 {
		t.Errorf("version %v, want 4 (older builds would serve a switch of two forecasters)", man["version"])
	}

	edit := func(f func(m map[string]any)) []byte { return editManifest(t, good, "switch_trees", f) }
	checkDecodeErrors(t, []decodeCase{
		{"missing entry", dropEntry(t, good, switchTreesEntry), "switch-trees.json: missing"},
		{"other features", edit(func(m map[string]any) { m["features"] = "naive-unit-v0" }), `switch trees read features "naive-unit-v0"`},
		{"horizons", edit(func(m map[string]any) { m["horizons"] = []int{1, 4} }), "3 models for 2 horizons"},
		{"horizons short", edit(func(m map[string]any) { m["horizons"] = []int{1, 2} }), "must run from 1 to the horizon 4"},
		{"entry name", edit(func(m map[string]any) { m["entry"] = "../x" }), `switch trees entry "../x"`},
		{"bad model", rewrite(t, good, func(name string, b []byte) []byte {
			if name == switchTreesEntry {
				return bytes.Replace(b, []byte(`"features":`+itoa(numSwitchTreeFeatures)), []byte(`"features":3`), 1)
			}
			return b
		}), "model 1 (h=1)"},
	})
}

// entryOf returns one stored entry of a zip.
func entryOf(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	var out []byte
	rewrite(t, data, func(n string, b []byte) []byte {
		if n == name {
			out = b
		}
		return b
	})
	return out
}

// TestLocalTreesLearnTheSeries: trees fitted on random walks do not know a
// series that repeats a 40-step sawtooth; fitted on that series' first
// 1600 steps, the corrections cut the trees' error on its next 400 by
// more than half at every modelled horizon. A history with too few
// windows leaves the trees as they are.
func TestLocalTreesLearnTheSeries(t *testing.T) {
	fc, _ := tinyForecaster(t)
	tm := withSwitchTrees(t, fc).switchTrees
	r := rand.New(rand.NewPCG(5, 6))
	y := make([]float64, 2000)
	for i := range y {
		y[i] = 10 + float64(i%40)/4 + 0.2*r.NormFloat64()
	}
	const fitEnd, nTrain = 1600, 1300
	u := naiveUnit(y[:nTrain])
	local, err := tm.fitLocal(context.Background(), y[:fitEnd], nTrain, u)
	if err != nil {
		t.Fatal(err)
	}
	if local == tm || len(local.local) != len(tm.horizons) {
		t.Fatalf("no corrections fitted on %d steps", fitEnd)
	}
	K := fc.Horizon()
	x := make([]float64, numSwitchTreeFeatures)
	out := make([]float64, K)
	for i, h := range tm.horizons {
		var global, corrected float64
		for o := fitEnd; o+h < len(y); o++ {
			switchTreeFeatures(x, y[o+1-SwitchTreeHistory:o+1], u)
			want := (y[o+h] - y[o]) / u
			tm.predict(out, x, 1, K, nil)
			global += math.Abs(out[h-1] - want)
			local.predict(out, x, 1, K, nil)
			corrected += math.Abs(out[h-1] - want)
		}
		if corrected > global/2 {
			t.Errorf("h=%d (model %d): mean absolute error %.3g with the corrections, %.3g without", h, i, corrected, global)
		}
	}
	if short, err := tm.fitLocal(context.Background(), y[:SwitchTreeHistory+K+minSwitchTreeRows], SwitchTreeHistory+K+minSwitchTreeRows-10, u); err != nil || short != tm {
		t.Errorf("on a history of too few windows: %p, %v; want the trees themselves (%p)", short, err, tm)
	}
	// One absurd value overflows the spreads of the rows that read it:
	// those are left out, not the corrections.
	y[900] = 1e200
	if spiked, err := tm.fitLocal(context.Background(), y[:fitEnd], nTrain, u); err != nil || spiked.local == nil {
		t.Errorf("with a value of 1e200 in the history: %v, corrections %v", err, spiked != nil && spiked.local != nil)
	}
}

// TestKeepFinite: rows with a feature or target that is not finite go,
// the others keep their order, and the count of those kept among the
// first k is returned.
func TestKeepFinite(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	d := &gbdt.Data{Cols: 2, Rows: 5,
		X: []float64{1, 2, inf, 3, 4, 5, 6, 7, 8, 9},
		Y: []float64{10, 11, 12, nan, 14}}
	if k := keepFinite(d, 3); k != 2 || d.Rows != 3 || !slices.Equal(d.X, []float64{1, 2, 4, 5, 8, 9}) || !slices.Equal(d.Y, []float64{10, 12, 14}) {
		t.Errorf("keepFinite: first %d, rows %d, X %v, Y %v", k, d.Rows, d.X, d.Y)
	}
}
