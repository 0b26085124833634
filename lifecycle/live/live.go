// Package live runs the continuous-learning loop on the wall clock with
// the HTTP service in front of it: what `perfpredict run` does, as a
// library (Runner).
//
// Data flow:
//
//	HistorySource.Last (a Prometheus query) --every CollectEvery--> Collector
//	  -> lifecycle.Pipeline: History, retrain on schedule or on an alert
//	     (forecast.Train with the pipeline's recipe), validate, promote
//	  -> each new sample: scored against the forecast made one step before
//	     (monitor.Health: accuracy, MAPE), fed to the drift window, the next
//	     step forecast (latency; with HTTP.Switch the service's answer for
//	     the collected series, its switch: what is scored is what is
//	     served, and the pipeline's own forecast only where the service
//	     cannot answer, so one switch follows the series), then the alert
//	     rules are evaluated; an
//	     alert's action (retrain_model, retrain_with_recent_data) goes to
//	     Pipeline.Act
//	  -> on every swap of the pipeline (its own promotion, or one from the
//	     command line) the HTTP handler loads the registry's Active version
//	     (httpapi.Handler.Sync: checked, smoke tested, swapped atomically)
//	     and the drift reference becomes that version's training data
//	  -> httpapi.Serve: /v1/forecast, /metrics (the monitor's figures and
//	     alerts, the served version) ... until the context ends
package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/monitor"
	"github.com/novacron/perfpredict/serve/httpapi"
)

// Config configures a Runner. Zero values take the defaults in brackets.
type Config struct {
	// Pipeline is the continuous-learning loop's configuration; its
	// Source is built from Series and Query when nil. Its OnEvent,
	// OnCollect and OnSwap callbacks are kept and called after the
	// runner's own.
	Pipeline lifecycle.Config
	// Series and Query: the series the pipeline collects (one column).
	Series httpapi.HistorySource
	Query  string
	// Backfill is how many points the first collection asks for [2016: a
	// week at five minutes]; later ones ask for those since the last.
	Backfill int
	// Rules are the alert rules evaluated after every new sample.
	Rules []monitor.Rule
	// Health configures the rolling figures [monitor.DefaultHealthConfig];
	// DriftWindow is the drift window in samples [288].
	Health      monitor.HealthConfig
	DriftWindow int
	// Listener, if set, serves the HTTP API (HTTP configures it; its
	// Monitor and ModelName are the runner's, its Now the pipeline's
	// clock unless set) until Run's context ends, then shuts down within
	// Grace [30s]. With HTTP.Switch and HTTP.Source, each sample is
	// scored against the handler's answer for Query, as served.
	Listener net.Listener
	HTTP     httpapi.Options
	Grace    time.Duration
	// Logf receives the pipeline's events, collections, alerts and the
	// service's reloads (nil: dropped).
	Logf func(format string, args ...any)
}

// Runner is the live loop: a Pipeline, a Monitor over what it serves and
// an HTTP Handler serving the registry's Active version.
type Runner struct {
	Pipeline *lifecycle.Pipeline
	Monitor  *monitor.Monitor
	Handler  *httpapi.Handler

	cfg   Config
	clock lifecycle.Clock

	mu       sync.Mutex
	ctx      context.Context // Run's, for forecasts made in callbacks
	pending  float64         // the forecast of the next sample
	pendFor  string          // version that made it ("" if none)
	pendTime time.Time       // time of the sample it was made after
}

