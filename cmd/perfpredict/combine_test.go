package main

import (
	"math"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/serve"
)

// TestChooseCombination: on validation targets where the network is off by
// +1 and a baseline by -1 everywhere, the even mix is exact and the evidence
// is overwhelming (the gain is the same on every target), so it is kept;
// the worse baseline is not chosen, and a network that is already exact
// stays alone.
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
	if c.Baseline != "ridge_ar" || c.Weight != 0.5 || c.GridWeight != 0.5 || c.Evidence != evidenceCap ||
		c.ValMASE > 1e-12 || c.LSTMValMASE != 0.5 || c.BestOnVal != "ridge_ar" {
		t.Errorf("got %+v, want ridge_ar at weight 0.5 (t capped), validation MASE 0, network alone 0.5, best on validation ridge_ar", c)
	}
	if s := c.String(); !strings.Contains(s, "0.50 lstm + 0.50 ridge_ar") || strings.Contains(s, "scaled") {
		t.Errorf("String() = %q", s)
	}
	exact := make([]float64, sp.Val)
	copy(exact, y[sp.Train:sp.Fit()])
	c = chooseCombination(y, sp, 2, exact, map[string][]float64{"ridge_ar": good})
	if c.Baseline != "" || c.Weight != 1 || c.ValMASE != 0 || c.BestOnVal != "ridge_ar" {
		t.Errorf("exact network: got %+v, want the network alone", c)
	}
	if s := c.String(); !strings.Contains(s, "model = lstm") {
		t.Errorf("String() = %q", s)
	}
}

// TestChooseCombinationWeakEvidence: a baseline that is exact on the first
// tenth of the validation targets and as far off as the network elsewhere
// wins the grid at weight 0 (validation MAE 0.9 against 1), but all of its
// gain lies in one batch of ten: batch means 1, 0, ..., 0 have mean 0.1 and
// standard error 0.1, t = 1, so the baseline keeps half of its share.
func TestChooseCombinationWeakEvidence(t *testing.T) {
	sp := baseline.SplitOf(1000) // validation 700..849: batches of 15
	y := make([]float64, 1000)
	for i := range y {
		y[i] = float64(i % 5)
	}
	lstm, b := make([]float64, sp.Val), make([]float64, sp.Val)
	for k := range lstm {
		v := y[sp.Train+k]
		lstm[k], b[k] = v+1, v+1
		if k < sp.Val/evidenceBatches {
			b[k] = v
		}
	}
	c := chooseCombination(y, sp, 1, lstm, map[string][]float64{"ma12": b})
	if c.GridWeight != 0 || math.Abs(c.Evidence-1) > 1e-9 || math.Abs(c.Weight-0.5) > 1e-9 || c.Baseline != "ma12" {
		t.Errorf("got %+v, want grid weight 0, t = 1, weight 0.5 with ma12", c)
	}
	if want := 0.95; math.Abs(c.ValMASE-want) > 1e-9 {
		t.Errorf("validation MASE %v, want %v (half the gain of the first batch)", c.ValMASE, want)
	}
	if s := c.String(); !strings.Contains(s, "t = 1.00 scaled ma12's share down from 1.00") {
		t.Errorf("String() = %q", s)
	}
	// The same gain spread evenly over the batches is certain: full share.
	for k := range b {
		b[k] = y[sp.Train+k] + 1
		if k%evidenceBatches == 0 {
			b[k] = y[sp.Train+k]
		}
	}
	c = chooseCombination(y, sp, 1, lstm, map[string][]float64{"ma12": b})
	if c.Weight != 0 || c.Evidence < evidenceFull {
		t.Errorf("even gain: got %+v, want the baseline alone", c)
	}
}

func TestBatchMeansT(t *testing.T) {
	for _, tc := range []struct {
		x    []float64
		want float64
	}{
		{[]float64{1, 2, 3}, 0},                          // one batch: no standard error
		{[]float64{2, 2, 2, 2}, evidenceCap},             // no spread, positive
		{[]float64{-1, -1, -1, -1}, -evidenceCap},        // no spread, negative
		{[]float64{0, 0, 0, 0}, 0},                       // nothing at all
		{[]float64{1, 3, 3, 5}, 3},                       // batch means 2, 4: mean 3, standard error 1
		{[]float64{0, 2, 0, -2, 2, 4}, math.Sqrt(3) / 2}, // means 1, -1, 3: mean 1, variance 4, se sqrt(4/3)
	} {
		got := batchMeansT(tc.x, 10)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("batchMeansT(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestDefaultInputsParse(t *testing.T) {
	if _, err := serve.ParseProtocolInputs(strings.Split(defaultInputs, ",")); err != nil {
		t.Errorf("default %q: %v", defaultInputs, err)
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
	d, err := prepareSeries(s)
	if err != nil {
		t.Fatal(err)
	}
	if d.proto.Scale != 2 || d.proto.Level.Mean != 11 || d.proto.Level.SD != 1 {
		t.Fatalf("scale %v level %+v", d.proto.Scale, d.proto.Level)
	}
	x := make([]float32, 3*3)
	d.recipe([]serve.ProtocolInput{{Name: "rel_last", Clip: 30}, {Name: "level", Clip: 10}, {Name: "diff", Clip: 30}}).Window(x, s.Values, 96, 3) // rows 94, 95, 96; last value 10
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
