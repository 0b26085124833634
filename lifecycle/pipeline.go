package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// Retraining schedules.
const (
	Daily  = 24 * time.Hour
	Weekly = 7 * 24 * time.Hour
)

// Config configures a Pipeline. Zero durations and numbers take the defaults
// in brackets.
type Config struct {
	Model    string // model name in the registry (required)
	Registry *Registry
	Source   Source
	// Train is the recipe retraining fits with forecast.Train
	// [forecast.DefaultOptions(): the recipe `perfpredict train` ships].
	// Smaller sizes or fewer epochs train faster on the same code path.
	// Retraining sets NoTestSplit: the held-out recent data is the test.
	Train *forecast.Options
	// Target is the sample column the model forecasts [0].
	Target int
	// Horizon is the step ahead that the held-out comparison scores [1]; at
	// most Train.Horizon. Shadow tests score each new sample one step
	// ahead.
	Horizon int
	// Switch serves the target with a forecast.Switch (train's `switch`
	// row: the served version's networks, a ridge autoregression of the
	// target, the version's switch trees or an average of them, whichever
	// erred less on it lately) instead of the forecaster alone: Forecast
	// answers its points, fitted for each served version on the history's
	// last serve.FollowerHistory samples at its first forecast and fed
	// the samples collected since (fitted again after a gap of more than
	// half of CollectEvery, and when the history has grown to twice the
	// samples it was fitted on). What decides a promotion then compares
	// what each version would serve: the held-out gate scores candidate
	// and Active version each as a switch fitted on up to as many samples
	// before the held-out span and fed through it, and a shadow test
	// compares their switches' one-step forecasts. Where the history is
	// too short for a switch, the forecaster serves and is scored.
	Switch bool
	Clock  Clock // [RealClock]

	CollectEvery   time.Duration // [5m]
	CollectTimeout time.Duration // a Collect taking longer is a stall [1m]
	BackoffMax     time.Duration // longest wait between failing collections [1h]
	RetrainEvery   time.Duration // scheduled retraining [Daily]; Weekly is the design's best practice
	HistoryLimit   int           // samples kept [30 days of CollectEvery]
	// Holdout is the most recent span kept out of training to compare the
	// candidate with the Active version [1 day]; MinHoldout the fewest
	// samples it must hold [12].
	Holdout    time.Duration
	MinHoldout int
	// MinTrain is the fewest training samples a retrain needs [288, and
	// never fewer than the recipe needs for two training windows].
	MinTrain int
	// RecentWindow is the training span of retrain_with_recent_data [3 days].
	RecentWindow time.Duration
	// Threshold is the held-out accuracy5 a candidate needs to be promoted [0.95].
	Threshold float64
	// AlertCooldown is the least time between retrains asked for by alerts [6h].
	AlertCooldown time.Duration
	// SyncTraining trains inside Step instead of on a goroutine (for
	// deterministic simulations); serving is never blocked either way.
	SyncTraining bool
	// GC, if set, runs after each retrain.
	GC *GCPolicy
	// Shadow, if set, puts a candidate that passes the held-out gate
	// through a shadow A/B test before promotion (the design's "A/B
	// testing before full deployment"): the Active version and the
	// candidate both forecast each newly collected sample from the history
	// before it, and the test's decision rule promotes or rejects the
	// candidate. Without an Active version a candidate is promoted
	// directly. Mode is forced to Shadow; Registry and Clock are the
	// pipeline's.
	Shadow *ABConfig

	// OnEvent receives every event (collection failures, retrains,
	// promotions, rejections, swaps). It must not block.
	OnEvent func(Event)
	// OnCollect receives each new sample after it enters the history (to
	// score forecasts and feed drift monitors). A sample whose target is
	// missing or not finite never enters it (a bad_sample event).
	OnCollect func(Sample)
	// OnSwap is called after a new version starts serving.
	OnSwap func(*Served)
}

// Event is something the pipeline did or suffered.
type Event struct {
	Time    time.Time
	Kind    string // collect_error, source_stalled, source_recovered, bad_sample, retrain, promoted, rejected, train_error, swap, swap_error, rolled_back, skipped, gc_error, ab_started, ab_promoted, ab_rejected, ab_error, optimize_requested, switch_fitted
	Version string
	Text    string
	Err     error
}

