package serve

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	perfpredict "github.com/novacron/perfpredict"
)

// tinyModel is an untrained model over f named features predicting the
// change of "value" for k steps, with a target scaler.
func tinyModel(t testing.TB, f, k, steps int) *perfpredict.Model {
	t.Helper()
	m, err := perfpredict.New(perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{8}, Steps: steps, Seed: 7}, f, k)
	if err != nil {
		t.Fatal(err)
	}
	m.FeatureNames = make([]string, f)
	for i := range f {
		m.FeatureNames[i] = "f" + string(rune('a'+i))
	}
	m.Target, m.Horizon = "value_delta", k
	m.Scaler = &perfpredict.TargetScaler{Mean: make([]float64, k), Std: make([]float64, k)}
	for i := range k {
		m.Scaler.Mean[i], m.Scaler.Std[i] = 0.5*float64(i), 2
	}
	return m
}

func randWindow(seed uint64, n int) []float32 {
	rng := rand.New(rand.NewPCG(seed, 9))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// expected computes what Predict must return, straight from the model.
func expected(t testing.TB, m *perfpredict.Model, x []float32, last float64) ([]float64, []float32) {
	t.Helper()
	steps := len(x) / m.Features()
	pred, att, err := m.Predict(x, 1, steps)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float64, len(pred))
	for k, v := range pred {
		out[k] = float64(v)*m.Scaler.Std[k] + m.Scaler.Mean[k] + last
	}
	return out, att
}

func TestPredictMatchesModel(t *testing.T) {
	m := tinyModel(t, 3, 4, 10)
	p, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x := randWindow(1, 30)
	want, watt := expected(t, m, x, 100)
	got, err := p.Predict(context.Background(), Window{X: x, Features: m.FeatureNames, Last: []float64{100}})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Release()
	if got.Source != SourceModel || got.Reason != ReasonNone || got.Horizon != 4 || got.Metrics[0] != "value" {
		t.Fatalf("prediction %+v", got)
	}
	if !strings.HasPrefix(got.Version, "sha256:") {
		t.Errorf("version %q", got.Version)
	}
	for k := range want {
		if math.Abs(got.Values[k]-want[k]) > 1e-9 {
			t.Errorf("value %d = %v, want %v", k, got.Values[k], want[k])
		}
	}
	for i := range watt {
		if got.Attention[i] != watt[i] {
			t.Errorf("attention %d = %v, want %v", i, got.Attention[i], watt[i])
		}
	}
	if got.At(0, 2) != got.Values[1] {
		t.Error("At(0, 2) is not Values[1]")
	}
}

// TestPredictConcurrent has many goroutines predict different windows, with
// and without micro-batching, and checks every answer against the model
// (run with -race).
func TestPredictConcurrent(t *testing.T) {
	m := tinyModel(t, 3, 2, 8)
	const windows = 16
	xs := make([][]float32, windows)
	wants := make([][]float64, windows)
	for i := range xs {
		xs[i] = randWindow(uint64(i), 24)
		wants[i], _ = expected(t, m, xs[i], float64(i))
	}
	for _, delay := range []time.Duration{0, 200 * time.Microsecond} {
		p, err := New(m, Options{BatchDelay: delay, MaxBatch: 8})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var bad atomic.Int32
		for g := range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range 20 {
					i := (g + j) % windows
					got, err := p.Predict(context.Background(), Window{X: xs[i], Last: []float64{float64(i)}})
					if err != nil || got.Source != SourceModel {
						bad.Add(1)
						continue
					}
					for k := range wants[i] {
						// A batched forward may round differently from batch 1.
						if math.Abs(got.Values[k]-wants[i][k]) > 1e-4 {
							bad.Add(1)
						}
					}
					got.Release()
				}
			}()
		}
		wg.Wait()
		p.Close()
		if bad.Load() != 0 {
			t.Errorf("delay %v: %d wrong answers", delay, bad.Load())
		}
	}
}

