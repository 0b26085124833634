package serve

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/synth"
)

// The load of TestFaultsAtScale comes from the environment, so that CI
// runs it in seconds and docs/RELIABILITY.md's run (1,000 calls/s for 60 s
// from 64 goroutines, under -race) uses the same code.
const (
	faultRateEnv     = "PERFPREDICT_FAULT_RATE"     // calls per second, all callers together (default 300)
	faultDurationEnv = "PERFPREDICT_FAULT_DURATION" // how long the load runs, a Go duration (default 2s)
	faultCallersEnv  = "PERFPREDICT_FAULT_CALLERS"  // goroutines calling at once (default 64)
)

func faultEnv[T int | time.Duration](t *testing.T, name string, def T, parse func(string) (T, error)) T {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	x, err := parse(v)
	if err != nil || x <= 0 {
		t.Fatalf("%s=%q: want a positive value", name, v)
	}
	return x
}

// chaosModel is the trained forecaster with faults injected per forward
// pass: it panics, fails, writes NaN into one of the batch's forecasts, or
// stalls far past the deadline before answering, each with probability
// rate; otherwise it answers as the forecaster does.
type chaosModel struct {
	fc    *forecast.Forecaster
	rate  float64
	stall time.Duration

	mu  sync.Mutex
	rng *rand.Rand

	panics, errs, nans, stalls, passes atomic.Int64
}

func (c *chaosModel) Needs() int   { return c.fc.Needs() }
func (c *chaosModel) Horizon() int { return c.fc.Horizon() }

func (c *chaosModel) ForecastBatch(ctx context.Context, hs [][]float64) ([]forecast.Forecast, error) {
	c.mu.Lock()
	u, pick := c.rng.Float64(), c.rng.IntN(len(hs))
	c.mu.Unlock()
	c.passes.Add(1)
	switch {
	case u < c.rate:
		c.panics.Add(1)
		panic("chaos: index out of range")
	case u < 2*c.rate:
		c.errs.Add(1)
		return nil, errors.New("chaos: device lost")
	case u < 3*c.rate:
		c.nans.Add(1)
		out, err := c.fc.ForecastBatch(ctx, hs)
		if err == nil {
			out[pick].Points[len(out[pick].Points)/2].Value = math.NaN()
		}
		return out, err
	case u < 4*c.rate:
		c.stalls.Add(1)
		time.Sleep(c.stall)
	}
	return c.fc.ForecastBatch(ctx, hs)
}