func (e Event) String() string {
	s := e.Time.Format("2006-01-02 15:04") + " " + e.Kind
	if e.Version != "" {
		s += " " + e.Version
	}
	if e.Text != "" {
		s += ": " + e.Text
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Pipeline is the continuous-learning loop for one model: collect, retrain,
// validate, promote, swap. Serving reads Serving.Current, which never waits
// for any of it.
type Pipeline struct {
	cfg     Config
	History *History
	Serving Serving

	mu          sync.Mutex
	nextCollect time.Time
	failures    int
	nextRetrain time.Time
	request     *retrainRequest
	// lastAlertTrain is when an alert last started a retrain, per mode
	// (0: all history, 1: recent data).
	lastAlertTrain [2]time.Time
	training       atomic.Bool
	wg             sync.WaitGroup
	stalled        atomic.Bool
	ab             *ABTest // running shadow test, under mu
	lastSwapErr    string  // touched by Step only
	// follow is the switch Forecast serves with Config.Switch; shadowFollow
	// the switch of a shadow test's candidate.
	follow, shadowFollow followState
}

type retrainRequest struct {
	reason     string
	recentOnly bool
}

// New checks cfg, fills defaults and serves the registry's Active version if
// there is one (a corrupt one is reported and not served).
func New(ctx context.Context, cfg Config) (*Pipeline, error) {
	if cfg.Model == "" || cfg.Registry == nil || cfg.Source == nil {
		return nil, errors.New("lifecycle: Config needs Model, Registry and Source")
	}
	opts := forecast.DefaultOptions()
	if cfg.Train != nil {
		opts = *cfg.Train
	}
	if err := opts.Check(); err != nil {
		return nil, fmt.Errorf("lifecycle: Config.Train: %w", err)
	}
	cfg.Train = &opts
	if cfg.Horizon <= 0 {
		cfg.Horizon = 1
	}
	if cfg.Horizon > opts.Horizon {
		return nil, fmt.Errorf("lifecycle: Config.Horizon %d: the recipe forecasts h = 1..%d", cfg.Horizon, opts.Horizon)
	}
	if cfg.Target < 0 {
		return nil, fmt.Errorf("lifecycle: Config.Target %d: must be a column index", cfg.Target)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.CollectEvery, 5*time.Minute)
	def(&cfg.CollectTimeout, time.Minute)
	def(&cfg.BackoffMax, time.Hour)
	def(&cfg.RetrainEvery, Daily)
	def(&cfg.Holdout, 24*time.Hour)
	def(&cfg.RecentWindow, 3*24*time.Hour)
	def(&cfg.AlertCooldown, 6*time.Hour)
	if cfg.HistoryLimit <= 0 {
		cfg.HistoryLimit = int(30 * 24 * time.Hour / cfg.CollectEvery)
	}
	if cfg.MinHoldout <= 0 {
		cfg.MinHoldout = 12
	}
	if cfg.MinTrain <= 0 {
		cfg.MinTrain = 288
	}
	cfg.MinTrain = max(cfg.MinTrain, recipeMinTrain(opts))
	if cfg.Threshold <= 0 {
		cfg.Threshold = 0.95
	}
	if cfg.Clock == nil {
		cfg.Clock = RealClock{}
	}
	p := &Pipeline{cfg: cfg, History: NewHistory(cfg.HistoryLimit)}
	now := cfg.Clock.Now()
	p.nextCollect = now
	p.nextRetrain = now.Add(cfg.RetrainEvery)
	if _, err := p.Sync(ctx); err != nil && !errors.Is(err, ErrNoActive) && !errors.Is(err, ErrNotFound) {
		p.emit(Event{Kind: "swap_error", Err: err})
	}
	return p, nil
}

// recipeMinTrain is the fewest samples whose training part (the first 85%
// with NoTestSplit, what retraining fits on) holds two windows of the
// recipe.
func recipeMinTrain(o forecast.Options) int {
	o.NoTestSplit = true
	need := forecast.Recipe{Window: o.Window, ScaleWindow: o.ScaleWindow}.Needs() + o.Horizon + 1
	n := need * 100 / 85
	for tr, _ := o.Split(n); tr < need; tr, _ = o.Split(n) {
		n++
	}
	return n
}

// Forecast forecasts the target column from the newest samples with the
// served version: what a caller of the pipeline serves. With Config.Switch
// its Points are the switch's wherever it can answer (Last, Unit and
// Attention stay the networks'). Before a version is served the error
// wraps ErrNoActive; with fewer samples than the forecaster needs,
// forecast.ErrBadInput.
func (p *Pipeline) Forecast(ctx context.Context) (forecast.Forecast, *Served, error) {
	cur := p.Serving.Current()
	if cur == nil {
		return forecast.Forecast{}, nil, fmt.Errorf("%w for model %q: nothing served yet", ErrNoActive, p.cfg.Model)
	}
	y, err := column(p.History.Tail(cur.Forecaster.Needs()), p.cfg.Target)
	if err != nil {
		return forecast.Forecast{}, cur, err
	}
	f, err := cur.Forecaster.Forecast(ctx, y)
	if err == nil && p.cfg.Switch {
		if pts, ok := p.follow.points(p, cur); ok {
			f.Points = pts
		}
	}
	return f, cur, err
}

func (p *Pipeline) emit(e Event) {
	if e.Time.IsZero() {
		e.Time = p.cfg.Clock.Now()
	}
	if p.cfg.OnEvent != nil {
		p.cfg.OnEvent(e)
	}
}

// Sync serves the registry's Active version if it is not already served
// (after a promotion here, or a promote or roll back from the command
// line). It reports whether it swapped. A corrupt Active version is not
// served: the error is returned and the current version keeps serving.
func (p *Pipeline) Sync(ctx context.Context) (bool, error) {
	cur := p.Serving.Current()
	if cur != nil {
		// Cheap check first: hashing a large checkpoint every step would not be.
		if v, err := p.cfg.Registry.ActiveVersion(p.cfg.Model); err == nil && v == cur.Version.Version.String() {
			return false, nil
		}
	}
	fc, info, err := p.cfg.Registry.LoadActive(p.cfg.Model)
	var ce *CorruptError
	if errors.As(err, &ce) && cur == nil {
		// Nothing is serving (a start-up) and the Active checkpoint is
		// corrupt: roll back, on the record, to the last intact version
		// rather than serve nothing.
		to, rerr := p.cfg.Registry.Rollback(p.cfg.Model, "", fmt.Sprintf("Active %s corrupt at start-up: %s", ce.Version, ce.Problem))
		if rerr != nil {
			return false, fmt.Errorf("%w; roll back: %v", err, rerr)
		}
		p.emit(Event{Kind: "rolled_back", Version: to, Text: "Active " + ce.Version + " is corrupt (" + ce.Problem + ")"})
		fc, info, err = p.cfg.Registry.LoadActive(p.cfg.Model)
	}
	if err != nil {
		return false, err
	}
	if cur != nil && cur.Version.Version == info.Version && cur.Version.CheckpointSHA == info.CheckpointSHA {
		fc.Close()
		return false, nil
	}
	// Serve where the recipe trains (an artifact opens on the CPU).
	if dev := p.cfg.Train.Device; dev != "" && dev != perfpredict.DeviceCPU {
		if err := fc.UseDevice(dev, p.cfg.Train.Logf); err != nil {
			return false, fmt.Errorf("lifecycle: %s %s: %w", info.Model, info.Version, err)
		}
	}
	s := &Served{Version: info, Forecaster: fc, Since: p.cfg.Clock.Now()}
	p.Serving.Swap(s)
	p.emit(Event{Kind: "swap", Version: info.Version.String(), Text: "now serving"})
	if p.cfg.OnSwap != nil {
		p.cfg.OnSwap(s)
	}
	return true, nil
}

// RequestRetrain asks for a retrain at the next step (an alert's action).
// recentOnly trains on RecentWindow only (retrain_with_recent_data).
// Requests closer than AlertCooldown to the last alert-driven retrain of the
// same mode are ignored (a retrain on all history that did not help does not
// hold back one on recent data); it reports whether the request was taken.
func (p *Pipeline) RequestRetrain(reason string, recentOnly bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Clock.Now()
	if last := p.lastAlertTrain[b2i(recentOnly)]; !last.IsZero() && now.Sub(last) < p.cfg.AlertCooldown {
		return false
	}
	if p.request == nil || recentOnly {
		p.request = &retrainRequest{reason: reason, recentOnly: recentOnly}
	}
	return true
}

// Act carries out an alert rule's action (monitor's action names):
// retrain_model asks for a retrain on all history, retrain_with_recent_data
// for one on RecentWindow, optimize_model is reported as an event for the
// operator (nothing here can make a model faster). It reports whether the
// action was taken; unknown actions and requests within AlertCooldown are
// not. Wire it as
//
//	for _, a := range []string{"retrain_model", "retrain_with_recent_data", "optimize_model"} {
//		engine.OnAction(a, func(al monitor.Alert) { p.Act(al.Rule.Action, "alert "+al.Rule.Name) })
//	}
func (p *Pipeline) Act(action, reason string) bool {
	switch action {
	case "retrain_model":
		return p.RequestRetrain(reason, false)
	case "retrain_with_recent_data":
		return p.RequestRetrain(reason, true)
	case "optimize_model":
		p.emit(Event{Kind: "optimize_requested", Text: reason})
		return true
	}
	return false
}

// Run steps the pipeline every CollectEvery (sooner after a failed
// collection's backoff) until ctx ends, then waits for a running retrain.
func (p *Pipeline) Run(ctx context.Context) error {
	defer p.wg.Wait()
	for {
		p.Step(ctx)
		p.mu.Lock()
		wait := p.nextCollect.Sub(p.cfg.Clock.Now())
		p.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.cfg.Clock.After(wait):
		}
	}
}

// Wait blocks until a retrain in flight has finished.
func (p *Pipeline) Wait() { p.wg.Wait() }

// Step does what is due at the clock's current time: collect (unless
// backing off), follow the registry's Active version, and start a retrain
// if the schedule or an alert asks for one and none is running.
func (p *Pipeline) Step(ctx context.Context) {
	now := p.cfg.Clock.Now()
	p.mu.Lock()
	due := !now.Before(p.nextCollect)
	p.mu.Unlock()
	if due {
		p.collect(ctx, now)
	}
	if _, err := p.Sync(ctx); err != nil && !errors.Is(err, ErrNoActive) && !errors.Is(err, ErrNotFound) {
		// Report a version that cannot be served once, not every step.
		if msg := err.Error(); msg != p.lastSwapErr {
			p.lastSwapErr = msg
			p.emit(Event{Kind: "swap_error", Err: err})
		}
	} else {
		p.lastSwapErr = ""
	}
	p.mu.Lock()
	var req *retrainRequest
	if p.request != nil {
		req = p.request
		p.request = nil
		p.lastAlertTrain[b2i(req.recentOnly)] = now
	} else if !now.Before(p.nextRetrain) {
		req = &retrainRequest{reason: "schedule"}
	}
	if req != nil {
		if p.training.Load() {
			if req.reason != "schedule" {
				p.request = req // keep it for when the running one ends
			}
			req = nil
		} else {
			p.nextRetrain = now.Add(p.cfg.RetrainEvery)
			p.training.Store(true)
		}
	}
	p.mu.Unlock()
	if req == nil {
		return
	}
	if p.cfg.SyncTraining {
		p.retrain(ctx, *req)
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.retrain(ctx, *req)
	}()
}

// collect calls the source with a timeout. A failure or a stall backs off
// exponentially (CollectEvery, 2x, 4x ... up to BackoffMax); serving is not
// affected.
func (p *Pipeline) collect(ctx context.Context, now time.Time) {
	type result struct {
		s   []Sample
		err error
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan result, 1)
	go func() {
		s, err := p.cfg.Source.Collect(cctx, now)
		ch <- result{s, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-p.cfg.Clock.After(p.cfg.CollectTimeout):
		res.err = fmt.Errorf("source stalled: no answer in %v", p.cfg.CollectTimeout)
		p.stalled.Store(true)
	case <-ctx.Done():
		return
	}
	p.mu.Lock()
	if res.err != nil {
		p.failures++
		backoff := p.cfg.CollectEvery << min(p.failures-1, 20)
		if backoff > p.cfg.BackoffMax || backoff <= 0 {
			backoff = p.cfg.BackoffMax
		}
		p.nextCollect = now.Add(backoff)
		n := p.failures
		p.mu.Unlock()
		kind := "collect_error"
		if p.stalled.Load() {
			kind = "source_stalled"
			p.stalled.Store(false)
		}
		p.emit(Event{Time: now, Kind: kind, Err: res.err, Text: fmt.Sprintf("failure %d in a row, next try in %v", n, backoff)})
		return
	}
	recovered := p.failures > 0
	p.failures = 0
	p.nextCollect = now.Add(p.cfg.CollectEvery)
	p.mu.Unlock()
	if recovered {
		p.emit(Event{Time: now, Kind: "source_recovered"})
	}
	for _, s := range res.s {
		// A sample without a finite target would poison every retrain
		// while it stays in the history: report it and keep it out.
		if _, err := column([]Sample{s}, p.cfg.Target); err != nil {
			p.emit(Event{Time: now, Kind: "bad_sample", Err: err})
			continue
		}
		ab, id := p.shadowPredict(ctx, s)
		if p.History.Append(s) != 1 {
			continue
		}
		if ab != nil {
			p.shadowObserve(ctx, ab, id, s)
		}
		if p.cfg.OnCollect != nil {
			p.cfg.OnCollect(s)
		}
	}
}

// shadowPredict lets a running shadow test forecast sample s from the
// history before it.
func (p *Pipeline) shadowPredict(ctx context.Context, s Sample) (*ABTest, uint64) {
	p.mu.Lock()
	ab := p.ab
	p.mu.Unlock()
	if ab == nil {
		return nil, 0
	}
	if last, ok := p.History.Last(); ok && !s.Time.After(last.Time) {
		return nil, 0
	}
	n := max(ab.control.Forecaster.Needs(), ab.candidate.Forecaster.Needs())
	y, err := column(p.History.Tail(n), p.cfg.Target)
	if err != nil {
		return nil, 0
	}
	// Each version answers as it would serve (its switch with
	// Config.Switch).
	pr, err := ab.predict(s.Time.String(), func(v *Served) (float64, error) {
		fs := &p.follow
		if v == ab.candidate {
			fs = &p.shadowFollow
		}
		return p.servedAt(ctx, fs, v, y, 1)
	})
	if err != nil {
		return nil, 0 // the control could not forecast (short history): not scored
	}
	return ab, pr.ID
}

// shadowObserve scores the shadow forecasts of s and ends the test when
// the decision rule has a verdict.
func (p *Pipeline) shadowObserve(ctx context.Context, ab *ABTest, id uint64, s Sample) {
	if p.cfg.Target >= len(s.Values) {
		return
	}
	if err := ab.Observe(id, s.Values[p.cfg.Target]); err != nil {
		return
	}
	if ab.Result().Decision == "continue" {
		return
	}
	p.mu.Lock()
	if p.ab != ab { // replaced meanwhile by a newer candidate
		p.mu.Unlock()
		return
	}
	p.ab = nil
	p.mu.Unlock()
	r, err := ab.Conclude(true)
	ver := ab.candidate.Version.Version.String()
	// A promoted candidate is served from the registry's copy (Sync).
	ab.candidate.Forecaster.Close()
	if err != nil {
		p.emit(Event{Time: s.Time, Kind: "ab_error", Version: ver, Err: err})
		return
	}
	kind := "ab_rejected"
	if r.Decision == "promote" {
		kind = "ab_promoted"
	}
	p.emit(Event{Time: s.Time, Kind: kind, Version: ver, Text: r.Reason})
	if r.Decision == "promote" {
		if _, err := p.Sync(ctx); err != nil {
			p.emit(Event{Time: s.Time, Kind: "swap_error", Version: ver, Err: err})
		}
	}
}

// retrain trains a candidate with the recipe, scores it and the served
// version on the same held-out recent data, registers it and promotes it
// only if it is good enough and not worse; otherwise it stays Candidate
// with the reason.
func (p *Pipeline) retrain(ctx context.Context, req retrainRequest) {
	defer p.training.Store(false)
	now := p.cfg.Clock.Now()
	fail := func(ver string, err error) { p.emit(Event{Time: now, Kind: "train_error", Version: ver, Err: err}) }
	all := p.History.Snapshot()
	if len(all) == 0 {
		p.emit(Event{Time: now, Kind: "skipped", Text: req.reason + ": no history yet"})
		return
	}
	cut := all[len(all)-1].Time.Add(-p.cfg.Holdout)
	split := len(all)
	for split > 0 && all[split-1].Time.After(cut) {
		split--
	}
	from := 0 // the first training sample
	if req.recentOnly {
		start := cut.Add(-p.cfg.RecentWindow)
		for from < split && !all[from].Time.After(start) {
			from++
		}
	}
	train, held := all[from:split], all[split:]
	if len(train) < p.cfg.MinTrain || len(held) < p.cfg.MinHoldout {
		p.emit(Event{Time: now, Kind: "skipped", Text: fmt.Sprintf("%s: %d training and %d held-out samples, need %d and %d",
			req.reason, len(train), len(held), p.cfg.MinTrain, p.cfg.MinHoldout)})
		return
	}
	mode := "all history"
	if req.recentOnly {
		mode = "recent data"
	}
	p.emit(Event{Time: now, Kind: "retrain", Text: fmt.Sprintf("%s, %s: train %s..%s (%d), held out %d",
		req.reason, mode, train[0].Time.Format("01-02 15:04"), train[len(train)-1].Time.Format("01-02 15:04"), len(train), len(held))})

	y, err := column(all, p.cfg.Target)
	if err != nil {
		fail("", err)
		return
	}
	times := make([]time.Time, len(train))
	for i, s := range train {
		times[i] = s.Time
	}
	series := baseline.Series{Name: p.cfg.Model, Times: times, Values: y[from:split]}
	opts := *p.cfg.Train
	// The held-out data above is the test: training uses all it is given,
	// its last 15% for early stopping and calibration.
	opts.NoTestSplit = true
	cand, err := forecast.Train(ctx, []baseline.Series{series}, opts)
	if err != nil {
		fail("", err)
		return
	}
	keep := false // whether a shadow test holds on to cand
	defer func() {
		if !keep {
			cand.Close()
		}
	}()
	h := p.cfg.Horizon
	// Validation: the part of the training data forecast.Train kept out of
	// fitting (it stopped early and calibrated on it).
	trainEnd, valEnd := opts.Split(len(series.Values))
	valM, _, err := p.score(ctx, cand, series.Values[:valEnd], trainEnd, h)
	if err != nil {
		fail("", fmt.Errorf("validate candidate: %w", err))
		return
	}
	// Test: candidate and served version forecast the same held-out
	// targets from the same history, each reading what it needs.
	candM, scored, err := p.score(ctx, cand, y, split, h)
	if err != nil {
		fail("", fmt.Errorf("evaluate candidate: %w", err))
		return
	}
	served := p.Serving.Current()
	var activeM *Metrics
	activeVer := ""
	if served != nil {
		activeVer = served.Version.Version.String()
		m, _, err := p.score(ctx, served.Forecaster, y, split, h)
		if err != nil {
			fail("", fmt.Errorf("evaluate active %s: %w", activeVer, err))
			return
		}
		activeM = &m
	}
	extra := map[string]string{"reason": req.reason, "training": mode, "horizon_scored": fmt.Sprint(h),
		"holdout_from": held[0].Time.Format(time.RFC3339), "holdout_to": held[len(held)-1].Time.Format(time.RFC3339),
		"hidden": fmt.Sprint(opts.Hidden), "layers": fmt.Sprint(opts.Layers), "epochs": fmt.Sprint(opts.Epochs),
		"ensemble": fmt.Sprint(opts.Ensemble), "scored": scored}
	for i, mi := range cand.Info().Members {
		extra[fmt.Sprintf("network%d", i+1)] = fmt.Sprintf("seed %d, best epoch %d of %d, validation loss %.6g", mi.Seed, mi.BestEpoch, mi.Epochs, mi.ValLoss)
	}
	info, err := p.cfg.Registry.AddForecaster(Manifest{
		Model: p.cfg.Model, Created: now, Data: TimeRange{From: train[0].Time, To: train[len(train)-1].Time},
		Validation: valM, Test: candM, Extra: extra,
	}, cand)
	if err != nil {
		fail("", fmt.Errorf("register: %w", err))
		return
	}
	ver := info.Version.String()
	ok, reason := promotionRule(candM, activeM, activeVer, p.cfg.Threshold)
	values := map[string]float64{"candidate_accuracy5": candM.Accuracy5, "candidate_mape": candM.MAPE, "candidate_mae": candM.MAE, "threshold": p.cfg.Threshold}
	if activeM != nil {
		values["active_accuracy5"] = activeM.Accuracy5
		values["active_mape"] = activeM.MAPE
		values["active_mae"] = activeM.MAE
	}
	if !ok {
		if err := p.cfg.Registry.Annotate(p.cfg.Model, ver, Note{Time: now, Kind: "rejected", Text: reason, Values: values}); err != nil {
			fail(ver, err)
		}
		p.emit(Event{Time: now, Kind: "rejected", Version: ver, Text: reason})
	} else {
		if err := p.cfg.Registry.Annotate(p.cfg.Model, ver, Note{Time: now, Kind: "validated", Text: reason, Values: values}); err != nil {
			fail(ver, err)
			return
		}
		if p.cfg.Shadow != nil && served != nil {
			keep = p.startShadow(now, served, &Served{Version: info, Forecaster: cand, Since: now}, reason)
		} else if err := p.cfg.Registry.Promote(p.cfg.Model, ver, reason); err != nil {
			fail(ver, fmt.Errorf("promote: %w", err))
			return
		} else {
			p.emit(Event{Time: now, Kind: "promoted", Version: ver, Text: reason})
			// What serves is opened from the registry: the stored bytes.
			if _, err := p.Sync(ctx); err != nil {
				p.emit(Event{Time: now, Kind: "swap_error", Version: ver, Err: err})
			}
		}
	}
	if p.cfg.GC != nil {
		if _, err := p.cfg.Registry.GC(*p.cfg.GC); err != nil {
			p.emit(Event{Time: now, Kind: "gc_error", Err: err})
		}
	}
}

// promotionRule is the held-out gate: the candidate's accuracy5 must reach
// threshold and be no worse than the Active version's (active nil: none).
// It returns the verdict and the reason recorded with it.
func promotionRule(cand Metrics, active *Metrics, activeVer string, threshold float64) (bool, string) {
	switch {
	case cand.Accuracy5 < threshold && active != nil:
		return false, fmt.Sprintf("held-out accuracy5 %.4f below threshold %.2f (Active %s: %.4f)", cand.Accuracy5, threshold, activeVer, active.Accuracy5)
	case cand.Accuracy5 < threshold:
		return false, fmt.Sprintf("held-out accuracy5 %.4f below threshold %.2f", cand.Accuracy5, threshold)
	case active != nil && cand.Accuracy5 < active.Accuracy5:
		return false, fmt.Sprintf("held-out accuracy5 %.4f worse than Active %s's %.4f", cand.Accuracy5, activeVer, active.Accuracy5)
	case active != nil:
		return true, fmt.Sprintf("held-out accuracy5 %.4f >= threshold %.2f and >= Active %s's %.4f", cand.Accuracy5, threshold, activeVer, active.Accuracy5)
	default:
		return true, fmt.Sprintf("held-out accuracy5 %.4f >= threshold %.2f (no Active version)", cand.Accuracy5, threshold)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// startShadow begins a shadow test of cand against the served version,
// replacing (and recording as superseded) one still running. It reports
// whether the test started (and so holds cand).
func (p *Pipeline) startShadow(now time.Time, served, cand *Served, reason string) bool {
	cfg := *p.cfg.Shadow
	cfg.Mode, cfg.Registry, cfg.Clock = Shadow, p.cfg.Registry, p.cfg.Clock
	ab, err := NewABTest(cfg, served, cand)
	ver := cand.Version.Version.String()
	if err != nil {
		p.emit(Event{Time: now, Kind: "ab_error", Version: ver, Err: err})
		return false
	}
	p.mu.Lock()
	old := p.ab
	p.ab = ab
	p.mu.Unlock()
	if old != nil {
		old.candidate.Forecaster.Close()
		ov := old.candidate.Version.Version.String()
		text := "shadow test superseded by " + ver
		p.cfg.Registry.Annotate(p.cfg.Model, ov, Note{Time: now, Kind: "rejected", Text: text})
		p.emit(Event{Time: now, Kind: "ab_rejected", Version: ov, Text: text})
	}
	p.emit(Event{Time: now, Kind: "ab_started", Version: ver, Text: reason + "; shadow test against " + served.Version.Version.String()})
	return true
}

// Shadowing names the candidate in a running shadow test ("" if none).
func (p *Pipeline) Shadowing() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ab == nil {
		return ""
	}
	return p.ab.candidate.Version.Version.String()
}
