package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/novacron/perfpredict/forecast"
)

// Source says who answered a prediction.
type Source uint8

// Sources of a Prediction.
const (
	SourceModel Source = iota + 1
	SourceFallback
)

func (s Source) String() string {
	switch s {
	case SourceModel:
		return "model"
	case SourceFallback:
		return "fallback"
	}
	return "unknown"
}

// MarshalText writes the source's name (JSON strings).
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (s *Source) UnmarshalText(b []byte) error {
	for c := SourceModel; c <= SourceFallback; c++ {
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
	ReasonNoModel          // the Predictor is closed
	ReasonBadInput         // the history failed validation and FallbackOnBadInput is set
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

// Input is one series to forecast.
type Input struct {
	// History holds the series' recent observations, oldest first; the
	// forecaster reads the last Needs() of them, the fallback all of them.
	History []float64
	// Series picks the fallback's model for this series (the metric's
	// index in a PerMetric fallback).
	Series int
	// Phase is the row index of the last observation in the numbering of
	// the history the fallback was fitted on (seasonal fallbacks read it
	// modulo their period).
	Phase int
}

// Prediction is one answer of Predict. It owns its slices: nothing else
// refers to them.
type Prediction struct {
	// Forecast is the forecaster's answer: Points[h-1] is the forecast h
	// steps after the last observation, with p10/p50/p90. From the
	// fallback, P10 = P50 = P90 = Value (no calibrated interval) and
	// Attention is nil.
	forecast.Forecast
	// Version identifies the forecaster (the digest of its artifact
	// unless Options.Version names it).
	Version string `json:"version"`
	Source  Source `json:"source"`
	// Method is "model" or the fallback's name.
	Method string `json:"method"`
	// Reason says why the fallback answered (ReasonNone otherwise).
	Reason Reason `json:"reason,omitempty"`
}

// Options configure a Predictor. The zero value serves the forecaster
// alone, without fallback, deadline or micro-batching delay.
type Options struct {
	// Version names the forecaster in predictions (default: "sha256:" and
	// the first 12 hex digits of its artifact's digest).
	Version string
	// Fallback answers when the forecaster cannot (nil: the error is
	// returned).
	Fallback Fallback
	// Timeout is the per-call deadline of the model (0: only ctx's). Past
	// it the call answers from the fallback (or fails with
	// context.DeadlineExceeded) while the model finishes in the background.
	Timeout time.Duration
	// FallbackOnBadInput answers invalid histories (too short, NaN) from
	// the fallback instead of failing.
	FallbackOnBadInput bool
	// BatchDelay enables micro-batching: a worker that received a call
	// waits this long (e.g. 200us) for more, up to MaxBatch, before running
	// them as one batch. Without it calls that are already queued are
	// batched, each worker taking its even share of them.
	BatchDelay time.Duration
	// MaxBatch bounds the histories of one call that run in one forward
	// pass, and the calls a worker batches (default 64).
	MaxBatch int
	// Workers is the number of goroutines running the model (default
	// GOMAXPROCS).
	Workers int
	// OnFallback, if set, is called (synchronously) with the reason and the
	// underlying error whenever the fallback answers.
	OnFallback func(Reason, error)
}

// ErrClosed is returned by a closed Predictor.
var ErrClosed = errors.New("serve: predictor closed")

// ErrBadInput is wrapped by every error caused by the caller's data (the
// command line exits 2 on it). forecast.ErrBadInput errors match it too.
var ErrBadInput = forecast.ErrBadInput

// model is what a Predictor runs: a *forecast.Forecaster, or a stand-in
// that misbehaves in tests. It must be safe for concurrent use.
type model interface {
	ForecastBatch(ctx context.Context, histories [][]float64) ([]forecast.Forecast, error)
	Needs() int
	Horizon() int
}

// Predictor serves a forecaster to many goroutines. Calls are queued
// (oldest first) to a fixed set of workers; a worker runs its even share of
// the calls waiting in the queue (up to MaxBatch) as one ForecastBatch, so
// concurrent callers are batched without any delay while a backlog is
// spread over all workers, and, with BatchDelay, also across a short wait.
// A prediction is the forecaster's Forecast of the same history (to float
// rounding, see PredictBatch).
type Predictor struct {
	fc      *forecast.Forecaster // nil for a stand-in model
	model   model
	needs   int
	horizon int
	opt     Options
	version string
	method  string // fallback's name

	queue chan *request
	quit  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// request is the histories of one call (up to MaxBatch of them), run in
// one forward pass: a lone caller's answers are the same, bit for bit,
// every time. The worker writes out, err and reason, then closes done;
// the caller reads them only after done is closed.
type request struct {
	histories [][]float64
	out       []forecast.Forecast
	err       error
	reason    Reason
	done      chan struct{}
}

// New serves fc. Its version is the digest of its artifact unless
// opt.Version names it.
func New(fc *forecast.Forecaster, opt Options) (*Predictor, error) {
	if fc == nil {
		return nil, errors.New("serve: New needs a forecaster")
	}
	if opt.Version == "" {
		v, err := Version(fc)
		if err != nil {
			return nil, err
		}
		opt.Version = v
	}
	p, err := newPredictor(fc, opt)
	if err != nil {
		return nil, err
	}
	p.fc = fc
	return p, nil
}

// Version is "sha256:" and the first 12 hex digits of the digest of fc's
// artifact: the digest of the file Save writes.
func Version(fc *forecast.Forecaster) (string, error) {
	h := sha256.New()
	if err := fc.Encode(h); err != nil {
		return "", fmt.Errorf("serve: version: %w", err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:6]), nil
}

func newPredictor(m model, opt Options) (*Predictor, error) {
	if opt.MaxBatch <= 0 {
		opt.MaxBatch = 64
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	p := &Predictor{model: m, needs: m.Needs(), horizon: m.Horizon(), opt: opt, version: opt.Version,
		quit: make(chan struct{}), queue: make(chan *request, opt.MaxBatch*opt.Workers)}
	if p.version == "" {
		p.version = "unversioned"
	}
	if opt.Fallback != nil {
		p.method = opt.Fallback.Name()
	}
	for range opt.Workers {
		w := &worker{batch: make([]*request, 0, opt.MaxBatch), hist: make([][]float64, 0, opt.MaxBatch),
			timer: time.NewTimer(time.Hour)}
		w.timer.Stop()
		p.wg.Add(1)
		go p.work(w)
	}
	return p, nil
}

// Forecaster is the served forecaster (nil for a stand-in model).
func (p *Predictor) Forecaster() *forecast.Forecaster { return p.fc }

// Needs is the number of most recent observations a forecast reads.
func (p *Predictor) Needs() int { return p.needs }

// Horizon is the largest horizon forecast.
func (p *Predictor) Horizon() int { return p.horizon }

// Version is the served forecaster's version.
func (p *Predictor) Version() string { return p.version }

// Close stops the workers; calls made afterwards answer from the fallback
// or fail with ErrClosed. It waits for running forward passes.
func (p *Predictor) Close() {
	p.once.Do(func() { close(p.quit) })
	p.wg.Wait()
}

// worker owns one batch's buffers.
type worker struct {
	batch []*request
	hist  [][]float64
	timer *time.Timer
}

func (p *Predictor) work(w *worker) {
	defer p.wg.Done()
	for {
		select {
		case <-p.quit: // before the queue: the callers of a closed predictor have been answered
			return
		default:
		}
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
		// Let the callers just answered run before the next batch: with
		// every P busy in a forward pass they would otherwise wait for the
		// scheduler's 10ms preemption, which is the latency tail.
		runtime.Gosched()
	}
}

// share is how many queued calls a worker takes at once without a
// BatchDelay: its even share of the backlog (the call it holds included),
// so that under a burst every worker runs part of it at once instead of
// one worker running all of it serially while the others idle.
func (p *Predictor) share() int {
	n := len(p.queue) + 1
	k := (n + p.opt.Workers - 1) / p.opt.Workers
	if n > 1 {
		k = max(k, 2)
	}
	return min(k, p.opt.MaxBatch)
}

// runBatch runs one ForecastBatch over the histories of batch and
// completes every request.
func (p *Predictor) runBatch(w *worker, batch []*request) {
	hs := w.hist[:0]
	for _, r := range batch {
		hs = append(hs, r.histories...)
	}
	out, err, panicked := p.forward(hs)
	n := len(hs)
	w.hist = hs[:0]
	clear(hs)
	at := 0
	for _, r := range batch {
		switch {
		case panicked:
			r.err, r.reason = err, ReasonPanic
		case err == nil && len(out) != n:
			r.err, r.reason = fmt.Errorf("serve: the model answered %d of %d histories", len(out), n), ReasonError
		case err != nil:
			r.err, r.reason = err, ReasonError
		default:
			r.out = out[at : at+len(r.histories)]
		}
		at += len(r.histories)
		close(r.done)
	}
}

// forward runs the model, turning a panic into an error. The model runs
// without the callers' contexts: a batch serves several callers, each of
// whom gives up on its own deadline.
func (p *Predictor) forward(hs [][]float64) (out []forecast.Forecast, err error, panicked bool) {
	defer func() {
		if v := recover(); v != nil {
			out, err, panicked = nil, fmt.Errorf("serve: model panicked: %v", v), true
		}
	}()
	out, err = p.model.ForecastBatch(context.Background(), hs)
	return out, err, false
}

// Predict forecasts h = 1..Horizon() steps after the last observation of
// in.History. Model failures (error, panic, NaN, missed deadline, closed
// predictor) answer from the fallback when one is configured, with Source
// SourceFallback and the Reason; bad input is an error wrapping
// ErrBadInput unless FallbackOnBadInput. A cancelled ctx returns its error.
func (p *Predictor) Predict(ctx context.Context, in Input) (Prediction, error) {
	out, err := p.PredictBatch(ctx, []Input{in})
	if len(out) == 0 {
		return Prediction{}, err
	}
	return out[0], unwrapOne(err)
}

// unwrapOne strips PredictBatch's "input 1: " from a lone call's error.
func unwrapOne(err error) error {
	var ie inputError
	if errors.As(err, &ie) {
		return ie.err
	}
	return err
}

type inputError struct {
	i   int
	err error
}

func (e inputError) Error() string { return fmt.Sprintf("input %d: %v", e.i+1, e.err) }
func (e inputError) Unwrap() error { return e.err }

// PredictBatch forecasts every input; out[i] answers ins[i]. The inputs
// of one call run together (in forward passes of at most MaxBatch
// histories), possibly with other callers' when the predictor is busy:
// the networks' float32 arithmetic rounds differently with the batch, so
// an answer may differ from Forecast's in about the ninth digit, never
// more than 1e-6 relative. Every input sees the call's deadline
// (Options.Timeout), so a stalled model sends each one to the fallback in
// time. Errors of single inputs are joined, naming the input; the other
// predictions are still made (a failed one is the zero Prediction).
func (p *Predictor) PredictBatch(ctx context.Context, ins []Input) ([]Prediction, error) {
	out := make([]Prediction, len(ins))
	if p.opt.Timeout > 0 {
		// One context, closed at the deadline, is seen by every waiter
		// (a timer's channel would wake only one of them).
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opt.Timeout)
		defer cancel()
	}
	errs := make([]error, len(ins))
	var valid []int // inputs that go to the model
	for i := range ins {
		if err := p.check(&ins[i]); err != nil {
			if p.opt.FallbackOnBadInput && p.opt.Fallback != nil {
				errs[i] = p.fallback(&ins[i], &out[i], ReasonBadInput, err)
			} else {
				errs[i] = err
			}
			continue
		}
		valid = append(valid, i)
	}
	type sent struct {
		r   *request
		idx []int // inputs of r, in order
		err error // submitting failed
	}
	var reqs []sent
	for lo := 0; lo < len(valid); lo += p.opt.MaxBatch {
		idx := valid[lo:min(len(valid), lo+p.opt.MaxBatch)]
		r := &request{done: make(chan struct{})}
		for _, i := range idx {
			// The model may still read a history after the caller has
			// given up on it: the request holds its own copy of what is
			// read.
			h := ins[i].History
			r.histories = append(r.histories, slices.Clone(h[len(h)-p.needs:]))
		}
		reqs = append(reqs, sent{r: r, idx: idx, err: p.submit(ctx, r)})
	}
	for _, q := range reqs {
		err := q.err
		if err == nil {
			err = p.await(ctx, q.r)
		}
		for k, i := range q.idx {
			if err != nil {
				errs[i] = p.failed(ctx, &ins[i], &out[i], err)
				continue
			}
			errs[i] = p.finish(q.r, k, &ins[i], &out[i])
		}
	}
	var all []error
	for i, err := range errs {
		if err != nil {
			all = append(all, inputError{i, err})
		}
	}
	return out, errors.Join(all...)
}

// submit queues r.
func (p *Predictor) submit(ctx context.Context, r *request) error {
	select {
	case <-p.quit:
		return ErrClosed
	default:
	}
	select {
	case p.queue <- r:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.quit:
		return ErrClosed
	}
}

// await waits for r; a caller that gives up leaves r to the worker.
func (p *Predictor) await(ctx context.Context, r *request) error {
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
	case <-p.quit:
	}
	select {
	case <-r.done: // finished meanwhile: use the answer
		return nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return ErrClosed
}

// failed maps a call that got no model answer to the fallback or an error.
func (p *Predictor) failed(ctx context.Context, in *Input, dst *Prediction, err error) error {
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return err // the caller cancelled: no answer wanted
	}
	reason := ReasonDeadline
	if errors.Is(err, ErrClosed) {
		reason = ReasonNoModel
	} else if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("serve: the model missed the deadline: %w", err)
	}
	return p.fallback(in, dst, reason, err)
}

// finish converts answer k of a completed request into dst.
func (p *Predictor) finish(r *request, k int, in *Input, dst *Prediction) error {
	if r.err != nil {
		return p.fallback(in, dst, r.reason, r.err)
	}
	f := r.out[k]
	for _, pt := range f.Points {
		for _, v := range [...]float64{pt.Value, pt.P10, pt.P90} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return p.fallback(in, dst, ReasonNonFinite, fmt.Errorf("serve: model forecast at h=%d is %v", pt.Horizon, v))
			}
		}
	}
	*dst = Prediction{Forecast: f, Version: p.version, Source: SourceModel, Method: "model"}
	return nil
}

