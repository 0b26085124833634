package live

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/monitor"
	"github.com/novacron/perfpredict/serve"
	"github.com/novacron/perfpredict/serve/httpapi"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeSeries is one 5-minute series whose points become visible as the
// simulated clock passes them.
type fakeSeries struct {
	clock  *lifecycle.SimClock
	name   string
	values []float64
	calls  int
	mu     sync.Mutex
	gapAt  int // a point missing there (0: none), refused as a CSV gap is
}

func (f *fakeSeries) Last(_ context.Context, name string, n int) (baseline.Series, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	if name != f.name {
		return baseline.Series{}, fmt.Errorf("fake: %q: %w", name, httpapi.ErrUnknownSeries)
	}
	end := int(f.clock.Now().Sub(t0)/(5*time.Minute)) + 1 // points at t0, t0+5m, ... up to now
	end = min(end, len(f.values))
	s := baseline.Series{Name: name}
	if f.gapAt > 0 && max(0, end-n) <= f.gapAt && f.gapAt < end {
		return baseline.Series{}, fmt.Errorf("fake: %s has no value at point %d: %w", name, f.gapAt, baseline.ErrBadInput)
	}
	for i := max(0, end-n); i < end; i++ {
		s.Times = append(s.Times, t0.Add(time.Duration(i)*5*time.Minute))
		s.Values = append(s.Values, f.values[i])
	}
	return s, nil
}

func tinyRecipe() *forecast.Options {
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon = 8, 16, 12
	o.Hidden, o.Head, o.Epochs, o.Ensemble, o.BatchSize, o.Stride = 4, []int{8}, 2, 1, 32, 2
	o.SwitchTrees.Params.Rounds = 20 // small trees: the runner serves the switch of three
	return &o
}

