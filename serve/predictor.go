package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	perfpredict "github.com/novacron/perfpredict"
)

// Source says who answered a prediction.
type Source uint8

// Sources of a Prediction.
const (
	SourceModel Source = iota + 1
	SourceFallback
	SourceEnsemble
)

func (s Source) String() string {
	switch s {
	case SourceModel:
		return "model"
	case SourceFallback:
		return "fallback"
	case SourceEnsemble:
		return "ensemble"
	}
	return "unknown"
}

// MarshalText writes the source's name (JSON strings).
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (s *Source) UnmarshalText(b []byte) error {
	for c := SourceModel; c <= SourceEnsemble; c++ {
		if c.String() == string(b) {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("serve: unknown source %q", b)
}

// Reason says why the fallback answered.
type Reason uint8

// Reasons for a fallback answer.
const (
	ReasonNone      Reason = iota
	ReasonNoModel          // the Predictor has no model
	ReasonBadInput         // the window failed validation and FallbackOnBadInput is set
	ReasonError            // the model returned an error
	ReasonPanic            // the model panicked (recovered)
	ReasonNonFinite        // the model returned NaN or an infinity
	ReasonDeadline         // the model missed the per-call deadline
)

func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return ""
	case ReasonNoModel:
		return "no model"
	case ReasonBadInput:
		return "bad input"
	case ReasonError:
		return "model error"
	case ReasonPanic:
		return "model panicked"
	case ReasonNonFinite:
		return "model returned a non-finite value"
	case ReasonDeadline:
		return "model missed the deadline"
	}
	return "unknown"
}

// MarshalText writes the reason (JSON strings).
func (r Reason) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (r *Reason) UnmarshalText(b []byte) error {
	for c := ReasonNone; c <= ReasonDeadline; c++ {
		if c.String() == string(b) {
			*r = c
			return nil
		}
	}
	return fmt.Errorf("serve: unknown reason %q", b)
}

// Window is one input of Predict.
type Window struct {
	// X holds T rows of F scaled features, row-major, in the model's
	// feature order (see Featurizer).
	X []float32
	// Features names X's columns; when set it is checked by name against
	// the checkpoint (nil skips the check).
	Features []string
	// Last is the last observed value of each predicted metric in original
	// units: the base the model's predicted changes are added to (needed
	// when Spec.Delta).
	Last []float64
	// History holds recent values of each predicted metric, oldest first, in
	// original units: what the fallback forecasts from (without it the
	// fallback starts from Last).
	History [][]float64
	// Phase is the row index of the window's last row in the numbering of
	// the history the fallback was fitted on (seasonal fallbacks read it
	// modulo their period).
	Phase int
}

// Prediction is one answer of Predict.
type Prediction struct {
	// Values are the forecasts in original units, metric major:
	// Values[m*Horizon + h-1] is Metrics[m] at h steps after the window.
	Values []float64 `json:"values"`
	// Attention is the model's weight per time step [T] (nil from the
	// fallback).
	Attention []float32 `json:"attention,omitempty"`
	Metrics   []string  `json:"metrics"`
	Horizon   int       `json:"horizon"`
	// Version identifies the model (a digest of its checkpoint unless
	// Options.Version names it).
	Version string `json:"version"`
	Source  Source `json:"source"`
	// Method is "model", the fallback's name, or the ensemble's rule.
	Method string `json:"method"`
	// Reason says why the fallback answered (ReasonNone otherwise).
	Reason Reason `json:"reason,omitempty"`

	buf *outBuf
}

// At is metric m's forecast h >= 1 steps ahead.
func (p *Prediction) At(m, h int) float64 { return p.Values[m*p.Horizon+h-1] }

// Release hands the buffers of a Prediction returned by Predict back to the
// Predictor for reuse (optional; without it they are garbage collected). The
// Prediction must not be used afterwards.
func (p *Prediction) Release() {
	if p.buf != nil && p.buf.pool != nil {
		b := p.buf
		b.values, b.att = p.Values[:0], p.Attention[:0]
		p.buf, p.Values, p.Attention = nil, nil, nil
		b.pool.Put(b)
	}
}

