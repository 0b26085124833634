// Package prom exposes a monitor.Monitor's health, drift and alert state as
// a Prometheus collector. It is the only package of the module that imports
// the Prometheus client, so importing monitor alone does not pull it in.
//
// Data flow: Collect (on each scrape) takes a Health snapshot at the
// collector's clock, the Drift report and the firing alerts, and turns them
// into const metrics; nothing is cached between scrapes.
package prom

import (
	"math"
	"sync/atomic"
	"time"

	"github.com/novacron/perfpredict/monitor"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector over a Monitor.
type Collector struct {
	mon   *monitor.Monitor
	model string
	now   func() time.Time

	mape, acc5, mae, rate, fallback, p50, p99 *prometheus.Desc
	errors, predictions, fallbacks            *prometheus.Desc
	latency                                   *prometheus.Desc
	psi, js, psiMax, jsMax, driftRows         *prometheus.Desc
	alert                                     *prometheus.Desc
	version                                   *prometheus.Desc

	served atomic.Pointer[string] // SetVersion's version
}

// New makes a collector for the model named model; now is the clock the
// rolling windows are read at (time.Now if nil).
func New(mon *monitor.Monitor, model string, now func() time.Time) *Collector {
	if now == nil {
		now = time.Now
	}
	l := prometheus.Labels{"model": model}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("perfpredict_"+name, help, labels, l)
	}
	return &Collector{mon: mon, model: model, now: now,
		mape:        d("mape_percent", "Rolling MAPE of scored forecasts (percent)."),
		acc5:        d("accuracy5_ratio", "Rolling share of forecasts within 5% of the actual."),
		mae:         d("mae", "Rolling mean absolute error (original units)."),
		rate:        d("predictions_per_second", "Predictions served per second over the rate window."),
		fallback:    d("fallback_ratio", "Rolling share of predictions answered by the fallback forecaster."),
		p50:         d("inference_p50_seconds", "Rolling median inference latency."),
		p99:         d("inference_p99_seconds", "Rolling 99th percentile inference latency."),
		errors:      d("scored_forecasts_window", "Forecasts scored against actuals in the rolling window."),
		predictions: d("predictions_total", "Predictions served since start."),
		fallbacks:   d("fallback_predictions_total", "Predictions answered by the fallback since start."),
		latency:     d("inference_seconds", "Inference latency since start."),
		psi:         d("drift_psi", "Population stability index of a feature against the training reference.", "feature"),
		js:          d("drift_js_bits", "Jensen-Shannon divergence (bits) of a feature against the training reference.", "feature"),
		psiMax:      d("drift_psi_max", "Largest per-feature PSI."),
		jsMax:       d("feature_distribution_divergence", "Largest per-feature Jensen-Shannon divergence (the alert rules' feature_distribution_divergence)."),
		driftRows:   d("drift_window_rows", "Rows in the drift window."),
		alert:       d("alert_firing", "1 while an alert rule is firing.", "alert", "severity", "action"),
		version:     d("model_version", "1 for the model version being served (its version label); absent before one is.", "version"),
	}
}

// SetVersion names the model version being served: the collector exports
// perfpredict_model_version{version="..."} 1 from then on, so that a
// dashboard sees each swap (a hot reload) as the label changing.
func (c *Collector) SetVersion(version string) { c.served.Store(&version) }

// Describe sends every descriptor.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.mape, c.acc5, c.mae, c.rate, c.fallback, c.p50, c.p99, c.errors,
		c.predictions, c.fallbacks, c.latency, c.psi, c.js, c.psiMax, c.jsMax, c.driftRows, c.alert, c.version} {
		ch <- d
	}
}

// Collect reads the monitor now. Figures without data (NaN) are left out
// rather than exported as NaN.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.mon.Health.Snapshot(c.now())
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		if !math.IsNaN(v) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
	}
	gauge(c.mape, s.MAPE)
	gauge(c.acc5, s.Accuracy5)
	gauge(c.mae, s.MAE)
	gauge(c.rate, s.PredictionsPerSecond)
	gauge(c.fallback, s.FallbackRate)
	gauge(c.p50, s.LatencyP50)
	gauge(c.p99, s.LatencyP99)
	gauge(c.errors, float64(s.Errors))

	h := c.mon.Health.Cumulative()
	ch <- prometheus.MustNewConstMetric(c.predictions, prometheus.CounterValue, float64(h.Count))
	ch <- prometheus.MustNewConstMetric(c.fallbacks, prometheus.CounterValue, float64(h.Fallbacks))
	// Export every fourth bound (a factor of 4 apart) to keep the series
	// count reasonable; cumulative counts stay exact at those bounds.
	buckets := map[float64]uint64{}
	for i := 0; i < len(h.Bounds); i += 4 {
		buckets[h.Bounds[i]] = h.Counts[i]
	}
	ch <- prometheus.MustNewConstHistogram(c.latency, h.Count, h.Sum, buckets)

	if d := c.mon.Drift(); d != nil {
		r := d.Report()
		for _, f := range r.Features {
			gauge(c.psi, f.PSI, f.Feature)
			gauge(c.js, f.JS, f.Feature)
		}
		gauge(c.psiMax, r.MaxPSI)
		gauge(c.jsMax, r.MaxJS)
		gauge(c.driftRows, float64(r.N))
	}
	if v := c.served.Load(); v != nil {
		ch <- prometheus.MustNewConstMetric(c.version, prometheus.GaugeValue, 1, *v)
	}
	firing := map[string]bool{}
	for _, a := range c.mon.Engine.Firing() {
		firing[a.Rule.Name] = true
	}
	for _, r := range c.mon.Engine.Rules() {
		v := 0.0
		if firing[r.Name] {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.alert, prometheus.GaugeValue, v, r.Name, r.Severity, r.Action)
	}
}
