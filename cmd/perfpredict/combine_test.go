package main

import (
	"math"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
)

// TestChooseCombination: on validation targets where the network is off by
// +1 and a baseline by -1 everywhere, the even mix is exact; the worse
// baseline is not chosen, and a network that is already exact stays alone.
func TestChooseCombination(t *testing.T) {
	sp := baseline.SplitOf(100) // validation 70..84
	y := make([]float64, 100)
	for i := range y {
		y[i] = float64(i % 7)
	}
	lstm, good, bad := make([]float64, sp.Val), make([]float64, sp.Val), make([]float64, sp.Val)
	for k := range lstm {
		v := y[sp.Train+k]
		lstm[k], good[k], bad[k] = v+1, v-1, v+3
	}
	c := chooseCombination(y, sp, 2, lstm, map[string][]float64{"ridge_ar": good, "ma12": bad})
	if c.Baseline != "ridge_ar" || math.Abs(c.Weight-0.5) > 1e-12 || c.ValMASE > 1e-12 || c.LSTMValMASE != 0.5 || c.BestOnVal != "ridge_ar" {
		t.Errorf("got %+v, want ridge_ar at weight 0.5, validation MASE 0, network alone 0.5, best on validation ridge_ar", c)
	}
	exact := make([]float64, sp.Val)
	copy(exact, y[sp.Train:sp.Fit()])
	c = chooseCombination(y, sp, 2, exact, map[string][]float64{"ridge_ar": good})
	if c.Baseline != "" || c.Weight != 1 || c.ValMASE != 0 {
		t.Errorf("exact network: got %+v, want the network alone", c)
	}
	if s := c.String(); !strings.Contains(s, "model = lstm") {
		t.Errorf("String() = %q", s)
	}
}

func TestParseInputs(t *testing.T) {
	const spec = "rel_last@30,level@10,diff@2.5"
	want := []inputSpec{{"rel_last", 30}, {"level", 10}, {"diff", 2.5}}
	got, err := parseInputs(strings.Split(spec, ","))
	if err != nil || len(got) != len(want) {
		t.Fatalf("%v: %v, %v", spec, got, err)
	}
	for i := range got {
		if got[i] != want[i] || got[i].String() != strings.Split(spec, ",")[i] {
			t.Errorf("input %d: %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := parseInputs(strings.Split(defaultInputs, ",")); err != nil {
		t.Errorf("default %q: %v", defaultInputs, err)
	}
	for _, bad := range [][]string{nil, {"rel_last"}, {"rel_last@x"}, {"rel_last@-1"}, {"hour_sin@3"}, {"level@Inf"}} {
		if _, err := parseInputs(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestWindowInputs checks the three inputs and their clipping on a series
// with a known scale: train diffs alternate +-2 (d = 2).
func TestWindowInputs(t *testing.T) {
	n := 100
	s := baseline.Series{Name: "w", Values: make([]float64, n)}
	for i := range s.Values {
		s.Values[i] = float64(10 + 2*(i%2))
	}
	s.Values[95] = 1000 // a spike after training
	d := &seriesData{s: s, sp: baseline.SplitOf(n), scale: baseline.NaiveScale(s.Values, baseline.SplitOf(n)),
		level: baseline.FitScaler(s.Values[:70])}
	if d.scale != 2 || d.level.Mean != 11 || d.level.SD != 1 {
		t.Fatalf("scale %v level %+v", d.scale, d.level)
	}
	x := make([]float32, 3*3)
	d.window(x, 96, 3, []inputSpec{{"rel_last", 30}, {"level", 10}, {"diff", 30}}) // rows 94, 95, 96; last value 10
	want := []float32{
		0, -1, -1, // y=10: rel 0, level -1, diff (10-12)/2
		30, 10, 30, // the spike, clipped
		0, -1, -30, // back to 10: diff clipped
	}
	for i := range want {
		if x[i] != want[i] {
			t.Errorf("x[%d] = %v, want %v (window %v)", i, x[i], want[i], x)
		}
	}
}
