package features

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// randomGrid builds a grid with m metrics: random walks, constant runs,
// repeated values, spikes and the given breaks.
func randomGrid(rng *rand.Rand, n int, names []string, cadence time.Duration, breakEvery int) *Grid {
	g := &Grid{Names: names, Cadence: cadence, Values: make([][]float64, len(names))}
	t := int64(1_700_000_000) * 1e9
	for i := 0; i < n; i++ {
		b := breakEvery > 0 && i > 0 && rng.IntN(breakEvery) == 0
		if b {
			t += int64(cadence) * int64(5+rng.IntN(50))
		} else if i > 0 {
			t += int64(cadence)
		}
		g.Times = append(g.Times, t)
		g.Break = append(g.Break, b)
	}
	for m, name := range names {
		v := make([]float64, n)
		x := rng.NormFloat64() * 10
		counter := len(name) > 6 && name[len(name)-6:] == "_total"
		for i := range v {
			switch r := rng.IntN(20); {
			case counter:
				x += float64(rng.IntN(1000))
				if rng.IntN(200) == 0 {
					x = float64(rng.IntN(100)) // reset
				}
			case r < 6 && i > 0:
				x = v[i-1] // constant runs
			case r == 7:
				x = 0 // zeros exercise the pct guard
			case r == 8:
				x += rng.NormFloat64() * 1000 // spike
			default:
				x += rng.NormFloat64()
			}
			v[i] = x
		}
		g.Values[m] = v
	}
	return g
}

// naiveRolling computes the nine statistics of vals the direct way.
func naiveRolling(vals []float64) [rollStats]float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	n := float64(len(s))
	var out [rollStats]float64
	lo, hi := s[0], s[len(s)-1]
	out[2], out[3] = lo, hi
	out[4], out[5], out[6] = quantileSorted(s, 0.5), quantileSorted(s, 0.95), quantileSorted(s, 0.99)
	if lo == hi {
		out[0] = lo
		return out
	}
	var mean float64
	for _, v := range vals {
		mean += v
	}
	mean /= n
	var c2, c3, c4 float64
	for _, v := range vals {
		d := v - mean
		c2 += d * d
		c3 += d * d * d
		c4 += d * d * d * d
	}
	c2, c3, c4 = c2/n, c3/n, c4/n
	out[0] = mean
	if c2 > 0 {
		out[1] = math.Sqrt(c2)
		out[7] = c3 / math.Pow(c2, 1.5)
		out[8] = c4/(c2*c2) - 3
	}
	return out
}

