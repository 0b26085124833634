package serve

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/baseline"
)

// TestProbabilityMapRecalibrates: raw probabilities that overstate the
// chance (true frequency p^2) are mapped close to the truth on fresh
// outcomes, and the map is monotone, within [0, 1] and anchored where it
// saw no data.
func TestProbabilityMapRecalibrates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(n int) ([]float64, []bool) {
		p, e := make([]float64, n), make([]bool, n)
		for i := range n {
			p[i] = 0.9 * rng.Float64() // never above 0.9: the map must not extrapolate
			e[i] = rng.Float64() < p[i]*p[i]
		}
		return p, e
	}
	p, e := draw(20000)
	m := FitProbabilityMap(p, e, 200, 50)
	for i := 1; i < len(m.X); i++ {
		if m.X[i] < m.X[i-1] || m.Y[i] < m.Y[i-1] {
			t.Fatalf("knot %d: (%v, %v) after (%v, %v): not monotone", i, m.X[i], m.Y[i], m.X[i-1], m.Y[i-1])
		}
	}
	prev := -1.0
	for x := 0.0; x <= 1; x += 0.01 {
		y := m.Apply(x)
		if y < prev || y < 0 || y > 1 {
			t.Fatalf("Apply(%v) = %v after %v", x, y, prev)
		}
		prev = y
	}
	if got := m.Apply(1); got != 1 {
		t.Errorf("Apply(1) = %v beyond the fitted range, want the identity anchor 1", got)
	}
	q, f := draw(20000)
	mapped := make([]float64, len(q))
	for i, v := range q {
		mapped[i] = m.Apply(v)
	}
	raw, cal := ECE(Reliability(q, f, 10)), ECE(Reliability(mapped, f, 10))
	t.Logf("fresh outcomes: ECE %.4f raw, %.4f mapped; Brier %.4f raw, %.4f mapped", raw, cal, BrierScore(q, f), BrierScore(mapped, f))
	if cal > 0.02 || cal > raw/3 {
		t.Errorf("ECE %.4f after mapping (%.4f raw), want <= 0.02 and a third of raw", cal, raw)
	}
	if BrierScore(mapped, f) >= BrierScore(q, f) {
		t.Errorf("Brier %.4f mapped, %.4f raw: no better", BrierScore(mapped, f), BrierScore(q, f))
	}
}

// TestProbabilityMapShrinks: with few outcomes the map stays near the raw
// probability (the prior), with many it follows the outcomes; a block
// never holds fewer than minCount origins; equal raw values share a value.
func TestProbabilityMapShrinks(t *testing.T) {
	mk := func(n int) ([]float64, []bool) {
		p, e := make([]float64, n), make([]bool, n)
		for i := range p {
			p[i] = 0.6 // raw says 0.6, the truth is never
		}
		return p, e
	}
	p, e := mk(10)
	if got := FitProbabilityMap(p, e, 5, 60).Apply(0.6); math.Abs(got-0.6*60/70) > 1e-12 {
		t.Errorf("10 origins, prior 60: Apply(0.6) = %v, want %v", got, 0.6*60/70)
	}
	p, e = mk(6000)
	if got := FitProbabilityMap(p, e, 5, 60).Apply(0.6); got > 0.01 {
		t.Errorf("6000 origins without a breach: Apply(0.6) = %v, want near 0", got)
	}
	// Alternating outcomes on distinct raw values: PAV alone would make
	// tiny blocks; minCount pools them.
	p, e = make([]float64, 100), make([]bool, 100)
	for i := range p {
		p[i], e[i] = float64(i)/100, i%3 == 0
	}
	m := FitProbabilityMap(p, e, 25, 0)
	levels := map[float64]bool{}
	for _, y := range m.Y[1 : len(m.Y)-1] {
		levels[y] = true
	}
	if len(levels) > 4 {
		t.Errorf("%d levels from 100 origins with at least 25 per block", len(levels))
	}
	if FitProbabilityMap(nil, nil, 5, 5) != nil || (*ProbabilityMap)(nil).Apply(0.3) != 0.3 {
		t.Error("the map of no pairs is not the identity")
	}
}

