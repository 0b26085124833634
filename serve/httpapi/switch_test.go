package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/serve"
)

// refSwitch is a Switch of fc fitted on s as an evaluation fits it (the
// first 70% of its rows choosing the penalty).
func refSwitch(t *testing.T, fc *forecast.Forecaster, s baseline.Series) *forecast.Switch {
	t.Helper()
	sw := forecast.NewSwitch(fc)
	if err := sw.Fit(s, baseline.SplitOf(len(s.Values)).Train); err != nil {
		t.Fatal(err)
	}
	return sw
}

// cut is s's points [lo, hi).
func cut(s baseline.Series, lo, hi int) baseline.Series {
	return baseline.Series{Name: s.Name, Times: s.Times[lo:hi], Values: s.Values[lo:hi]}
}

// askSeries posts {"series": name} and returns the answer.
func askSeries(t *testing.T, url, name string) serve.ForecastAnswer {
	t.Helper()
	var ans serve.ForecastAnswer
	if code, raw := post(t, url+"/v1/forecast", map[string]any{"series": name}, &ans); code != http.StatusOK {
		t.Fatalf("series %s: status %d: %s", name, code, raw)
	}
	return ans
}

// sameAsSwitch fails unless ans is sw's forecast at every horizon.
func sameAsSwitch(t *testing.T, what string, ans serve.ForecastAnswer, sw *forecast.Switch) {
	t.Helper()
	if !slices.Equal(ans.Methods, []string{forecast.SwitchMethod}) {
		t.Fatalf("%s: answered by %v, want the switch", what, ans.Methods)
	}
	for h := 1; h <= ans.Horizon; h++ {
		p, err := sw.Point(h)
		if err != nil {
			t.Fatal(err)
		}
		if got := [3]float64{ans.Predictions[0][h-1], ans.P10[0][h-1], ans.P90[0][h-1]}; got != [3]float64{p.Value, p.P10, p.P90} {
			t.Fatalf("%s: h=%d: served %v, the reference switch %v", what, h, got, [3]float64{p.Value, p.P10, p.P90})
		}
	}
}

// TestSeriesSwitch: with Options.Switch a named series is answered by a
// switch fitted on SwitchHistory of its points at its first request and
// fed the points of each later one (equal to a reference Switch fed the
// same points), fitted again after a gap its request does not cover and
// for a new model; the model answers a request that ends before what the
// switch saw, values sent in the body, and a series too short to fit
// (whose history is fetched again only after switchRetry).
func TestSeriesSwitch(t *testing.T) {
	const history, recent = 600, 100
	fc := tinyForecaster(t, 1)
	ref := tinyForecaster(t, 1) // the same weights, for the references
	defer ref.Close()
	values := synth.Walk(3000, 3)
	cpu := baseline.Series{Name: "cpu", Times: fiveMinutes(len(values)), Values: values}
	short := baseline.Series{Name: "short", Times: fiveMinutes(recent), Values: values[:recent]}
	src := &fakeSource{series: map[string]baseline.Series{"cpu": cpu, "short": short}}
	now := t0
	h, srv := newServer(t, Options{Source: src, Switch: true, SwitchHistory: history, SeriesLength: recent,
		Now: func() time.Time { return now }})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	wantCalls := func(what string, want ...int) {
		t.Helper()
		if got := src.calls(); !slices.Equal(got, want) {
			t.Fatalf("%s: the source was asked for %v points, want %v", what, got, want)
		}
	}

	src.setUpTo(800)
	sw := refSwitch(t, ref, cut(cpu, 800-history, 800))
	sameAsSwitch(t, "first request", askSeries(t, srv.URL, "cpu"), sw)
	wantCalls("first request", recent, history)
	fed := 800
	for _, upTo := range []int{801, 803, 803, 810} {
		src.setUpTo(upTo)
		for ; fed < upTo; fed++ {
			sw.Update(values[fed])
		}
		sameAsSwitch(t, fmtS("up to point %d", upTo), askSeries(t, srv.URL, "cpu"), sw)
		wantCalls(fmtS("up to point %d", upTo), recent)
	}

	// A request that ends before the last point the switch saw.
	src.setUpTo(805)
	if ans := askSeries(t, srv.URL, "cpu"); !slices.Equal(ans.Methods, []string{"model"}) {
		t.Fatalf("a request behind the switch answered by %v", ans.Methods)
	}
	wantCalls("behind", recent)

	// A gap longer than a request's points: fitted again on a fresh history.
	src.setUpTo(810 + 2*recent)
	sw = refSwitch(t, ref, cut(cpu, 810+2*recent-history, 810+2*recent))
	sameAsSwitch(t, "after a gap", askSeries(t, srv.URL, "cpu"), sw)
	wantCalls("after a gap", recent, history)
	src.setUpTo(811 + 2*recent)
	sw.Update(values[810+2*recent])
	sameAsSwitch(t, "after a gap, one more point", askSeries(t, srv.URL, "cpu"), sw)

	// Values in the body have no identity to follow.
	var ans serve.ForecastAnswer
	if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": values[:recent]}, &ans); code != http.StatusOK || ans.Method != "model" {
		t.Fatalf("values: status %d method %s: %s", code, ans.Method, raw)
	}
	src.calls()

	// Too short to fit the switch's autoregression: the model answers, and
	// the long history is not fetched again until switchRetry has passed.
	for i, want := range [][]int{{recent, history}, {recent}} {
		if ans := askSeries(t, srv.URL, "short"); !slices.Equal(ans.Methods, []string{"model"}) {
			t.Fatalf("short series, request %d: answered by %v", i, ans.Methods)
		}
		wantCalls(fmtS("short series, request %d", i), want...)
	}
	now = now.Add(switchRetry + time.Second)
	askSeries(t, srv.URL, "short")
	wantCalls("short series after the retry time", recent, history)

	// A new model: its own switch, fitted anew.
	fc2, ref2 := tinyForecaster(t, 2), tinyForecaster(t, 2)
	defer ref2.Close()
	if err := h.Load(fc2, ""); err != nil {
		t.Fatal(err)
	}
	src.setUpTo(812 + 2*recent)
	sameAsSwitch(t, "a new model", askSeries(t, srv.URL, "cpu"), refSwitch(t, ref2, cut(cpu, 812+2*recent-history, 812+2*recent)))
	wantCalls("a new model", recent, history)

	// /metrics counts the fits and the series the served model follows.
	_, raw := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`perfpredict_switch_fits_total{result="fitted"} 3`,
		`perfpredict_switch_fits_total{result="failed"} 2`,
		"perfpredict_switch_series 1",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// TestSeriesSwitchEviction: past MaxSwitches series the least recently
