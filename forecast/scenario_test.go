package forecast

import (
	"context"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// Deciles compare strictly, so a floor value repeated over much of the
// training split is normal load, and a labelled window wins over a peak.
func TestScenariosOf(t *testing.T) {
	// 20 steps: train 0..13 (half at the floor 0, then 1..7), test 17..19.
	y := []float64{0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 3, 3, 3, 0, 9, 9}
	s := baseline.Series{Name: "s", Values: y, Times: make([]time.Time, len(y))}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range y {
		s.Times[i] = t0.Add(time.Duration(i) * time.Minute)
	}
	tg := baseline.Targets(baseline.SplitOf(len(y)))
	got := scenariosOf(s, tg, nil)
	want := []string{ScenarioNormal, ScenarioPeak, ScenarioPeak}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("scenarios %v, want %v", got, want)
		}
	}
	got = scenariosOf(s, tg, []baseline.Window{{Start: s.Times[19], End: s.Times[19].Add(time.Hour)}})
	if got[2] != ScenarioAnomaly || got[1] != ScenarioPeak {
		t.Fatalf("with a window over the last target: %v", got)
	}
	// A value below 90% of the training split is low load.
	y[17] = -1
	if got := scenariosOf(s, tg, nil); got[0] != ScenarioLow {
		t.Fatalf("below every training value: %v", got[0])
	}
}

// Evaluate's interval rows are the scores of the forecasts it keeps; the
// scenario rows split every target once, and anomaly targets are those in
// the labelled windows.
func TestEvaluateIntervalsAndScenarios(t *testing.T) {
	fc, ss := tinyForecaster(t)
	s := ss[0]
	tg := baseline.Targets(baseline.SplitOf(s.Len()))
	w := baseline.Window{Start: s.Times[tg[10]], End: s.Times[tg[39]]}
	labels := baseline.Labels{"dir/" + s.Name + ".csv": {w}}
	hs := []int{1, 4}
	rep, err := Evaluate(context.Background(), fc, ss, hs, EvalOptions{Forecasts: true, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Intervals.Series) != len(ss)*len(hs) {
		t.Fatalf("%d interval rows, want %d", len(rep.Intervals.Series), len(ss)*len(hs))
	}
	for _, row := range rep.Intervals.Series {
		var lo, mid, hi []float64
		for _, sf := range rep.Forecasts {
			if sf.Series == row.Name && sf.Horizon == row.Horizon {
				lo, mid, hi = append(lo, sf.P10), append(mid, sf.Forecast), append(hi, sf.P90)
			}
		}
		var y []float64
		for _, x := range ss {
			if x.Name == row.Name {
				y = x.Values
			}
		}
		want, err := baseline.ScoreIntervals(y, lo, mid, hi)
		if err != nil {
			t.Fatal(err)
		}
		got := row.Methods[ModelMethod]
		if got.Hits != want.Hits || rel(got.Winkler, want.Winkler) > 1e-12 || rel(got.Pinball, want.Pinball) > 1e-12 {
			t.Fatalf("%s h=%d: model intervals %+v, kept forecasts score %+v", row.Name, row.Horizon, got, want)
		}
		for _, m := range conformalMethods {
			if c, ok := row.Methods[m]; !ok || c.N != want.N || !(c.Winkler > 0) {
				t.Fatalf("%s h=%d: conformal %s %+v", row.Name, row.Horizon, m, c)
			}
		}
	}
	for _, h := range hs {
		sum := rep.Intervals.Summary[strconv.Itoa(h)][ModelMethod]
		if sum.Series != len(ss) || !(sum.Coverage >= 0 && sum.Coverage <= 1) {
			t.Fatalf("h=%d: summary %+v", h, sum)
		}
	}
	// Per series and horizon the scenarios partition the targets, and the
	// model's MAE over them weighs back to the whole MAE.
	for _, row := range rep.Series {
		n, sumAbs, anomalies := 0, 0.0, 0
		for _, sr := range rep.Scenarios.Series {
			if sr.Name != row.Name || sr.Horizon != row.Horizon {
				continue
			}
			n += sr.Targets
			sumAbs += float64(sr.Methods[ModelMethod].MAE) * float64(sr.Targets)
			if sr.Scenario == ScenarioAnomaly {
				anomalies = sr.Targets
			}
			if l := float64(sr.Methods[ModelMethod].LatencyUS); !(l > 0) {
				t.Fatalf("%s h=%d %s: model latency %v", sr.Name, sr.Horizon, sr.Scenario, l)
			}
		}
		if n != row.Targets || rel(sumAbs/float64(n), row.Methods[ModelMethod].MAE) > 1e-9 {
			t.Fatalf("%s h=%d: scenarios hold %d targets, MAE %v; the row %d, %v", row.Name, row.Horizon, n,
				sumAbs/float64(n), row.Targets, row.Methods[ModelMethod].MAE)
		}
		want := 0
		if row.Name == s.Name {
			want = 30
		}
		if anomalies != want {
			t.Fatalf("%s h=%d: %d anomaly targets, want %d", row.Name, row.Horizon, anomalies, want)
		}
	}
	for _, sm := range rep.Scenarios.Summary {
		if sm.Baseline == "" || sm.Baseline == ModelMethod {
			t.Fatalf("summary %+v: no best baseline", sm)
		}
		if _, ok := sm.Methods[sm.Baseline]; !ok {
			t.Fatalf("summary %+v lacks its baseline", sm)
		}
		if m := sm.Methods[ModelMethod]; math.IsNaN(float64(m.MASE)) {
			t.Fatalf("summary %+v: model MASE undefined", sm)
		}
	}
}
