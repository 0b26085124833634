package lifecycle

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
)

// historySeries is the pipeline's history of column target as a series.
func historySeries(t *testing.T, p *Pipeline, target int) baseline.Series {
	t.Helper()
	all := p.History.Snapshot()
	y, err := column(all, target)
	if err != nil {
		t.Fatal(err)
	}
	times := make([]time.Time, len(all))
	for i, s := range all {
		times[i] = s.Time
	}
	return baseline.Series{Name: "m", Times: times, Values: y}
}

// TestPipelineServesSwitch: with Config.Switch, Forecast answers what a
// serve.Follower fitted on the history at the first forecast and fed the
// samples since answers, fitted again once the history has doubled; the
// forecaster alone while the history is too short for a switch; a new
// follower after a swap.
func TestPipelineServesSwitch(t *testing.T) {
	src := SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		i := step(now)
		return []Sample{{Time: now, Values: []float64{-1, smooth(i) + 3*math.Sin(float64(i)*0.37)}}}, nil
	})
	// No scheduled retrain: the versions served are the two promoted here.
	p, clock, reg, log := newTestPipeline(t, src, func(c *Config) { c.Target, c.Switch, c.RetrainEvery = 1, true, 365*Daily })
	ctx := context.Background()
	fc := tinyForecaster(t, "smooth", 1)
	in, _ := reg.AddForecaster(Manifest{Model: "m"}, fc)
	reg.Promote("m", in.Version.String(), "")
	runSteps(p, clock, 40)
	f, _, err := p.Forecast(ctx)
	if err != nil {
		t.Fatal(err)
	}
	model, _ := fc.Forecast(ctx, historySeries(t, p, 1).Values)
	if f.Points[0] != model.Points[0] {
		t.Fatalf("40 samples (too few for a switch): served %+v, the forecaster %+v", f.Points[0], model.Points[0])
	}

	check := func(what string, ref *serve.Follower, s baseline.Series) {
		t.Helper()
		f, _, err := p.Forecast(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := ref.Points(s.Times, s.Values, 5*time.Minute, fc.Horizon())
		if !ok {
			t.Fatalf("%s: the reference follower cannot answer", what)
		}
		model, _ := fc.Forecast(ctx, s.Values)
		differs := false
		for h := range want {
			if f.Points[h] != want[h] {
				t.Fatalf("%s: served %+v at h=%d, the follower %+v", what, f.Points[h], h+1, want[h])
			}
			differs = differs || want[h].Value != model.Points[h].Value
		}
		if !differs {
			t.Errorf("%s: the switch's forecasts are the forecaster's", what)
		}
	}
	// Each fit is a switch_fitted event; a fed switch is not.
	fits := func(want int) {
		t.Helper()
		n := 0
		for _, k := range log.kinds() {
			if k == "switch_fitted" {
				n++
			}
		}
		if n != want {
			t.Fatalf("%d switch_fitted events, want %d", n, want)
		}
	}
	fitted := func() (*serve.Follower, baseline.Series) {
		t.Helper()
		s := historySeries(t, p, 1)
		f, err := serve.NewFollower(fc, s)
		if err != nil {
			t.Fatal(err)
		}
		return f, s
	}
	runSteps(p, clock, 110)
	ref, s := fitted()
	check("first forecast (150 samples)", ref, s)
	fits(1)
	runSteps(p, clock, 7)
	check("7 samples later: fed", ref, historySeries(t, p, 1))
	fits(1)
	runSteps(p, clock, 143)
	ref, s = fitted()
	check("300 samples: fitted again", ref, s)
	fits(2)

	fc2 := tinyForecaster(t, "smooth", 2)
	in2, _ := reg.AddForecaster(Manifest{Model: "m"}, fc2)
	reg.Promote("m", in2.Version.String(), "")
	runSteps(p, clock, 1) // Step syncs before it collects
	if cur := p.Serving.Current(); cur.Version.Version != in2.Version {
		t.Fatalf("serving %v after the promotion of %v", cur.Version.Version, in2.Version)
	}
	now := historySeries(t, p, 1)
	ref2, err := serve.NewFollower(fc2, now)
	if err != nil {
		t.Fatal(err)
	}
	fc = fc2
	check("after a swap", ref2, now)
	fits(3)
}

// TestSwitchFitReportedUnlocked: an OnEvent that forecasts when told of a
// switch fit gets its forecast (the event is sent once the switch's lock
// is released), from the switch just fitted.
func TestSwitchFitReportedUnlocked(t *testing.T) {
	src := SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		i := step(now)
		return []Sample{{Time: now, Values: []float64{smooth(i) + 3*math.Sin(float64(i)*0.37)}}}, nil
	})
	ctx := context.Background()
	var p *Pipeline
	answered := make(chan forecast.Forecast, 1)
	p, clock, reg, _ := newTestPipeline(t, src, func(c *Config) {
		c.Switch, c.RetrainEvery = true, 365*Daily
		c.OnEvent = func(e Event) {
			if e.Kind == "switch_fitted" {
				f, _, err := p.Forecast(ctx) // the event comes from a Forecast of this goroutine
				if err != nil {
					t.Error(err)
				}
				answered <- f
			}
		}
	})
	in, _ := reg.AddForecaster(Manifest{Model: "m"}, tinyForecaster(t, "smooth", 1))
	reg.Promote("m", in.Version.String(), "")
	runSteps(p, clock, 150)
	done := make(chan forecast.Forecast, 1)
	go func() {
		f, _, err := p.Forecast(ctx)
		if err != nil {
			t.Error(err)
		}
		done <- f
	}()
	select {
	case f := <-done:
		var inner forecast.Forecast
		select {
		case inner = <-answered:
		default:
			t.Fatal("150 samples and a forecast, and no switch_fitted event")
		}
		if inner.Points[0] != f.Points[0] {
			t.Fatalf("the forecast asked from OnEvent %+v, the caller's %+v: not the same switch", inner.Points[0], f.Points[0])
		}
	case <-time.After(time.Minute):
		t.Fatal("Forecast still waiting after a minute: OnEvent was called under the switch's lock")
	}
}