// checkAgainstNaive recomputes every temporal, rolling and lag column of f
// from g directly and compares.
func checkAgainstNaive(t *testing.T, g *Grid, f *Frame, opt *Options) {
	t.Helper()
	wins := opt.Windows
	if wins == nil {
		wins = DefaultWindows()
	}
	lags := opt.Lags
	if lags == nil {
		lags = DefaultLags()
	}
	bad := 0
	fail := func(format string, args ...any) {
		bad++
		if bad <= 10 {
			t.Errorf(format, args...)
		}
	}
	segStart := 0
	for i := 0; i < g.Len(); i++ {
		if g.Break[i] {
			segStart = i
		}
		row := f.Row(i)
		tm := time.Unix(0, g.Times[i]).UTC()
		dow := (int(tm.Weekday()) + 6) % 7
		sod := tm.Hour()*3600 + tm.Minute()*60 + tm.Second()
		wantT := []float64{float64(tm.Hour()), float64(dow), 0,
			math.Sin(2 * math.Pi * float64(sod) / 86400), math.Cos(2 * math.Pi * float64(sod) / 86400),
			math.Sin(2 * math.Pi * float64(dow) / 7), math.Cos(2 * math.Pi * float64(dow) / 7)}
		if dow >= 5 {
			wantT[2] = 1
		}
		for c, w := range wantT {
			if row[c] != float32(w) {
				fail("row %d %s = %v, want %v", i, f.Names[c], row[c], float32(w))
			}
		}
		if (row[7] == 1) != (g.Break[i] && i > 0) {
			fail("row %d gap = %v, break %v", i, row[7], g.Break[i])
		}
		for m, name := range f.Metrics {
			v := g.Values[m]
			if name != g.Names[m] { // a counter: recompute its rate
				v = make([]float64, g.Len())
				for j := 1; j < len(v); j++ {
					d := g.Values[m][j] - g.Values[m][j-1]
					if d < 0 {
						d = g.Values[m][j]
					}
					v[j] = d / (float64(g.Times[j]-g.Times[j-1]) / 1e9)
				}
			}
			c := f.Column(name)
			if row[c] != float32(v[i]) {
				fail("row %d %s = %v, want %v", i, name, row[c], v[i])
			}
			for _, d := range wins {
				w := samplesFor(d, g.Cadence)
				want := naiveRolling(v[max(segStart, i-w+1) : i+1])
				for k, st := range rollStatNames {
					col := fmt.Sprintf("%s_roll_%s_%s", name, st, windowLabel(d))
					got := float64(row[f.Column(col)])
					tol := 0.0
					switch st {
					case "mean", "std":
						tol = 1e-6 * (math.Abs(want[k]) + want[3] - want[2])
					case "skew", "kurt":
						tol = 1e-6 * (1 + math.Abs(want[k]))
					}
					if math.Abs(got-float64(float32(want[k]))) > tol {
						fail("row %d %s = %v, want %v", i, col, got, want[k])
					}
				}
			}
			for _, k := range lags {
				l := v[max(i-k, segStart)]
				d := v[i] - l
				p := 0.0
				if math.Abs(l) > pctEpsilon {
					p = d / math.Abs(l)
				}
				for j, want := range []float64{l, d, p} {
					col := c + 1 + rollStats*len(wins) + 3*slices.Index(lags, k) + j
					if row[col] != float32(want) {
						fail("row %d %s = %v, want %v", i, f.Names[col], row[col], want)
					}
				}
			}
			if ti := f.Column(name + "_trend_30m"); ti >= 0 && opt.TrendWindow == 0 {
				w := samplesFor(DefaultTrendWindow, g.Cadence)
				ys := v[max(segStart, i-w+1) : i+1]
				want := naiveSlope(ys) / (float64(g.Cadence) / 6e10)
				if got := float64(row[ti]); math.Abs(got-want) > 1e-6*(1+math.Abs(want)) {
					fail("row %d %s = %v, want %v", i, f.Names[ti], got, want)
				}
			}
		}
	}
}

func naiveSlope(ys []float64) float64 {
	n := float64(len(ys))
	if len(ys) < 2 {
		return 0
	}
	var xm, ym float64
	for i, y := range ys {
		xm += float64(i)
		ym += y
	}
	xm /= n
	ym /= n
	var sxy, sxx float64
	for i, y := range ys {
		sxy += (float64(i) - xm) * (y - ym)
		sxx += (float64(i) - xm) * (float64(i) - xm)
	}
	return sxy / sxx
}

func TestEngineerMatchesNaiveRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		cadence time.Duration
		n       int
		brk     int
	}{
		{time.Minute, 3000, 300},   // windows 5, 15, 30 samples
		{5 * time.Minute, 2000, 0}, // windows 2 (at least 2), 3, 6
		{10 * time.Second, 1500, 200},
		{time.Hour, 200, 20}, // every window is 2 samples
	} {
		t.Run(tc.cadence.String(), func(t *testing.T) {
			g := randomGrid(rng, tc.n, []string{"cpu_usage", "latency_ms", "net_bytes_total"}, tc.cadence, tc.brk)
			opt := &Options{}
			f, err := Engineer(g, opt)
			if err != nil {
				t.Fatal(err)
			}
			checkAgainstNaive(t, g, f, opt)
		})
	}
}

