package features

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func testFrame(t *testing.T, n int, breakEvery int) *Frame {
	t.Helper()
	g := randomGrid(rand.New(rand.NewPCG(7, 8)), n, []string{"cpu_usage", "latency_ms"}, time.Minute, breakEvery)
	f, err := Engineer(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestWindowsAndSplits(t *testing.T) {
	f := testFrame(t, 2000, 150)
	opt := WindowOptions{Steps: 20, Targets: []string{"latency_ms", "cpu_usage_roll_p95_15m"}, Horizons: []int{1, 12}}
	w, err := NewWindows(f, opt)
	if err != nil {
		t.Fatal(err)
	}
	if w.K() != 4 || !slices.Equal(w.TargetNames(), []string{"latency_ms_h1", "latency_ms_h12", "cpu_usage_roll_p95_15m_h1", "cpu_usage_roll_p95_15m_h12"}) {
		t.Fatalf("targets %v", w.TargetNames())
	}
	sp, err := SplitRows(f.Rows(), DefaultRatios())
	if err != nil {
		t.Fatal(err)
	}
	if sp.TrainEnd != 1400 || sp.ValEnd != 1700 || sp.N != 2000 {
		t.Fatalf("split %+v", sp)
	}
	train, val, test := sp.Sets(w)
	bounds := [][2]int{{0, sp.TrainEnd}, {sp.TrainEnd, sp.ValEnd}, {sp.ValEnd, sp.N}}
	reach := 20 - 1 + 12
	total := 0
	for k, set := range []*Windows{train, val, test} {
		if set.Len() == 0 {
			t.Fatalf("set %d empty", k)
		}
		total += set.Len()
		x, y := set.Tensors()
		T, F, K := set.Steps(), set.Features(), set.K()
		if len(x) != set.Len()*T*F || len(y) != set.Len()*K {
			t.Fatalf("shapes %d %d", len(x), len(y))
		}
		for i, s := range set.Starts() {
			if s < bounds[k][0] || s+reach >= bounds[k][1] {
				t.Fatalf("set %d window %d [%d, %d] crosses the split %v", k, i, s, s+reach, bounds[k])
			}
			for r := s + 1; r <= s+reach; r++ {
				if f.Break[r] {
					t.Fatalf("window at %d spans the gap at %d", s, r)
				}
			}
			if !slices.Equal(x[i*T*F:(i+1)*T*F], f.Data[s*F:(s+T)*F]) {
				t.Fatalf("window %d inputs differ from rows %d..%d", i, s, s+T)
			}
			for ti, name := range opt.Targets {
				c := f.Column(name)
				for hi, h := range opt.Horizons {
					if y[i*K+ti*2+hi] != f.Data[(s+T-1+h)*F+c] {
						t.Fatalf("window %d target %s h%d", i, name, h)
					}
				}
			}
		}
	}
	// Every window that fits inside one split is in it.
	want := 0
	for _, s := range w.Starts() {
		for _, b := range bounds {
			if s >= b[0] && s+reach < b[1] {
				want++
			}
		}
	}
	if total != want {
		t.Fatalf("%d windows in splits, want %d", total, want)
	}
	// Shares given for test and validation instead: test 0.2, val 0.1.
	sp, _ = SplitRows(1000, SplitRatios{Train: 0.7, Val: 0.1})
	if sp.TrainEnd != 700 || sp.ValEnd != 800 {
		t.Fatalf("%+v", sp)
	}
	for _, r := range []SplitRatios{{0, 0.1}, {0.9, 0.2}, {0.5, -0.1}, {math.NaN(), 0}} {
		if _, err := SplitRows(10, r); err == nil {
			t.Errorf("ratios %+v accepted", r)
		}
	}
	for _, bad := range []WindowOptions{{Steps: -1}, {Horizons: []int{0}}, {Horizons: []int{}}, {Targets: []string{"nope"}}, {Targets: []string{}}} {
		if _, err := NewWindows(f, bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
}

func TestBatches(t *testing.T) {
	f := testFrame(t, 500, 0)
	w, err := NewWindows(f, WindowOptions{Steps: 10})
	if err != nil {
		t.Fatal(err)
	}
	b := w.Batches(32, 42)
	x0 := &b.X[0]
	T, F := w.Steps(), w.Features()
	for epoch := 0; epoch < 2; epoch++ {
		seen := make([]int, w.Len())
		batches := 0
		for b.Next() {
			batches++
			x, y := b.Batch()
			if &x[0] != x0 {
				t.Fatal("batch buffer reallocated")
			}
			if len(y) != b.N() || len(x) != b.N()*T*F {
				t.Fatalf("batch shapes %d %d for %d", len(x), len(y), b.N())
			}
			for i := 0; i < b.N(); i++ {
				// Identify the window by its first row.
				k := slices.IndexFunc(w.Starts(), func(s int) bool { return slices.Equal(f.Data[s*F:(s+T)*F], x[i*T*F:(i+1)*T*F]) })
				if k < 0 {
					t.Fatal("batch holds a row block that is no window")
				}
				seen[k]++
			}
		}
		if batches != (w.Len()+31)/32 {
			t.Fatalf("%d batches for %d windows", batches, w.Len())
		}
		for k, c := range seen {
			if c != 1 {
				t.Fatalf("epoch %d: window %d seen %d times", epoch, k, c)
			}
		}
	}
	// Same seed, same order; other seed, other order.
	a, c, d := w.Batches(8, 1), w.Batches(8, 1), w.Batches(8, 2)
	a.Next()
	c.Next()
	d.Next()
	if !slices.Equal(a.Y, c.Y) || slices.Equal(a.Y, d.Y) {
		t.Fatal("shuffle does not follow the seed")
	}
}

func TestScaler(t *testing.T) {
	f := testFrame(t, 1000, 0)
	sp, _ := SplitRows(f.Rows(), DefaultRatios())
	sc, err := FitScaler(f, 0, sp.TrainEnd)
	if err != nil {
		t.Fatal(err)
	}
	orig := slices.Clone(f.Data)
	sc.Transform(f.Data)
	F := f.Cols()
	for c := 0; c < F; c++ {
		var mean, sq float64
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for r := 0; r < sp.TrainEnd; r++ {
			v := float64(f.Data[r*F+c])
			mean += v
			sq += v * v
			lo, hi = min(lo, orig[r*F+c]), max(hi, orig[r*F+c])
		}
		n := float64(sp.TrainEnd)
		mean /= n
		sd := math.Sqrt(sq/n - mean*mean)
		if lo == hi {
			// A constant training column maps to 0, without dividing by 0.
			if mean != 0 || sd != 0 || sc.Std[c] != 1 {
				t.Fatalf("constant column %s: mean %v sd %v std %v", f.Names[c], mean, sd, sc.Std[c])
			}
			continue
		}
		if math.Abs(mean) > 1e-4 || math.Abs(sd-1) > 1e-3 {
			t.Fatalf("column %s on train: mean %v sd %v", f.Names[c], mean, sd)
		}
	}
	// The test rows were not used: refitting on all rows differs.
	all, _ := FitScaler(&Frame{Names: f.Names, Times: f.Times, Data: orig}, 0, f.Rows())
	if slices.Equal(all.Mean, sc.Mean) {
		t.Fatal("fit on train equals fit on everything")
	}
	sc.Inverse(f.Data)
	for i := range orig {
		// float32 keeps ~7 digits of the scaled value: the error scales with
		// the column's mean and spread.
		c := i % F
		if d := math.Abs(float64(f.Data[i] - orig[i])); d > 1e-6*(math.Abs(float64(orig[i]))+math.Abs(sc.Mean[c])+sc.Std[c]) {
			t.Fatalf("inverse: %v vs %v", f.Data[i], orig[i])
		}
	}
	if v := sc.InverseValue(9, sc.TransformValue(9, 3.5)); math.Abs(v-3.5) > 1e-12 {
		t.Fatalf("value round trip %v", v)
	}
	b, err := json.Marshal(sc)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseScaler(b)
	if err != nil || !slices.Equal(back.Mean, sc.Mean) || !slices.Equal(back.Std, sc.Std) || !slices.Equal(back.Names, sc.Names) {
		t.Fatalf("JSON round trip: %v", err)
	}
	for _, bad := range []string{`{}`, `{"names":["a"],"mean":[0],"std":[0]}`, `{"names":["a"],"mean":[0,1],"std":[1]}`, `[`} {
		if _, err := ParseScaler([]byte(bad)); err == nil {
			t.Errorf("scaler %s accepted", bad)
		}
	}
	if _, err := FitScaler(f, 5, 5); err == nil {
		t.Error("empty fit range accepted")
	}
}

func TestPrepare(t *testing.T) {
	d, err := Prepare("../testdata/nab/realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv", PrepareOptions{Windows: WindowOptions{Steps: 30}})
	if err != nil {
		t.Fatal(err)
	}
	// The frame is scaled with train statistics: the training rows of the
	// value column have mean 0 and std 1, the test rows need not.
	c := d.Frame.Column("value")
	var mean, sq float64
	for r := 0; r < d.Split.TrainEnd; r++ {
		v := float64(d.Frame.Row(r)[c])
		mean += v
		sq += v * v
	}
	n := float64(d.Split.TrainEnd)
	if mean /= n; math.Abs(mean) > 1e-4 || math.Abs(sq/n-mean*mean-1) > 1e-3 {
		t.Fatalf("train rows not standardised: mean %v", mean)
	}
	if d.Train.Len() == 0 || d.Val.Len() == 0 || d.Test.Len() == 0 || d.LoadReport.Rows != 4032 {
		t.Fatalf("%+v", d)
	}
	if _, err := Prepare("../testdata/nab/none.csv", PrepareOptions{}); err == nil {
		t.Fatal("missing file prepared")
	}
	short := &Table{Names: []string{"x"}, Times: []int64{0, 60e9, 120e9}, Values: [][]float64{{1, 2, 3}}}
	if _, err := PrepareTable(short, PrepareOptions{}); err == nil {
		t.Fatal("3 rows gave 60-step windows")
	}
}
