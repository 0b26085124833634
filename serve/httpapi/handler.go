package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/monitor"
	"github.com/novacron/perfpredict/monitor/prom"
	"github.com/novacron/perfpredict/serve"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HistorySource gives the recent observations of a named series, for
// {"series": NAME} requests; source.Prometheus is one (NAME a PromQL
// selector).
type HistorySource interface {
	// Last returns up to the last n observations of the series, oldest
	// first, with their times. An unknown name is an error wrapping
	// ErrUnknownSeries (404); other faults of the name wrap
	// baseline.ErrBadInput (422); any other error is the source's (502).
	Last(ctx context.Context, name string, n int) (baseline.Series, error)
}

// ErrUnknownSeries is wrapped by a HistorySource's error for a series it
// does not know (404).
var ErrUnknownSeries = errors.New("unknown series")

// Options configure a Handler. Zero values take the defaults in brackets.
type Options struct {
	// Source answers {"series": NAME} requests (nil: such requests are
	// refused with 400).
	Source HistorySource
	// SeriesLength is how many recent observations of a series are
	// fetched [max(Needs, 288)]: the model reads the last Needs, the
	// fallback all of them.
	SeriesLength int
	// Switch answers {"series": NAME} requests with a switch per series
	// (serve.Follower; evaluate's `switch` row: the model, a ridge
	// autoregression of the series, the model's switch trees or an
	// average of them, whichever erred less on it lately), fitted on
	// SwitchHistory observations fetched at the series' first request
	// [serve.FollowerHistory, or what the source holds] and fed the rows
	// each later request fetches. The Source must place its points
	// on a fixed grid (as live.Prometheus does), so that each request's
	// rows continue the last one's. A series whose switch cannot be
	// fitted is answered by the model. Past MaxSwitches series [1024] the
	// least recently asked for is dropped.
	Switch        bool
	SwitchHistory int
	MaxSwitches   int
	// MaxBody bounds a request body in bytes [1 MiB]; a larger one is 413.
	MaxBody int64
	// MaxInFlight bounds the forecasts computed at once [4 x GOMAXPROCS];
	// up to MaxQueue more wait at most QueueWait [100 x GOMAXPROCS, 1s]
	// for a slot, the rest get 503 at once.
	MaxInFlight int
	MaxQueue    int
	QueueWait   time.Duration
	// Step is the cadence assumed for values sent without times [5m]: the
	// last value is taken as observed at Now truncated to it.
	Step time.Duration
	// Predictor configures the served models' Predictors (Timeout is the
	// model's per-call deadline, past which the fallback answers [2s]);
	// Version and Fallback are set by the handler.
	Predictor serve.Options
	// Monitor receives every forecast's latency and fallback, and its
	// health, drift and alerts are exported on /metrics [a new one with
	// monitor.DefaultHealthConfig and no rules].
	Monitor *monitor.Monitor
	// ModelName labels the monitor's metrics ["perfpredict"].
	ModelName string
	// Logf receives reloads, refusals and internal errors (nil: dropped).
	Logf func(format string, args ...any)
	Now  func() time.Time // [time.Now]
}

// Handler is the HTTP API over the model it serves (Load, Follow). Safe for
// concurrent use; the zero value is not usable (New).
type Handler struct {
	opt     Options
	mux     *http.ServeMux
	cur     atomic.Pointer[loaded]
	metrics *metrics
	promc   *prom.Collector
	reg     *lifecycle.Registry // Follow's, for /v1/models
	// regModel is the model name followed in reg.
	regModel string

	slots   chan struct{}
	waiting atomic.Int64
	methods map[string]string // path -> the method its route takes

	mu      sync.Mutex // reg, regModel, refused, closed
	refused string     // the Active version Sync refused last
	closed  bool
	syncMu  sync.Mutex // one Sync at a time
}

