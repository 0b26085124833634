package gbdt

import (
	"bytes"
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// friedman is Friedman's #1 function on 5 of cols uniform features plus
// noise of the given size.
func friedman(n, cols int, noise float64, seed uint64) *Data {
	r := rand.New(rand.NewPCG(seed, 7))
	d := &Data{X: make([]float64, n*cols), Y: make([]float64, n), Rows: n, Cols: cols}
	for i := range n {
		x := d.X[i*cols : (i+1)*cols]
		for j := range x {
			x[j] = r.Float64()
		}
		d.Y[i] = 10*math.Sin(math.Pi*x[0]*x[1]) + 20*(x[2]-0.5)*(x[2]-0.5) + 10*x[3] + 5*x[4] + noise*r.NormFloat64()
	}
	return d
}

func mse(m *Model, d *Data) float64 {
	p := m.PredictBatch(nil, d.X, d.Rows)
	var s float64
	for i, v := range p {
		s += (v - d.Y[i]) * (v - d.Y[i])
	}
	return s / float64(d.Rows)
}

func variance(y []float64) float64 {
	var m, s float64
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	for _, v := range y {
		s += (v - m) * (v - m)
	}
	return s / float64(len(y))
}

func TestFitsFriedman(t *testing.T) {
	train, test := friedman(3000, 8, 0, 1), friedman(1000, 8, 0, 2)
	p := DefaultParams()
	p.Rounds, p.LearningRate, p.Patience = 400, 0.1, 0
	m, _, err := Fit(context.Background(), p, train, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Friedman #1 has variance about 24; a fitted model explains over 95%
	// of it on unseen rows.
	if r2 := 1 - mse(m, test)/variance(test.Y); r2 < 0.95 {
		t.Errorf("L2: test R^2 %.3f, want >= 0.95", r2)
	}
}

func TestL1AndQuantileLosses(t *testing.T) {
	// y = a step in x + heavy-tailed noise: the L1 model tracks the
	// conditional median and the quantile model its 90% quantile.
	r := rand.New(rand.NewPCG(3, 3))
	n := 20000
	d := &Data{X: make([]float64, n), Y: make([]float64, n), Rows: n, Cols: 1}
	for i := range n {
		x := r.Float64() * 10
		d.X[i] = x
		e := r.ExpFloat64()
		if r.IntN(50) == 0 {
			e += 1000 // outliers that would drag a mean
		}
		d.Y[i] = e
		if x > 5 {
			d.Y[i] += 3
		}
	}
	for _, tc := range []struct {
		loss   Loss
		alpha  float64
		offset float64
	}{
		// P(e > q) = 0.98 exp(-q) + 0.02 with the outliers.
		{LossL1, 0.5, -math.Log(0.48 / 0.98)},
		{LossQuantile, 0.9, -math.Log(0.08 / 0.98)},
	} {
		p := DefaultParams()
		p.Loss, p.Alpha, p.Patience, p.Rounds, p.MaxLeaves, p.MinLeaf, p.LearningRate = tc.loss, tc.alpha, 0, 100, 4, 1000, 0.1
		m, _, err := Fit(context.Background(), p, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []float64{1, 4, 6, 9} {
			want := tc.offset
			if x > 5 {
				want += 3
			}
			if got := m.Predict([]float64{x}); math.Abs(got-want) > 0.3 {
				t.Errorf("%s: at x=%g predicts %.3f, want about %.3f", tc.loss, x, got, want)
			}
		}
	}
}

// bruteSplit is the exact best split of all rows by the L2 gain with
// lambda and minLeaf: every feature, every threshold between two distinct
// values.
func bruteSplit(d *Data, grad []float64, lambda float64, minLeaf int) (feature int, threshold, gain float64) {
	var g float64
	for _, v := range grad {
		g += v
	}
	n := d.Rows
	parent := g * g / (float64(n) + lambda)
	gain = 0
	feature = -1
	for j := range d.Cols {
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			return cmpF(d.X[a*d.Cols+j], d.X[b*d.Cols+j])
		})
		var gl float64
		for k := 0; k+1 < n; k++ {
			gl += grad[idx[k]]
			v, next := d.X[idx[k]*d.Cols+j], d.X[idx[k+1]*d.Cols+j]
			nl, nr := k+1, n-k-1
			if v == next || nl < minLeaf || nr < minLeaf {
				continue
			}
			gr := g - gl
			gn := gl*gl/(float64(nl)+lambda) + gr*gr/(float64(nr)+lambda) - parent
			if gn > gain*(1+1e-12) {
				feature, threshold, gain = j, (v+next)/2, gn
			}
		}
	}
	return feature, threshold, gain
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func TestSplitMatchesBruteForce(t *testing.T) {
	// Small data whose features hold fewer distinct values than bins: the
	// histogram finder must find the exact best split.
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 11))
		n, cols := 40+r.IntN(60), 1+r.IntN(4)
		d := &Data{X: make([]float64, n*cols), Y: make([]float64, n), Rows: n, Cols: cols}
		for i := range d.X {
			d.X[i] = float64(r.IntN(30)) / 3
		}
		for i := range d.Y {
			d.Y[i] = d.X[i*cols]*float64(r.IntN(3)) + r.NormFloat64()
		}
		p := DefaultParams()
		p.Rounds, p.MaxLeaves, p.LearningRate, p.Lambda, p.MinLeaf, p.Patience = 1, 2, 1, 0.5, 1+r.IntN(8), 0
		m, _, err := Fit(context.Background(), p, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		base := m.base
		grad := make([]float64, n)
		for i := range grad {
			grad[i] = base - d.Y[i]
		}
		bf, bt, bg := bruteSplit(d, grad, p.Lambda, p.MinLeaf)
		root := m.trees[0].nodes[0]
		if bf < 0 {
			if root.left >= 0 {
				t.Errorf("seed %d: brute force finds no split, the tree splits feature %d", seed, root.feature)
			}
			continue
		}
		if root.left < 0 {
			t.Errorf("seed %d: no split; brute force splits feature %d at %g (gain %g)", seed, bf, bt, bg)
			continue
		}
		if int(root.feature) != bf || math.Abs(root.threshold-bt) > 1e-12 {
			t.Errorf("seed %d: split feature %d at %g; brute force feature %d at %g (gain %g)", seed, root.feature, root.threshold, bf, bt, bg)
		}
		// The leaves are the regularised mean residuals of each side.
		var gl, gr float64
		var nl, nr int
		for i := range n {
			if d.X[i*cols+bf] <= bt {
				gl += grad[i]
				nl++
			} else {
				gr += grad[i]
				nr++
			}
		}
		l, rr := m.trees[0].nodes[root.left].value, m.trees[0].nodes[root.right].value
		if math.Abs(l+gl/(float64(nl)+p.Lambda)) > 1e-9 || math.Abs(rr+gr/(float64(nr)+p.Lambda)) > 1e-9 {
			t.Errorf("seed %d: leaves %g, %g; want %g, %g", seed, l, rr, -gl/(float64(nl)+p.Lambda), -gr/(float64(nr)+p.Lambda))
		}
	}
}