// TestRetrainScoresSwitch: with Config.Switch the held-out gate records
// the switch's figures, those of a follower fitted on the samples before
// the held-out span and asked at each origin in it.
func TestRetrainScoresSwitch(t *testing.T) {
	p, clock, reg, log := newTestPipeline(t, signalSource(smooth), func(c *Config) { c.Switch = true })
	runSteps(p, clock, 2*288)
	if errs := log.errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	fc, active, err := reg.LoadActive("m")
	if err != nil {
		t.Fatal(err)
	}
	if active.Extra["scored"] != "switch" {
		t.Fatalf("scored %q, want switch", active.Extra["scored"])
	}
	s := historySeries(t, p, 0)
	from := -1
	for i, tm := range s.Times {
		if tm.Format(time.RFC3339) == active.Extra["holdout_from"] {
			from = i
		}
	}
	if from < 0 {
		t.Fatalf("held-out start %s not in the history", active.Extra["holdout_from"])
	}
	// The version was scored when the history ended at holdout_to.
	to := from + active.Test.N
	f, err := serve.NewFollower(fc, s.Slice(0, from))
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for j := from; j < to; j++ {
		pts, ok := f.Points(s.Times[:j], s.Values[:j], 5*time.Minute, 1)
		if !ok {
			t.Fatalf("the follower cannot answer at origin %d", j-1)
		}
		sum += math.Abs(pts[0].Value - s.Values[j])
	}
	if mae := sum / float64(to-from); math.Abs(mae-active.Test.MAE) > 1e-12*math.Max(1, mae) {
		t.Errorf("recorded held-out MAE %v, the follower's %v", active.Test.MAE, mae)
	}
	m, err := score(context.Background(), fc, s.Values[:to], from, 1)
	if err != nil {
		t.Fatal(err)
	}
	if m.MAE == active.Test.MAE {
		t.Errorf("the switch scored exactly as the forecaster alone (MAE %v)", m.MAE)
	}
}

// TestShadowComparesSwitches: with Config.Switch a shadow test scores
// each version's switch, fitted on the history when the test began and fed
// each sample, not the forecasters alone.
func TestShadowComparesSwitches(t *testing.T) {
	src := signalSource(func(i int) float64 { return smooth(i) + 3*math.Sin(float64(i)*0.37) })
	p, clock, reg, log := newTestPipeline(t, src, func(c *Config) {
		c.Switch, c.RetrainEvery = true, 365*Daily
		c.Shadow = &ABConfig{MinSamples: 1000, MaxSamples: 2000}
	})
	fcA, fcB := tinyForecaster(t, "smooth", 1), tinyForecaster(t, "smooth", 2)
	a, _ := reg.AddForecaster(Manifest{Model: "m"}, fcA)
	reg.Promote("m", a.Version.String(), "")
	runSteps(p, clock, 300)
	b, _ := reg.AddForecaster(Manifest{Model: "m"}, fcB)
	served := p.Serving.Current()
	if !p.startShadow(clock.Now(), served, &Served{Version: b, Forecaster: fcB, Since: clock.Now()}, "test") {
		t.Fatalf("no shadow test: %v", log.errors())
	}
	start := historySeries(t, p, 0)
	refA, errA := serve.NewFollower(served.Forecaster, start)
	refB, errB := serve.NewFollower(fcB, start)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	const n = 40
	runSteps(p, clock, n)
	s := historySeries(t, p, 0)
	var sumA, sumB, sumModel float64
	for j := len(start.Values); j < len(s.Values); j++ {
		pa, okA := refA.Points(s.Times[:j], s.Values[:j], 5*time.Minute, 1)
		pb, okB := refB.Points(s.Times[:j], s.Values[:j], 5*time.Minute, 1)
		if !okA || !okB {
			t.Fatalf("the reference followers cannot answer at origin %d", j-1)
		}
		m, err := served.Forecaster.Forecast(context.Background(), s.Values[:j])
		if err != nil {
			t.Fatal(err)
		}
		sumA += math.Abs(pa[0].Value - s.Values[j])
		sumB += math.Abs(pb[0].Value - s.Values[j])
		sumModel += math.Abs(m.Points[0].Value - s.Values[j])
	}
	p.mu.Lock()
	r := p.ab.Result()
	p.mu.Unlock()
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-12*math.Max(1, math.Abs(y)) }
	if r.Control.N != n || r.Candidate.N != n || !near(r.Control.MAE, sumA/n) || !near(r.Candidate.MAE, sumB/n) {
		t.Fatalf("shadow test: control %d MAE %v, candidate %d MAE %v; the switches' %v and %v over %d",
			r.Control.N, r.Control.MAE, r.Candidate.N, r.Candidate.MAE, sumA/n, sumB/n, n)
	}
	if near(r.Control.MAE, sumModel/n) {
		t.Errorf("the control's MAE %v is the forecaster's alone", r.Control.MAE)
	}
}
