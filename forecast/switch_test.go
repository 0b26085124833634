package forecast

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/novacron/perfpredict/baseline"
)

// switchReference is Switch written the plain way: every forecast of both
// forecasters from every origin, the breaks in the level, then the
// weighted errors from scratch. out[t][h-1] is the switch's forecast from
// origin t (NaN where it has none), for the first checked origins and the
// last; pick[t][h-1] says which it is: 'n' the network's, 'a' the
// autoregression's, 'm' their mean; breaks counts the breaks detected.
func switchReference(t *testing.T, fc *Forecaster, y []float64, nTrain, fitEnd, checked int) (out [][]float64, pick [][]byte, breaks int) {
	t.Helper()
	K, need := fc.Horizon(), fc.Needs()
	ar := baseline.NewRidgeAR(SwitchLags, K)
	if err := ar.Fit(baseline.Series{Values: y[:fitEnd]}, nTrain); err != nil {
		t.Fatal(err)
	}
	ar.Reset()
	n := len(y)
	net, loc := make([][]float64, n), make([][]float64, n)
	for o := range n {
		ar.Update(y[o])
		if o+1 >= SwitchLags {
			loc[o] = make([]float64, K)
			for h := 1; h <= K; h++ {
				loc[o][h-1], _ = ar.Forecast(h)
			}
		}
		if o+1 >= need {
			f, err := fc.Forecast(context.Background(), y[:o+1])
			if err != nil {
				t.Fatal(err)
			}
			net[o] = make([]float64, K)
			for h := 1; h <= K; h++ {
				net[o][h-1] = f.Points[h-1].Value
			}
		}
	}
	decay := math.Pow(0.5, 1.0/SwitchHalfLife)
	// The breaks: at target j, the autoregression's one-step error against
	// the weighted mean of its one-step errors since the last break.
	// resetAt[o] is the target of the last break up to origin o (-1: none).
	resetAt := make([]int, n)
	var e1, w1 float64
	run, last := 0, -1
	for j := range n {
		if j >= 1 && net[j-1] != nil && loc[j-1] != nil {
			e := math.Abs(loc[j-1][0] - y[j])
			if w1 >= switchBreakMinWeight && e > switchBreakRatio*e1/w1 {
				run++
			} else {
				run = 0
			}
			if run >= switchBreakRun {
				e1, w1, run, last = 0, 0, 0, j
				breaks++
			}
			e1, w1 = decay*e1+e, decay*w1+1
		}
		resetAt[j] = last
	}
	out, pick = make([][]float64, n), make([][]byte, n)
	for o := range n {
		out[o], pick[o] = make([]float64, K), make([]byte, K)
		if o >= checked && o < n-1 {
			continue // not compared: the sums below are quadratic
		}
		for h := 1; h <= K; h++ {
			// Targets known at origin o: j <= o, forecast from j-h; since
			// a break at r, only targets from r on whose origin is at least
			// r - switchBreakRun.
			r := resetAt[o]
			var en, ea, em, w float64
			for j := h; j <= o; j++ {
				if net[j-h] == nil || loc[j-h] == nil || r >= 0 && (j < r || j-h < r-switchBreakRun) {
					continue
				}
				d := math.Pow(decay, float64(o-j))
				en += d * math.Abs(net[j-h][h-1]-y[j])
				ea += d * math.Abs(loc[j-h][h-1]-y[j])
				em += d * math.Abs((net[j-h][h-1]+loc[j-h][h-1])/2-y[j])
				w += d
			}
			v, p := math.NaN(), byte(0)
			switch {
			case net[o] != nil && loc[o] != nil && w == 0 && r >= 0:
				v, p = net[o][h-1], 'n'
			case net[o] != nil && loc[o] != nil && (w == 0 || em <= en && em <= ea):
				v, p = (net[o][h-1]+loc[o][h-1])/2, 'm'
			case net[o] != nil && loc[o] != nil && ea < en:
				v, p = loc[o][h-1], 'a'
			case net[o] != nil:
				v, p = net[o][h-1], 'n'
			case loc[o] != nil:
				v, p = loc[o][h-1], 'a'
			}
			out[o][h-1], pick[o][h-1] = v, p
		}
	}
	return out, pick, breaks
}