// New makes a handler with no model: /readyz answers 503 and forecasts
// 503 until Load or Follow provides one.
func New(opt Options) (*Handler, error) {
	procs := runtime.GOMAXPROCS(0)
	if opt.MaxBody <= 0 {
		opt.MaxBody = 1 << 20
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = 4 * procs
	}
	if opt.MaxQueue <= 0 {
		opt.MaxQueue = 100 * procs
	}
	if opt.QueueWait <= 0 {
		opt.QueueWait = time.Second
	}
	if opt.Step <= 0 {
		opt.Step = 5 * time.Minute
	}
	if opt.Predictor.Timeout <= 0 {
		opt.Predictor.Timeout = 2 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SwitchHistory <= 0 {
		opt.SwitchHistory = serve.FollowerHistory
	}
	if opt.MaxSwitches <= 0 {
		opt.MaxSwitches = 1024
	}
	if opt.ModelName == "" {
		opt.ModelName = "perfpredict"
	}
	if opt.Monitor == nil {
		opt.Monitor = monitor.New(monitor.DefaultHealthConfig(), nil, 288, nil)
	}
	h := &Handler{opt: opt, mux: http.NewServeMux(), slots: make(chan struct{}, opt.MaxInFlight),
		methods: map[string]string{}}
	reg := prometheus.NewRegistry()
	h.metrics = newMetrics(reg)
	h.promc = prom.New(opt.Monitor, opt.ModelName, opt.Now)
	if err := reg.Register(h.promc); err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "perfpredict_switch_series",
		Help: "Series followed by a switch for the served model (Options.Switch)."}, func() float64 {
		if m := h.cur.Load(); m != nil {
			return float64(m.switches.len())
		}
		return 0
	}))
	h.route("POST /v1/forecast", "forecast", h.limited(h.forecast))
	h.route("POST /v1/degradation", "degradation", h.limited(h.degradation))
	h.route("GET /v1/models", "models", h.models)
	h.route("GET /healthz", "healthz", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, map[string]string{"status": "ok"}) })
	h.route("GET /readyz", "readyz", h.ready)
	metricsHandler := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: logger{h}})
	h.route("GET /metrics", "metrics", metricsHandler.ServeHTTP)
	h.route("/", "other", func(w http.ResponseWriter, r *http.Request) {
		if m, ok := h.methods[r.URL.Path]; ok {
			w.Header().Set("Allow", m)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s %s: use %s", r.Method, r.URL.Path, m), nil)
			return
		}
		writeError(w, http.StatusNotFound, fmt.Sprintf("no route %s %s (POST /v1/forecast, POST /v1/degradation, GET /v1/models, /metrics, /healthz, /readyz)", r.Method, r.URL.Path), nil)
	})
	return h, nil
}

// route registers fn under pattern, counted and timed as route.
func (h *Handler) route(pattern, route string, fn http.HandlerFunc) {
	if method, path, ok := strings.Cut(pattern, " "); ok {
		h.methods[path] = method
	}
	h.mux.Handle(pattern, h.metrics.instrument(route, fn))
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// Ready reports whether a model is loaded.
func (h *Handler) Ready() bool { return h.cur.Load() != nil }

// Version is the served model's version ("" before one is loaded).
func (h *Handler) Version() string {
	if m := h.cur.Load(); m != nil {
		return m.version
	}
	return ""
}

// Close stops serving: later forecasts answer 503; the model is closed
// once the requests using it end.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closed = true
	old := h.cur.Swap(nil)
	h.mu.Unlock()
	retire(old)
}

func (h *Handler) logf(format string, args ...any) {
	if h.opt.Logf != nil {
		h.opt.Logf(format, args...)
	}
}

// logger adapts Logf to promhttp's error log.
type logger struct{ h *Handler }

func (l logger) Println(v ...any) { l.h.logf("%s", fmt.Sprintln(v...)) }