type outBuf struct {
	values []float64
	att    []float32
	pool   *sync.Pool
}

// Options configure a Predictor. The zero value serves the model alone,
// without fallback, deadline or micro-batching.
type Options struct {
	// Version names the model in predictions (default: "sha256:" and the
	// first 12 hex digits of the checkpoint's digest).
	Version string
	// Fallback answers when the model cannot (nil: the error is returned).
	Fallback Fallback
	// Timeout is the per-call deadline of the model (0: only ctx's). Past
	// it the call answers from the fallback (or fails with
	// context.DeadlineExceeded) while the model finishes in the background.
	Timeout time.Duration
	// FallbackOnBadInput answers invalid windows (NaN features, wrong
	// shape or names) from the fallback instead of failing.
	FallbackOnBadInput bool
	// BatchDelay enables micro-batching: a worker that received a call
	// waits this long (e.g. 200us) for more, up to MaxBatch, before running
	// them as one batch. Without it calls that are already queued are
	// batched, each worker taking its even share of them.
	BatchDelay time.Duration
	// MaxBatch bounds a batch (default 64).
	MaxBatch int
	// Workers is the number of goroutines running the model (default
	// GOMAXPROCS).
	Workers int
	// Parallel lets each forward pass use several cores (lower latency for
	// a lone caller; a few allocations per call). By default the model runs
	// serially within each worker and the workers provide the parallelism.
	Parallel bool
	// OnFallback, if set, is called (synchronously) with the reason and the
	// underlying error whenever the fallback answers.
	OnFallback func(Reason, error)
}

// ErrClosed is returned by a closed Predictor.
var ErrClosed = errors.New("serve: predictor closed")

// Network is what a Predictor runs; *perfpredict.Model implements it. It
// must be safe for concurrent use.
type Network interface {
	// PredictInto writes predictions [batch, K] in scaled units and
	// attention weights [batch, steps] for x [batch, steps, F].
	PredictInto(pred, weights, x []float32, batch, steps int) error
}

// Predictor serves a model to many goroutines. Calls are queued (oldest
// first) to a fixed set of workers, each with its own batch buffers; a
// worker runs its even share of the calls waiting in the queue (up to
// MaxBatch) as one forward pass, so concurrent callers are batched without
// any delay while a backlog is spread over all workers, and, with
// BatchDelay, also across a short wait. Steady-state calls allocate nothing.
type Predictor struct {
	model   Network
	spec    Spec
	opt     Options
	version string
	method  string // fallback's name

	queue chan *request
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once

	reqs sync.Pool // *request
	outs sync.Pool // *outBuf
}

// request is one queued call; the worker and the caller hand it over
// through state.
type request struct {
	x, pred []float32
	att     []float32
	err     error
	reason  Reason
	state   atomic.Int32
	done    chan struct{}
	timer   *time.Timer
}

const (
	statePending int32 = iota
	stateDone
	stateAbandoned
)

// New serves m with the Spec read from its metadata (ParseSpec). New takes
// ownership of m: it sets m.Serial (see Options.Parallel), and m must not
// change while served.
func New(m *perfpredict.Model, opt Options) (*Predictor, error) {
	if m == nil {
		return nil, errors.New("serve: New needs a model; use NewWithSpec for a fallback-only predictor")
	}
	sp, err := ParseSpec(m)
	if err != nil {
		return nil, err
	}
	return newModelPredictor(m, sp, opt)
}

// newModelPredictor serves m under sp: sets m.Serial and the version.
func newModelPredictor(m *perfpredict.Model, sp Spec, opt Options) (*Predictor, error) {
	m.Serial = !opt.Parallel
	if opt.Version == "" {
		v, err := ModelVersion(m)
		if err != nil {
			return nil, err
		}
		opt.Version = v
	}
	return NewWithSpec(m, sp, opt)
}

// ModelVersion is "sha256:" and the first 12 hex digits of the digest of
// m's checkpoint bytes.
func ModelVersion(m *perfpredict.Model) (string, error) {
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		return "", err
	}
	sum := sha256.Sum256(b.Bytes())
	return "sha256:" + hex.EncodeToString(sum[:6]), nil
}

