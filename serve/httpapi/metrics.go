package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the handler's own series; the monitor's come from
// monitor/prom's collector on the same registry.
type metrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	inFlight  prometheus.Gauge
	fallbacks *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	// switchFits counts the series' switches fitted (Options.Switch).
	switchFits *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perfpredict_http_requests_total",
			Help: "HTTP requests answered, by route and status code."}, []string{"route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "perfpredict_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "perfpredict_http_in_flight",
			Help: "HTTP requests being answered."}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perfpredict_fallbacks_total",
			Help: "Forecasts answered by the fallback instead of the model, by reason."}, []string{"reason"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perfpredict_model_reloads_total",
			Help: "New Active registry versions loaded or refused (kept serving the previous one)."}, []string{"result"}),
		switchFits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "perfpredict_switch_fits_total",
			Help: "Switches of {\"series\": NAME} requests fitted on a fetched history, or not (the model answers the series for a while)."}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.inFlight, m.fallbacks, m.reloads, m.switchFits)
	return m
}

// instrument counts and times fn's requests under route.
func (m *metrics) instrument(route string, fn http.HandlerFunc) http.Handler {
	lat := m.latency.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		m.inFlight.Inc()
		rec := &recorder{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			m.inFlight.Dec()
			lat.Observe(time.Since(start).Seconds())
			m.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
		}()
		fn(rec, r)
	})
}

// recorder remembers the status code written.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.MaxBytesReader and http.ResponseController reach the
// connection's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
