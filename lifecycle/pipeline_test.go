package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/forecast"
)

var t0 = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)

// step is the 5-minute step of t since t0.
func step(t time.Time) int { return int(t.Sub(t0) / (5 * time.Minute)) }

// signalSource yields one sample of f per call, f of the step since t0.
func signalSource(f func(int) float64) Source {
	return SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		return []Sample{{Time: now, Values: []float64{f(step(now))}}}, nil
	})
}

type eventLog struct {
	mu sync.Mutex
	ev []Event
}

func (l *eventLog) add(e Event) { l.mu.Lock(); l.ev = append(l.ev, e); l.mu.Unlock() }
func (l *eventLog) kinds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var k []string
	for _, e := range l.ev {
		k = append(k, e.Kind)
	}
	return k
}
func (l *eventLog) last(kind string) Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.ev) - 1; i >= 0; i-- {
		if l.ev[i].Kind == kind {
			return l.ev[i]
		}
	}
	return Event{}
}
func (l *eventLog) errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.ev {
		if e.Err != nil {
			out = append(out, e.String())
		}
	}
	return out
}

// newTestPipeline retrains with tinyOptions; the held-out span is the last
// 100 samples.
func newTestPipeline(t *testing.T, src Source, mod func(*Config)) (*Pipeline, *SimClock, *Registry, *eventLog) {
	t.Helper()
	clock := NewSimClock(t0)
	reg, err := Create(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg.SetClock(clock.Now)
	log := &eventLog{}
	opts := tinyOptions()
	cfg := Config{Model: "m", Registry: reg, Source: src, Train: &opts, Clock: clock,
		Holdout: 100 * 5 * time.Minute, MinHoldout: 50, MinTrain: 50, SyncTraining: true, OnEvent: log.add}
	if mod != nil {
		mod(&cfg)
	}
	p, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p, clock, reg, log
}

func runSteps(p *Pipeline, clock *SimClock, n int) {
	for i := 0; i < n; i++ {
		p.Step(context.Background())
		clock.Advance(5 * time.Minute)
	}
}

// TestPromotionRule: below threshold stays Candidate; above threshold but
// worse than Active stays Candidate; better or equal is promoted.
func TestPromotionRule(t *testing.T) {
	m := func(acc float64) *Metrics { return &Metrics{N: 100, Accuracy5: acc} }
	for _, c := range []struct {
		cand   float64
		active *Metrics
		ok     bool
		reason string
	}{
		{0.90, nil, false, "held-out accuracy5 0.9000 below threshold 0.95"},
		{0.97, nil, true, "held-out accuracy5 0.9700 >= threshold 0.95 (no Active version)"},
		{0.93, m(0.97), false, "held-out accuracy5 0.9300 below threshold 0.95 (Active v1.1.0: 0.9700)"},
		{0.96, m(0.97), false, "held-out accuracy5 0.9600 worse than Active v1.1.0's 0.9700"},
		{0.97, m(0.97), true, "held-out accuracy5 0.9700 >= threshold 0.95 and >= Active v1.1.0's 0.9700"},
		{0.99, m(0.97), true, "held-out accuracy5 0.9900 >= threshold 0.95 and >= Active v1.1.0's 0.9700"},
	} {
		ok, reason := promotionRule(*m(c.cand), c.active, "v1.1.0", 0.95)
		if ok != c.ok || reason != c.reason {
			t.Errorf("candidate %.2f, active %v: %v %q, want %v %q", c.cand, c.active, ok, reason, c.ok, c.reason)
		}
	}
}

// TestPipelineRetrainsWithRecipe runs four days: a smooth metric that turns
// choppy on day 3 at noon. Daily retrains go through forecast.Train with
// the configured recipe; the first two are promoted, the third (trained
// before the change, scored after it) fails the gate. Every version in the
// registry is a forecaster artifact with the recipe, its recorded figures
// are what the pipeline's rule decided on, the Active version's held-out
// figures are reproduced by its artifact opened from the registry, and the
// served forecaster forecasts as that artifact.
func TestPipelineRetrainsWithRecipe(t *testing.T) {
	change := 2*288 + 144
	sig := func(i int) float64 {
		if i >= change {
			return choppy(i)
		}
		return smooth(i)
	}
	p, clock, reg, log := newTestPipeline(t, signalSource(sig), nil)
	runSteps(p, clock, 3*288+1)
	if errs := log.errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	infos, err := reg.List("m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range infos {
		got = append(got, fmt.Sprintf("%s %s", in.Version, in.Status))
	}
	if strings.Join(got, ", ") != "v1.0.0 Deprecated, v1.1.0 Active, v1.2.0 Candidate" {
		t.Fatalf("versions: %v; events %v", got, log.kinds())
	}
	if r := infos[2].Reason; !strings.Contains(r, "below threshold 0.95 (Active v1.1.0: ") {
		t.Errorf("v1.2.0 reason %q", r)
	}
	want := tinyOptions()
	for _, in := range infos {
		if in.Recipe == nil || in.Recipe.Window != want.Window || in.Recipe.Horizon != want.Horizon || in.Members != want.Ensemble ||
			in.Extra["epochs"] != "20" || in.Checkpoint != artifactName {
			t.Errorf("%s: recipe %+v, %d members, extra %v", in.Version, in.Recipe, in.Members, in.Extra)
		}
		if in.Test.N != 100 || in.Validation.N == 0 {
			t.Errorf("%s: held-out n %d, validation n %d", in.Version, in.Test.N, in.Validation.N)
		}
		// The recorded decision is the rule's on the recorded figures.
		n := in.Notes[0]
		var active *Metrics
		if a, ok := n.Values["active_accuracy5"]; ok {
			active = &Metrics{Accuracy5: a}
		}
		ok, reason := promotionRule(Metrics{Accuracy5: n.Values["candidate_accuracy5"]}, active, in.Parent, 0.95)
		if reason != n.Text || ok != (n.Kind == "validated") {
			t.Errorf("%s: note %s %q; the rule says %v %q", in.Version, n.Kind, n.Text, ok, reason)
		}
	}
	// Scored equals served.
	fc, active, err := reg.LoadActive("m")
	if err != nil {
		t.Fatal(err)
	}
	all := p.History.Snapshot()
	y, _ := column(all, 0)
	from, to := -1, -1
	for i, s := range all {
		if s.Time.Format(time.RFC3339) == active.Extra["holdout_from"] {
			from = i
		}
		if s.Time.Format(time.RFC3339) == active.Extra["holdout_to"] {
			to = i
		}
	}
	if from < 0 || to < 0 {
		t.Fatalf("held-out span %s..%s not in the history", active.Extra["holdout_from"], active.Extra["holdout_to"])
	}
	rescored, err := score(context.Background(), fc, y[:to+1], from, 1)
	if err != nil {
		t.Fatal(err)
	}
	if rescored != active.Test {
		t.Errorf("%s recorded held-out %+v, its artifact scores %+v", active.Version, active.Test, rescored)
	}
	f, cur, err := p.Forecast(context.Background())
	if err != nil || cur.Version.Version != active.Version {
		t.Fatalf("forecast: %v, serving %v", err, cur)
	}
	g, _ := fc.Forecast(context.Background(), y)
	for k := range g.Points {
		if f.Points[k] != g.Points[k] {
			t.Fatalf("served %+v, artifact %+v at h=%d", f.Points[k], g.Points[k], k+1)
		}
	}
}

// TestPipelineForecast: nothing served is ErrNoActive; a history shorter
// than the forecaster needs is bad input; the target column is forecast.
func TestPipelineForecast(t *testing.T) {
	src := SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		i := step(now)
		return []Sample{{Time: now, Values: []float64{-1, smooth(i)}}}, nil
	})
	p, clock, reg, _ := newTestPipeline(t, src, func(c *Config) { c.Target = 1 })
	ctx := context.Background()
	if _, _, err := p.Forecast(ctx); !errors.Is(err, ErrNoActive) {
		t.Fatalf("before a version: %v", err)
	}
	fc := tinyForecaster(t, "smooth", 1)
	in, _ := reg.AddForecaster(Manifest{Model: "m"}, fc)
	reg.Promote("m", in.Version.String(), "")
	runSteps(p, clock, 3)
	if _, _, err := p.Forecast(ctx); !errors.Is(err, forecast.ErrBadInput) {
		t.Fatalf("3 samples: %v", err)
	}
	runSteps(p, clock, 40)
	f, cur, err := p.Forecast(ctx)
	if err != nil || cur.Version.Version != in.Version {
		t.Fatal(err)
	}
	want, _ := fc.Forecast(ctx, values(smooth, 0, 43))
	if f.Points[0] != want.Points[0] {
		t.Fatalf("forecast %+v, want %+v", f.Points[0], want.Points[0])
	}
}