// limited admits fn's request into one of MaxInFlight slots, waiting in a
// bounded queue; 503 with Retry-After when the queue is full or the wait
// too long.
func (h *Handler) limited(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case h.slots <- struct{}{}:
		default:
			if h.waiting.Add(1) > int64(h.opt.MaxQueue) {
				h.waiting.Add(-1)
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("busy: %d requests in flight and %d waiting", h.opt.MaxInFlight, h.opt.MaxQueue), nil)
				return
			}
			t := time.NewTimer(h.opt.QueueWait)
			select {
			case h.slots <- struct{}{}:
				t.Stop()
				h.waiting.Add(-1)
			case <-t.C:
				h.waiting.Add(-1)
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("busy: no slot free within %v", h.opt.QueueWait), nil)
				return
			case <-r.Context().Done():
				t.Stop()
				h.waiting.Add(-1)
				writeError(w, http.StatusServiceUnavailable, "the client went away while queued", nil)
				return
			}
		}
		defer func() { <-h.slots }()
		fn(w, r)
	}
}

func (h *Handler) ready(w http.ResponseWriter, _ *http.Request) {
	if m := h.cur.Load(); m != nil {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "version": m.version})
		return
	}
	writeError(w, http.StatusServiceUnavailable, "no model loaded yet", nil)
}

// value is a number in a request: a JSON number, or null or the strings
// "NaN", "Inf", "+Inf", "-Inf" for a missing or infinite observation
// (JSON has no literal for them), which the service then refuses by
// position if the model would read it.
type value float64

func (v *value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = value(math.NaN())
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN", "nan":
			*v = value(math.NaN())
		case "Inf", "+Inf", "inf", "+inf":
			*v = value(math.Inf(1))
		case "-Inf", "-inf":
			*v = value(math.Inf(-1))
		default:
			return fmt.Errorf("%q is not a number (numbers, null, \"NaN\", \"Inf\" and \"-Inf\" are)", s)
		}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*v = value(f)
	return nil
}

func floats(vs []value) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		out[i] = float64(v)
	}
	return out
}

// forecastRequest is POST /v1/forecast's body.
type forecastRequest struct {
	// Values are the recent observations, oldest first; Times (optional)
	// their times.
	Values []value     `json:"values"`
	Times  []time.Time `json:"times"`
	Series string      `json:"series"`
	Metric string      `json:"metric"` // the name in the answer's metrics ["value", or the series]
}

// httpError is an answer other than 200.
type httpError struct {
	code  int
	msg   string
	extra map[string]any
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// decode reads the body into v: 413 over MaxBody, 400 naming the problem
// (not JSON, a wrong type at a field, an unknown field, trailing data).
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) *httpError {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opt.MaxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", h.opt.MaxBody)
	}
	if err != nil {
		return errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return errorf(http.StatusBadRequest, "empty request body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return errorf(http.StatusBadRequest, "request body is not JSON: %v (at byte %d)", se, se.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errorf(http.StatusBadRequest, "request body is not JSON: it ends inside a value")
		case errors.As(err, &te):
			return errorf(http.StatusBadRequest, "request body: field %q: %s is not a %s", te.Field, te.Value, te.Type)
		}
		return errorf(http.StatusBadRequest, "request body: %v", err)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "request body: data after the JSON object")
	}
	return nil
}