// NewWithSpec serves any Network described by sp. net may be nil when a
// Fallback is given: every call then answers from it.
func NewWithSpec(net Network, sp Spec, opt Options) (*Predictor, error) {
	if len(sp.Metrics) == 0 || sp.Horizon < 1 || sp.Steps < 1 {
		return nil, fmt.Errorf("serve: spec needs metrics, a horizon and steps, got %d metrics, horizon %d, steps %d", len(sp.Metrics), sp.Horizon, sp.Steps)
	}
	if sp.Inputs < 1 {
		sp.Inputs = len(sp.Features)
	}
	if sp.Inputs < 1 || (sp.Features != nil && len(sp.Features) != sp.Inputs) {
		return nil, fmt.Errorf("serve: spec has %d inputs and names %d features", sp.Inputs, len(sp.Features))
	}
	if sp.Scaler != nil && (len(sp.Scaler.Mean) != sp.Outputs() || len(sp.Scaler.Std) != sp.Outputs()) {
		return nil, fmt.Errorf("serve: target scaler has %d means and %d deviations for %d outputs", len(sp.Scaler.Mean), len(sp.Scaler.Std), sp.Outputs())
	}
	if sp.Delta && sp.Scaler == nil {
		return nil, errors.New("serve: a spec of changes (Delta) needs the target scaler")
	}
	if net == nil && opt.Fallback == nil {
		return nil, errors.New("serve: no model and no fallback")
	}
	m := net
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 64
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	p := &Predictor{model: m, spec: sp, opt: opt, version: opt.Version, quit: make(chan struct{})}
	if opt.Fallback != nil {
		p.method = opt.Fallback.Name()
	}
	if p.version == "" {
		p.version = "unversioned"
	}
	f := p.features()
	p.reqs.New = func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return &request{x: make([]float32, sp.Steps*f), pred: make([]float32, sp.Outputs()),
			att: make([]float32, sp.Steps), done: make(chan struct{}, 1), timer: t}
	}
	p.outs.New = func() any {
		return &outBuf{values: make([]float64, 0, sp.Outputs()), att: make([]float32, 0, sp.Steps), pool: &p.outs}
	}
	if m != nil {
		p.queue = make(chan *request, opt.MaxBatch*opt.Workers)
		for range opt.Workers {
			w := &worker{
				x:     make([]float32, opt.MaxBatch*sp.Steps*f),
				pred:  make([]float32, opt.MaxBatch*sp.Outputs()),
				att:   make([]float32, opt.MaxBatch*sp.Steps),
				batch: make([]*request, 0, opt.MaxBatch),
				timer: time.NewTimer(time.Hour),
			}
			w.timer.Stop()
			p.wg.Add(1)
			go p.work(w)
		}
	}
	return p, nil
}

// features is F.
func (p *Predictor) features() int { return p.spec.Inputs }

// Spec is what the served model reads and predicts.
func (p *Predictor) Spec() Spec { return p.spec }

// Version is the served model's version.
func (p *Predictor) Version() string { return p.version }

// Network is the served model (nil for a fallback-only predictor).
func (p *Predictor) Network() Network { return p.model }

// Close stops the workers; calls made afterwards fail with ErrClosed (or
// answer from the fallback). It waits for running forward passes.
func (p *Predictor) Close() {
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
}

// worker owns one batch's buffers.
type worker struct {
	x, pred, att []float32
	batch        []*request
	timer        *time.Timer
}