// TestFaultsAtScale: 64 goroutines call a Predictor at a fixed total rate
// (open loop: each caller keeps its own schedule) while its model panics,
// fails, returns NaN or stalls at random. Every call must be answered, by
// the model (the forecaster's own forecast of that history) or by the
// Holt-Winters fallback (its forecast of that history, with the reason),
// before the caller's deadline. The figures in docs/RELIABILITY.md come
// from this test at full scale.
func TestFaultsAtScale(t *testing.T) {
	atoi := func(s string) (int, error) { return strconv.Atoi(s) }
	rate := faultEnv(t, faultRateEnv, 300, atoi)
	duration := faultEnv(t, faultDurationEnv, 2*time.Second, time.ParseDuration)
	callers := faultEnv(t, faultCallersEnv, 64, atoi)
	const (
		timeout  = 50 * time.Millisecond  // the model's deadline (Options.Timeout)
		deadline = 100 * time.Millisecond // the caller's: the model's plus the fallback and scheduling
		stall    = 300 * time.Millisecond // a stalled pass, far past both
	)

	fc := tinyForecaster(t)
	needs := fc.Needs()
	// Histories of different lengths and their expected answers.
	const nh = 16
	train := synth.Walk(2000, 42)
	hw, err := FitHoltWinters(train, 1400, 288)
	if err != nil {
		t.Fatal(err)
	}
	hists := make([][]float64, nh)
	wantModel := make([]forecast.Forecast, nh)
	wantFB := make([][]float64, nh)
	for i := range hists {
		hists[i] = synth.Walk(needs+20+13*i, uint64(500+i))
		if wantModel[i], err = fc.Forecast(context.Background(), hists[i]); err != nil {
			t.Fatal(err)
		}
		wantFB[i] = make([]float64, fc.Horizon())
		if err := hw.Forecast(0, hists[i], len(hists[i])-1, wantFB[i]); err != nil {
			t.Fatal(err)
		}
	}

	goroutines := runtime.NumGoroutine()
	chaos := &chaosModel{fc: fc, rate: 0.02, stall: stall, rng: rand.New(rand.NewPCG(1, 2))}
	p, err := newPredictor(chaos, Options{Fallback: hw, Timeout: timeout, Workers: 4, MaxBatch: 16, Version: "chaos"})
	if err != nil {
		t.Fatal(err)
	}

	period := time.Duration(float64(callers) * float64(time.Second) / float64(rate)) // per caller
	// A probe of the process's own scheduling: a goroutine that sleeps 1ms
	// again and again records every wake-up that came more than 10ms late.
	// A call can only be as punctual as the process is run: on a shared
	// machine these stalls say how much of a late answer was the machine's.
	probe := &stallProbe{done: make(chan struct{})}
	probeDone := make(chan struct{})
	go probe.run(probeDone)
	waited0 := runQueueWait()
	type lateCall struct {
		t0 time.Time
		el time.Duration
	}
	var (
		lates                []lateCall
		wg                   sync.WaitGroup
		mu                   sync.Mutex
		lat                  []time.Duration
		byReason             [ReasonDeadline + 1]int64
		model, fallback, bad int64
		late                 atomic.Int64 // calls started more than a period behind schedule
	)
	start := time.Now()
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var reasons [ReasonDeadline + 1]int64
			var nModel, nFB, nBad int64
			offset := time.Duration(g) * period / time.Duration(callers)
			for k := 0; ; k++ {
				at := start.Add(offset + time.Duration(k)*period)
				if at.Sub(start) >= duration {
					break
				}
				if d := time.Until(at); d > 0 {
					time.Sleep(d)
				} else if -d > period {
					late.Add(1)
				}
				i := (g + k) % nh
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				t0 := time.Now()
				got, err := p.Predict(ctx, Input{History: hists[i], Phase: len(hists[i]) - 1})
				el := time.Since(t0)
				cancel()
				mine = append(mine, el)
				switch {
				case err != nil:
					nBad++
					t.Errorf("call unanswered after %v: %v", el, err)
				case got.Source == SourceModel && got.Reason == ReasonNone:
					nModel++
					for h, w := range wantModel[i].Points {
						if q := got.Points[h]; !near(q.Value, w.Value, 1e-6) || !near(q.P10, w.P10, 1e-6) || !near(q.P90, w.P90, 1e-6) {
							nBad++
							t.Errorf("history %d: model answer at h=%d is %+v, want %+v", i, h+1, q, w)
							break
						}
					}
				case got.Source == SourceFallback && got.Method == "holt_winters" &&
					(got.Reason == ReasonPanic || got.Reason == ReasonError || got.Reason == ReasonNonFinite || got.Reason == ReasonDeadline):
					nFB++
					reasons[got.Reason]++
					for h, w := range wantFB[i] {
						if got.Points[h].Value != w {
							nBad++
							t.Errorf("history %d: fallback answer at h=%d is %v, want %v", i, h+1, got.Points[h].Value, w)
							break
						}
					}
				default:
					nBad++
					t.Errorf("answer from %v (%q), reason %q", got.Source, got.Method, got.Reason)
				}
				if el > deadline {
					mu.Lock()
					lates = append(lates, lateCall{t0, el})
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			for r, n := range reasons {
				byReason[r] += n
			}
			model, fallback, bad = model+nModel, fallback+nFB, bad+nBad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	p.Close()
	close(probeDone)
	<-probe.done
	waited := runQueueWait() - waited0

	slices.Sort(lat)
	q := func(f float64) time.Duration { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	calls := len(lat)
	t.Logf("race detector %v, %d callers, %v at %d calls/s: %d calls in %v (%.0f/s, %d started over a period late)",
		raceEnabled, callers, duration, rate, calls, elapsed.Round(time.Millisecond), float64(calls)/elapsed.Seconds(), late.Load())
	t.Logf("answered: %d by the model, %d by the fallback (deadline %d, panic %d, error %d, NaN %d), %d wrong or unanswered",
		model, fallback, byReason[ReasonDeadline], byReason[ReasonPanic], byReason[ReasonError], byReason[ReasonNonFinite], bad)
	t.Logf("latency p50 %v, p99 %v, p99.9 %v, max %v (model deadline %v, caller's deadline %v)",
		q(0.5), q(0.99), q(0.999), lat[calls-1], timeout, deadline)
	// A late answer is the predictor's fault unless the process itself was
	// not run for at least the time the answer was late.
	unexplained := 0
	for _, l := range lates {
		if stalled := probe.within(l.t0, l.t0.Add(l.el)); l.el-stalled > deadline {
			unexplained++
			t.Errorf("answered after %v, past the caller's %v deadline; the process was stalled for %v of it", l.el, deadline, stalled)
		}
	}
	t.Logf("%d calls answered past the caller's deadline, %d of them late by more than the process was stalled meanwhile; "+
		"the process stalled %d times over 10ms (longest %v, %v in all)",
		len(lates), unexplained, len(probe.stalls), probe.longest(), probe.total())
	if waited0 >= 0 {
		t.Logf("the process's threads waited %v in all on the OS run queue (Linux schedstat)", waited.Round(time.Millisecond))
	}
	t.Logf("forward passes %d: %d panicked, %d failed, %d had a NaN, %d stalled %v",
		chaos.passes.Load(), chaos.panics.Load(), chaos.errs.Load(), chaos.nans.Load(), chaos.stalls.Load(), stall)

	if want := int(duration / period * time.Duration(callers)); calls < want*9/10 {
		t.Errorf("%d calls made, want about %d: the load did not reach its rate", calls, want)
	}
	if model == 0 || model+fallback != int64(calls) {
		t.Errorf("%d calls, %d answered by the model and %d by the fallback", calls, model, fallback)
	}
	// Every fault kind must have reached a caller for the run to say anything.
	if calls >= 500 {
		for _, r := range []Reason{ReasonPanic, ReasonError, ReasonNonFinite, ReasonDeadline} {
			if byReason[r] == 0 {
				t.Errorf("no call fell back for %q", r)
			}
		}
	}
	// Close waited for stalled passes: no worker or caller is left behind.
	for end := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > goroutines && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > goroutines {
		t.Errorf("%d goroutines after Close, %d before the predictor", n, goroutines)
	}
}

// stallProbe measures how long the process went without running a
// goroutine that only sleeps: the machine's share of any latency.
type stallProbe struct {
	stalls [][2]time.Time // [from, to] of each wake-up over 10ms late
	done   chan struct{}
}

func (s *stallProbe) run(quit chan struct{}) {
	defer close(s.done)
	for {
		select {
		case <-quit:
			return
		default:
		}
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		if now := time.Now(); now.Sub(t0) > 11*time.Millisecond {
			s.stalls = append(s.stalls, [2]time.Time{t0.Add(time.Millisecond), now})
		}
	}
}

// within is how long the process was stalled between from and to.
func (s *stallProbe) within(from, to time.Time) time.Duration {
	var d time.Duration
	for _, st := range s.stalls {
		a, b := st[0], st[1]
		if a.Before(from) {
			a = from
		}
		if b.After(to) {
			b = to
		}
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	return d
}

func (s *stallProbe) longest() time.Duration {
	var m time.Duration
	for _, st := range s.stalls {
		m = max(m, st[1].Sub(st[0]))
	}
	return m
}

func (s *stallProbe) total() time.Duration {
	var d time.Duration
	for _, st := range s.stalls {
		d += st[1].Sub(st[0])
	}
	return d
}

// runQueueWait is how long the process's threads have waited for a CPU on
// the OS's run queues (the second field of Linux's schedstat), or -1 where
// that is not known.
func runQueueWait() time.Duration {
	files, _ := filepath.Glob("/proc/self/task/*/schedstat")
	if len(files) == 0 {
		return -1
	}
	var ns int64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // a thread that exited meanwhile
		}
		if fs := strings.Fields(string(b)); len(fs) >= 2 {
			v, _ := strconv.ParseInt(fs[1], 10, 64)
			ns += v
		}
	}
	return time.Duration(ns)
}
