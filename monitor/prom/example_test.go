package prom_test

import (
	"fmt"
	"time"

	"github.com/novacron/perfpredict/monitor"
	"github.com/novacron/perfpredict/monitor/prom"
	"github.com/prometheus/client_golang/prometheus"
)

func ExampleNew() {
	mon := monitor.New(monitor.HealthConfig{}, nil, 288, nil)
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	mon.Health.ObservePrediction(now, 8*time.Millisecond, false)
	mon.Health.ObserveError(now, 97, 100)

	reg := prometheus.NewRegistry()
	reg.MustRegister(prom.New(mon, "latency", func() time.Time { return now }))
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if m := mf.GetMetric()[0]; m.GetGauge() != nil {
			fmt.Printf("%s{model=%q} %.3g\n", mf.GetName(), m.GetLabel()[0].GetValue(), m.GetGauge().GetValue())
		}
	}
	// (The percentiles are interpolated inside the histogram's sqrt(2)-wide
	// bucket holding the single 8ms observation.)

	// Output:
	// perfpredict_accuracy5_ratio{model="latency"} 1
	// perfpredict_fallback_ratio{model="latency"} 0
	// perfpredict_inference_p50_seconds{model="latency"} 0.00699
	// perfpredict_inference_p99_seconds{model="latency"} 0.00817
	// perfpredict_mae{model="latency"} 3
	// perfpredict_mape_percent{model="latency"} 3
	// perfpredict_predictions_per_second{model="latency"} 0
	// perfpredict_scored_forecasts_window{model="latency"} 1
}