func (p *Predictor) work(w *worker) {
	defer p.wg.Done()
	for {
		var r *request
		select {
		case r = <-p.queue:
		case <-p.quit:
			return
		}
		batch := append(w.batch[:0], r)
		limit := p.share()
	drain:
		for len(batch) < limit {
			select {
			case r := <-p.queue:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if p.opt.BatchDelay > 0 && len(batch) < p.opt.MaxBatch {
			w.timer.Reset(p.opt.BatchDelay)
		wait:
			for len(batch) < p.opt.MaxBatch {
				select {
				case r := <-p.queue:
					batch = append(batch, r)
				case <-w.timer.C:
					break wait
				}
			}
			w.timer.Stop()
		}
		p.runBatch(w, batch)
		clear(batch)
		// Let the callers just answered (and any whose timers fired) run
		// before the next batch: with every P busy in a forward pass they
		// would otherwise wait for this worker to block or for the
		// scheduler's 10ms preemption, which is the latency tail.
		runtime.Gosched()
	}
}

// share is how many queued calls a worker takes at once without a
// BatchDelay: its even share of the backlog (the call it holds included),
// so that under a burst every worker runs part of it at once instead of
// one worker running all of it serially while the others idle. The
// model's cost per window falls little past a batch of two, so smaller
// batches lose next to no throughput and cut the tail.
func (p *Predictor) share() int {
	n := len(p.queue) + 1
	k := (n + p.opt.Workers - 1) / p.opt.Workers
	if n > 1 {
		k = max(k, 2)
	}
	return min(k, p.opt.MaxBatch)
}

// runBatch runs one forward pass over batch and completes every request.
func (p *Predictor) runBatch(w *worker, batch []*request) {
	n, T, F, K := len(batch), p.spec.Steps, p.features(), p.spec.Outputs()
	for i, r := range batch {
		copy(w.x[i*T*F:(i+1)*T*F], r.x)
	}
	err, panicked := p.forward(w, n)
	for i, r := range batch {
		r.err, r.reason = nil, ReasonNone
		switch {
		case panicked:
			r.err, r.reason = err, ReasonPanic
		case err != nil:
			r.err, r.reason = err, ReasonError
		default:
			copy(r.pred, w.pred[i*K:(i+1)*K])
			copy(r.att, w.att[i*T:(i+1)*T])
		}
		if r.state.CompareAndSwap(statePending, stateDone) {
			r.done <- struct{}{}
		} else {
			p.reqs.Put(r) // the caller gave up on it
		}
	}
}

// forward runs the model, turning a panic into an error.
func (p *Predictor) forward(w *worker, n int) (err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			err, panicked = fmt.Errorf("serve: model panicked: %v", v), true
		}
	}()
	T, F, K := p.spec.Steps, p.features(), p.spec.Outputs()
	return p.model.PredictInto(w.pred[:n*K], w.att[:n*T], w.x[:n*T*F], n, T), false
}

// Predict forecasts from one window. The returned Prediction's slices come
// from a pool: call Release when done with it to make steady-state calls
// allocation-free. Model failures (missing model, error, panic, NaN, missed
// deadline) answer from the fallback when one is configured, with Source
// SourceFallback and the Reason; bad input is an error unless
// FallbackOnBadInput. A cancelled ctx returns its error.
func (p *Predictor) Predict(ctx context.Context, w Window) (Prediction, error) {
	b := p.outs.Get().(*outBuf)
	out := Prediction{Values: b.values[:0], Attention: b.att[:0], buf: b}
	err := p.PredictInto(ctx, &w, &out)
	return out, err
}

// PredictInto is Predict writing into dst, reusing its slices' capacity.
func (p *Predictor) PredictInto(ctx context.Context, w *Window, dst *Prediction) error {
	if p.model == nil { // the fallback reads History only
		return p.fallback(w, dst, ReasonNoModel, errors.New("serve: no model"))
	}
	if err := p.check(w); err != nil {
		if p.opt.FallbackOnBadInput && p.opt.Fallback != nil {
			return p.fallback(w, dst, ReasonBadInput, err)
		}
		return err
	}
	var tc <-chan time.Time
	r := p.reqs.Get().(*request)
	if p.opt.Timeout > 0 {
		r.timer.Reset(p.opt.Timeout)
		tc = r.timer.C
	}
	if err := p.submit(ctx, r, w, tc); err != nil {
		r.timer.Stop()
		p.reqs.Put(r)
		return p.failed(ctx, w, dst, err)
	}
	err := p.await(ctx, r, tc)
	if err != nil {
		return p.failed(ctx, w, dst, err) // r belongs to the worker now
	}
	r.timer.Stop()
	err = p.finish(r, w, dst)
	p.reqs.Put(r)
	return err
}