func (h *Handler) forecast(w http.ResponseWriter, r *http.Request) {
	var req forecastRequest
	if e := h.decode(w, r, &req); e != nil {
		writeHTTPError(w, e)
		return
	}
	m := h.acquire()
	if m == nil {
		writeError(w, http.StatusServiceUnavailable, "no model loaded yet", nil)
		return
	}
	defer h.release(m)
	ans, e := h.answer(r.Context(), m, &req)
	if e != nil {
		writeHTTPError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

// ForecastSeries answers {"series": name} as POST /v1/forecast does (the
// series' switch with Options.Switch), for a caller in the same process:
// the live runner scores what the service serves.
func (h *Handler) ForecastSeries(ctx context.Context, name string) (*serve.ForecastAnswer, error) {
	m := h.acquire()
	if m == nil {
		return nil, errors.New("httpapi: no model loaded yet")
	}
	defer h.release(m)
	ans, e := h.answer(ctx, m, &forecastRequest{Series: name})
	if e != nil {
		return nil, fmt.Errorf("httpapi: %w", e)
	}
	return ans, nil
}

// answer forecasts req with m.
func (h *Handler) answer(ctx context.Context, m *loaded, req *forecastRequest) (*serve.ForecastAnswer, *httpError) {
	needs := m.pred.Needs()
	values, times, metric := floats(req.Values), req.Times, req.Metric
	switch {
	case req.Series != "" && len(req.Values) > 0:
		return nil, errorf(http.StatusBadRequest, "request body: give \"values\" or \"series\", not both")
	case req.Series != "":
		if h.opt.Source == nil {
			return nil, errorf(http.StatusBadRequest, "series %q: this service has no history source (start it with --prometheus); send \"values\"", req.Series)
		}
		if len(req.Times) > 0 {
			return nil, errorf(http.StatusBadRequest, "request body: \"times\" goes with \"values\", not \"series\"")
		}
		n := h.opt.SeriesLength
		if n <= 0 {
			n = max(needs, 288)
		}
		s, err := h.opt.Source.Last(ctx, req.Series, max(n, needs))
		if errors.Is(err, baseline.ErrBadInput) && n > needs {
			// A gap (a missed scrape) in the longer history the fallback
			// would read: the model needs only the last Needs points.
			s, err = h.opt.Source.Last(ctx, req.Series, needs)
		}
		switch {
		case errors.Is(err, ErrUnknownSeries):
			return nil, errorf(http.StatusNotFound, "series %q: %v", req.Series, err)
		case errors.Is(err, baseline.ErrBadInput):
			return nil, errorf(http.StatusUnprocessableEntity, "series %q: %v", req.Series, err)
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			return nil, errorf(http.StatusServiceUnavailable, "series %q: %v", req.Series, err)
		case err != nil:
			return nil, errorf(http.StatusBadGateway, "series %q: %v", req.Series, err)
		}
		if len(s.Times) != len(s.Values) {
			return nil, errorf(http.StatusBadGateway, "series %q: the source gave %d times for %d values", req.Series, len(s.Times), len(s.Values))
		}
		values, times = s.Values, s.Times
		if metric == "" {
			metric = req.Series
		}
	case len(req.Values) == 0:
		return nil, errorf(http.StatusBadRequest, "request body: want {\"values\": [...]} (recent observations, oldest first) or {\"series\": NAME}")
	}
	if metric == "" {
		metric = "value"
	}
	if len(times) > 0 && len(times) != len(values) {
		return nil, errorf(http.StatusBadRequest, "request body: %d times for %d values", len(times), len(values))
	}
	for i := 1; i < len(times); i++ {
		if !times[i].After(times[i-1]) {
			return nil, errorf(http.StatusBadRequest, "request body: times[%d] (%s) is not after times[%d]", i, times[i].Format(time.RFC3339), i-1)
		}
	}
	if len(values) < needs {
		e := errorf(http.StatusUnprocessableEntity, "%s: %d values; the forecaster needs the last %d", metric, len(values), needs)
		e.extra = map[string]any{"needs": needs, "got": len(values)}
		return nil, e
	}
	for i := len(values) - needs; i < len(values); i++ {
		if v := values[i]; math.IsNaN(v) || math.IsInf(v, 0) {
			e := errorf(http.StatusUnprocessableEntity, "%s: value %d (0-based, of %d) is %v; the last %d values the forecaster reads must be finite", metric, i, len(values), v, needs)
			e.extra = map[string]any{"needs": needs, "index": i}
			return nil, e
		}
	}
	step, origin := h.opt.Step, h.opt.Now().Truncate(h.opt.Step)
	if len(times) > 0 {
		origin = times[len(times)-1]
		if len(times) > 1 {
			step = serve.Cadence(times)
		}
	}
	period := max(1, int(24*time.Hour/step))
	start := time.Now()
	p, err := m.pred.Predict(ctx, serve.Input{History: values, Series: period, Phase: len(values) - 1})
	if err == nil && h.opt.Switch && req.Series != "" && p.Source == serve.SourceModel {
		// Where the model answered, so does the series' switch if it can
		// (it runs the same model; the fallback's answer stands).
		if pts, ok := h.follow(ctx, m, req.Series, times, values, step); ok {
			p.Points, p.Method = pts, forecast.SwitchMethod
		}
	}
	if err == nil {
		h.opt.Monitor.Health.ObservePrediction(h.opt.Now(), time.Since(start), p.Source == serve.SourceFallback)
	}
	switch {
	case errors.Is(err, serve.ErrBadInput):
		return nil, errorf(http.StatusUnprocessableEntity, "%s: %v", metric, err)
	case errors.Is(err, context.Canceled):
		return nil, errorf(http.StatusServiceUnavailable, "cancelled: %v", err)
	case err != nil:
		h.logf("forecast %s with %s: %v", metric, m.version, err)
		return nil, errorf(http.StatusInternalServerError, "forecast failed: %v", err)
	}
	return serve.NewForecastAnswer([]serve.Prediction{p}, []string{metric}, origin, step, needs, m.pred.Horizon(), m.version), nil
}

// degradationRequest is POST /v1/degradation's body: the rows of one or
// more metrics at shared times, as a metrics CSV holds them.
type degradationRequest struct {
	// Name names the data in errors; its last path element also feeds the
	// recommendations' hints, as a file's name does ["request"].
	Name    string      `json:"name"`
	Times   []time.Time `json:"times"`
	Metrics []struct {
		Name   string  `json:"name"`
		Values []value `json:"values"`
	} `json:"metrics"`
	// Horizon in steps [serve.DefaultHorizon].
	Horizon int `json:"horizon"`
	// SLO bounds override the default (the Quantile of each metric's
	// first 70% of rows as its upper bound).
	SLO []struct {
		Metric string   `json:"metric"`
		Above  *float64 `json:"above"`
		Below  *float64 `json:"below"`
	} `json:"slo"`
	Quantile float64 `json:"quantile"`
	// Recalibrate on the most recent outcomes in the rows [true], as
	// `perfpredict degradation` does by default (its --recalibrate), so
	// that the two answer the same rows the same: the raw probability
	// runs low (docs/PROTOCOL.md, "What the tracker costs").
	Recalibrate *bool `json:"recalibrate"`
	// Switch forecasts each metric with a switch fitted on the rows (as
	// `perfpredict degradation --switch`).
	Switch bool `json:"switch"`
}

func (h *Handler) degradation(w http.ResponseWriter, r *http.Request) {
	var req degradationRequest
	if e := h.decode(w, r, &req); e != nil {
		writeHTTPError(w, e)
		return
	}
	if len(req.Metrics) == 0 || len(req.Times) == 0 {
		writeError(w, http.StatusBadRequest, "request body: want {\"times\": [...], \"metrics\": [{\"name\": ..., \"values\": [...]}], \"horizon\": N}", nil)
		return
	}
	name := req.Name
	if name == "" {
		name = "request"
	}
	var d []baseline.Series // one per metric, at the request's times
	for i, mt := range req.Metrics {
		if mt.Name == "" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("request body: metrics[%d] has no name", i), nil)
			return
		}
		d = append(d, baseline.Series{Name: mt.Name, Times: req.Times, Values: floats(mt.Values)})
	}
	var slos []serve.Threshold
	for i, s := range req.SLO {
		if s.Above == nil && s.Below == nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("request body: slo[%d] (%s) has neither above nor below", i, s.Metric), nil)
			return
		}
		slos = append(slos, serve.Threshold{Metric: s.Metric, Above: s.Above, Below: s.Below, Origin: "request"})
	}
	m := h.acquire()
	if m == nil {
		writeError(w, http.StatusServiceUnavailable, "no model loaded yet", nil)
		return
	}
	defer h.release(m)
	if len(req.Times) < m.pred.Needs() {
		writeError(w, http.StatusUnprocessableEntity, fmt.Sprintf("%d rows; the forecaster needs the last %d", len(req.Times), m.pred.Needs()),
			map[string]any{"needs": m.pred.Needs(), "got": len(req.Times)})
		return
	}
	popt := h.opt.Predictor
	popt.Version, popt.Workers, popt.OnFallback = m.version, 1, func(r serve.Reason, _ error) {
		h.metrics.fallbacks.WithLabelValues(r.String()).Inc()
	}
	svc, err := serve.NewService(m.fc, d, serve.ServiceOptions{Predictor: popt, Thresholds: slos, Quantile: req.Quantile, Name: name, Switch: req.Switch})
	if err != nil {
		writeServeError(w, err)
		return
	}
	defer svc.Close()
	horizon := req.Horizon
	if horizon == 0 {
		horizon = min(serve.DefaultHorizon, svc.Horizon())
	}
	if (req.Recalibrate == nil || *req.Recalibrate) && horizon >= 1 && horizon <= svc.Horizon() {
		if err := svc.RecalibrateRecent(r.Context(), d, horizon); err != nil && !errors.Is(err, serve.ErrBadInput) {
			writeServeError(w, err)
			return
		}
	}
	start := time.Now()
	deg, err := svc.PredictDegradation(r.Context(), d, horizon)
	if err != nil {
		writeServeError(w, err)
		return
	}
	fellBack := false
	for _, mf := range deg.Metrics {
		fellBack = fellBack || mf.Source == serve.SourceFallback
	}
	h.opt.Monitor.Health.ObservePrediction(h.opt.Now(), time.Since(start), fellBack)
	writeJSON(w, http.StatusOK, deg)
}

