package monitor

import (
	"math"
	"math/rand"
	"testing"
)

func col(vals ...float64) [][]float64 {
	rows := make([][]float64, len(vals))
	for i, v := range vals {
		rows[i] = []float64{v}
	}
	return rows
}

func TestDriftHandComputed(t *testing.T) {
	var ref []float64
	for i := 0; i < 100; i++ {
		ref = append(ref, float64(i))
	}
	r, err := NewReference([]string{"x"}, col(ref...), 4)
	if err != nil {
		t.Fatal(err)
	}
	// Type-7 quantiles of 0..99 at 1/4, 2/4, 3/4.
	wantEdges := []float64{24.75, 49.5, 74.25}
	for i, e := range wantEdges {
		if r.Edges[0][i] != e {
			t.Fatalf("edges %v, want %v", r.Edges[0], wantEdges)
		}
	}
	for _, p := range r.Props[0] {
		if p != 0.25 {
			t.Fatalf("reference proportions %v", r.Props[0])
		}
	}
	// Current: 5 in bin 0, 1 in bin 1, 2 in bins 2 and 3 -> .5 .1 .2 .2.
	rep, err := r.Compare(col(0, 1, 2, 3, 4, 30, 60, 61, 80, 90))
	if err != nil {
		t.Fatal(err)
	}
	// PSI = .25 ln 2 + (-.15) ln .4 + 2 (-.05) ln .8
	psi := 0.25*math.Log(2) - 0.15*math.Log(0.4) - 2*0.05*math.Log(0.8)
	// JS with m = (.375 .175 .225 .225), in bits.
	kl := func(p, q []float64) float64 {
		s := 0.0
		for i := range p {
			s += p[i] * math.Log2(p[i]/q[i])
		}
		return s
	}
	m := []float64{.375, .175, .225, .225}
	js := 0.5*kl([]float64{.25, .25, .25, .25}, m) + 0.5*kl([]float64{.5, .1, .2, .2}, m)
	fd := rep.Features[0]
	if math.Abs(fd.PSI-psi) > 1e-12 || math.Abs(psi-0.33304476) > 1e-8 {
		t.Errorf("PSI %.10f, hand %.10f", fd.PSI, psi)
	}
	if math.Abs(fd.JS-js) > 1e-12 || math.Abs(js-0.05860874) > 1e-8 {
		t.Errorf("JS %.10f, hand %.10f", fd.JS, js)
	}
	if rep.MaxPSI != fd.PSI || rep.JS != fd.JS {
		t.Errorf("overall %+v", rep)
	}
}

func TestDriftConstantFeatureAndEmptyBins(t *testing.T) {
	r, err := NewReference([]string{"c"}, col(5, 5, 5, 5), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Edges[0]) != 1 || r.Props[0][0] != 1 || r.Props[0][1] != 0 {
		t.Fatalf("constant feature: edges %v props %v", r.Edges[0], r.Props[0])
	}
	rep, _ := r.Compare(col(5, 7, 5, 7))
	// PSI with the empty reference bin floored at 1e-4.
	psi := (0.5-1)*math.Log(0.5) + (0.5-1e-4)*math.Log(0.5/1e-4)
	if math.Abs(rep.MaxPSI-psi) > 1e-12 {
		t.Errorf("PSI %v, hand %v", rep.MaxPSI, psi)
	}
	// JS: m = (.75, .25): .5 log2(1/.75) + .5 (.5 log2(.5/.75) + .5 log2(.5/.25)).
	js := 0.5*math.Log2(1/0.75) + 0.5*(0.5*math.Log2(0.5/0.75)+0.5*math.Log2(2))
	if math.Abs(rep.MaxJS-js) > 1e-12 {
		t.Errorf("JS %v, hand %v", rep.MaxJS, js)
	}
}

func TestDriftRollingWindowMatchesBatch(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var train [][]float64
	for i := 0; i < 2000; i++ {
		train = append(train, []float64{rng.NormFloat64(), rng.ExpFloat64()})
	}
	ref, _ := NewReference([]string{"n", "e"}, train, 10)
	d := NewDrift(ref, 300)
	var all [][]float64
	for i := 0; i < 1000; i++ {
		row := []float64{rng.NormFloat64() + float64(i)/500, rng.ExpFloat64()}
		if i%97 == 0 {
			row[1] = math.NaN()
		}
		all = append(all, row)
		if err := d.Observe(row); err != nil {
			t.Fatal(err)
		}
	}
	got := d.Report()
	want, _ := ref.Compare(all[len(all)-300:])
	for f := range got.Features {
		if math.Abs(got.Features[f].PSI-want.Features[f].PSI) > 1e-12 || math.Abs(got.Features[f].JS-want.Features[f].JS) > 1e-12 {
			t.Fatalf("feature %d rolling %+v batch %+v", f, got.Features[f], want.Features[f])
		}
	}
	// The shifted normal feature drifts, the exponential one hardly.
	if got.Features[0].PSI < 0.5 || got.Features[1].PSI > 0.1 {
		t.Errorf("drift figures %+v", got.Features)
	}
	// Same distribution: small PSI and JS.
	var same [][]float64
	for i := 0; i < 2000; i++ {
		same = append(same, []float64{rng.NormFloat64(), rng.ExpFloat64()})
	}
	rep, _ := ref.Compare(same)
	if rep.MaxPSI > 0.02 || rep.MaxJS > 0.01 {
		t.Errorf("no drift reported as %+v", rep)
	}
}

func TestReferenceBadInput(t *testing.T) {
	if _, err := NewReference([]string{"a"}, nil, 10); err == nil {
		t.Error("empty reference accepted")
	}
	if _, err := NewReference([]string{"a", "b"}, [][]float64{{1}}, 10); err == nil {
		t.Error("short row accepted")
	}
	if _, err := NewReference([]string{"a"}, col(math.NaN()), 10); err == nil {
		t.Error("all-NaN feature accepted")
	}
	r, _ := NewReference([]string{"a"}, col(1, 2, 3), 2)
	if err := NewDrift(r, 5).Observe([]float64{1, 2}); err == nil {
		t.Error("wrong-width row accepted")
	}
}

func TestDriftSetReferenceRebins(t *testing.T) {
	a, _ := NewReference([]string{"x"}, col(0, 1, 2, 3, 4, 5, 6, 7, 8, 9), 2)
	b, _ := NewReference([]string{"x"}, col(10, 11, 12, 13, 14, 15, 16, 17, 18, 19), 2)
	d := NewDrift(a, 4)
	for _, v := range []float64{10, 11, 12, 13, 14} {
		d.Observe([]float64{v})
	}
	d.SetReference(b)
	got := d.Report()
	want, _ := b.Compare(col(11, 12, 13, 14))
	if got.N != 4 || got.MaxPSI != want.MaxPSI || got.MaxJS != want.MaxJS {
		t.Fatalf("after SetReference %+v, want %+v", got, want)
	}
	c, _ := NewReference([]string{"y"}, col(1, 2), 2)
	d.SetReference(c)
	if d.Report().N != 0 {
		t.Fatal("window kept across a different feature schema")
	}
}
