package prom

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/monitor"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestCollectorExportsHealthDriftAlerts(t *testing.T) {
	rules, err := monitor.ParseRules([]byte("alerts:\n  - {name: Slow, condition: inference_time > 20ms, severity: medium, action: optimize_model}\n  - {name: Bad, condition: accuracy < 0.9, severity: high}\n"), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := monitor.NewReference([]string{"cpu"}, [][]float64{{1}, {2}, {3}, {4}}, 2)
	mon := monitor.New(monitor.HealthConfig{Window: time.Hour, Slot: time.Minute}, ref, 10, rules)
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		at := now.Add(-time.Duration(i) * time.Second)
		mon.Health.ObservePrediction(at, 30*time.Millisecond, i%4 == 0)
		mon.Health.ObserveError(at, 103, 100)
	}
	for _, v := range []float64{1, 4, 4, 4} {
		mon.Drift().Observe([]float64{v})
	}
	mon.MinDriftRows = 1
	mon.Evaluate(now)

	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(New(mon, "latency", func() time.Time { return now })); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		got[mf.GetName()] = mf
	}
	val := func(name string, labels ...string) float64 {
		mf := got[name]
		if mf == nil {
			t.Fatalf("%s not exported", name)
		}
	next:
		for _, m := range mf.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				ok := false
				for _, lp := range m.Label {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						ok = true
					}
				}
				if !ok {
					continue next
				}
			}
			switch {
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("%s%v not found", name, labels)
		return 0
	}
	if v := val("perfpredict_mape_percent", "model", "latency"); math.Abs(v-3) > 1e-9 {
		t.Errorf("mape %v", v)
	}
	if v := val("perfpredict_accuracy5_ratio"); v != 1 {
		t.Errorf("accuracy5 %v", v)
	}
	if v := val("perfpredict_fallback_ratio"); v != 0.25 {
		t.Errorf("fallback %v", v)
	}
	if v := val("perfpredict_inference_seconds"); v != 40 {
		t.Errorf("histogram count %v", v)
	}
	if v := val("perfpredict_predictions_total"); v != 40 {
		t.Errorf("predictions %v", v)
	}
	rep := mon.Drift().Report()
	if v := val("perfpredict_drift_psi", "feature", "cpu"); v != rep.Features[0].PSI || v <= 0 {
		t.Errorf("psi %v", v)
	}
	if v := val("perfpredict_feature_distribution_divergence"); v != rep.MaxJS {
		t.Errorf("js max %v", v)
	}
	if v := val("perfpredict_alert_firing", "alert", "Slow", "severity", "medium"); v != 1 {
		t.Errorf("Slow alert %v", v)
	}
	if v := val("perfpredict_alert_firing", "alert", "Bad"); v != 0 {
		t.Errorf("Bad alert %v", v)
	}
	p99 := val("perfpredict_inference_p99_seconds")
	if p99 < 0.025 || p99 > 0.036 {
		t.Errorf("p99 %v", p99)
	}
	for name := range got {
		if !strings.HasPrefix(name, "perfpredict_") {
			t.Errorf("stray metric %s", name)
		}
	}
}

func TestCollectorEmptyMonitorHasNoNaN(t *testing.T) {
	mon := monitor.New(monitor.HealthConfig{}, nil, 10, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(mon, "m", nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			if g := m.Gauge; g != nil && math.IsNaN(g.GetValue()) {
				t.Errorf("%s is NaN", mf.GetName())
			}
		}
	}
}

// A new model version brings a new drift reference while Prometheus keeps
// scraping: replacing the detector must not race with Collect or Evaluate
// (run under -race, as CI does).
func TestCollectorWhileDriftIsReplaced(t *testing.T) {
	ref, err := monitor.NewReference([]string{"cpu"}, [][]float64{{1}, {2}, {3}, {4}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	mon := monitor.New(monitor.HealthConfig{Window: time.Hour, Slot: time.Minute}, nil, 10, nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(New(mon, "m", nil))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 200; i++ {
			mon.SetDrift(monitor.NewDrift(ref, 10))
		}
	}()
	for i := 0; i < 200; i++ {
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
		mon.Evaluate(time.Now())
	}
	<-done
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		found = found || mf.GetName() == "perfpredict_drift_window_rows"
	}
	if !found {
		t.Error("the detector set last is not exported")
	}
}

func TestCollectorModelVersion(t *testing.T) {
	mon := monitor.New(monitor.HealthConfig{}, nil, 10, nil)
	c := New(mon, "latency", nil)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	versions := func() []string {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range mfs {
			if mf.GetName() != "perfpredict_model_version" {
				continue
			}
			for _, m := range mf.Metric {
				for _, lp := range m.Label {
					if lp.GetName() == "version" && m.Gauge.GetValue() == 1 {
						out = append(out, lp.GetValue())
					}
				}
			}
		}
		return out
	}
	if v := versions(); len(v) != 0 {
		t.Fatalf("a version exported before SetVersion: %v", v)
	}
	c.SetVersion("v1.0.0")
	c.SetVersion("v1.1.0")
	if v := versions(); len(v) != 1 || v[0] != "v1.1.0" {
		t.Fatalf("model_version after a swap to v1.1.0: %v", v)
	}
}