// PredictBatch forecasts every window of ws into dst (len(dst) >=
// len(ws)), queueing them together so they share forward passes. Errors of
// single windows are joined; the other predictions are still made.
func (p *Predictor) PredictBatch(ctx context.Context, ws []Window, dst []Prediction) error {
	if len(dst) < len(ws) {
		return fmt.Errorf("serve: PredictBatch: %d predictions for %d windows", len(dst), len(ws))
	}
	if p.model == nil {
		var errs []error
		for i := range ws {
			if err := p.PredictInto(ctx, &ws[i], &dst[i]); err != nil {
				errs = append(errs, fmt.Errorf("window %d: %w", i, err))
			}
		}
		return errors.Join(errs...)
	}
	reqs := make([]*request, len(ws))
	errs := make([]error, len(ws))
	var tc <-chan time.Time
	var timer *time.Timer
	if p.opt.Timeout > 0 {
		timer = time.NewTimer(p.opt.Timeout)
		defer timer.Stop()
		tc = timer.C
	}
	for i := range ws {
		if err := p.check(&ws[i]); err != nil {
			errs[i] = err
			continue
		}
		r := p.reqs.Get().(*request)
		if err := p.submit(ctx, r, &ws[i], tc); err != nil {
			p.reqs.Put(r)
			errs[i] = err
			continue
		}
		reqs[i] = r
	}
	var all []error
	for i := range ws {
		err := errs[i]
		if r := reqs[i]; r != nil {
			if err = p.await(ctx, r, tc); err == nil {
				err = p.finish(r, &ws[i], &dst[i])
				p.reqs.Put(r)
			} else {
				err = p.failed(ctx, &ws[i], &dst[i], err)
			}
		} else if err != nil {
			var rerr error
			if isBadInput(err) {
				if p.opt.FallbackOnBadInput && p.opt.Fallback != nil {
					rerr = p.fallback(&ws[i], &dst[i], ReasonBadInput, err)
				} else {
					rerr = err
				}
			} else {
				rerr = p.failed(ctx, &ws[i], &dst[i], err)
			}
			err = rerr
		}
		if err != nil {
			all = append(all, fmt.Errorf("window %d: %w", i, err))
		}
	}
	return errors.Join(all...)
}

// submit copies the window into r and queues it.
func (p *Predictor) submit(ctx context.Context, r *request, w *Window, tc <-chan time.Time) error {
	copy(r.x, w.X)
	r.state.Store(statePending)
	select {
	case p.queue <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-tc:
		return errDeadline
	case <-p.quit:
		return ErrClosed
	}
}

var errDeadline = fmt.Errorf("serve: model missed the per-call deadline: %w", context.DeadlineExceeded)

// await waits for r; when the caller gives up, the worker recycles r.
func (p *Predictor) await(ctx context.Context, r *request, tc <-chan time.Time) error {
	var err error
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-tc:
		err = errDeadline
	case <-p.quit:
		err = ErrClosed
	}
	// Stop r's timer while r is still ours: once abandoned, the worker
	// recycles r and another call may arm the same timer.
	r.timer.Stop()
	if !r.state.CompareAndSwap(statePending, stateAbandoned) {
		<-r.done // finished meanwhile: use the answer
		return nil
	}
	return err
}

// failed maps a call that got no model answer to the fallback or an error.
func (p *Predictor) failed(ctx context.Context, w *Window, dst *Prediction, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err // the caller cancelled: no answer wanted
	}
	reason := ReasonDeadline
	if errors.Is(err, ErrClosed) {
		reason = ReasonNoModel
	}
	if p.opt.Fallback == nil {
		return err
	}
	return p.fallback(w, dst, reason, err)
}

