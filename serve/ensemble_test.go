package serve

import (
	"context"
	"math"
	"testing"
)

func TestEnsemble(t *testing.T) {
	x := randWindow(5, 30)
	var members []*Predictor
	var single [][]float64
	for seed := range 3 {
		m := tinyModel(t, 3, 2, 10)
		m.Scaler.Mean[0] = float64(seed) // members differ by a known offset
		p, err := New(m, Options{Fallback: Persistence{}})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		members = append(members, p)
		got, err := p.Predict(context.Background(), Window{X: x, Last: []float64{10}})
		if err != nil {
			t.Fatal(err)
		}
		single = append(single, append([]float64(nil), got.Values...))
	}
	w := Window{X: x, Last: []float64{10}}
	for _, c := range []struct {
		rule    Rule
		weights []float64
		want    func(k int) float64
	}{
		{Mean, nil, func(k int) float64 { return (single[0][k] + single[1][k] + single[2][k]) / 3 }},
		{Median, nil, func(k int) float64 { return single[1][k] }}, // offsets 0 < 1 < 2
		{Weighted, []float64{0, 1, 3}, func(k int) float64 { return (single[1][k] + 3*single[2][k]) / 4 }},
	} {
		e, err := NewEnsemble(c.rule, c.weights, members...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Predict(context.Background(), w)
		if err != nil {
			t.Fatal(err)
		}
		if got.Source != SourceEnsemble || len(got.Attention) != 10 {
			t.Errorf("%v: source %v, attention %d", c.rule, got.Source, len(got.Attention))
		}
		for k := range got.Values {
			if math.Abs(got.Values[k]-c.want(k)) > 1e-9 {
				t.Errorf("%v: value %d = %v, want %v", c.rule, k, got.Values[k], c.want(k))
			}
		}
	}
	if w := InverseErrorWeights([]float64{1, 3, math.Inf(1)}); math.Abs(w[0]-0.75) > 1e-12 || w[2] != 0 {
		t.Errorf("inverse error weights %v", w)
	}
	// A member that fails is left out.
	sp, _ := ParseSpec(tinyModel(t, 3, 2, 10))
	bad, err := NewWithSpec(panicNet{}, sp, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	e, _ := NewEnsemble(Mean, nil, members[0], bad)
	got, err := e.Predict(context.Background(), w)
	if err != nil || got.Values[0] != single[0][0] {
		t.Errorf("with a failing member: %v, %v", got.Values, err)
	}
}