func TestSwitchMatchesReference(t *testing.T) {
	fc, _ := tinyForecaster(t)
	K := fc.Horizon()
	y := synthSeries("s", 5200, 7).Values
	const fitEnd, nTrain = 900, 700
	// A lasting shift after the fit, which the autoregression, pulled
	// back to its training mean, follows worse than the network.
	shift := 20 * baseline.FitScaler(y[:fitEnd]).SD
	for i := 1000; i < len(y); i++ {
		y[i] += shift
	}
	// A sharper one that the switch detects as a break.
	for i := 1200; i < len(y); i++ {
		y[i] -= 3 * shift
	}
	const checked = 1500
	ref, pick, breaks := switchReference(t, fc, y, nTrain, fitEnd, checked)
	if breaks == 0 {
		t.Fatal("no break detected: the test would not check what follows one")
	}

	close := func(a, b float64) bool {
		return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	// Asked for a forecast after every observation: catch-up batches of one.
	sw := NewSwitch(fc)
	if err := sw.Fit(baseline.Series{Values: y[:fitEnd]}, nTrain); err != nil {
		t.Fatal(err)
	}
	sw.Reset()
	chosen := map[byte]int{}
	for o, v := range y[:checked] {
		sw.Update(v)
		for h := 1; h <= K; h++ {
			got, err := sw.Forecast(h)
			want := ref[o][h-1]
			if math.IsNaN(want) {
				if !errors.Is(err, baseline.ErrShortHistory) {
					t.Fatalf("origin %d h=%d: err %v, want ErrShortHistory", o, h, err)
				}
				continue
			}
			if err != nil || !close(got, want) {
				t.Fatalf("origin %d h=%d: %v, %v; want %v", o, h, got, err, want)
			}
			chosen[pick[o][h-1]]++
		}
	}
	// The test means something only if each choice is made.
	if chosen['n'] == 0 || chosen['a'] == 0 || chosen['m'] == 0 {
		t.Fatalf("choices made (network, autoregression, average): %d, %d, %d; want each", chosen['n'], chosen['a'], chosen['m'])
	}
	// Fed the whole series at once: the catch-up runs in large batches and
	// drops old observations.
	sw.Reset()
	for _, v := range y {
		sw.Update(v)
	}
	for h := 1; h <= K; h++ {
		got, err := sw.Forecast(h)
		if want := ref[len(y)-1][h-1]; err != nil || !close(got, want) {
			t.Fatalf("after %d observations h=%d: %v, %v; want %v", len(y), h, got, err, want)
		}
	}
	if len(sw.values) > 2*4096 {
		t.Errorf("the switch keeps %d observations after catching up", len(sw.values))
	}
}

// mustForecast is Forecast that fails the test on error.
func (fc *Forecaster) mustForecast(t *testing.T, history []float64) Forecast {
	t.Helper()
	f, err := fc.Forecast(context.Background(), history)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSwitchErrors(t *testing.T) {
	fc, _ := tinyForecaster(t)
	sw := NewSwitch(fc)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Update before Fit did not panic")
			}
		}()
		sw.Update(1)
	}()
	if err := sw.Fit(baseline.Series{Values: make([]float64, 50)}, 40); err == nil {
		t.Error("Fit on 50 steps with 60 lags: no error")
	}
	y := synthSeries("s", 400, 3).Values
	if err := sw.Fit(baseline.Series{Values: y}, 300); err != nil {
		t.Fatal(err)
	}
	for _, h := range []int{0, fc.Horizon() + 1} {
		if _, err := sw.Forecast(h); err == nil {
			t.Errorf("Forecast(%d): no error", h)
		}
	}
	sw.Reset()
	if _, err := sw.Forecast(1); !errors.Is(err, baseline.ErrShortHistory) {
		t.Errorf("Forecast after Reset: %v, want ErrShortHistory", err)
	}
}

func TestEvaluateScoresSwitch(t *testing.T) {
	fc, _ := tinyForecaster(t)
	s := synthSeries("e", 1400, 11)
	hs := []int{1, 4}
	rep, err := Evaluate(context.Background(), fc, []baseline.Series{s}, hs, EvalOptions{Forecasts: true})
	if err != nil {
		t.Fatal(err)
	}
	// What the switch is scored on: Point at every test target, from a
	// switch fitted on the training and validation splits (the penalty
	// chosen on their last 15%, as serve.NewService fits one on them) and
	// fed the series from its start.
	sw := NewSwitch(fc)
	sp := baseline.SplitOf(s.Len())
	if err := sw.Fit(s.Slice(0, sp.Fit()), baseline.SplitOf(sp.Fit()).Train); err != nil {
		t.Fatal(err)
	}
	scored := map[[2]int]ScoredForecast{} // origin, horizon
	for _, sf := range rep.SwitchForecasts {
		scored[[2]int{sf.Origin, sf.Horizon}] = sf
	}
	for k, h := range hs {
		var lo, mid, hi []float64
		sw.Reset()
		for o := range sp.N - h {
			sw.Update(s.Values[o])
			if o+h >= sp.TestStart() {
				p, err := sw.Point(h)
				if err != nil {
					t.Fatal(err)
				}
				lo, mid, hi = append(lo, p.P10), append(mid, p.Value), append(hi, p.P90)
				if sf, ok := scored[[2]int{o, h}]; !ok || sf.Forecast != p.Value || sf.P10 != p.P10 || sf.P90 != p.P90 {
					t.Fatalf("origin %d h=%d: scored forecast %+v (%v), want %+v", o, h, sf, ok, p)
				}
			}
		}
		row := rep.Series[k]
		m, ok := row.Methods[SwitchMethod]
		if !ok || row.Horizon != h {
			t.Fatalf("h=%d: no %s row", h, SwitchMethod)
		}
		sc, err := baseline.Score(s.Values, mid)
		if err != nil {
			t.Fatal(err)
		}
		if m.MASE != sc.MASE {
			t.Errorf("h=%d: switch MASE %v, want %v", h, m.MASE, sc.MASE)
		}
		// Neither forecaster's figure is undercut by more than chance:
		// the switch follows the better one.
		if worst := math.Max(row.Methods[ModelMethod].MASE, row.Methods["ridge_ar"].MASE); m.MASE > 1.05*worst {
			t.Errorf("h=%d: switch MASE %.3f above both the model's and ridge AR's (%.3f)", h, m.MASE, worst)
		}
		im, err := baseline.ScoreIntervals(s.Values, lo, mid, hi)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := rep.Intervals.Series[k].Methods[SwitchMethod]
		if !ok || rep.Intervals.Series[k].Horizon != h {
			t.Fatalf("h=%d: no switch row among the intervals", h)
		}
		if got != im || im.N == 0 {
			t.Errorf("h=%d: switch intervals scored %+v, want %+v", h, got, im)
		}
	}
	if len(rep.SwitchForecasts) != len(rep.Forecasts) {
		t.Errorf("%d scored forecasts of the switch, %d of the model", len(rep.SwitchForecasts), len(rep.Forecasts))
	}
	// The scenario table pools the switch beside the model.
	for _, ss := range rep.Scenarios.Summary {
		if _, ok := ss.Methods[SwitchMethod]; !ok {
			t.Errorf("h=%d %s: no switch in the scenario summary", ss.Horizon, ss.Scenario)
		}
	}
	if len(rep.Scenarios.Summary) == 0 {
		t.Error("no scenario summary")
	}
	if _, ok := rep.Summary.SwitchVersusBest["1"]; !ok {
		t.Error("no switch_vs_best_baseline in the summary")
	}
	if rep.Summary.VersusBest["1"].WorstRatio <= 0 {
		t.Error("model_vs_best_baseline missing")
	}
}