// TestNewChecksConfig: a bad recipe or horizon is refused up front, naming
// the field.
func TestNewChecksConfig(t *testing.T) {
	reg, _ := Create(t.TempDir())
	bad := tinyOptions()
	bad.Hidden = 0
	if _, err := New(context.Background(), Config{Model: "m", Registry: reg, Source: signalSource(smooth), Train: &bad}); err == nil || !strings.Contains(err.Error(), "Hidden") {
		t.Errorf("hidden 0: %v", err)
	}
	opts := tinyOptions()
	if _, err := New(context.Background(), Config{Model: "m", Registry: reg, Source: signalSource(smooth), Train: &opts, Horizon: 5}); err == nil || !strings.Contains(err.Error(), "Horizon 5") {
		t.Errorf("horizon 5 of 4: %v", err)
	}
	p, err := New(context.Background(), Config{Model: "m", Registry: reg, Source: signalSource(smooth)})
	if err != nil {
		t.Fatal(err)
	}
	// The default is the shipped recipe.
	if def := forecast.DefaultOptions(); p.cfg.Train.Window != def.Window || p.cfg.Train.Horizon != def.Horizon || p.cfg.MinTrain != max(288, recipeMinTrain(def)) {
		t.Errorf("default recipe %+v, min train %d", *p.cfg.Train, p.cfg.MinTrain)
	}
	// Retrains wait for the data the recipe needs: two windows of 301
	// observations and 30 steps ahead in the part it trains on (its first
	// 85%: retraining has no test split, floor(0.70 n) + floor(0.15 n)).
	long := forecast.DefaultOptions()
	long.Window = 300
	p, err = New(context.Background(), Config{Model: "m", Registry: reg, Source: signalSource(smooth), Train: &long})
	if err != nil || p.cfg.MinTrain != 392 {
		t.Fatalf("min train %d for a 300-step window, %v", p.cfg.MinTrain, err)
	}
}

