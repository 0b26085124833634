package monitor_test

import (
	"fmt"
	"time"

	"github.com/novacron/perfpredict/monitor"
)

func ExampleParseRules() {
	rules, err := monitor.ParseRules([]byte(`alerts:
  - name: ModelAccuracyDrop
    condition: accuracy < 0.90
    severity: high
    action: retrain_model
  - name: PredictionLatencyHigh
    condition: inference_time > 20ms
    severity: medium
    action: optimize_model
    for: 10m
`), "alerts.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range rules {
		fmt.Printf("line %d: %s: %s %s %g for %v -> %s\n", r.Line, r.Name, r.Metric, r.Op, r.Threshold, r.For, r.Action)
	}
	_, err = monitor.ParseRules([]byte("alerts:\n  - name: x\n    condition: inference_time > 20 msec\n    severity: high\n"), "bad.yaml")
	fmt.Println(err)
	// Output:
	// line 2: ModelAccuracyDrop: accuracy < 0.9 for 0s -> retrain_model
	// line 6: PredictionLatencyHigh: inference_time > 0.02 for 10m0s -> optimize_model
	// bad.yaml:3:16: condition: bad unit "msec" for inference_time (want ns, us, µs, ms or s)
}

func ExampleEngine() {
	rules, _ := monitor.ParseRules([]byte("alerts:\n  - {name: Drop, condition: accuracy < 0.9, severity: high, action: retrain_model, for: 10m}\n"), "r.yaml")
	e := monitor.NewEngine(rules)
	e.OnAction("retrain_model", func(a monitor.Alert) { fmt.Println("retrain requested by", a.Rule.Name) })
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, acc := range []float64{0.95, 0.85, 0.84, 0.83, 0.97} {
		for _, a := range e.Evaluate(t0.Add(time.Duration(i)*5*time.Minute), map[string]float64{"accuracy": acc}) {
			fmt.Println(a)
		}
	}
	// Output:
	// retrain requested by Drop
	// 2025-01-01T00:15:00Z Drop [high] firing: accuracy < 0.9, value 0.83, action retrain_model
	// 2025-01-01T00:20:00Z Drop [high] resolved: accuracy < 0.9, value 0.97
}

func ExampleReference_Compare() {
	var train [][]float64
	for i := 0; i < 100; i++ {
		train = append(train, []float64{float64(i)})
	}
	ref, _ := monitor.NewReference([]string{"cpu"}, train, 4)
	rep, _ := ref.Compare([][]float64{{0}, {1}, {2}, {3}, {4}, {30}, {60}, {61}, {80}, {90}})
	fmt.Printf("edges %v\n", ref.Edges[0])
	fmt.Printf("PSI %.4f JS %.4f\n", rep.Features[0].PSI, rep.Features[0].JS)
	// Output:
	// edges [24.75 49.5 74.25]
	// PSI 0.3330 JS 0.0586
}

func ExampleHealth() {
	h := monitor.NewHealth(monitor.HealthConfig{Window: time.Hour, Slot: time.Minute, RateWindow: time.Minute})
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 60; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		h.ObservePrediction(at, 2*time.Millisecond, i%10 == 0)
		h.ObserveError(at, 100+float64(i%8), 100) // errors of 0..7%
	}
	s := h.Snapshot(t0.Add(59 * time.Second))
	fmt.Printf("MAPE %.2f%%, accuracy5 %.3f, fallback %.2f, %.2f predictions/s\n", s.MAPE, s.Accuracy5, s.FallbackRate, s.PredictionsPerSecond)
	// Output:
	// MAPE 3.37%, accuracy5 0.767, fallback 0.10, 1.02 predictions/s
}
