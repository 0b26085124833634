package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/serve"
)

// TestForecastIsTheForecastersForecast: a model answer is the
// forecaster's Forecast of the values sent, at the times sent, named by
// the artifact's digest (as predict names it).
func TestForecastIsTheForecastersForecast(t *testing.T) {
	fc := tinyForecaster(t, 1)
	want, err := serve.Version(fc)
	if err != nil {
		t.Fatal(err)
	}
	values := synth.Walk(200, 7)
	direct, err := fc.Forecast(context.Background(), values)
	if err != nil {
		t.Fatal(err)
	}
	h, srv := newServer(t, Options{})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	times := fiveMinutes(len(values))
	var ans serve.ForecastAnswer
	code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": values, "times": times}, &ans)
	if code != http.StatusOK {
		t.Fatalf("status %d: %s", code, raw)
	}
	if ans.Version != want || ans.Source != serve.SourceModel || ans.Needs != fc.Needs() || ans.Horizon != fc.Horizon() {
		t.Fatalf("version %s source %s needs %d horizon %d; want %s model %d %d", ans.Version, ans.Source, ans.Needs, ans.Horizon, want, fc.Needs(), fc.Horizon())
	}
	if len(ans.Metrics) != 1 || ans.Metrics[0] != "value" || !ans.Origin.Equal(times[len(times)-1]) {
		t.Fatalf("metrics %v origin %v", ans.Metrics, ans.Origin)
	}
	for k, p := range direct.Points {
		if ans.Predictions[0][k] != p.Value || ans.P10[0][k] != p.P10 || ans.P90[0][k] != p.P90 {
			t.Fatalf("h=%d: served %v [%v, %v], Forecast %v [%v, %v]", k+1, ans.Predictions[0][k], ans.P10[0][k], ans.P90[0][k], p.Value, p.P10, p.P90)
		}
		if !ans.Times[k].Equal(times[len(times)-1].Add(time.Duration(k+1) * 5 * time.Minute)) {
			t.Fatalf("h=%d at %v", k+1, ans.Times[k])
		}
	}
	// Without times, the last value is now's step and the default cadence.
	code, raw = post(t, srv.URL+"/v1/forecast", map[string]any{"values": values}, &ans)
	if code != http.StatusOK || ans.Times[0].Sub(ans.Origin) != 5*time.Minute || ans.Predictions[0][0] != direct.Points[0].Value {
		t.Fatalf("without times: %d %v %v: %s", code, ans.Origin, ans.Times[0], raw)
	}
}