// finish converts a completed request into dst.
func (p *Predictor) finish(r *request, w *Window, dst *Prediction) error {
	if r.err != nil {
		if p.opt.Fallback == nil {
			return r.err
		}
		return p.fallback(w, dst, r.reason, r.err)
	}
	K, H, T := p.spec.Outputs(), p.spec.Horizon, p.spec.Steps
	vals := growF64(dst.Values, K)
	sc := p.spec.Scaler
	for k := range K {
		v := float64(r.pred[k])
		if sc != nil {
			v = v*sc.Std[k] + sc.Mean[k]
		}
		if p.spec.Delta {
			v += w.Last[k/H]
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			dst.Values = vals
			if p.opt.Fallback == nil {
				return fmt.Errorf("serve: model output %d (%s at step %d) is %v", k, p.spec.Metrics[k/H], k%H+1, v)
			}
			return p.fallback(w, dst, ReasonNonFinite, errNonFinite)
		}
		vals[k] = v
	}
	att := dst.Attention
	if cap(att) < T {
		att = make([]float32, T)
	}
	att = att[:T]
	copy(att, r.att)
	dst.Values, dst.Attention = vals, att
	dst.Metrics, dst.Horizon, dst.Version = p.spec.Metrics, H, p.version
	dst.Source, dst.Method, dst.Reason = SourceModel, "model", ReasonNone
	return nil
}

var errNonFinite = errors.New("serve: model returned a non-finite value")

// fallback answers from the fallback forecaster.
func (p *Predictor) fallback(w *Window, dst *Prediction, reason Reason, cause error) error {
	fb := p.opt.Fallback
	if fb == nil {
		return cause
	}
	if p.opt.OnFallback != nil {
		p.opt.OnFallback(reason, cause)
	}
	H := p.spec.Horizon
	vals := growF64(dst.Values, p.spec.Outputs())
	for m := range p.spec.Metrics {
		var hist []float64
		if m < len(w.History) {
			hist = w.History[m]
		}
		if len(hist) == 0 && m < len(w.Last) {
			hist = w.Last[m : m+1]
		}
		if err := fb.Forecast(m, hist, w.Phase, vals[m*H:(m+1)*H]); err != nil {
			return fmt.Errorf("serve: %v, and the %s fallback failed for %s: %w", cause, fb.Name(), p.spec.Metrics[m], err)
		}
	}
	dst.Values, dst.Attention = vals, dst.Attention[:0]
	dst.Metrics, dst.Horizon, dst.Version = p.spec.Metrics, H, p.version
	dst.Source, dst.Method, dst.Reason = SourceFallback, p.method, reason
	return nil
}

func growF64(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// badInput marks window validation errors.
type badInput struct{ error }

func (e badInput) Unwrap() error { return e.error }

func isBadInput(err error) bool {
	var b badInput
	return errors.As(err, &b)
}

// ErrBadInput is wrapped by every window validation error.
var ErrBadInput = errors.New("bad input")

// check validates a window: shape, feature names, finite values.
func (p *Predictor) check(w *Window) error {
	T, F := p.spec.Steps, p.features()
	bad := func(format string, args ...any) error {
		return badInput{fmt.Errorf("serve: window: "+format+": %w", append(args, ErrBadInput)...)}
	}
	if F > 0 && len(w.X) != T*F {
		if len(w.X)%F == 0 {
			return bad("%d steps of %d features, the model needs %d steps", len(w.X)/F, F, T)
		}
		return bad("%d values, want %d steps x %d features", len(w.X), T, F)
	}
	if w.Features != nil {
		if err := p.spec.CheckFeatures(w.Features); err != nil {
			return badInput{fmt.Errorf("%w: %w", err, ErrBadInput)}
		}
	}
	if p.spec.Delta && len(w.Last) < len(p.spec.Metrics) {
		return bad("Last holds %d values, the model predicts changes of %d metrics %v", len(w.Last), len(p.spec.Metrics), p.spec.Metrics)
	}
	for m := range p.spec.Metrics {
		if m < len(w.Last) && (math.IsNaN(w.Last[m]) || math.IsInf(w.Last[m], 0)) {
			return bad("last value of %s is %v", p.spec.Metrics[m], w.Last[m])
		}
	}
	for i, v := range w.X {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			name := fmt.Sprint("column ", i%F)
			if p.spec.Features != nil {
				name = p.spec.Features[i%F]
			}
			return bad("feature %s at step %d of %d is %v", name, i/F+1, T, v)
		}
	}
	return nil
}