// TestSourceErrorsBackOff: a failing source is retried after 5, 10, 20, 40
// minutes then every hour; the served version keeps answering.
func TestSourceErrorsBackOff(t *testing.T) {
	var fail atomic.Bool
	var calls []time.Time
	src := SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		calls = append(calls, now)
		if fail.Load() {
			return nil, errors.New("connection refused")
		}
		return []Sample{{Time: now, Values: []float64{100}}}, nil
	})
	p, clock, reg, log := newTestPipeline(t, src, nil)
	in, _ := reg.Add(Manifest{Model: "m"}, writeArtifact(t, t.TempDir(), 1))
	reg.Promote("m", in.Version.String(), "")
	ctx := context.Background()
	fail.Store(true)
	h := values(smooth, 0, 40)
	for i := 0; i < 48; i++ { // 4 hours, one step per 5 minutes
		p.Step(ctx)
		if cur := p.Serving.Current(); cur == nil {
			t.Fatal("nothing served while the source fails")
		} else if _, err := cur.Forecaster.Forecast(ctx, h); err != nil {
			t.Fatal(err)
		}
		clock.Advance(5 * time.Minute)
	}
	var gaps []string
	for i := 1; i < len(calls); i++ {
		gaps = append(gaps, calls[i].Sub(calls[i-1]).String())
	}
	if got := strings.Join(gaps, " "); got != "5m0s 10m0s 20m0s 40m0s 1h0m0s 1h0m0s" {
		t.Fatalf("retry gaps %q", got)
	}
	if e := log.last("collect_error"); !strings.Contains(e.Err.Error(), "connection refused") || !strings.Contains(e.Text, "failure 7 in a row") {
		t.Fatalf("last error event %v", e)
	}
	fail.Store(false)
	for i := 0; i < 13; i++ {
		p.Step(ctx)
		clock.Advance(5 * time.Minute)
	}
	if log.last("source_recovered").Kind == "" || p.History.Len() == 0 {
		t.Fatalf("no recovery: %v", log.kinds())
	}
}

