package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
)

// TestPredictEqualsForecast: whatever the batching, a prediction is the
// forecaster's Forecast of the same history, to issue 13's 1e-6 relative
// (the networks' float32 products round differently with the batch size
// they run in: about 1e-9 here).
func TestPredictEqualsForecast(t *testing.T) {
	fc := tinyForecaster(t)
	ctx := context.Background()
	const n = 12
	hists := make([][]float64, n)
	wants := make([]forecast.Forecast, n)
	for i := range hists {
		hists[i] = synth.Walk(40+i*7, uint64(100+i))
		var err error
		if wants[i], err = fc.Forecast(ctx, hists[i]); err != nil {
			t.Fatal(err)
		}
	}
	same := func(t *testing.T, got Prediction, want forecast.Forecast) {
		t.Helper()
		if got.Source != SourceModel || got.Method != "model" || got.Reason != ReasonNone {
			t.Fatalf("source %v %q %v", got.Source, got.Method, got.Reason)
		}
		if len(got.Points) != fc.Horizon() || len(got.Attention) != fc.Recipe().Window {
			t.Fatalf("%d points, %d attention weights", len(got.Points), len(got.Attention))
		}
		for k, p := range want.Points {
			g := got.Points[k]
			if !near(g.Value, p.Value, 1e-6) || !near(g.P10, p.P10, 1e-6) || !near(g.P90, p.P90, 1e-6) || g.Horizon != k+1 {
				t.Fatalf("h=%d: %+v, want %+v", k+1, g, p)
			}
		}
	}
	for _, delay := range []time.Duration{0, 300 * time.Microsecond} {
		p, err := New(fc, Options{BatchDelay: delay, MaxBatch: 5, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		for i := range hists {
			got, err := p.Predict(ctx, Input{History: hists[i]})
			if err != nil {
				t.Fatal(err)
			}
			same(t, got, wants[i])
		}
		ins := make([]Input, n)
		for i := range ins {
			ins[i] = Input{History: hists[i]}
		}
		outs, err := p.PredictBatch(ctx, ins)
		if err != nil {
			t.Fatal(err)
		}
		for i := range outs {
			same(t, outs[i], wants[i])
		}
		// Many goroutines at once (batched together; run with -race).
		var wg sync.WaitGroup
		var bad atomic.Int32
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 6 {
					i := (g + j) % n
					got, err := p.Predict(ctx, Input{History: hists[i]})
					if err != nil || !near(got.Points[3].Value, wants[i].Points[3].Value, 1e-6) {
						bad.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		p.Close()
		if bad.Load() > 0 {
			t.Errorf("delay %v: %d concurrent answers differ from Forecast", delay, bad.Load())
		}
	}
}

// TestVersionIsArtifactDigest: the version names the artifact file.
func TestVersionIsArtifactDigest(t *testing.T) {
	fc := tinyForecaster(t)
	path := filepath.Join(t.TempDir(), "fc.zip")
	if err := fc.Save(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	opened, err := forecast.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(opened, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if want := "sha256:" + hex.EncodeToString(sum[:6]); p.Version() != want {
		t.Errorf("version %s, want %s (the file's digest)", p.Version(), want)
	}
	q, _ := New(fc, Options{Version: "v7"})
	defer q.Close()
	if q.Version() != "v7" {
		t.Errorf("version %q, want the one given", q.Version())
	}
}

// Models that misbehave.
type stubModel struct {
	needs, horizon int
	run            func(hs [][]float64) ([]forecast.Forecast, error)
}

func (s stubModel) Needs() int   { return s.needs }
func (s stubModel) Horizon() int { return s.horizon }
func (s stubModel) ForecastBatch(_ context.Context, hs [][]float64) ([]forecast.Forecast, error) {
	return s.run(hs)
}

// flat forecasts the last value with a band of ±1.
func flat(hs [][]float64) ([]forecast.Forecast, error) {
	out := make([]forecast.Forecast, len(hs))
	for i, h := range hs {
		v := h[len(h)-1]
		out[i] = forecast.Forecast{Last: v, Unit: 1, Points: make([]forecast.Point, 3), Attention: []float64{0.5, 0.5}}
		for k := range out[i].Points {
			out[i].Points[k] = forecast.Point{Horizon: k + 1, Value: v, P10: v - 1, P50: v, P90: v + 1}
		}
	}
	return out, nil
}

func stub(run func([][]float64) ([]forecast.Forecast, error)) stubModel {
	return stubModel{needs: 4, horizon: 3, run: run}
}

var hist = []float64{1, 2, 3, 4, 5, 40}

func TestFallback(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		run    func([][]float64) ([]forecast.Forecast, error)
		reason Reason
	}{
		{"panic", func([][]float64) ([]forecast.Forecast, error) { panic("index out of range") }, ReasonPanic},
		{"error", func([][]float64) ([]forecast.Forecast, error) { return nil, errors.New("device lost") }, ReasonError},
		{"nan", func(hs [][]float64) ([]forecast.Forecast, error) {
			out, _ := flat(hs)
			out[0].Points[1].Value = math.NaN()
			return out, nil
		}, ReasonNonFinite},
		{"short", func(hs [][]float64) ([]forecast.Forecast, error) { return nil, nil }, ReasonError},
		{"stall", func(hs [][]float64) ([]forecast.Forecast, error) { time.Sleep(time.Second); return flat(hs) }, ReasonDeadline},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen atomic.Int32
			p, err := newPredictor(stub(c.run), Options{Fallback: Persistence{}, Timeout: 50 * time.Millisecond,
				OnFallback: func(r Reason, err error) {
					if r == c.reason && err != nil {
						seen.Add(1)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			t0 := time.Now()
			got, err := p.Predict(ctx, Input{History: hist})
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(t0); el > 500*time.Millisecond {
				t.Errorf("answered after %v with a 50ms deadline", el)
			}
			if got.Source != SourceFallback || got.Reason != c.reason || got.Method != "persistence" || got.Attention != nil {
				t.Errorf("got %v %v %q", got.Source, got.Reason, got.Method)
			}
			for _, pt := range got.Points {
				if pt.Value != 40 || pt.P10 != 40 || pt.P90 != 40 {
					t.Errorf("fallback point %+v, want 40 without an interval", pt)
				}
			}
			if seen.Load() != 1 {
				t.Errorf("OnFallback saw the reason %d times", seen.Load())
			}
			// Without a fallback the failure is the caller's error.
			q, _ := newPredictor(stub(c.run), Options{Timeout: 50 * time.Millisecond})
			defer q.Close()
			if _, err := q.Predict(ctx, Input{History: hist}); err == nil {
				t.Error("no error without a fallback")
			}
		})
	}
}

// TestBatchDeadlineEveryInput: every input of a batch sees the deadline
// (issue 15, defect 1: one shared timer fired for one input only, the
// others waited for the stalled model).
func TestBatchDeadlineEveryInput(t *testing.T) {
	stall := stub(func(hs [][]float64) ([]forecast.Forecast, error) { time.Sleep(time.Second); return flat(hs) })
	p, err := newPredictor(stall, Options{Timeout: 50 * time.Millisecond, Fallback: Persistence{}, Workers: 1, MaxBatch: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ins := []Input{{History: hist}, {History: hist}, {History: hist}, {History: hist}}
	t0 := time.Now()
	out, err := p.PredictBatch(context.Background(), ins)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 500*time.Millisecond {
		t.Errorf("a batch of %d answered after %v with a 50ms deadline", len(ins), el)
	}
	for i, o := range out {
		if o.Source != SourceFallback || o.Reason != ReasonDeadline {
			t.Errorf("input %d: %v %v, want the fallback past the deadline", i, o.Source, o.Reason)
		}
	}
}

// TestPredictionsOwnTheirMemory: a prediction shares no memory with
// another or with the predictor, so writing to one (or keeping it
// forever) cannot change another (issue 15, defect 2: copies of a
// Prediction released twice put one pooled buffer in the pool twice, and
// Metrics aliased the predictor's slice).
func TestPredictionsOwnTheirMemory(t *testing.T) {
	fc := tinyForecaster(t)
	p, err := New(fc, Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	h := synth.Walk(60, 3)
	ctx := context.Background()
	a, _ := p.Predict(ctx, Input{History: h})
	want := a.Points[0].Value
	c := a // a copy shares a's slices, as any Go value would; nothing else does
	c.Points[0].Value = -1
	c.Attention[0] = -1
	b, _ := p.Predict(ctx, Input{History: h})
	outs, _ := p.PredictBatch(ctx, []Input{{History: h}, {History: h}})
	outs[0].Points[0].Value = -2
	for _, q := range []Prediction{b, outs[1]} {
		if !near(q.Points[0].Value, want, 1e-6) || q.Attention[0] < 0 {
			t.Fatalf("a write to one prediction changed another: %v, want %v", q.Points[0].Value, want)
		}
	}
	// The history is not kept either: changing it after the call changes
	// nothing already answered.
	before := b.Points[0].Value
	h[len(h)-1] = 1e9
	if b.Points[0].Value != before {
		t.Error("a prediction follows its history's later writes")
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	p, err := newPredictor(stub(flat), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = p.Predict(ctx, Input{History: []float64{1, 2, 3}})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "needs the last 4") {
		t.Errorf("short history: %v", err)
	}
	_, err = p.Predict(ctx, Input{History: []float64{1, 2, math.NaN(), 4, 5}})
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN: %v", err)
	}
	// A NaN older than what the forecaster reads is no concern.
	if got, err := p.Predict(ctx, Input{History: []float64{math.NaN(), 2, 3, 4, 5}}); err != nil || got.Source != SourceModel {
		t.Errorf("NaN outside the window: %v %v", got.Source, err)
	}
	// One bad input of a batch fails alone, named.
	out, err := p.PredictBatch(ctx, []Input{{History: hist}, {History: []float64{1}}, {History: hist}})
	if err == nil || !strings.Contains(err.Error(), "input 2:") || out[0].Source != SourceModel || out[2].Source != SourceModel {
		t.Errorf("batch with a bad input: %v, sources %v %v", err, out[0].Source, out[2].Source)
	}
	q, _ := newPredictor(stub(flat), Options{Fallback: Persistence{}, FallbackOnBadInput: true})
	defer q.Close()
	got, err := q.Predict(ctx, Input{History: []float64{7, 8}})
	if err != nil || got.Source != SourceFallback || got.Reason != ReasonBadInput || got.Points[2].Value != 8 {
		t.Errorf("FallbackOnBadInput: %+v %v", got, err)
	}
}

func TestPredictCancelledAndClosed(t *testing.T) {
	gate := make(chan struct{}) // the model answers once the gate opens
	slow := stub(func(hs [][]float64) ([]forecast.Forecast, error) { <-gate; return flat(hs) })
	p, err := newPredictor(slow, Options{Fallback: Persistence{}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	if _, err := p.Predict(ctx, Input{History: hist}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: %v, want context.Canceled (no answer wanted)", err)
	}
	close(gate)
	p.Close()
	got, err := p.Predict(context.Background(), Input{History: hist})
	if err != nil || got.Source != SourceFallback || got.Reason != ReasonNoModel {
		t.Errorf("closed predictor: %v %v %v", got.Source, got.Reason, err)
	}
	q, _ := newPredictor(stub(flat), Options{})
	q.Close()
	if _, err := q.Predict(context.Background(), Input{History: hist}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed predictor without fallback: %v", err)
	}
}

// TestFaultsUnderLoad: many callers against a model that panics, returns
// NaN, fails or stalls at random: every call is answered (by the model or
// the fallback, Source says which) within its deadline, never after a
// stall.
func TestFaultsUnderLoad(t *testing.T) {
	var batches atomic.Int64
	chaos := stub(func(hs [][]float64) ([]forecast.Forecast, error) {
		switch batches.Add(1) % 10 {
		case 1:
			panic("chaos")
		case 2:
			out, _ := flat(hs)
			out[0].Points[0].P90 = math.NaN()
			return out, nil
		case 3:
			return nil, errors.New("device lost")
		case 4:
			time.Sleep(600 * time.Millisecond)
		}
		return flat(hs)
	})
	const timeout = 20 * time.Millisecond
	p, err := newPredictor(chaos, Options{Fallback: Persistence{}, Timeout: timeout, Workers: 4, MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	var answered, model, slow atomic.Int64
	var worst atomic.Int64
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 40 {
				t0 := time.Now()
				got, err := p.Predict(context.Background(), Input{History: hist})
				el := time.Since(t0)
				if err != nil || got.Points[0].Value != 40 || got.Source == 0 {
					t.Errorf("unanswered: %v %+v", err, got)
					return
				}
				answered.Add(1)
				if got.Source == SourceModel {
					model.Add(1)
				}
				if el > 400*time.Millisecond { // far past the deadline, short of the stall
					slow.Add(1)
				}
				for {
					w := worst.Load()
					if int64(el) <= w || worst.CompareAndSwap(w, int64(el)) {
						break
					}
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d calls answered, %d by the model, slowest %v (deadline %v)", answered.Load(), model.Load(), time.Duration(worst.Load()), timeout)
	if answered.Load() != 32*40 || model.Load() == 0 || model.Load() == answered.Load() {
		t.Errorf("%d answered, %d by the model", answered.Load(), model.Load())
	}
	if slow.Load() > 0 {
		t.Errorf("%d calls waited past 400ms for a model that stalls 600ms (deadline %v)", slow.Load(), timeout)
	}
}
