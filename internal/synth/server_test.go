package synth

import (
	"math"
	"slices"
	"testing"
)

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestServerDeterministic(t *testing.T) {
	a, sa := Server(3000, 9)
	b, sb := Server(3000, 9)
	c, _ := Server(3000, 10)
	if !slices.Equal(a, b) || !slices.Equal(sa.Events, sb.Events) {
		t.Fatal("the same seed gave different series")
	}
	if slices.Equal(a, c) {
		t.Fatal("seeds 9 and 10 gave the same series")
	}
}

// A generated shift is where its event says: the mean after it differs from
// the mean before by its size, and nowhere else does the level jump.
func TestShiftIsWhereItSays(t *testing.T) {
	spec := Spec{Kind: Positive, Level: 50, Noise: 1, Events: []Event{{Kind: Shift, Start: 1000, Size: 20}}}
	v := Generate(spec, 2000, 3)
	for _, at := range []int{500, 1000, 1500} {
		jump := mean(v[at:at+200]) - mean(v[at-200:at])
		want := 0.0
		if at == 1000 {
			want = 20
		}
		if math.Abs(jump-want) > 0.5 {
			t.Errorf("mean after step %d minus mean before: %.2f, want %.0f ± 0.5", at, jump, want)
		}
	}
}

func TestRampSpikeBurstFlat(t *testing.T) {
	spec := Spec{Kind: Positive, Level: 50, Events: []Event{
		{Kind: Ramp, Start: 100, Len: 10, Size: 10},
		{Kind: Spike, Start: 300, Len: 2, Size: 40},
		{Kind: Burst, Start: 400, Len: 20, Size: 5},
	}}
	v := Generate(spec, 600, 1) // no noise: exact values
	if v[99] != 50 || v[104] != 55 || v[109] != 60 || v[200] != 60 {
		t.Errorf("ramp: steps 99, 104, 109, 200 = %v %v %v %v, want 50 55 60 60", v[99], v[104], v[109], v[200])
	}
	if v[299] != 60 || v[300] != 100 || v[301] != 100 || v[302] != 60 {
		t.Errorf("spike: steps 299..302 = %v, want 60 100 100 60", v[299:303])
	}
	if v[400] != 65 || v[419] != 65 || v[420] != 60 {
		t.Errorf("burst: steps 400, 419, 420 = %v %v %v, want 65 65 60", v[400], v[419], v[420])
	}
	noisy := Spec{Kind: Positive, Level: 50, Noise: 2, Events: []Event{{Kind: Flat, Start: 200, Len: 50}}}
	w := Generate(noisy, 400, 2)
	for i := 200; i < 250; i++ {
		if w[i] != w[199] {
			t.Fatalf("flat stretch: step %d is %v, want step 199's %v", i, w[i], w[199])
		}
	}
	if w[250] == w[199] {
		t.Error("the flat stretch runs past its end")
	}
}

// Every random series respects its kind's bounds, and the random specs
// hold every kind of event somewhere.
func TestRandomBoundsAndVariety(t *testing.T) {
	kinds := map[EventKind]int{}
	series := map[Kind]int{}
	for seed := range uint64(200) {
		v, spec := Server(4000, seed)
		series[spec.Kind]++
		for _, e := range spec.Events {
			kinds[e.Kind]++
			if e.Start < 1 || e.Start >= 4000 {
				t.Fatalf("seed %d: event %+v starts outside the series", seed, e)
			}
		}
		for i, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				t.Fatalf("seed %d (%+v): step %d is %v", seed, spec.Kind, i, x)
			}
			if spec.Kind == Percent && x > 100 {
				t.Fatalf("seed %d: percent step %d is %v", seed, i, x)
			}
			if spec.Kind == Count && x != math.Round(x) {
				t.Fatalf("seed %d: count step %d is %v", seed, i, x)
			}
		}
	}
	for k := Shift; k <= Flat; k++ {
		if kinds[k] == 0 {
			t.Errorf("no event of kind %d in 200 random specs", k)
		}
	}
	for k := Percent; k <= Positive; k++ {
		if series[k] < 20 {
			t.Errorf("kind %d drawn %d times in 200, want at least 20", k, series[k])
		}
	}
}

// Heavy-tailed noise has the deviation asked for and heavier tails than a
// Gaussian's.
func TestHeavyTails(t *testing.T) {
	kurt := func(df float64) (sd, k float64) {
		v := Generate(Spec{Kind: Positive, Level: 1000, Noise: 10, TailDF: df}, 200000, 5)
		m := mean(v)
		var m2, m4 float64
		for _, x := range v {
			d := x - m
			m2 += d * d
			m4 += d * d * d * d
		}
		m2 /= float64(len(v))
		m4 /= float64(len(v))
		return math.Sqrt(m2), m4 / (m2 * m2)
	}
	sdG, kG := kurt(0)
	sdT, kT := kurt(5)
	if math.Abs(sdG-10) > 0.2 || math.Abs(sdT-10) > 0.5 {
		t.Errorf("deviation: Gaussian %.2f, t(5) %.2f; want 10", sdG, sdT)
	}
	if math.Abs(kG-3) > 0.1 || kT < 4.5 {
		t.Errorf("kurtosis: Gaussian %.2f (want 3), t(5) %.2f (want about 9, at least 4.5)", kG, kT)
	}
}