// fallback answers from the fallback forecaster, or returns cause.
func (p *Predictor) fallback(in *Input, dst *Prediction, reason Reason, cause error) error {
	fb := p.opt.Fallback
	if fb == nil {
		return cause
	}
	if p.opt.OnFallback != nil {
		p.opt.OnFallback(reason, cause)
	}
	vals := make([]float64, p.horizon)
	if err := fb.Forecast(in.Series, in.History, in.Phase, vals); err != nil {
		return fmt.Errorf("serve: %w, and the %s fallback failed: %w", cause, fb.Name(), err)
	}
	// Unit stays 0: the fallback has no network units (and no NaN that
	// JSON could not encode).
	f := forecast.Forecast{Points: make([]forecast.Point, p.horizon)}
	if n := len(in.History); n > 0 {
		f.Last = in.History[n-1]
	}
	for k, v := range vals {
		f.Points[k] = forecast.Point{Horizon: k + 1, Value: v, P10: v, P50: v, P90: v}
	}
	*dst = Prediction{Forecast: f, Version: p.version, Source: SourceFallback, Method: p.method, Reason: reason}
	return nil
}

// check validates an input as the forecaster will, so that one bad
// history cannot fail the batch it would share.
func (p *Predictor) check(in *Input) error {
	h := in.History
	if len(h) < p.needs {
		return fmt.Errorf("serve: history holds %d observations; the forecaster needs the last %d: %w", len(h), p.needs, ErrBadInput)
	}
	recent := h[len(h)-p.needs:]
	if i := slices.IndexFunc(recent, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }); i >= 0 {
		return fmt.Errorf("serve: observation %d of the last %d is %v: %w", i+1, p.needs, recent[i], ErrBadInput)
	}
	return nil
}