// TestSaturatedThreshold: a metric pinned at its maximum (CPU at 100%)
// for more than 1% of training gets a default bound below the maximum, so
// reaching it is a breach; an ordinary metric keeps its p99.
func TestSaturatedThreshold(t *testing.T) {
	d := synthData(288*10, []string{"cpu"}, 7)
	sat := []baseline.Series{{Name: "cpu", Times: d[0].Times, Values: make([]float64, d[0].Len())}}
	for i, v := range d[0].Values {
		sat[0].Values[i] = min(100, v+45) // the daily peak is clipped at 100
	}
	v := append([]float64(nil), sat[0].Values[:d[0].Len()*70/100]...)
	at := 0
	for _, x := range v {
		if x == 100 {
			at++
		}
	}
	if at*100 <= len(v) {
		t.Fatalf("only %d of %d training values at 100: not saturated", at, len(v))
	}
	th, err := defaultThresholds(sat, []string{"cpu"}, []int{0}, len(v), ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b := *th[0].Above; !(b < 100) || !th[0].breached(100) || !strings.Contains(th[0].Origin, "maximum") {
		t.Errorf("saturated metric: bound %v (%s), breached(100) %v; want below 100 and reaching 100 a breach", b, th[0].Origin, th[0].breached(100))
	}
	th, err = defaultThresholds(d, []string{"cpu"}, []int{0}, len(v), ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(th[0].Origin, "maximum") || th[0].Origin != "p99 of training" {
		t.Errorf("ordinary metric: origin %q", th[0].Origin)
	}
}

// TestRecalibrate: where the raw probability of a breach within the
// horizon is off (spikes the per-step quantiles cannot see as a path), the
// map fitted on earlier outcomes improves the Brier score on later ones,
// and PredictDegradation reports both.
func TestRecalibrate(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(3000, []string{"latency_ms"}, 13)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range d[0].Values {
		if rng.Float64() < 0.02 {
			d[0].Values[i] += 25 // short spikes
		}
	}
	bound := 68.0
	svc, err := NewService(fc, d, ServiceOptions{Thresholds: []Threshold{{Metric: "latency_ms", Above: &bound}}})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	const H = 12
	before, err := svc.Backtest(ctx, d, 2000, 3000, H)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Recalibrate(ctx, d, 500, 2000-H, H); err != nil {
		t.Fatal(err)
	}
	after, err := svc.Backtest(ctx, d, 2000, 3000, H)
	if err != nil {
		t.Fatal(err)
	}
	if before.Brier != before.RawBrier || after.RawBrier != before.RawBrier {
		t.Fatalf("raw Brier %v then %v; before the map Brier %v", before.RawBrier, after.RawBrier, before.Brier)
	}
	t.Logf("Brier on rows 2000..3000: raw %.4f, recalibrated on rows 500..2000 %.4f", after.RawBrier, after.Brier)
	if !(after.Brier < 0.95*after.RawBrier) {
		t.Errorf("recalibrated Brier %.4f, raw %.4f: want a clear improvement", after.Brier, after.RawBrier)
	}
	deg, err := svc.PredictDegradation(ctx, d, H)
	if err != nil {
		t.Fatal(err)
	}
	if deg.Recalibrated == 0 || deg.Probability == deg.RawProbability && deg.RawProbability != 0 && deg.RawProbability != 1 {
		t.Errorf("recalibrated on %d, P %v raw %v", deg.Recalibrated, deg.Probability, deg.RawProbability)
	}
	// Another horizon is not recalibrated by this map.
	if deg, _ := svc.PredictDegradation(ctx, d, 0); deg.Recalibrated != 0 || deg.Probability != deg.RawProbability {
		t.Errorf("30 steps with a 12-step map: recalibrated on %d", deg.Recalibrated)
	}
	if err := svc.Recalibrate(ctx, d, 2950, 2960, H); !errors.Is(err, ErrBadInput) {
		t.Errorf("too few outcomes: %v", err)
	}
}