func TestPredictBatch(t *testing.T) {
	m := tinyModel(t, 3, 2, 8)
	p, err := New(m, Options{Fallback: Persistence{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ws := make([]Window, 5)
	for i := range ws {
		ws[i] = Window{X: randWindow(uint64(i), 24), Last: []float64{float64(i)}}
	}
	ws[3].X = ws[3].X[:12] // too short, no fallback on bad input
	dst := make([]Prediction, 5)
	err = p.PredictBatch(context.Background(), ws, dst)
	if err == nil || !strings.Contains(err.Error(), "window 3") || !errors.Is(err, ErrBadInput) {
		t.Fatalf("error %v, want window 3's bad input", err)
	}
	for _, i := range []int{0, 1, 2, 4} {
		want, _ := expected(t, m, ws[i].X, float64(i))
		if dst[i].Source != SourceModel || math.Abs(dst[i].Values[1]-want[1]) > 1e-4 {
			t.Errorf("window %d: %+v, want %v", i, dst[i], want)
		}
	}
}

// Networks that misbehave.
type nanNet struct{ m *perfpredict.Model }

func (n nanNet) PredictInto(pred, att, x []float32, b, s int) error {
	err := n.m.PredictInto(pred, att, x, b, s)
	pred[0] = float32(math.NaN())
	return err
}

type panicNet struct{}

func (panicNet) PredictInto(pred, att, x []float32, b, s int) error { panic("index out of range") }

type errNet struct{}

func (errNet) PredictInto(pred, att, x []float32, b, s int) error { return errors.New("device lost") }

type slowNet struct {
	m *perfpredict.Model
	d time.Duration
}

func (n slowNet) PredictInto(pred, att, x []float32, b, s int) error {
	time.Sleep(n.d)
	return n.m.PredictInto(pred, att, x, b, s)
}

func TestFallback(t *testing.T) {
	m := tinyModel(t, 3, 4, 10)
	sp, err := ParseSpec(m)
	if err != nil {
		t.Fatal(err)
	}
	hist := []float64{1, 2, 3, 4, 5, 7}
	w := Window{X: randWindow(3, 30), Last: []float64{7}, History: [][]float64{hist}}
	cases := []struct {
		name   string
		net    Network
		opt    Options
		reason Reason
	}{
		{"no model", nil, Options{}, ReasonNoModel},
		{"NaN", nanNet{m}, Options{}, ReasonNonFinite},
		{"panic", panicNet{}, Options{}, ReasonPanic},
		{"error", errNet{}, Options{}, ReasonError},
		{"deadline", slowNet{m, 200 * time.Millisecond}, Options{Timeout: 5 * time.Millisecond}, ReasonDeadline},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var seen atomic.Int32
			c.opt.Fallback = Persistence{}
			c.opt.OnFallback = func(r Reason, err error) {
				if r == c.reason && err != nil {
					seen.Add(1)
				}
			}
			p, err := NewWithSpec(c.net, sp, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			start := time.Now()
			got, err := p.Predict(context.Background(), w)
			if err != nil {
				t.Fatal(err)
			}
			if got.Source != SourceFallback || got.Reason != c.reason || got.Method != "persistence" {
				t.Errorf("source %v reason %v method %q, want fallback/%v", got.Source, got.Reason, got.Method, c.reason)
			}
			for k, v := range got.Values {
				if v != 7 {
					t.Errorf("value %d = %v, want the last value 7", k, v)
				}
			}
			if len(got.Attention) != 0 {
				t.Errorf("fallback returned attention %v", got.Attention)
			}
			if seen.Load() != 1 {
				t.Errorf("OnFallback called %d times with %v", seen.Load(), c.reason)
			}
			if c.reason == ReasonDeadline && time.Since(start) > 150*time.Millisecond {
				t.Errorf("answered after %v, past the 5ms deadline by far", time.Since(start))
			}
			// Without a fallback the failure is an error, never a panic.
			c.opt.Fallback = nil
			if c.net == nil {
				return
			}
			q, err := NewWithSpec(c.net, sp, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			if _, err := q.Predict(context.Background(), w); err == nil {
				t.Error("no error without a fallback")
			}
		})
	}
}

func TestPredictCancelled(t *testing.T) {
	m := tinyModel(t, 3, 4, 10)
	sp, _ := ParseSpec(m)
	p, err := NewWithSpec(slowNet{m, 100 * time.Millisecond}, sp, Options{Fallback: Persistence{}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(5*time.Millisecond, cancel)
	_, err = p.Predict(ctx, Window{X: randWindow(1, 30), Last: []float64{1}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
	// A ctx deadline is a deadline: the fallback answers.
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer dcancel()
	got, err := p.Predict(dctx, Window{X: randWindow(1, 30), Last: []float64{1}})
	if err != nil || got.Reason != ReasonDeadline {
		t.Errorf("ctx deadline: %v, reason %v", err, got.Reason)
	}
}

func TestBadInput(t *testing.T) {
	m := tinyModel(t, 3, 2, 4)
	p, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	good := randWindow(1, 12)
	nan := append([]float32(nil), good...)
	nan[7] = float32(math.NaN())
	cases := []struct {
		name string
		w    Window
		want string
	}{
		{"short", Window{X: good[:9], Last: []float64{1}}, "3 steps of 3 features, the model needs 4 steps"},
		{"ragged", Window{X: good[:10], Last: []float64{1}}, "10 values, want 4 steps x 3 features"},
		{"missing feature", Window{X: good, Features: []string{"fa", "fb", "zz"}, Last: []float64{1}}, `feature "fc" of the model is missing`},
		{"order", Window{X: good, Features: []string{"fb", "fa", "fc"}, Last: []float64{1}}, `column 0 is "fb", the model expects "fa"`},
		{"NaN feature", Window{X: nan, Last: []float64{1}}, "feature fb at step 3 of 4 is NaN"},
		{"no last", Window{X: good}, "Last holds 0 values"},
		{"NaN last", Window{X: good, Last: []float64{math.Inf(1)}}, "last value of value is +Inf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := p.Predict(context.Background(), c.w)
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadInput) {
				t.Errorf("error %v, want one naming %q", err, c.want)
			}
		})
	}
	// With FallbackOnBadInput the fallback answers from the history.
	q, err := New(m, Options{Fallback: Persistence{}, FallbackOnBadInput: true})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	got, err := q.Predict(context.Background(), Window{X: nan, History: [][]float64{{3, 4, math.NaN()}}})
	if err != nil || got.Source != SourceFallback || got.Reason != ReasonBadInput || got.Values[0] != 4 {
		t.Errorf("bad input with fallback: %+v, %v", got, err)
	}
	// NaN everywhere: a clear error, not a panic.
	if _, err := q.Predict(context.Background(), Window{X: nan, History: [][]float64{{math.NaN()}}}); !errors.Is(err, ErrNoHistory) {
		t.Errorf("no usable history: %v", err)
	}
}

func TestPredictAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := tinyModel(t, 3, 4, 10)
	p, err := New(m, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	w := Window{X: randWindow(1, 30), Last: []float64{1}}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(200, func() {
		got, err := p.Predict(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		got.Release()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per Predict, want 0", allocs)
	}
}

func TestClosed(t *testing.T) {
	m := tinyModel(t, 3, 4, 10)
	p, err := New(m, Options{})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if _, err := p.Predict(context.Background(), Window{X: randWindow(1, 30), Last: []float64{1}}); !errors.Is(err, ErrClosed) {
		t.Errorf("closed: %v", err)
	}
}

// TestDeadlineConcurrent: many callers of a model slower than the deadline
// all get the fallback, each after about the deadline, while abandoned
// requests are recycled by the workers (run with -race).
func TestDeadlineConcurrent(t *testing.T) {
	m := tinyModel(t, 3, 4, 10)
	sp, _ := ParseSpec(m)
	p, err := NewWithSpec(slowNet{m, 20 * time.Millisecond}, sp, Options{Fallback: Persistence{}, Timeout: 3 * time.Millisecond, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				got, err := p.Predict(context.Background(), Window{X: randWindow(uint64(g), 30), Last: []float64{5}})
				if err != nil || got.Source != SourceFallback || got.Reason != ReasonDeadline || got.Values[0] != 5 {
					wrong.Add(1)
				}
				got.Release()
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Errorf("%d of 160 calls did not answer from the fallback at the deadline", wrong.Load())
	}
}

// gateNet holds its first calls until the gate opens and records every
// batch size.
type gateNet struct {
	m       *perfpredict.Model
	held    int // calls to hold
	entered chan struct{}
	gate    chan struct{}
	mu      sync.Mutex
	sizes   []int
}

func (n *gateNet) PredictInto(pred, att, x []float32, b, s int) error {
	n.mu.Lock()
	n.sizes = append(n.sizes, b)
	hold := len(n.sizes) <= n.held
	n.mu.Unlock()
	if hold {
		n.entered <- struct{}{}
		<-n.gate
	}
	return n.m.PredictInto(pred, att, x, b, s)
}

// A backlog is shared among the workers: while both workers are busy ten
// calls queue up, and no worker then takes more than its half of them (one
// worker taking all ten would run them serially while the other idles).
func TestBacklogShared(t *testing.T) {
	m := tinyModel(t, 3, 2, 8)
	sp, err := ParseSpec(m)
	if err != nil {
		t.Fatal(err)
	}
	net := &gateNet{m: m, held: 2, entered: make(chan struct{}), gate: make(chan struct{})}
	p, err := NewWithSpec(net, sp, Options{Workers: 2, MaxBatch: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	var bad atomic.Int32
	call := func(i int) {
		defer wg.Done()
		got, err := p.Predict(context.Background(), Window{X: randWindow(uint64(i), 24), Last: []float64{1}})
		if err != nil || got.Source != SourceModel {
			bad.Add(1)
		}
	}
	for i := range 2 { // one call for each worker, held in the gate
		wg.Add(1)
		go call(i)
		<-net.entered
	}
	const backlog = 10
	for i := range backlog {
		wg.Add(1)
		go call(2 + i)
	}
	for len(p.queue) < backlog {
		time.Sleep(100 * time.Microsecond)
	}
	close(net.gate)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d calls failed", bad.Load())
	}
	net.mu.Lock()
	defer net.mu.Unlock()
	total := 0
	for i, n := range net.sizes {
		total += n
		if i >= 2 && n > backlog/2 {
			t.Errorf("a worker took a batch of %d of a backlog of %d shared by 2 workers (batches %v)", n, backlog, net.sizes)
		}
	}
	if total != 2+backlog {
		t.Errorf("batches %v hold %d calls, want %d", net.sizes, total, 2+backlog)
	}
}