// writeServeError maps a serve error: bad input 422, the rest 500.
func writeServeError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, serve.ErrBadInput):
		writeError(w, http.StatusUnprocessableEntity, err.Error(), nil)
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, err.Error(), nil)
	default:
		writeError(w, http.StatusInternalServerError, err.Error(), nil)
	}
}

// modelsAnswer is GET /v1/models' body.
type modelsAnswer struct {
	Served   *servedModel  `json:"served"`
	Registry *registryView `json:"registry,omitempty"`
}

type servedModel struct {
	Model   string                 `json:"model,omitempty"`
	Version string                 `json:"version"`
	Since   time.Time              `json:"since"`
	Needs   int                    `json:"needs"`
	Horizon int                    `json:"horizon"`
	Members int                    `json:"members"`
	Recipe  any                    `json:"recipe"`
	Info    *lifecycle.VersionInfo `json:"registry_entry,omitempty"`
}

type registryView struct {
	Dir      string                  `json:"dir"`
	Model    string                  `json:"model"`
	Active   string                  `json:"active"`
	Versions []lifecycle.VersionInfo `json:"versions"`
}

func (h *Handler) models(w http.ResponseWriter, _ *http.Request) {
	var out modelsAnswer
	if m := h.acquire(); m != nil {
		out.Served = &servedModel{Model: m.model, Version: m.version, Since: m.since, Needs: m.pred.Needs(),
			Horizon: m.pred.Horizon(), Members: m.fc.Members(), Recipe: m.fc.Recipe(), Info: m.info}
		h.release(m)
	}
	h.mu.Lock()
	reg, name := h.reg, h.regModel
	h.mu.Unlock()
	if reg != nil {
		vs, err := reg.List(name)
		if err != nil && !errors.Is(err, lifecycle.ErrNotFound) {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("registry %s: %v", reg.Dir(), err), nil)
			return
		}
		active, _ := reg.ActiveVersion(name)
		if vs == nil {
			vs = []lifecycle.VersionInfo{}
		}
		out.Registry = &registryView{Dir: reg.Dir(), Model: name, Active: active, Versions: vs}
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error(), nil)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

// writeError answers {"error": msg, ...extra}.
func writeError(w http.ResponseWriter, code int, msg string, extra map[string]any) {
	body := map[string]any{"error": msg}
	for k, v := range extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeHTTPError(w http.ResponseWriter, e *httpError) { writeError(w, e.code, e.msg, e.extra) }