// TestRoutesAndBadInput sends every route its good and bad requests: each
// bad one gets its status and a message naming the problem, and the
// service keeps serving.
func TestRoutesAndBadInput(t *testing.T) {
	fc := tinyForecaster(t, 1)
	needs := fc.Needs()
	src := &fakeSource{series: map[string]baseline.Series{
		"cpu": {Name: "cpu", Times: fiveMinutes(300), Values: synth.Walk(300, 9)},
	}}
	h, srv := newServer(t, Options{MaxBody: 64 << 10, Source: src})
	if code, _ := get(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz before a model: %d", code)
	}
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": synth.Walk(100, 1)}, nil); code != http.StatusServiceUnavailable {
		t.Fatalf("forecast before a model: %d %s", code, raw)
	}
	if err := h.Load(fc, "v1.0.0"); err != nil {
		t.Fatal(err)
	}
	good := synth.Walk(100, 3)
	withAt := func(i int, v any) []any {
		out := make([]any, len(good))
		for j, x := range good {
			out[j] = x
		}
		out[i] = v
		return out
	}
	huge := `{"values": [` + strings.Repeat("1.0,", 20000) + `1]}`
	cases := []struct {
		name, path string
		body       any
		code       int
		says       string
	}{
		{"not JSON", "/v1/forecast", `{"values": [1, 2,`, 400, "not JSON"},
		{"NaN literal", "/v1/forecast", `{"values": [NaN]}`, 400, "not JSON"},
		{"empty body", "/v1/forecast", ``, 400, "empty request body"},
		{"wrong type", "/v1/forecast", `{"values": "1,2,3"}`, 400, "values"},
		{"unknown field", "/v1/forecast", `{"value": [1, 2]}`, 400, `unknown field "value"`},
		{"trailing data", "/v1/forecast", `{"values": [1]} {}`, 400, "after the JSON object"},
		{"bad string", "/v1/forecast", `{"values": [1, "x"]}`, 400, `"x" is not a number`},
		{"neither", "/v1/forecast", `{}`, 400, `"values"`},
		{"too large", "/v1/forecast", huge, 413, "over 65536 bytes"},
		{"too short", "/v1/forecast", map[string]any{"values": good[:needs-1]}, 422, fmt.Sprintf("%d values; the forecaster needs the last %d", needs-1, needs)},
		{"null in window", "/v1/forecast", map[string]any{"values": withAt(99, nil)}, 422, "value 99 (0-based, of 100) is NaN"},
		{"Inf in window", "/v1/forecast", map[string]any{"values": withAt(95, "-Inf")}, 422, "value 95 (0-based, of 100) is -Inf"},
		{"times mismatch", "/v1/forecast", map[string]any{"values": good, "times": fiveMinutes(99)}, 400, "99 times for 100 values"},
		{"times disorder", "/v1/forecast", map[string]any{"values": good[:2], "times": []time.Time{t0, t0}}, 400, "times[1]"},
		{"both", "/v1/forecast", map[string]any{"values": good, "series": "cpu"}, 400, "not both"},
		{"unknown series", "/v1/forecast", map[string]any{"series": "mem"}, 404, `series "mem"`},
		{"degradation short", "/v1/degradation", map[string]any{"times": fiveMinutes(5), "metrics": []any{map[string]any{"name": "cpu", "values": good[:5]}}}, 422, fmt.Sprintf("needs the last %d", needs)},
		{"degradation no metrics", "/v1/degradation", `{"times": []}`, 400, "want"},
		{"degradation bad horizon", "/v1/degradation", map[string]any{"times": fiveMinutes(100), "horizon": 99, "metrics": []any{map[string]any{"name": "cpu", "values": good}}}, 422, "horizon 99"},
		{"degradation ragged", "/v1/degradation", map[string]any{"times": fiveMinutes(100), "metrics": []any{map[string]any{"name": "cpu", "values": good},
			map[string]any{"name": "mem", "values": good[:99]}}}, 422, `request: series "mem" has 99 values for 100 times`},
		{"degradation unknown slo", "/v1/degradation", map[string]any{"times": fiveMinutes(100), "slo": []any{map[string]any{"metric": "mem", "above": 1}}, "metrics": []any{map[string]any{"name": "cpu", "values": good}}}, 422, `"mem"`},
	}
	for _, c := range cases {
		code, raw := post(t, srv.URL+c.path, c.body, nil)
		var e struct {
			Error string `json:"error"`
			Needs int    `json:"needs"`
		}
		if err := json.Unmarshal([]byte(raw), &e); err != nil {
			t.Errorf("%s: the error is not JSON: %s", c.name, raw)
		}
		if code != c.code || !strings.Contains(e.Error, c.says) {
			t.Errorf("%s: %d %q, want %d saying %q", c.name, code, e.Error, c.code, c.says)
		}
		if c.name == "too short" && e.Needs != needs {
			t.Errorf("too short: needs %d in the answer, want %d", e.Needs, needs)
		}
	}
	// A missing value before the window the model reads is fine.
	var ans serve.ForecastAnswer
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": withAt(0, nil)}, &ans); code != 200 || ans.Source != serve.SourceModel {
		t.Fatalf("NaN outside the window: %d %s", code, raw)
	}
	// A series from the source is forecast as its values would be.
	var bySeries, byValues serve.ForecastAnswer
	s := src.series["cpu"]
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"series": "cpu"}, &bySeries); code != 200 {
		t.Fatalf("series: %d %s", code, raw)
	}
	post(t, srv.URL+"/v1/forecast", map[string]any{"values": s.Values, "times": s.Times, "metric": "cpu"}, &byValues)
	if fmt.Sprint(bySeries) != fmt.Sprint(byValues) {
		t.Fatalf("series cpu answered\n%v\nits values\n%v", bySeries, byValues)
	}
	// A gap older than the window the model reads: the service asks again
	// for the window alone. A gap inside it is bad input.
	src.gapAt = 300 - needs - 1
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"series": "cpu"}, &bySeries); code != 200 || bySeries.Source != serve.SourceModel ||
		bySeries.Predictions[0][0] != byValues.Predictions[0][0] {
		t.Fatalf("series with an old gap: %d %s", code, raw)
	}
	src.gapAt = 300 - 2
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"series": "cpu"}, nil); code != 422 || !strings.Contains(raw, "no value at point 298") {
		t.Fatalf("series with a gap in the window: %d %s", code, raw)
	}
	src.gapAt = 0
	src.fail = errDown
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"series": "cpu"}, nil); code != http.StatusBadGateway || !strings.Contains(raw, "connection refused") {
		t.Fatalf("source down: %d %s", code, raw)
	}
	src.fail = nil
	// Degradation answers as the service does, recalibrated by default on
	// the latest 15% of the rows' origins with outcomes (as `perfpredict
	// degradation`): 45 of 300 rows at a horizon of 12.
	var deg serve.Degradation
	code, raw := post(t, srv.URL+"/v1/degradation", map[string]any{"times": fiveMinutes(300), "horizon": 12,
		"metrics": []any{map[string]any{"name": "cpu", "values": s.Values}}, "slo": []any{map[string]any{"metric": "cpu", "above": 1e9}}}, &deg)
	if code != 200 || deg.Horizon != 12 || len(deg.Metrics) != 1 || deg.Version != "v1.0.0" || deg.Probability > 0.5 || deg.Metrics[0].Threshold.Origin != "request" ||
		deg.Metrics[0].Method != "model" || deg.Recalibrated != 45 {
		t.Fatalf("degradation: %d %s", code, raw)
	}
	deg = serve.Degradation{}
	code, raw = post(t, srv.URL+"/v1/degradation", map[string]any{"times": fiveMinutes(300), "horizon": 12, "recalibrate": false,
		"metrics": []any{map[string]any{"name": "cpu", "values": s.Values}}}, &deg)
	if code != 200 || deg.Recalibrated != 0 || deg.Probability != deg.RawProbability {
		t.Fatalf("degradation, recalibrate false: %d %s", code, raw)
	}
	// With "switch", from a switch fitted on the rows.
	code, raw = post(t, srv.URL+"/v1/degradation", map[string]any{"times": fiveMinutes(300), "horizon": 12, "switch": true,
		"metrics": []any{map[string]any{"name": "cpu", "values": s.Values}}}, &deg)
	if code != 200 || len(deg.Metrics) != 1 || deg.Metrics[0].Method != "switch" {
		t.Fatalf("degradation with the switch: %d %s", code, raw)
	}
	// Methods and routes.
	if resp, err := http.Get(srv.URL + "/v1/forecast"); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET /v1/forecast: %v %v", resp.StatusCode, err)
	}
	if code, raw := get(t, srv.URL+"/v2/nothing"); code != 404 || !strings.Contains(raw, "/v1/forecast") {
		t.Fatalf("unknown route: %d %s", code, raw)
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, raw := get(t, srv.URL+p); code != 200 {
			t.Fatalf("%s: %d %s", p, code, raw)
		}
	}
	var models modelsAnswer
	code, raw = get(t, srv.URL+"/v1/models")
	if err := json.Unmarshal([]byte(raw), &models); code != 200 || err != nil || models.Served.Version != "v1.0.0" || models.Served.Needs != needs || models.Registry != nil {
		t.Fatalf("models: %d %v %s", code, err, raw)
	}
	// Still serving after all of it, and /metrics counted it.
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": good}, nil); code != 200 {
		t.Fatalf("after the bad requests: %d %s", code, raw)
	}
	code, raw = get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`perfpredict_http_requests_total{code="400",route="forecast"} 11`,
		`perfpredict_http_requests_total{code="413",route="forecast"} 1`,
		`perfpredict_http_requests_total{code="422",route="forecast"} 4`,
		`perfpredict_http_requests_total{code="404",route="forecast"} 1`,
		`perfpredict_http_requests_total{code="200",route="degradation"} 3`,
		`perfpredict_http_request_duration_seconds_bucket{route="forecast",le="+Inf"}`,
		`perfpredict_model_version{model="perfpredict",version="v1.0.0"} 1`,
		`perfpredict_predictions_total{model="perfpredict"}`,
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics (%d) lacks %s", code, want)
		}
	}
	if t.Failed() {
		t.Log(raw)
	}
}