func TestBinEdges(t *testing.T) {
	col := make([]float64, 1000)
	for i := range col {
		col[i] = float64(i % 500) // 500 distinct values, 2 of each
	}
	e := binEdges(col, 10)
	if len(e) != 9 {
		t.Fatalf("%d edges, want 9", len(e))
	}
	counts := make([]int, 10)
	for _, v := range col {
		k, _ := slices.BinarySearch(e, v)
		counts[k]++
	}
	for k, c := range counts {
		if c != 100 {
			t.Errorf("bin %d holds %d values, want 100 (edges %v)", k, c, e)
		}
	}
	if e := binEdges([]float64{3, 3, 3}, 255); len(e) != 0 {
		t.Errorf("a constant column has edges %v", e)
	}
}

func TestDeterministic(t *testing.T) {
	d := friedman(2000, 6, 0.5, 5)
	encode := func(workers int) []byte {
		p := DefaultParams()
		p.Rounds, p.RowSample, p.ColSample, p.Seed, p.Workers, p.Patience = 30, 0.7, 0.5, 9, workers, 0
		m, _, err := Fit(context.Background(), p, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := m.Encode(&b); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	a, b, c := encode(1), encode(1), encode(2)
	if !bytes.Equal(a, b) {
		t.Error("two fits with the same seed differ")
	}
	if !bytes.Equal(a, c) {
		t.Error("the fit depends on Workers")
	}
	p := DefaultParams()
	p.Rounds, p.RowSample, p.Seed, p.Patience = 30, 0.7, 10, 0
	m, _, err := Fit(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	var other bytes.Buffer
	m.Encode(&other)
	if bytes.Equal(a, other.Bytes()) {
		t.Error("another seed gives the same model")
	}
}

func TestEarlyStopping(t *testing.T) {
	// Pure noise: validation loss stops improving within a few rounds and
	// the model keeps only the rounds up to its best.
	train, valid := friedman(1000, 5, 0, 1), friedman(500, 5, 0, 2)
	r := rand.New(rand.NewPCG(1, 1))
	for i := range train.Y {
		train.Y[i] = r.NormFloat64()
	}
	for i := range valid.Y {
		valid.Y[i] = r.NormFloat64()
	}
	p := DefaultParams()
	p.Rounds, p.Patience, p.LearningRate, p.MinLeaf = 500, 10, 0.3, 5
	m, h, err := Fit(context.Background(), p, train, valid)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Valid) >= p.Rounds || len(h.Valid) != h.Best+p.Patience {
		t.Fatalf("ran %d rounds, best %d, patience %d: want best+patience < %d", len(h.Valid), h.Best, p.Patience, p.Rounds)
	}
	if m.Trees() != h.Best {
		t.Errorf("kept %d trees, best round %d", m.Trees(), h.Best)
	}
	if best := slices.Min(h.Valid); h.Valid[h.Best-1] != best {
		t.Errorf("best round %d has loss %g, the least is %g", h.Best, h.Valid[h.Best-1], best)
	}
	// The kept model's validation loss is the recorded best.
	if got := mse(m, valid); math.Abs(got-h.Valid[h.Best-1]) > 1e-9 {
		t.Errorf("kept model's validation MSE %g, recorded %g", got, h.Valid[h.Best-1])
	}
}

func TestFitErrors(t *testing.T) {
	good := friedman(50, 5, 0, 1)
	nan := friedman(50, 5, 0, 1)
	nan.X[7] = math.NaN()
	short := &Data{X: good.X[:10], Y: good.Y, Rows: 50, Cols: 5}
	for _, tc := range []struct {
		name   string
		p      func(*Params)
		train  *Data
		valid  *Data
		substr string
	}{
		{"rounds", func(p *Params) { p.Rounds = 0 }, good, nil, "Rounds 0"},
		{"bins", func(p *Params) { p.MaxBins = 256 }, good, nil, "MaxBins 256"},
		{"loss", func(p *Params) { p.Loss = "huber" }, good, nil, `Loss huber: unknown`},
		{"alpha", func(p *Params) { p.Loss, p.Alpha = LossQuantile, 1 }, good, nil, "Alpha 1"},
		{"row sample", func(p *Params) { p.RowSample = 0 }, good, nil, "RowSample 0"},
		{"nan", func(*Params) {}, nan, nil, "training data: row 2 column 3 is NaN"},
		{"shape", func(*Params) {}, short, nil, "10 values and 50 targets for 50 rows of 5 columns"},
		{"columns", func(*Params) {}, good, friedman(5, 6, 0, 1), "validation data has 6 columns, training data 5"},
	} {
		p := DefaultParams()
		tc.p(&p)
		_, _, err := Fit(context.Background(), p, tc.train, tc.valid)
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.substr)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Fit(ctx, DefaultParams(), good, nil); err != context.Canceled {
		t.Errorf("cancelled: error %v", err)
	}
}

// roundTrip is m encoded and decoded again.
func roundTrip(t *testing.T, m *Model) *Model {
	t.Helper()
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		t.Fatal(err)
	}
	m2, err := Decode(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return m2
}

func TestEncodeRoundTrip(t *testing.T) {
	d := friedman(500, 5, 0.2, 4)
	p := DefaultParams()
	p.Rounds, p.Loss, p.Patience = 20, LossL1, 0
	m, _, err := Fit(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	m2 := roundTrip(t, m)
	if m2.Trees() != m.Trees() || m2.Features() != 5 || m2.Loss() != LossL1 {
		t.Fatalf("decoded %d trees of %d features, loss %s", m2.Trees(), m2.Features(), m2.Loss())
	}
	a, c := m.PredictBatch(nil, d.X, d.Rows), m2.PredictBatch(nil, d.X, d.Rows)
	for i := range a {
		if a[i] != c[i] || a[i] != m.Predict(d.X[i*5:(i+1)*5]) {
			t.Fatalf("row %d: %g before encoding, %g after, %g by Predict", i, a[i], c[i], m.Predict(d.X[i*5:(i+1)*5]))
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	tree := `{"feature":[0,-1,-1],"threshold":[0.5,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"value":[0,1,2]}`
	model := func(features, tree string) string {
		return `{"format":"perfpredict.gbdt","version":1,"features":` + features + `,"loss":"l2","base":0,"trees":[` + tree + `]}`
	}
	if m, err := Decode([]byte(model("1", tree))); err != nil || m.Predict([]float64{0.7}) != 2 {
		t.Fatalf("the valid model: %v", err)
	}
	for _, tc := range []struct{ name, data, substr string }{
		{"not json", `{"format":`, "gbdt: decode: unexpected end"},
		{"format", `{"format":"x","version":1}`, `format "x"`},
		{"version", `{"format":"perfpredict.gbdt","version":2}`, "version 2; this build reads version 1"},
		{"features", model("0", tree), "features 0"},
		{"loss", strings.Replace(model("1", tree), `"l2"`, `"l3"`, 1), `loss "l3"`},
		{"feature range", model("1", strings.Replace(tree, `"feature":[0`, `"feature":[1`, 1)), "tree 1: node 0: feature 1 out of 0..0"},
		{"lengths", model("1", strings.Replace(tree, `"value":[0,1,2]`, `"value":[0,1]`, 1)), "lengths 3 (feature), 3 (threshold), 3 (left), 3 (right), 2 (value)"},
		{"cycle", model("1", strings.Replace(tree, `"left":[1,-1,-1]`, `"left":[0,-1,-1]`, 1)), "node 0: children 0 and 2"},
		{"out of range", model("1", strings.Replace(tree, `"right":[2,-1,-1]`, `"right":[3,-1,-1]`, 1)), "children 1 and 3 must be distinct nodes after it (of 3)"},
		{"half leaf", model("1", strings.Replace(tree, `"left":[1,-1,-1]`, `"left":[1,-1,2]`, 1)), "node 2: a leaf has left, right and feature -1"},
		{"orphan", model("1", `{"feature":[0,-1,-1,-1],"threshold":[0.5,0,0,0],"left":[1,-1,-1,-1],"right":[2,-1,-1,-1],"value":[0,1,2,3]}`), "node 3: has 0 parents"},
		{"empty tree", model("1", `{"feature":[],"threshold":[],"left":[],"right":[],"value":[]}`), "tree 1: no nodes"},
	} {
		_, err := Decode([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.substr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.substr)
		}
	}
}

func FuzzDecode(f *testing.F) {
	d := friedman(200, 5, 0.1, 1)
	p := DefaultParams()
	p.Rounds, p.MaxLeaves = 3, 4
	m, _, err := Fit(context.Background(), p, d, nil)
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	m.Encode(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"format":"perfpredict.gbdt","version":1,"features":1,"loss":"l2","base":0,"trees":[{"feature":[0,-1,-1],"threshold":[0.5,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"value":[0,1,2]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			return
		}
		// A model that decodes predicts a finite value and re-encodes to
		// a model that predicts the same.
		x := make([]float64, min(m.Features(), 64))
		if len(x) != m.Features() {
			return
		}
		v := m.Predict(x)
		if math.IsNaN(v) {
			t.Fatalf("prediction NaN")
		}
		var b bytes.Buffer
		if err := m.Encode(&b); err != nil {
			t.Fatal(err)
		}
		m2, err := Decode(b.Bytes())
		if err != nil {
			t.Fatalf("re-decoding: %v", err)
		}
		if v2 := m2.Predict(x); v2 != v && !(math.IsInf(v, 0) && v == v2) {
			t.Fatalf("prediction %g, after a round trip %g", v, v2)
		}
	})
}

func BenchmarkFit(b *testing.B) {
	d := friedman(20000, 40, 0.5, 1)
	for _, workers := range []int{1, 2} {
		b.Run(map[int]string{1: "workers=1", 2: "workers=2"}[workers], func(b *testing.B) {
			p := DefaultParams()
			p.Rounds, p.Patience, p.Workers = 50, 0, workers
			for b.Loop() {
				if _, _, err := Fit(context.Background(), p, d, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(p.Rounds), "ms/tree")
		})
	}
}

// BenchmarkFitSmall is the shape of the trees a forecast.Switch fits on
// one followed series at its first request: a few thousand rows, 66
// features, 7 leaves, L1, each tree on half the rows and 80% of the
// features. Histograms (255 bins a feature) outweigh rows there.
func BenchmarkFitSmall(b *testing.B) {
	d := friedman(8000, 66, 0.5, 1)
	p := DefaultParams()
	p.Loss, p.MaxLeaves, p.RowSample, p.ColSample = LossL1, 7, 0.5, 0.8
	p.Rounds, p.Patience = 100, 0
	for b.Loop() {
		if _, _, err := Fit(context.Background(), p, d, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/float64(p.Rounds), "µs/tree")
}

func BenchmarkPredict(b *testing.B) {
	d := friedman(20000, 40, 0.5, 1)
	p := DefaultParams()
	p.Rounds, p.Patience = 200, 0
	m, _, err := Fit(context.Background(), p, d, nil)
	if err != nil {
		b.Fatal(err)
	}
	rows := 1000
	x := d.X[:rows*d.Cols]
	dst := make([]float64, rows)
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			m.PredictBatch(dst, x, rows)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
	})
	b.Run("row", func(b *testing.B) {
		for b.Loop() {
			for i := range rows {
				dst[i] = m.Predict(x[i*d.Cols : (i+1)*d.Cols])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
	})
}

func TestWeightsAreRepeatedRows(t *testing.T) {
	// Integer weights fit the model of the rows repeated that often (L2,
	// every distinct value its own bin, no subsampling).
	r := rand.New(rand.NewPCG(8, 8))
	n := 300
	w := &Data{Rows: n, Cols: 2, W: make([]float64, n)}
	rep := &Data{Cols: 2}
	for i := range n {
		x := []float64{float64(r.IntN(50)), float64(r.IntN(20))}
		y := x[0]*0.3 - x[1] + r.NormFloat64()
		k := 1 + r.IntN(3)
		w.X, w.Y, w.W[i] = append(w.X, x...), append(w.Y, y), float64(k)
		for range k {
			rep.X, rep.Y = append(rep.X, x...), append(rep.Y, y)
			rep.Rows++
		}
	}
	p := DefaultParams()
	p.Rounds, p.MinLeaf, p.Patience = 30, 1, 0
	a, _, err := Fit(context.Background(), p, w, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := Fit(context.Background(), p, rep, nil)
	if err != nil {
		t.Fatal(err)
	}
	pa, pb := a.PredictBatch(nil, w.X, n), b.PredictBatch(nil, w.X, n)
	for i := range pa {
		if math.Abs(pa[i]-pb[i]) > 1e-9 {
			t.Fatalf("row %d: weighted %v, repeated %v", i, pa[i], pb[i])
		}
	}
	if q := weightedQuantile([]float64{3, 1, 2}, []float64{1, 1, 5}, 0.5); q != 2 {
		t.Errorf("weighted median %v, want 2", q)
	}
	w.W[3] = 0
	if _, _, err := Fit(context.Background(), p, w, nil); err == nil || !strings.Contains(err.Error(), "weight of row 4 is 0") {
		t.Errorf("zero weight: error %v", err)
	}
}

// TestCompiledMatchesTrees: Predict and PredictBatch, which walk the
// compiled trees, give what the training nodes give (the reference walk,
// tree.eval, summed in the same order), for fitted and decoded models, on
// rows with NaNs and values on either side of every threshold.
func TestCompiledMatchesTrees(t *testing.T) {
	d := friedman(2000, 8, 1, 9)
	p := DefaultParams()
	p.Rounds, p.MaxLeaves, p.MinLeaf, p.Patience = 60, 31, 5, 0
	m, _, err := Fit(context.Background(), p, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	decoded := roundTrip(t, m)
	r := rand.New(rand.NewPCG(5, 5))
	rows := make([]float64, 0, 3000*8)
	for range 3000 {
		for range 8 {
			switch r.IntN(10) {
			case 0:
				rows = append(rows, math.NaN())
			case 1:
				// A threshold itself: the row goes left.
				tr := m.trees[r.IntN(len(m.trees))]
				rows = append(rows, tr.nodes[0].threshold)
			default:
				rows = append(rows, 1.4*r.Float64()-0.2)
			}
		}
	}
	for name, model := range map[string]*Model{"fitted": m, "decoded": decoded} {
		batch := model.PredictBatch(nil, rows, 3000)
		for i := range 3000 {
			x := rows[i*8 : (i+1)*8]
			want := model.base
			for _, tr := range model.trees {
				want += tr.eval(x)
			}
			if got := model.Predict(x); got != want || batch[i] != want {
				t.Fatalf("%s, row %d: Predict %v, PredictBatch %v; the trees give %v", name, i, got, batch[i], want)
			}
		}
	}
	// A compiled node is 16 bytes, and the model holds one per node.
	if size := unsafe.Sizeof(flatNode{}); size != 16 || len(m.flat) != nodes(m) {
		t.Errorf("compiled: %d nodes of %d bytes, for %d training nodes", len(m.flat), size, nodes(m))
	}
}

func nodes(m *Model) int {
	n := 0
	for _, t := range m.trees {
		n += len(t.nodes)
	}
	return n
}

// TestBinOf checks the binning search against slices.BinarySearch, the
// position it replaced: values on, between, below and above the edges.
func TestBinOf(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for n := range 40 {
		e := make([]float64, n)
		for i := range e {
			e[i] = float64(r.IntN(20)) + float64(i)*20
		}
		for range 200 {
			v := r.Float64()*float64(20*n+40) - 20
			if n > 0 && r.IntN(3) == 0 {
				v = e[r.IntN(n)]
			}
			want, _ := slices.BinarySearch(e, v)
			if got := binOf(e, v); got != want {
				t.Fatalf("%d edges %v: binOf(%v) = %d, want %d", n, e, v, got, want)
			}
		}
	}
}

// TestQuantileOf checks the selection against the sort it replaced
// (slices.Sort, then interpolation between neighbours) on every length to
// 300 and long runs, with ties, zeros of both signs, NaNs and values of
// every magnitude, at the quantiles a fit asks for and random ones; and
// that nthSmallest leaves nothing greater before s[k] or less after it.
func TestQuantileOf(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	value := func(ties int) float64 {
		switch r.IntN(8) {
		case 0:
			return float64(r.IntN(ties)) // runs of equal values
		case 1:
			return math.Copysign(0, -1)
		case 2:
			if r.IntN(20) == 0 {
				return math.NaN()
			}
			return math.Inf(2*r.IntN(2) - 1)
		case 3:
			return (r.Float64() - 0.5) * 1e-310 // subnormal
		default:
			return r.NormFloat64() * math.Pow(10, float64(r.IntN(20)-10))
		}
	}
	lengths := []int{1000, 4096, 10_000}
	for n := 1; n <= 300; n++ {
		lengths = append(lengths, n)
	}
	same := func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }
	for _, n := range lengths {
		ties := 1 + r.IntN(6)
		s := make([]float64, n)
		for i := range s {
			s[i] = value(ties)
		}
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		for _, q := range []float64{0, 0.1, 0.5, 0.8, 0.9, 1, r.Float64()} {
			pos := q * float64(n-1)
			i := int(pos)
			want := sorted[n-1]
			if i < n-1 {
				want = sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
			}
			c := slices.Clone(s)
			if got := quantileOf(c, q); !same(got, want) {
				t.Fatalf("n=%d q=%v: quantileOf = %v, sorting gives %v", n, q, got, want)
			}
			k := r.IntN(n)
			c = slices.Clone(s)
			got := nthSmallest(c, k)
			if !same(got, sorted[k]) || !same(c[k], got) {
				t.Fatalf("n=%d: nthSmallest(%d) = %v (s[k] %v), sorting gives %v", n, k, got, c[k], sorted[k])
			}
			for j, v := range c {
				if j < k && cmp.Less(got, v) || j > k && cmp.Less(v, got) {
					t.Fatalf("n=%d k=%d: s[%d] = %v on the wrong side of %v", n, k, j, v, got)
				}
			}
			slices.Sort(c)
			if !slices.EqualFunc(c, sorted, same) {
				t.Fatalf("n=%d: nthSmallest lost or changed values", n)
			}
		}
	}
}
