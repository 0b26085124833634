package serve

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	perfpredict "github.com/novacron/perfpredict"
)

// synthetic is a stationary metric at 5-minute steps: a daily cycle plus
// AR(1) noise.
func synthetic(n int, seed uint64) *Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := &Data{Name: "synthetic", Metrics: []string{"cpu"}, Values: [][]float64{make([]float64, n)}}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := 0.0
	for i := range n {
		d.Times = append(d.Times, t0.Add(time.Duration(i)*5*time.Minute))
		e = 0.8*e + rng.NormFloat64()
		d.Values[0][i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + 3*e
	}
	return d
}

var tinyConfig = perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{16}, Dropout: -1, Steps: 24,
	BatchSize: 64, LearningRate: 3e-3, Epochs: 3, Patience: 2, Seed: 1}

func trainedService(t testing.TB, d *Data, horizon int) *Service {
	t.Helper()
	fz, err := FitProtocol(d, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := Train(context.Background(), d, fz, TrainOptions{Config: tinyConfig, Horizon: horizon, Stride: 2})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewService(context.Background(), m, d, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestDegradationCalibration(t *testing.T) {
	d := synthetic(288*20, 1)
	start := time.Now()
	s := trainedService(t, d, 12)
	t.Logf("trained and calibrated in %v", time.Since(start))
	n := d.Len()
	bt, err := s.Backtest(context.Background(), d, n*85/100, n, 12, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("80%% interval coverage %.3f over %d origins", bt.CoverageAll, len(bt.Origins))
	t.Logf("probability map fitted on %d cross-fitted validation origins (%d breaches): %d knots", s.Calibration().ModelMap.N, s.Calibration().ModelMap.Events, len(s.Calibration().ModelMap.X))
	t.Log("  reliability: recalibrated | raw conformal")
	for i, b := range bt.Reliability {
		r := bt.RawReliability[i]
		t.Logf("  [%.1f, %.1f) n=%4d mean p %.3f observed %.3f | n=%4d mean p %.3f observed %.3f", b.Lo, b.Hi, b.N, b.MeanProb, b.Observed, r.N, r.MeanProb, r.Observed)
	}
	// Calibration error of the breach probabilities, and skill over always
	// saying the base rate.
	ece := ECE(bt.Reliability)
	rate := 0.0
	for _, e := range bt.Event {
		if e {
			rate++
		}
	}
	rate /= float64(len(bt.Event))
	t.Logf("ECE %.4f recalibrated, %.4f raw; Brier %.4f recalibrated, %.4f raw; base rate %.3f (Brier of the base rate %.4f)",
		ece, ECE(bt.RawReliability), bt.Brier, bt.RawBrier, rate, rate*(1-rate))
	if ece > 0.05 {
		t.Errorf("expected calibration error %.3f, want <= 0.05", ece)
	}
	if bt.Brier >= rate*(1-rate) {
		t.Errorf("Brier %.4f no better than the base rate's %.4f", bt.Brier, rate*(1-rate))
	}
	if bt.CoverageAll < 0.75 || bt.CoverageAll > 0.85 {
		t.Errorf("nominal 80%% interval covers %.3f of held-out points, want 0.75-0.85", bt.CoverageAll)
	}
	deg, err := s.PredictDegradation(context.Background(), d.Slice(n-200, n), 12)
	if err != nil {
		t.Fatal(err)
	}
	if deg.Source != SourceModel || len(deg.Metrics) != 1 || len(deg.Metrics[0].Steps) != 12 {
		t.Fatalf("degradation %+v", deg)
	}
	for _, st := range deg.Metrics[0].Steps {
		if !(st.P10 <= st.P50 && st.P50 <= st.P90) {
			t.Errorf("step %d: quantiles %v %v %v out of order", st.Step, st.P10, st.P50, st.P90)
		}
	}
	if p := deg.Probability; p < 0 || p > 1 {
		t.Errorf("probability %v", p)
	}
	if want := s.Calibration().ModelMap.Apply(deg.RawProbability); deg.Probability != want {
		t.Errorf("probability %v, want the map of the raw %v: %v", deg.Probability, deg.RawProbability, want)
	}
}

func TestExplain(t *testing.T) {
	d := synthetic(288*8, 2)
	s := trainedService(t, d, 6)
	n := d.Len()
	ex, err := s.Explain(context.Background(), d, d.Slice(n-100, n), ExplainOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(ex.Importance) != 3 || len(ex.IG) != 3 {
		t.Fatalf("importance %v, IG %v", ex.Importance, ex.IG)
	}
	sum := 0.0
	for _, im := range ex.Importance {
		sum += im.Share
		t.Logf("importance %-12s drop %.4f share %.3f", im.Feature, im.Drop, im.Share)
	}
	if math.Abs(sum-1) > 1e-9 || ex.Importance[0].Drop <= 0 {
		t.Errorf("shares sum to %v, top drop %v", sum, ex.Importance[0].Drop)
	}
	// The attention rows the window holds: t-10, t-5, t-1 (T = 24).
	if len(ex.Attention) != 3 || ex.Attention[2].Lag != 1 {
		t.Errorf("attention rows %+v", ex.Attention)
	}
	for _, a := range ex.IG {
		t.Logf("IG %-12s %.4f", a.Feature, a.Value)
	}
	t.Logf("IG delta %.4f gap %.2g", ex.IGDelta, ex.IGGap)
	// Completeness: attributions add up to f(x) - f(baseline).
	if ex.IGGap > 0.05*math.Max(0.1, math.Abs(ex.IGDelta)) {
		t.Errorf("IG completeness gap %.4g for delta %.4g", ex.IGGap, ex.IGDelta)
	}
}

// dwcp is a synthetic cluster: four metrics driven by one load with a daily
// cycle.
func dwcp(n int, seed uint64) *Data {
	rng := rand.New(rand.NewPCG(seed, 3))
	d := &Data{Name: "dwcp", Metrics: []string{"cpu_usage", "latency_ms", "memory_usage", "throughput"}, Values: make([][]float64, 4)}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := 0.0
	for i := range n {
		d.Times = append(d.Times, t0.Add(time.Duration(i)*5*time.Minute))
		e = 0.9*e + 0.5*rng.NormFloat64()
		load := 50 + 20*math.Sin(2*math.Pi*float64(i)/288) + 5*e
		d.Values[0] = append(d.Values[0], 10+0.8*load+rng.NormFloat64())
		d.Values[1] = append(d.Values[1], 20+0.01*load*load+2*rng.NormFloat64())
		d.Values[2] = append(d.Values[2], 60+0.2*load+0.5*rng.NormFloat64())
		d.Values[3] = append(d.Values[3], 30*load+20*rng.NormFloat64())
	}
	return d
}

// TestMultiMetric trains one model over four metrics (the engineered
// recipe, K = 4 metrics x 6 steps) and checks the per-metric accuracy
// table and a multi-metric degradation forecast.
func TestMultiMetric(t *testing.T) {
	d := dwcp(288*6, 4)
	targets := []string{"cpu_usage", "latency_ms", "throughput"}
	fz, err := FitEngineered(d, targets)
	if err != nil {
		t.Fatal(err)
	}
	cfg := tinyConfig
	cfg.Epochs = 4
	m, _, err := Train(context.Background(), d, fz, TrainOptions{Config: cfg, Horizon: 6, Stride: 2})
	if err != nil {
		t.Fatal(err)
	}
	if m.Target != "cpu_usage_delta,latency_ms_delta,throughput_delta" || m.Outputs() != 18 {
		t.Fatalf("target %q, %d outputs", m.Target, m.Outputs())
	}
	s, err := NewService(context.Background(), m, d, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	n := d.Len()
	acc, err := s.Accuracy(context.Background(), d, n*85/100, n, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Persistence on the same targets, to check the model's forecasts are
	// in the metrics' units and of the right size.
	cols := []int{0, 1, 3}
	t.Log("Metric        Accuracy (5%)   MAPE     MAE   (persistence MAE)")
	for i, o := range acc.Outputs {
		pers, cnt := 0.0, 0
		for tt := max(n*85/100, 23); tt < n-6; tt++ {
			for h := 1; h <= 6; h++ {
				pers += math.Abs(d.Values[cols[i]][tt+h] - d.Values[cols[i]][tt])
				cnt++
			}
		}
		pers /= float64(cnt)
		t.Logf("%-12s  %6.1f%%        %5.2f%%  %7.3f (%7.3f)", targets[i], 100*o.Accuracy5, o.MAPE, o.MAE, pers)
		if o.N != cnt || math.IsNaN(o.MAPE) || o.MAE > 1.5*pers {
			t.Errorf("%s: %+v (persistence MAE %.3f over %d targets)", targets[i], o, pers, cnt)
		}
	}
	deg, err := s.PredictDegradation(context.Background(), d.Slice(n-120, n), 6)
	if err != nil {
		t.Fatal(err)
	}
	if len(deg.Metrics) != 3 || deg.Metrics[1].Metric != "latency_ms" {
		t.Fatalf("metrics %+v", deg.Metrics)
	}
	pmax := 0.0
	for _, mf := range deg.Metrics {
		pmax = max(pmax, mf.Probability)
	}
	if deg.Probability < pmax-1e-12 {
		t.Errorf("P(any) %.3f below the largest per-metric probability %.3f", deg.Probability, pmax)
	}
	// Features in a different order or missing are refused by name.
	other := &Data{Name: "other", Times: d.Times, Metrics: []string{"cpu_usage", "latency_ms", "throughput"}, Values: [][]float64{d.Values[0], d.Values[1], d.Values[3]}}
	if _, err := s.Forecast(context.Background(), other); err == nil || !strings.Contains(err.Error(), "memory_usage") {
		t.Errorf("data without memory_usage: %v", err)
	}
}

// TestServiceBadInput: short history, NaN in the recent metrics, a missing
// metric: clear errors, or the fallback when configured; never a panic.
func TestServiceBadInput(t *testing.T) {
	d := synthetic(288*8, 3)
	s := trainedService(t, d, 6)
	n := d.Len()
	ctx := context.Background()
	if _, err := s.PredictDegradation(ctx, d.Slice(n-10, n), 6); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "24-step window needs at least 25") {
		t.Errorf("short window: %v", err)
	}
	if _, err := s.PredictDegradation(ctx, d, 7); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "horizon 7") {
		t.Errorf("horizon past the model's: %v", err)
	}
	recent := d.Slice(n-100, n)
	recent.Values = [][]float64{append([]float64(nil), recent.Values[0]...)}
	recent.Values[0][90] = math.NaN()
	_, err := s.PredictDegradation(ctx, recent, 6)
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "cpu at row 91") {
		t.Errorf("NaN in recent metrics: %v", err)
	}
	other := &Data{Name: "x", Times: recent.Times, Metrics: []string{"a", "b"}, Values: [][]float64{recent.Values[0], recent.Values[0]}}
	if _, err := s.Forecast(ctx, other); err == nil {
		t.Error("data with two unrelated metrics accepted")
	}
	// With FallbackOnBadInput, Holt-Winters answers from the finite values.
	fz, _ := FitProtocol(d, nil)
	m, _, err := Train(ctx, d, fz, TrainOptions{Config: tinyConfig, Horizon: 6, Stride: 4})
	if err != nil {
		t.Fatal(err)
	}
	sf, err := NewService(ctx, m, d, ServiceOptions{Predictor: Options{FallbackOnBadInput: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer sf.Close()
	deg, err := sf.PredictDegradation(ctx, recent, 6)
	if err != nil || deg.Source != SourceFallback || deg.Reason != ReasonBadInput || deg.Method != "holt_winters" {
		t.Fatalf("NaN with fallback: %+v, %v", deg, err)
	}
	for _, st := range deg.Metrics[0].Steps {
		if math.IsNaN(st.P50) || !(st.P10 <= st.P90) {
			t.Errorf("fallback step %+v", st)
		}
	}
}

// TestRecalibrate: after the metric turns three times as noisy, the
// validation calibration's 80% interval covers too little; recalibrating on
// recent outcomes restores it.
func TestRecalibrate(t *testing.T) {
	calm := synthetic(288*24, 5)
	noisy := synthetic(288*24, 6)
	n := calm.Len()
	cut := n * 2 / 3
	d := &Data{Name: "shift", Times: calm.Times, Metrics: calm.Metrics, Values: [][]float64{make([]float64, n)}}
	for i := range n {
		d.Values[0][i] = calm.Values[0][i]
		if i >= cut {
			d.Values[0][i] = 50 + 3*(noisy.Values[0][i]-50)
		}
	}
	s := trainedService(t, d.Slice(0, cut), 6)
	ctx := context.Background()
	mid := cut + (n-cut)/2
	before, err := s.Backtest(ctx, d, mid, n, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Recalibrate(ctx, d.Slice(0, mid)); err != nil {
		t.Fatal(err)
	}
	after, err := s.Backtest(ctx, d, mid, n, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("80%% interval coverage after the change: %.3f with the validation calibration, %.3f recalibrated", before.CoverageAll, after.CoverageAll)
	if before.CoverageAll > 0.7 || after.CoverageAll < 0.72 || after.CoverageAll > 0.88 {
		t.Errorf("coverage %.3f before, %.3f after recalibrating; want < 0.7, then near 0.8", before.CoverageAll, after.CoverageAll)
	}
}