// TestSourceStall: a source that never answers is abandoned after
// CollectTimeout and reported; the step returns.
func TestSourceStall(t *testing.T) {
	release := make(chan struct{})
	src := SourceFunc(func(ctx context.Context, now time.Time) ([]Sample, error) {
		select { // ignores ctx on purpose, like a stuck driver
		case <-release:
		}
		return nil, nil
	})
	defer close(release)
	p, clock, _, log := newTestPipeline(t, src, func(c *Config) { c.CollectTimeout = 30 * time.Second })
	done := make(chan struct{})
	go func() { p.Step(context.Background()); close(done) }()
	clock.BlockUntilWaiters(1)
	clock.Advance(30 * time.Second)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Step still blocked on a stalled source")
	}
	if e := log.last("source_stalled"); e.Err == nil || !strings.Contains(e.Err.Error(), "no answer in 30s") {
		t.Fatalf("events %v", log.kinds())
	}
}

// TestServingNeverWaitsForTraining runs the pipeline's Run loop with
// training on its own goroutine held open by a gate (in forecast.Train's
// progress callback), while readers forecast through Serving; run with
// -race.
func TestServingNeverWaitsForTraining(t *testing.T) {
	gate := make(chan struct{})
	var once sync.Once
	started := make(chan struct{})
	p, clock, reg, log := newTestPipeline(t, signalSource(smooth), func(c *Config) {
		c.SyncTraining = false
		c.RetrainEvery = 13 * time.Hour
		c.Train.Progress = func(int, perfpredict.Progress) {
			once.Do(func() { close(started) })
			<-gate
		}
	})
	in, _ := reg.Add(Manifest{Model: "m"}, writeArtifact(t, t.TempDir(), 1))
	reg.Promote("m", in.Version.String(), "")
	if _, err := p.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan error)
	go func() { runDone <- p.Run(ctx) }()

	var stop atomic.Bool
	var reads atomic.Int64
	var wg sync.WaitGroup
	defer func() { stop.Store(true); wg.Wait() }()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := values(smooth, 0, 40)
			for !stop.Load() {
				cur := p.Serving.Current()
				if cur == nil {
					t.Error("nil served version")
					return
				}
				if _, err := cur.Forecaster.Forecast(context.Background(), h); err != nil {
					t.Error(err)
					return
				}
				reads.Add(1)
			}
		}()
	}
	// Drive 14 hours of simulated time: the 13h retrain starts and blocks.
	for i := 0; i < 14*12; i++ {
		clock.BlockUntilTimerAt(clock.Now().Add(5 * time.Minute)) // Run's sleep, not a collect timeout
		clock.Advance(5 * time.Minute)
	}
	<-started // the retrain is inside forecast.Train
	before := reads.Load()
	time.Sleep(20 * time.Millisecond)
	if reads.Load() == before {
		t.Fatal("readers stalled while training is in progress")
	}
	if v := p.Serving.Current().Version.Version.String(); v != "v1.0.0" {
		t.Fatalf("swapped to %s before training finished", v)
	}
	close(gate) // let the training finish
	p.Wait()
	if v := p.Serving.Current().Version.Version.String(); v != "v1.1.0" {
		t.Fatalf("serving %s after promotion; events %v", v, log.kinds())
	}
	stop.Store(true)
	wg.Wait()
	cancel()
	if err := <-runDone; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