// TestSwitchIntervals checks Point's interval against its definition: the
// switch's forecast plus the mean of the network's offsets (p10 and p90
// less its forecast) and the 10% and 90% quantiles of the switch's last
// window errors at h (from the reference's forecasts), or the network's
// offsets alone before switchMinErrors errors.
func TestSwitchIntervals(t *testing.T) {
	fc, _ := tinyForecaster(t)
	K := fc.Horizon()
	y := synthSeries("s", 1400, 5).Values
	const fitEnd, nTrain, window = 900, 700, 120
	for i := 1000; i < len(y); i++ {
		y[i] *= 3 // the errors grow after a break: the interval must follow
	}
	ref, _, _ := switchReference(t, fc, y, nTrain, fitEnd, len(y))
	sw := NewSwitch(fc)
	sw.setWindow(window)
	if err := sw.Fit(baseline.Series{Values: y[:fitEnd]}, nTrain); err != nil {
		t.Fatal(err)
	}
	sw.Reset()
	close := func(a, b float64) bool {
		return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
	}
	var fromErrors, fromNetwork int
	// The width at h = 1 before the break and a window after it.
	width, count := map[bool]float64{}, map[bool]int{}
	for o, v := range y[:len(y)-1] {
		sw.Update(v)
		for h := 1; h <= K; h++ {
			p, err := sw.Point(h)
			if math.IsNaN(ref[o][h-1]) {
				continue
			}
			if err != nil {
				t.Fatalf("origin %d h=%d: %v", o, h, err)
			}
			if !close(p.Value, ref[o][h-1]) || p.P50 != p.Value {
				t.Fatalf("origin %d h=%d: value %v, p50 %v; want %v", o, h, p.Value, p.P50, ref[o][h-1])
			}
			// The switch's errors whose targets are known at o, latest last.
			var errs []float64
			for j := h; j <= o; j++ {
				if !math.IsNaN(ref[j-h][h-1]) {
					errs = append(errs, y[j]-ref[j-h][h-1])
				}
			}
			f := fc.mustForecast(t, y[:o+1]).Points[h-1]
			lo, hi := p.Value+f.P10-f.Value, p.Value+f.P90-f.Value
			if len(errs) >= switchMinErrors {
				errs = errs[max(0, len(errs)-window):]
				slices.Sort(errs)
				lo = (lo + p.Value + baseline.QuantileSorted(errs, 0.1)) / 2
				hi = (hi + p.Value + baseline.QuantileSorted(errs, 0.9)) / 2
				fromErrors++
			} else {
				fromNetwork++
			}
			if !close(p.P10, lo) || !close(p.P90, hi) {
				t.Fatalf("origin %d h=%d: interval %v..%v, want %v..%v", o, h, p.P10, p.P90, lo, hi)
			}
			if after := o >= 1000+window; h == 1 && (after || o >= 900 && o < 1000) {
				width[after] += p.P90 - p.P10
				count[after]++
			}
		}
	}
	if fromErrors == 0 || fromNetwork == 0 {
		t.Fatalf("intervals from errors %d, from the network %d: want both", fromErrors, fromNetwork)
	}
	before, after := width[false]/float64(count[false]), width[true]/float64(count[true])
	if after < 1.5*before {
		t.Errorf("h=1: mean width %.3g a window after the break, %.3g before it: want it widened", after, before)
	}
}