// New builds the runner and its pipeline (which serves the registry's
// Active version at once if there is one).
func New(ctx context.Context, cfg Config) (*Runner, error) {
	r := &Runner{}
	pc := cfg.Pipeline
	if pc.Registry == nil || pc.Model == "" {
		return nil, errors.New("live: Config.Pipeline needs Registry and Model")
	}
	if pc.Clock == nil {
		pc.Clock = lifecycle.RealClock{}
	}
	if pc.CollectEvery <= 0 {
		pc.CollectEvery = 5 * time.Minute
	}
	if pc.Source == nil {
		if cfg.Series == nil || cfg.Query == "" {
			return nil, errors.New("live: give Config.Pipeline.Source, or Series and Query")
		}
		if cfg.Backfill <= 0 {
			cfg.Backfill = 2016
		}
		pc.Source = &Collector{Series: cfg.Series, Query: cfg.Query, Step: pc.CollectEvery, Backfill: cfg.Backfill,
			OnGap: func(err error) { r.logf("collect: skipped a gap: %v", err) }}
	}
	src := pc.Source
	pc.Source = lifecycle.SourceFunc(func(ctx context.Context, now time.Time) ([]lifecycle.Sample, error) {
		ss, err := src.Collect(ctx, now)
		if err == nil && len(ss) > 0 {
			r.logf("collected %d samples, %s to %s", len(ss), ss[0].Time.Format(time.RFC3339), ss[len(ss)-1].Time.Format(time.RFC3339))
		}
		return ss, err
	})
	if cfg.Health == (monitor.HealthConfig{}) {
		cfg.Health = monitor.DefaultHealthConfig()
	}
	if cfg.DriftWindow <= 0 {
		cfg.DriftWindow = 288
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 30 * time.Second
	}
	r.cfg, r.clock, r.ctx = cfg, pc.Clock, ctx
	r.Monitor = monitor.New(cfg.Health, nil, cfg.DriftWindow, cfg.Rules)
	for _, a := range []string{"retrain_model", "retrain_with_recent_data", "optimize_model"} {
		r.Monitor.Engine.OnAction(a, func(al monitor.Alert) {
			if r.Pipeline.Act(al.Rule.Action, "alert "+al.Rule.Name) {
				r.logf("alert %s: %s requested", al.Rule.Name, al.Rule.Action)
			}
		})
	}
	r.Monitor.Engine.OnAlert(func(al monitor.Alert) {
		r.logf("alert %s %s: %s, value %.4g [%s]", al.Rule.Name, al.State, al.Rule.Condition, al.Value, al.Rule.Severity)
	})

	hopt := cfg.HTTP
	hopt.Monitor, hopt.ModelName = r.Monitor, pc.Model
	if hopt.Now == nil {
		hopt.Now = pc.Clock.Now
	}
	if hopt.Logf == nil {
		hopt.Logf = cfg.Logf
	}
	h, err := httpapi.New(hopt)
	if err != nil {
		return nil, err
	}
	r.Handler = h
	h.UseRegistry(pc.Registry, pc.Model)

	onEvent, onCollect, onSwap := pc.OnEvent, pc.OnCollect, pc.OnSwap
	pc.OnEvent = func(e lifecycle.Event) {
		r.logf("%s", e)
		if onEvent != nil {
			onEvent(e)
		}
	}
	pc.OnCollect = func(s lifecycle.Sample) {
		r.observe(s)
		if onCollect != nil {
			onCollect(s)
		}
	}
	pc.OnSwap = func(s *lifecycle.Served) {
		r.swapped(s)
		if onSwap != nil {
			onSwap(s)
		}
	}
	// The pipeline may swap in its Active version inside New: the
	// handler and the drift reference must exist by then (they do).
	p, err := lifecycle.New(ctx, pc)
	if err != nil {
		h.Close()
		return nil, err
	}
	r.Pipeline = p
	r.cfg.Pipeline = pc
	if cur := p.Serving.Current(); cur != nil && h.Version() == "" {
		r.swapped(cur)
	}
	return r, nil
}

func (r *Runner) logf(format string, args ...any) {
	if r.cfg.Logf != nil {
		r.cfg.Logf(format, args...)
	}
}

// swapped follows a swap of the pipeline: the handler loads the Active
// version from the registry (its own copy: the pipeline keeps using its
// forecaster), and the drift reference becomes the samples the version
// was trained on.
func (r *Runner) swapped(s *lifecycle.Served) {
	if err := r.Handler.Sync(); err != nil {
		r.logf("http: %v", err)
	}
	if r.Pipeline == nil {
		return // inside New: the history is still empty (observe sets it)
	}
	r.setReference(s)
}