// TestFallbackAnswersAndIsCounted: a model past its deadline answers from
// the Holt-Winters fallback fitted on the request's values, says so, and
// /metrics counts it.
func TestFallbackAnswersAndIsCounted(t *testing.T) {
	h, srv := newServer(t, Options{Predictor: serve.Options{Timeout: time.Nanosecond}})
	if err := h.Load(tinyForecaster(t, 1), ""); err != nil {
		t.Fatal(err)
	}
	values := synth.Walk(600, 4)
	// With a 1ns deadline nearly every call falls back; a model fast
	// enough to beat the deadline's check still may answer one.
	fellBack := 0
	for range 20 {
		var ans serve.ForecastAnswer
		if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": values, "times": fiveMinutes(600)}, &ans); code != 200 {
			t.Fatalf("%d %s", code, raw)
		}
		if ans.Source == serve.SourceModel {
			continue
		}
		fellBack++
		if ans.Source != serve.SourceFallback || ans.Reason != serve.ReasonDeadline || ans.Method != "holt_winters" {
			t.Fatalf("source %s reason %q method %s", ans.Source, ans.Reason, ans.Method)
		}
		for _, v := range ans.Predictions[0] {
			if math.IsNaN(v) || math.Abs(v-values[len(values)-1]) > 10*math.Abs(values[len(values)-1])+10 {
				t.Fatalf("fallback forecast %v from a last value %v", ans.Predictions[0], values[len(values)-1])
			}
		}
	}
	if fellBack == 0 {
		t.Fatal("no call fell back past a 1ns deadline")
	}
	_, raw := get(t, srv.URL+"/metrics")
	if !strings.Contains(raw, fmt.Sprintf(`perfpredict_fallbacks_total{reason="model missed the deadline"} %d`, fellBack)) ||
		!strings.Contains(raw, fmt.Sprintf(`perfpredict_fallback_predictions_total{model="perfpredict"} %d`, fellBack)) {
		t.Fatalf("%d fallbacks not counted:\n%s", fellBack, raw)
	}
}