// TestRunnerCollectsRetrainsPromotesServesAlerts drives the runner on a
// simulated clock: the first collection backfills, the scheduled retrain
// trains and promotes v1.0.0, the HTTP handler swaps to it, each new
// sample is scored against the forecast made before it, the rule on
// inference time fires and its retrain_model action makes the next step
// retrain ("alert ..."); /metrics shows the alert and the served version,
// and the registry ends with exactly one Active version, every version
// intact.
func TestRunnerCollectsRetrainsPromotesServesAlerts(t *testing.T) {
	ctx := context.Background()
	reg, err := lifecycle.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	start := t0.Add(600 * 5 * time.Minute)
	clock := lifecycle.NewSimClock(start)
	src := &fakeSeries{clock: clock, name: `cpu{host="a"}`, values: synth.Walk(2000, 3)}
	rules, err := monitor.ParseRules([]byte(`alerts:
  - {name: InferenceSeen, condition: "inference_time > 0ms", severity: low, action: retrain_model}
`), "rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var events []lifecycle.Event
	var logs []string
	r, err := New(ctx, Config{
		Pipeline: lifecycle.Config{Model: "cpu", Registry: reg, Clock: clock, Train: tinyRecipe(),
			CollectEvery: 5 * time.Minute, RetrainEvery: time.Hour, Holdout: 2 * time.Hour, Threshold: 1e-9,
			SyncTraining: true, OnEvent: func(e lifecycle.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }},
		Series: src, Query: `cpu{host="a"}`, Backfill: 600, Rules: rules,
		Health: monitor.HealthConfig{Window: 24 * time.Hour, Slot: 5 * time.Minute},
		Logf:   func(f string, a ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, a...)); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Handler.Close()
	srv := httptest.NewServer(r.Handler)
	defer srv.Close()
	if r.Handler.Ready() {
		t.Fatal("ready before any version exists")
	}
	alertRetrain, after := false, 0
	for step := 0; step < 40 && after < 3; step++ {
		if alertRetrain {
			after++ // a few more samples to score
		}
		r.Pipeline.Step(ctx)
		clock.Advance(5 * time.Minute)
		mu.Lock()
		for _, e := range events {
			alertRetrain = alertRetrain || (e.Kind == "retrain" && strings.HasPrefix(e.Text, "alert InferenceSeen"))
		}
		mu.Unlock()
	}
	mu.Lock()
	defer mu.Unlock()
	kinds := map[string]int{}
	for _, e := range events {
		kinds[e.Kind]++
	}
	if !alertRetrain || kinds["promoted"] == 0 || kinds["swap"] == 0 || kinds["train_error"] != 0 {
		t.Fatalf("events %v\n%s", kinds, strings.Join(logs, "\n"))
	}
	if !strings.Contains(logs[0], "collected 600 samples") {
		t.Fatalf("first log %q, want the backfill of 600 samples", logs[0])
	}
	active, err := reg.ActiveVersion("cpu")
	if err != nil || r.Handler.Version() != active {
		t.Fatalf("handler serves %q, registry Active %q (%v)", r.Handler.Version(), active, err)
	}
	if snap := r.Monitor.Health.Snapshot(clock.Now()); snap.Errors == 0 {
		t.Fatal("no forecast was scored against a new sample")
	}
	if d := r.Monitor.Drift(); d == nil || d.Report().N == 0 {
		t.Fatal("no drift window after a swap")
	}
	// The service answers with the Active version, and /metrics says so.
	body := fmt.Sprintf(`{"values": %s}`, mustJSON(src.values[:100]))
	resp, err := http.Post(srv.URL+"/v1/forecast", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var ans serve.ForecastAnswer
	json.NewDecoder(resp.Body).Decode(&ans)
	resp.Body.Close()
	if resp.StatusCode != 200 || ans.Version != active {
		t.Fatalf("forecast: %d version %q, want %s", resp.StatusCode, ans.Version, active)
	}
	resp, err = http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`perfpredict_alert_firing{action="retrain_model",alert="InferenceSeen",model="cpu",severity="low"} 1`,
		`perfpredict_model_version{model="cpu",version="` + active + `"} 1`,
	} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// A restart on the same registry serves the Active version at once
	// and has a drift reference once its backfill is in.
	r2, err := New(ctx, Config{
		Pipeline: lifecycle.Config{Model: "cpu", Registry: reg, Clock: clock, Train: tinyRecipe(),
			CollectEvery: 5 * time.Minute, RetrainEvery: 24 * time.Hour, Holdout: 2 * time.Hour, SyncTraining: true},
		Series: src, Query: `cpu{host="a"}`, Backfill: 600,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Handler.Close()
	if r2.Handler.Version() != active || r2.Monitor.Drift() != nil {
		t.Fatalf("restart serves %q (want %s), drift before any history: %v", r2.Handler.Version(), active, r2.Monitor.Drift() != nil)
	}
	r2.Pipeline.Step(ctx)
	if d := r2.Monitor.Drift(); d == nil || d.Reference() == nil {
		t.Fatal("no drift reference after the restart's backfill")
	}
	vs, err := reg.Verify("cpu")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if v.Status == lifecycle.Active {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d Active versions", n)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestCollectorAsksForWhatIsNew: the first call backfills, later ones ask
// for the steps elapsed (plus one) and return only newer points.
func TestCollectorAsksForWhatIsNew(t *testing.T) {
	clock := lifecycle.NewSimClock(t0.Add(100 * 5 * time.Minute))
	src := &fakeSeries{clock: clock, name: "cpu", values: synth.Walk(500, 1)}
	c := &Collector{Series: src, Query: "cpu", Step: 5 * time.Minute, Backfill: 50}
	ss, err := c.Collect(context.Background(), clock.Now())
	if err != nil || len(ss) != 50 || !ss[49].Time.Equal(clock.Now()) {
		t.Fatalf("backfill: %d samples, %v", len(ss), err)
	}
	clock.Advance(15 * time.Minute)
	ss, err = c.Collect(context.Background(), clock.Now())
	if err != nil || len(ss) != 3 || ss[0].Values[0] != src.values[101] {
		t.Fatalf("after 3 steps: %d samples %v", len(ss), err)
	}
	ss, err = c.Collect(context.Background(), clock.Now())
	if err != nil || len(ss) != 0 {
		t.Fatalf("nothing new: %d samples %v", len(ss), err)
	}
	c.Query = "mem"
	if _, err := c.Collect(context.Background(), clock.Now()); err == nil || !strings.Contains(err.Error(), "unknown series") {
		t.Fatalf("unknown series: %v", err)
	}
}

// TestCollectorSkipsAGap: a range the source refuses for a gap is cut to
// the points after the gap (reported to OnGap), and collection goes on
// from there instead of failing on the same gap forever; a backfill keeps
// everything after its gap.
func TestCollectorSkipsAGap(t *testing.T) {
	clock := lifecycle.NewSimClock(t0.Add(100 * 5 * time.Minute))
	src := &fakeSeries{clock: clock, name: "cpu", values: synth.Walk(500, 1), gapAt: 102}
	var gaps []error
	c := &Collector{Series: src, Query: "cpu", Step: 5 * time.Minute, Backfill: 50, OnGap: func(err error) { gaps = append(gaps, err) }}
	if ss, err := c.Collect(context.Background(), clock.Now()); err != nil || len(ss) != 50 {
		t.Fatalf("backfill: %d %v", len(ss), err)
	}
	clock.Advance(20 * time.Minute) // points 101..104, 102 missing
	ss, err := c.Collect(context.Background(), clock.Now())
	if err != nil || len(ss) != 2 || ss[0].Values[0] != src.values[103] || len(gaps) != 1 || !strings.Contains(gaps[0].Error(), "point 102") {
		t.Fatalf("across the gap: %d samples, %v, gaps %v", len(ss), err, gaps)
	}
	clock.Advance(5 * time.Minute)
	if ss, err = c.Collect(context.Background(), clock.Now()); err != nil || len(ss) != 1 || ss[0].Values[0] != src.values[105] || len(gaps) != 1 {
		t.Fatalf("after the gap: %d samples, %v, gaps %v", len(ss), err, gaps)
	}
	// A backfill across a gap: the 37 points after it.
	src.gapAt = 105 - 37
	c = &Collector{Series: src, Query: "cpu", Step: 5 * time.Minute, Backfill: 100, OnGap: func(err error) { gaps = append(gaps, err) }}
	if ss, err = c.Collect(context.Background(), clock.Now()); err != nil || len(ss) != 37 || len(gaps) != 2 {
		t.Fatalf("backfill across a gap: %d samples, %v", len(ss), err)
	}
}

// scoredQuery is the series the runners of runScored collect and serve.
const scoredQuery = `cpu{host="a"}`

// runScored runs 16 collection steps of a runner whose service follows the
// collected series with a switch, its pipeline with one too where
// pipelineSwitch (as `perfpredict run` sets it), and checks that what the
// runner scored is what the service answers. It returns the runner and
// the pipeline's events.
func runScored(t *testing.T, pipelineSwitch bool) (*Runner, []lifecycle.Event) {
	t.Helper()
	ctx := context.Background()
	reg, err := lifecycle.Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	clock := lifecycle.NewSimClock(t0.Add(600 * 5 * time.Minute))
	src := &fakeSeries{clock: clock, name: scoredQuery, values: synth.Walk(2000, 3)}
	var events []lifecycle.Event // SyncTraining: every event comes from Step, on this goroutine
	r, err := New(ctx, Config{
		Pipeline: lifecycle.Config{Model: "cpu", Registry: reg, Clock: clock, Train: tinyRecipe(),
			CollectEvery: 5 * time.Minute, RetrainEvery: time.Hour, Holdout: 2 * time.Hour, Threshold: 1e-9, SyncTraining: true,
			Switch: pipelineSwitch, OnEvent: func(e lifecycle.Event) { events = append(events, e) }},
		Series: src, Query: scoredQuery, Backfill: 600,
		HTTP: httpapi.Options{Source: src, Switch: true, SwitchHistory: 400, SeriesLength: 50},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Handler.Close() })
	for step := 0; step < 16; step++ {
		clock.Advance(5 * time.Minute)
		r.Pipeline.Step(ctx)
	}
	r.mu.Lock()
	pending, pendFor, pendTime := r.pending, r.pendFor, r.pendTime
	r.mu.Unlock()
	if pendFor == "" || r.Monitor.Health.Snapshot(clock.Now()).Errors == 0 {
		t.Fatalf("nothing served and scored after 16 steps (pending for %q)", pendFor)
	}
	// The same rows again: the switch answers what it answered the runner.
	ans, err := r.Handler.ForecastSeries(ctx, scoredQuery)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Methods[0] != "switch" || ans.Version != pendFor || !ans.Origin.Equal(pendTime) || ans.Predictions[0][0] != pending {
		t.Fatalf("the runner scores %v (version %s, after %v); the service answers %v by %s (version %s, after %v)",
			pending, pendFor, pendTime, ans.Predictions[0][0], ans.Methods[0], ans.Version, ans.Origin)
	}
	return r, events
}

// TestRunnerScoresWhatItServes: with HTTP.Switch, the forecast each new
// sample is scored against is the service's answer for the collected
// series (its switch), not the pipeline's model forecast.
func TestRunnerScoresWhatItServes(t *testing.T) {
	r, _ := runScored(t, false)
	r.mu.Lock()
	pending := r.pending
	r.mu.Unlock()
	f, _, err := r.Pipeline.Forecast(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Points[0].Value == pending {
		t.Fatalf("the switch and the model both forecast %v: the test cannot tell them apart", pending)
	}
}

// TestRunnerFollowsTheSeriesWithOneSwitch: with both switched on, as
// `perfpredict run` runs them, the service's switch answers every
// collected sample and the pipeline fits none of its own: one switch
// follows the series.
func TestRunnerFollowsTheSeriesWithOneSwitch(t *testing.T) {
	_, events := runScored(t, true)
	var swaps int
	for _, e := range events {
		switch e.Kind {
		case "switch_fitted":
			t.Errorf("the pipeline fitted a switch of its own beside the service's: %v", e)
		case "swap":
			swaps++
		}
	}
	if swaps == 0 {
		t.Fatalf("no version was swapped in: the test shows nothing (events %v)", events)
	}
}