// setReference makes the samples s's version was trained on (those the
// history holds) the drift reference.
func (r *Runner) setReference(s *lifecycle.Served) {
	var rows [][]float64
	from, to := s.Version.Data.From, s.Version.Data.To
	for _, x := range r.Pipeline.History.Snapshot() {
		if (from.IsZero() || !x.Time.Before(from)) && (to.IsZero() || !x.Time.After(to)) {
			rows = append(rows, []float64{x.Values[r.cfg.Pipeline.Target]})
		}
	}
	if len(rows) < 2 {
		return
	}
	ref, err := monitor.NewReference([]string{"value"}, rows, 10)
	if err != nil {
		r.logf("drift reference for %s: %v", s.Version.Version, err)
		return
	}
	r.Monitor.SetDrift(monitor.NewDrift(ref, r.cfg.DriftWindow))
}

// observe scores sample s against the forecast made one step before it,
// feeds the drift window, forecasts the next step and evaluates the
// rules. Samples older than two collection intervals (a backfill) only
// feed the drift window: there is no forecast made before them to score.
func (r *Runner) observe(s lifecycle.Sample) {
	y := s.Values[r.cfg.Pipeline.Target]
	if d := r.Monitor.Drift(); d != nil {
		_ = d.Observe([]float64{y}) // one finite column: cannot fail
	}
	now := r.clock.Now()
	if now.Sub(s.Time) > 2*r.cfg.Pipeline.CollectEvery {
		return
	}
	if r.Monitor.Drift() == nil {
		// A restart: the version was swapped in before any history was
		// collected; the backfill holds its training data now.
		if cur := r.Pipeline.Serving.Current(); cur != nil {
			r.setReference(cur)
		}
	}
	r.mu.Lock()
	if r.pendFor != "" && s.Time.After(r.pendTime) {
		r.Monitor.Health.ObserveError(now, r.pending, y)
	}
	r.pendFor = ""
	ctx := r.ctx
	r.mu.Unlock()
	start := time.Now()
	// The service's answer first: where it answers, the pipeline's own
	// forecast (and, with Pipeline.Switch, its own switch, fitted on the
	// same series) is not needed, so one switch follows the series.
	var version string
	v, ok := 0.0, false
	if cur := r.Pipeline.Serving.Current(); cur != nil {
		version = cur.Version.Version.String()
		v, ok = r.served(ctx, version, s.Time)
	}
	if !ok {
		f, cur, err := r.Pipeline.Forecast(ctx)
		if err == nil {
			version, v, ok = cur.Version.Version.String(), f.Points[0].Value, true
			r.Monitor.Health.ObservePrediction(now, time.Since(start), false)
		}
	}
	if ok {
		r.mu.Lock()
		r.pending, r.pendFor, r.pendTime = v, version, s.Time
		r.mu.Unlock()
	}
	r.Monitor.Evaluate(now)
}

// served is, with Config.HTTP.Switch, the one-step forecast the service
// answers for the collected series (its switch; the handler records the
// prediction in the monitor), so that what is scored is what is served.
// ok is false without the switch, or when the service answers from
// another version or another origin than the sample at the pipeline
// (the pipeline's forecast is then scored: its switch with
// Pipeline.Switch, as `perfpredict run` sets it, the model's otherwise).
func (r *Runner) served(ctx context.Context, version string, origin time.Time) (v float64, ok bool) {
	if !r.cfg.HTTP.Switch || r.cfg.HTTP.Source == nil || r.Handler.Version() != version {
		return 0, false
	}
	ans, err := r.Handler.ForecastSeries(ctx, r.cfg.Query)
	if err != nil || ans.Version != version || !ans.Origin.Equal(origin) || len(ans.Predictions) != 1 || len(ans.Predictions[0]) == 0 {
		return 0, false
	}
	return ans.Predictions[0][0], true
}

// Run runs the pipeline and, with a Listener, the HTTP service until ctx
// ends; it then shuts the service down gracefully, waits for a running
// retrain and closes the handler. It returns the service's error if it
// failed, nil after a clean stop.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	defer r.Handler.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var serveErr error
	if r.cfg.Listener != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if serveErr = httpapi.Serve(ctx, r.cfg.Listener, r.Handler, r.cfg.Grace); serveErr != nil {
				cancel() // the service is gone: stop the loop too
			}
		}()
	}
	err := r.Pipeline.Run(ctx)
	cancel()
	wg.Wait()
	if serveErr != nil {
		return fmt.Errorf("live: http: %w", serveErr)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