func TestEngineerMatchesNaiveNAB(t *testing.T) {
	files, _ := filepath.Glob("../testdata/nab/*/*.csv")
	if len(files) < 10 {
		t.Fatalf("found %d NAB series", len(files))
	}
	for _, file := range files {
		s, _, err := Load(file, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		g, _, err := Resample(s, GridOptions{})
		if err != nil {
			t.Fatal(err)
		}
		opt := &Options{TrendMetrics: []string{"value"}}
		f, err := Engineer(g, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(filepath.Base(file), func(t *testing.T) { checkAgainstNaive(t, g, f, opt) })
	}
}

// TestNoLookAhead changes every value after a time t and checks that every
// feature row at or before t is bit-identical, on the grid and through
// Resample from irregular, duplicated, gappy observations.
func TestNoLookAhead(t *testing.T) {
	names := []string{"acp_consensus_rounds_total", "acp_consensus_time_ms_total", "cpu_usage", "hde_bytes_in", "hde_bytes_out",
		"network_rx_bytes_total", "network_tx_bytes_total", "pba_actual_bandwidth", "pba_predicted_bandwidth"}
	rng := rand.New(rand.NewPCG(3, 4))
	t.Run("grid", func(t *testing.T) {
		g := randomGrid(rng, 1500, names, time.Minute, 200)
		f1, err := Engineer(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(f1.Names) <= len(names)*40 {
			t.Fatalf("domain columns missing: %d columns", len(f1.Names))
		}
		for _, cut := range []int{0, 1, 29, 700, 1498} {
			g2 := randomGrid(rand.New(rand.NewPCG(9, uint64(cut))), 1500, names, time.Minute, 0)
			h := *g
			h.Values = make([][]float64, len(names))
			for m := range names {
				h.Values[m] = append(slices.Clone(g.Values[m][:cut+1]), g2.Values[m][cut+1:]...)
			}
			f2, err := Engineer(&h, nil)
			if err != nil {
				t.Fatal(err)
			}
			compareRows(t, f1, f2, cut, true)
		}
	})
	t.Run("observations", func(t *testing.T) {
		s := randomSeries(rng, 2000, names)
		g, _, err := Resample(s, GridOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f1, err := Engineer(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		// Cut at grid times whose slot holds an observation of every metric.
		cuts := 0
		for i := 50; i < g.Len()-1 && cuts < 6; i += 1 + rng.IntN(400) {
			cutT := g.Times[i]
			if !fullyObservedSlot(s, cutT, g.Cadence) {
				continue
			}
			cuts++
			s2 := &Table{Names: s.Names, Times: s.Times, Values: make([][]float64, len(names))}
			for m := range names {
				s2.Values[m] = slices.Clone(s.Values[m])
				for r, tt := range s.Times {
					if tt > cutT && !math.IsNaN(s2.Values[m][r]) {
						s2.Values[m][r] = rng.NormFloat64() * 1e4
					}
				}
			}
			g2, _, err := Resample(s2, GridOptions{})
			if err != nil {
				t.Fatal(err)
			}
			f2, err := Engineer(g2, nil)
			if err != nil {
				t.Fatal(err)
			}
			compareRows(t, f1, f2, i, false)
		}
		if cuts < 3 {
			t.Fatalf("only %d cut points", cuts)
		}
	})
}

func compareRows(t *testing.T, f1, f2 *Frame, cut int, wantLaterDiff bool) {
	t.Helper()
	for i := 0; i <= cut; i++ {
		if f1.Times[i] != f2.Times[i] {
			t.Fatalf("cut %d: row %d time differs", cut, i)
		}
		a, b := f1.Row(i), f2.Row(i)
		for c := range a {
			if math.Float32bits(a[c]) != math.Float32bits(b[c]) {
				t.Fatalf("cut %d: row %d column %s changed (%v -> %v) by values after the cut", cut, i, f1.Names[c], a[c], b[c])
			}
		}
	}
	if wantLaterDiff && cut+1 < f1.Rows() && slices.Equal(f1.Row(cut+1), f2.Row(cut+1)) {
		t.Fatalf("cut %d: the row after the cut did not change: the test changes nothing", cut)
	}
}

// randomSeries makes irregular observations: jittered before their grid
// point, shuffled, some duplicated (exactly and with other values), some
// values missing, some gaps.
func randomSeries(rng *rand.Rand, n int, names []string) *Table {
	g := randomGrid(rng, n, names, time.Minute, 150)
	s := &Table{Names: names, Values: make([][]float64, len(names))}
	add := func(i int, tt int64, mod float64) {
		s.Times = append(s.Times, tt)
		for m := range names {
			v := g.Values[m][i] + mod
			if rng.IntN(40) == 0 && i > 0 {
				v = math.NaN()
			}
			s.Values[m] = append(s.Values[m], v)
		}
	}
	for i := 0; i < n; i++ {
		if rng.IntN(30) == 0 {
			continue // a missing row: filled or a gap
		}
		tt := g.Times[i] - int64(rng.IntN(30))*int64(time.Second)
		add(i, tt, 0)
		switch rng.IntN(25) {
		case 0:
			add(i, tt, 0) // exact duplicate
		case 1:
			add(i, tt, 1) // conflicting duplicate
		}
	}
	rng.Shuffle(len(s.Times), func(a, b int) {
		s.Times[a], s.Times[b] = s.Times[b], s.Times[a]
		for m := range s.Values {
			s.Values[m][a], s.Values[m][b] = s.Values[m][b], s.Values[m][a]
		}
	})
	return s
}

// fullyObservedSlot reports whether every metric has a non-missing
// observation in the grid slot (t-c, t].
func fullyObservedSlot(s *Table, t int64, c time.Duration) bool {
	for m := range s.Names {
		ok := false
		for r, tt := range s.Times {
			if tt > t-int64(c) && tt <= t && !math.IsNaN(s.Values[m][r]) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func TestDomainColumns(t *testing.T) {
	c := time.Minute
	g := &Grid{
		Names:   []string{"acp_consensus_rounds_total", "acp_consensus_time_ms_total", "hde_bytes_in", "hde_bytes_out", "network_rx_bytes_total", "network_tx_bytes_total", "pba_actual_bandwidth", "pba_predicted_bandwidth"},
		Cadence: c,
		Times:   []int64{0, 60e9, 120e9, 180e9},
		Break:   []bool{false, false, false, false},
		Values: [][]float64{
			{10, 12, 12, 3},     // rounds: +2, +0, reset to 3
			{100, 160, 160, 30}, // time: +60, +0, reset to 30
			{100, 300, 0, 50},
			{50, 100, 0, 10},
			{0, 600, 1200, 60}, // reset in the last step
			{0, 0, 600, 660},
			{10, 0, 8, 5},
			{10, 5, 10, 4},
		},
	}
	f, err := Engineer(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float64{
		"acp_consensus_time_ms_mean": {0, 30, 30, 10},
		"hde_compression_ratio":      {2, 3, 3, 5},
		"network_rx_bytes_rate":      {0, 10, 10, 1},
		"network_tx_bytes_rate":      {0, 0, 10, 1},
		"network_io_bytes_rate":      {0, 10, 20, 2},
		"network_rx_share":           {0.5, 1, 0.5, 0.5},
		"pba_prediction_accuracy":    {1, 0, 0.75, 0.8},
	}
	for name, w := range want {
		c := f.Column(name)
		if c < 0 {
			t.Fatalf("no column %s in %v", name, f.Names)
		}
		for i, v := range w {
			if got := f.Row(i)[c]; math.Abs(float64(got)-v) > 1e-6 {
				t.Errorf("%s[%d] = %v, want %v", name, i, got, v)
			}
		}
	}
	if f.Column("network_rx_bytes_total") >= 0 {
		t.Error("a counter column survived; it should be replaced by its rate")
	}
	if _, err := Engineer(&Grid{Names: []string{"hour"}, Cadence: c, Times: []int64{0}, Break: []bool{false}, Values: [][]float64{{1}}}, nil); err == nil {
		t.Error("a metric named like a temporal column was accepted")
	}
}

func TestEngineerSingleRowAndOptions(t *testing.T) {
	g := &Grid{Names: []string{"x"}, Cadence: time.Minute, Times: []int64{0}, Break: []bool{false}, Values: [][]float64{{7}}}
	f, err := Engineer(g, &Options{Windows: []time.Duration{90 * time.Second}, Lags: []int{2}})
	if err != nil {
		t.Fatal(err)
	}
	// temporal 7 + gap + value + 9 + 3
	if f.Cols() != 21 || f.Names[9] != "x_roll_mean_90s" || f.Names[18] != "x_lag_2" {
		t.Fatalf("columns %v", f.Names)
	}
	r := f.Row(0)
	if r[8] != 7 || r[9] != 7 || r[10] != 0 || r[16] != 0 || r[18] != 7 || r[19] != 0 || r[20] != 0 {
		t.Fatalf("single row %v", r)
	}
	for _, bad := range []*Grid{
		{Names: []string{"x"}, Cadence: time.Minute, Times: []int64{0, 60e9}, Break: []bool{false}, Values: [][]float64{{1, 2}}},
		{Names: []string{"x"}, Cadence: time.Minute, Times: []int64{0, 60e9}, Break: []bool{false, false}, Values: [][]float64{{1}}},
		{Names: []string{"x"}, Cadence: time.Minute, Times: []int64{60e9, 0}, Break: []bool{false, false}, Values: [][]float64{{1, 2}}},
		{Names: []string{"x"}, Cadence: time.Minute, Times: []int64{0, 60e9}, Break: []bool{false, false}, Values: [][]float64{{1, math.NaN()}}},
		{Names: []string{"x"}, Cadence: 0, Times: []int64{0}, Break: []bool{false}, Values: [][]float64{{1}}},
	} {
		if _, err := Engineer(bad, nil); err == nil {
			t.Errorf("malformed grid %+v accepted", bad)
		}
	}
	for _, bad := range []*Options{{Lags: []int{0}}, {Windows: []time.Duration{-time.Second}}} {
		if _, err := Engineer(g, bad); err == nil {
			t.Errorf("options %+v accepted", bad)
		}
	}
}

// The defaults are returned as copies: a caller editing them must not change
// the columns every later Engineer call produces, nor the split of Prepare.
func TestExportedDefaultsAreCopies(t *testing.T) {
	g := &Grid{Names: []string{"x"}, Cadence: time.Minute, Times: []int64{0}, Break: []bool{false}, Values: [][]float64{{7}}}
	want, err := Engineer(g, nil)
	if err != nil {
		t.Fatal(err)
	}
	w := DefaultWindows()
	w[0] = time.Hour
	l := DefaultLags()
	l[0] = 2
	n := TemporalNames()
	n[0] = "x"
	_ = append(n[:1], "y")
	r := DefaultRatios()
	r.Train = 0.5
	got, err := Engineer(g, nil)
	if err != nil {
		t.Fatalf("after editing the defaults: %v", err)
	}
	if !slices.Equal(got.Names, want.Names) || got.Names[0] != "hour" || got.Column("x_roll_mean_5m") < 0 || got.Column("x_lag_1") < 0 {
		t.Errorf("columns changed: %v", got.Names)
	}
	if DefaultWindows()[0] != 5*time.Minute || DefaultLags()[0] != 1 || TemporalNames()[0] != "hour" || DefaultRatios().Train != 0.70 {
		t.Errorf("accessors return the edited values: %v %v %v %v", DefaultWindows(), DefaultLags(), TemporalNames(), DefaultRatios())
	}
}