// asked for is dropped, and fitted again when it is asked for again.
func TestSeriesSwitchEviction(t *testing.T) {
	fc := tinyForecaster(t, 1)
	a, b := synth.Walk(900, 4), synth.Walk(900, 5)
	src := &fakeSource{series: map[string]baseline.Series{
		"a": {Name: "a", Times: fiveMinutes(900), Values: a},
		"b": {Name: "b", Times: fiveMinutes(900), Values: b},
	}}
	h, srv := newServer(t, Options{Source: src, Switch: true, SwitchHistory: 500, SeriesLength: 50, MaxSwitches: 1})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	for i, step := range []struct {
		name  string
		calls []int
	}{{"a", []int{50, 500}}, {"a", []int{50}}, {"b", []int{50, 500}}, {"b", []int{50}}, {"a", []int{50, 500}}} {
		if ans := askSeries(t, srv.URL, step.name); ans.Method != forecast.SwitchMethod {
			t.Fatalf("request %d (%s): answered by %s", i, step.name, ans.Method)
		}
		if got := src.calls(); !slices.Equal(got, step.calls) {
			t.Fatalf("request %d (%s): the source was asked for %v points, want %v", i, step.name, got, step.calls)
		}
	}
}

// TestSeriesSwitchConcurrent: concurrent first requests for the same
// series fit its switch once and all get its answer (under -race in CI).
func TestSeriesSwitchConcurrent(t *testing.T) {
	fc, ref := tinyForecaster(t, 1), tinyForecaster(t, 1)
	defer ref.Close()
	values := synth.Walk(900, 6)
	s := baseline.Series{Name: "cpu", Times: fiveMinutes(900), Values: values}
	src := &fakeSource{series: map[string]baseline.Series{"cpu": s}}
	h, srv := newServer(t, Options{Source: src, Switch: true, SwitchHistory: 500, SeriesLength: 50})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	sw := refSwitch(t, ref, cut(s, 400, 900))
	const n = 8
	answers := make(chan serve.ForecastAnswer, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ans serve.ForecastAnswer
			if code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"series": "cpu"}, &ans); code != http.StatusOK {
				t.Errorf("status %d: %s", code, raw)
			}
			answers <- ans
		}()
	}
	wg.Wait()
	close(answers)
	for ans := range answers {
		sameAsSwitch(t, "concurrent request", ans, sw)
	}
	fits := 0
	for _, c := range src.calls() {
		if c == 500 {
			fits++
		}
	}
	if fits != 1 {
		t.Fatalf("the history was fetched %d times for %d concurrent first requests, want once", fits, n)
	}
}

// TestSeriesSwitchCancelled: a request that ends while its series'
// history is being fetched leaves no retry time behind; the next request
// fits the switch.
func TestSeriesSwitchCancelled(t *testing.T) {
	fc := tinyForecaster(t, 1)
	values := synth.Walk(900, 7)
	src := &fakeSource{series: map[string]baseline.Series{"cpu": {Name: "cpu", Times: fiveMinutes(900), Values: values}},
		block: make(chan struct{}), blockAt: 500}
	h, _ := newServer(t, Options{Source: src, Switch: true, SwitchHistory: 500, SeriesLength: 50})
	if err := h.Load(fc, ""); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	ans, err := h.ForecastSeries(ctx, "cpu")
	if err != nil || ans.Methods[0] != "model" {
		t.Fatalf("a request cancelled during the fetch: %v, %+v", err, ans)
	}
	close(src.block)
	if ans, err = h.ForecastSeries(context.Background(), "cpu"); err != nil || ans.Methods[0] != forecast.SwitchMethod {
		t.Fatalf("the next request: %v, answered by %v; want the switch", err, ans.Methods)
	}
}