// TestSyncFollowsRegistry: a roll back from outside (the command line) is
// picked up at the next step; a corrupt Active version is reported and
// not served.
func TestSyncFollowsRegistry(t *testing.T) {
	p, clock, reg, log := newTestPipeline(t, signalSource(smooth), nil)
	dir := t.TempDir()
	a, _ := reg.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 1))
	b, _ := reg.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 2))
	reg.Promote("m", a.Version.String(), "")
	ctx := context.Background()
	p.Step(ctx)
	reg.Promote("m", b.Version.String(), "")
	clock.Advance(5 * time.Minute)
	p.Step(ctx)
	if v := p.Serving.Current().Version.Version; v != b.Version {
		t.Fatalf("serving %s after promote", v)
	}
	if _, err := reg.Rollback("m", "", "bad"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5 * time.Minute)
	p.Step(ctx)
	if v := p.Serving.Current().Version.Version; v != a.Version {
		t.Fatalf("serving %s after rollback", v)
	}
	// Corrupt b's checkpoint, then make it Active behind the registry's back
	// is impossible; corrupt it after promoting instead.
	reg.Promote("m", b.Version.String(), "")
	flipByte(t, b.CheckpointPath)
	clock.Advance(5 * time.Minute)
	p.Step(ctx)
	if v := p.Serving.Current().Version.Version; v != a.Version {
		t.Fatalf("serving %s: a corrupt version was swapped in", v)
	}
	var ce *CorruptError
	if e := log.last("swap_error"); !errors.As(e.Err, &ce) {
		t.Fatalf("corrupt Active not reported: %v", log.kinds())
	}
}