// TestConcurrencyBound: with one slot and a queue of one, a third request
// is refused at once with 503 and Retry-After, the queued one after
// QueueWait, and the one holding the slot completes.
func TestConcurrencyBound(t *testing.T) {
	fc := tinyForecaster(t, 1)
	src := &fakeSource{block: make(chan struct{}), series: map[string]baseline.Series{
		"cpu": {Name: "cpu", Times: fiveMinutes(100), Values: synth.Walk(100, 9)}}}
	h, srv := newServer(t, Options{Source: src, MaxInFlight: 1, MaxQueue: 1, QueueWait: 300 * time.Millisecond})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	first := make(chan int)
	go func() {
		code, _ := post(t, srv.URL+"/v1/forecast", map[string]any{"series": "cpu"}, nil)
		first <- code
	}()
	waitFor(t, func() bool { return len(h.slots) == 1 })
	queued := make(chan int)
	go func() {
		code, _ := post(t, srv.URL+"/v1/forecast", map[string]any{"values": synth.Walk(100, 1)}, nil)
		queued <- code
	}()
	waitFor(t, func() bool { return h.waiting.Load() == 1 })
	resp, err := http.Post(srv.URL+"/v1/forecast", "application/json", strings.NewReader(`{"values": [1]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("third request: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if code := <-queued; code != http.StatusServiceUnavailable {
		t.Fatalf("queued past QueueWait: %d", code)
	}
	close(src.block)
	if code := <-first; code != http.StatusOK {
		t.Fatalf("the request holding the slot: %d", code)
	}
	// A slot is free again.
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": synth.Walk(100, 1)}, nil); code != 200 {
		t.Fatalf("after: %d %s", code, raw)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestGracefulShutdown: cancelling Serve's context lets a request in
// flight finish with its answer, and refuses new connections.
func TestGracefulShutdown(t *testing.T) {
	fc := tinyForecaster(t, 1)
	src := &fakeSource{block: make(chan struct{}), series: map[string]baseline.Series{
		"cpu": {Name: "cpu", Times: fiveMinutes(100), Values: synth.Walk(100, 9)}}}
	h, err := New(Options{Source: src, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- Serve(ctx, ln, h, 10*time.Second) }()
	url := "http://" + ln.Addr().String()
	answered := make(chan int)
	go func() {
		code, _ := post(t, url+"/v1/forecast", map[string]any{"series": "cpu"}, nil)
		answered <- code
	}()
	waitFor(t, func() bool { return len(h.slots) == 1 })
	cancel()
	// Shutdown closes the listener at once, while the request is held.
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case code := <-answered:
		t.Fatalf("the request in flight was answered (%d) before it was released", code)
	default:
	}
	close(src.block)
	if code := <-answered; code != http.StatusOK {
		t.Fatalf("in-flight request during shutdown: %d", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve after a graceful shutdown: %v", err)
	}
}

// TestConcurrentRequestsMatchForecast: many clients at once (micro-batched
// together) each get the forecaster's answer for their own values.
func TestConcurrentRequestsMatchForecast(t *testing.T) {
	fc := tinyForecaster(t, 1)
	h, srv := newServer(t, Options{})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			values := synth.Walk(80, uint64(100+c))
			want, err := fc.Forecast(context.Background(), values)
			if err != nil {
				t.Error(err)
				return
			}
			for range 5 {
				var ans serve.ForecastAnswer
				if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": values}, &ans); code != 200 {
					t.Errorf("%d %s", code, raw)
					return
				}
				for k, p := range want.Points {
					if d := math.Abs(ans.Predictions[0][k] - p.Value); d > 1e-6*math.Max(1, math.Abs(p.Value)) {
						t.Errorf("client %d h=%d: %v, Forecast %v", c, k+1, ans.Predictions[0][k], p.Value)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