// TestShadowBeforePromotion: with Config.Shadow, a candidate passing the
// held-out gate is promoted only after a shadow test on the collected
// samples: a candidate much better than the Active version (which was
// trained on a choppy metric) is promoted at the first decision point; the
// next one, trained alike, meets an Active version as good as itself and
// the test ends by its rule. Outcomes are recorded in the registry.
func TestShadowBeforePromotion(t *testing.T) {
	p, clock, reg, log := newTestPipeline(t, signalSource(smooth), func(c *Config) {
		c.Shadow = &ABConfig{MinSamples: 100, MaxSamples: 200}
	})
	bad, _ := reg.AddForecaster(Manifest{Model: "m"}, tinyForecaster(t, "choppy", 1))
	reg.Promote("m", bad.Version.String(), "")
	runSteps(p, clock, 3*288-1)
	var got []string
	log.mu.Lock()
	for _, e := range log.ev {
		switch e.Kind {
		case "promoted", "rejected", "ab_started", "ab_promoted", "ab_rejected":
			got = append(got, e.Time.Format("Jan 2 15:04")+" "+e.Kind+" "+e.Version)
		}
	}
	log.mu.Unlock()
	want := []string{
		"Feb 2 00:00 ab_started v1.1.0",
		"Feb 2 08:20 ab_promoted v1.1.0", // 100th scored sample (the first is 00:05)
		"Feb 3 00:00 ab_started v1.2.0",
	}
	if len(got) != 4 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") || !strings.HasPrefix(got[3], "Feb 3 ") ||
		!strings.HasSuffix(got[3], " v1.2.0") || !strings.Contains(got[3], " ab_") {
		t.Fatalf("events:\n%s\nwant:\n%s\nthen the end of v1.2.0's test", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if errs := log.errors(); len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	st := statuses(t, reg, "m")
	second := Candidate
	if strings.Contains(got[3], "ab_promoted") {
		second = Active
	}
	if st["v1.0.0"] != Deprecated || st["v1.1.0"] == Candidate || st["v1.2.0"] != second {
		t.Fatalf("statuses %v", st)
	}
	in, _ := reg.Get("m", "v1.1.0")
	var ab *Note
	for i := range in.Notes {
		if in.Notes[i].Kind == "ab_test" {
			ab = &in.Notes[i]
		}
	}
	if ab == nil || ab.Values["n"] != 100 || ab.Values["candidate_mae"] >= ab.Values["control_mae"] {
		t.Fatalf("v1.1.0 notes %+v", in.Notes)
	}
	if p.Shadowing() != "" || p.Serving.Current().Version.Status != Active {
		t.Fatalf("shadowing %q, serving %+v", p.Shadowing(), p.Serving.Current().Version)
	}
}

// TestWeeklySchedule: RetrainEvery Weekly retrains once a week.
func TestWeeklySchedule(t *testing.T) {
	p, clock, _, log := newTestPipeline(t, signalSource(smooth), func(c *Config) { c.RetrainEvery = Weekly })
	runSteps(p, clock, 15*288)
	var at []string
	log.mu.Lock()
	for _, e := range log.ev {
		if e.Kind == "retrain" {
			at = append(at, e.Time.Format("Jan 2"))
		}
	}
	log.mu.Unlock()
	if strings.Join(at, ",") != "Feb 8,Feb 15" {
		t.Fatalf("retrains on %v", at)
	}
}

// TestStartWithCorruptActive: a pipeline starting on a registry whose
// Active checkpoint is corrupt rolls back (recorded) to the last intact
// version instead of serving nothing.
func TestStartWithCorruptActive(t *testing.T) {
	dir := t.TempDir()
	reg, _ := Create(filepath.Join(dir, "reg"))
	a, _ := reg.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 1))
	b, _ := reg.Add(Manifest{Model: "m"}, writeArtifact(t, dir, 2))
	reg.Promote("m", a.Version.String(), "")
	reg.Promote("m", b.Version.String(), "")
	flipByte(t, b.CheckpointPath)
	log := &eventLog{}
	p, err := New(context.Background(), Config{Model: "m", Registry: reg, Source: signalSource(smooth), Clock: NewSimClock(t0), OnEvent: log.add})
	if err != nil {
		t.Fatal(err)
	}
	if cur := p.Serving.Current(); cur == nil || cur.Version.Version != a.Version {
		t.Fatalf("serving %+v; events %v", cur, log.kinds())
	}
	if e := log.last("rolled_back"); e.Version != "v1.0.0" || !strings.Contains(e.Text, "checksum") {
		t.Fatalf("event %+v", e)
	}
	in, _ := reg.List("m")
	if in[1].Status != Deprecated || !strings.Contains(in[1].Reason, "rolled back") {
		t.Fatalf("corrupt version %s %q", in[1].Status, in[1].Reason)
	}
}

// TestBadSamplesKeptOut: samples whose target is not finite or missing are
// reported and never enter the history, so retraining still succeeds.
func TestBadSamplesKeptOut(t *testing.T) {
	src := SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		i := step(now)
		switch {
		case i%50 == 7:
			return []Sample{{Time: now, Values: []float64{math.NaN()}}}, nil
		case i%50 == 9:
			return []Sample{{Time: now}}, nil
		}
		return []Sample{{Time: now, Values: []float64{smooth(i)}}}, nil
	})
	p, clock, reg, log := newTestPipeline(t, src, nil)
	runSteps(p, clock, 288+1)
	bad := 0
	for _, k := range log.kinds() {
		if k == "bad_sample" {
			bad++
		}
	}
	if bad != 12 || p.History.Len() != 289-12 {
		t.Fatalf("%d bad samples reported, %d kept", bad, p.History.Len())
	}
	if e := log.last("bad_sample"); !strings.Contains(e.Err.Error(), "no column 0") {
		t.Errorf("last bad sample: %v", e.Err)
	}
	if e := log.last("promoted"); e.Version != "v1.0.0" {
		t.Fatalf("no promotion: %v; errors %v", log.kinds(), log.errors())
	}
	if _, err := reg.Verify("m"); err != nil {
		t.Fatal(err)
	}
}
