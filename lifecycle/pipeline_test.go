package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// missModel forecasts the last value, except that it is off by 10% on the
// targets whose 5-minute index mod 100 is below Miss: on a constant series
// its accuracy5 over 100 consecutive targets is exactly 1 - Miss/100.
type missModel struct{ Miss int }

func (m missModel) Forecast(h []Sample, horizon int) ([]float64, error) {
	last := h[len(h)-1]
	idx := last.Time.Add(5*time.Minute).Unix() / 300
	v := last.Values[0]
	if int(idx%100) < m.Miss {
		v *= 1.1
	}
	return []float64{v}, nil
}

// missTrainer writes checkpoints holding the next miss rate from its script.
type missTrainer struct {
	mu     sync.Mutex
	script []int
	calls  int
	gate   chan struct{}
}

func (tr *missTrainer) Train(ctx context.Context, req TrainRequest) (TrainResult, error) {
	if tr.gate != nil {
		select {
		case <-tr.gate:
		case <-ctx.Done():
			return TrainResult{}, ctx.Err()
		}
	}
	tr.mu.Lock()
	miss := tr.script[tr.calls%len(tr.script)]
	tr.calls++
	tr.mu.Unlock()
	path := filepath.Join(req.Dir, "m.txt")
	if err := os.WriteFile(path, []byte(strconv.Itoa(miss)), 0o644); err != nil {
		return TrainResult{}, err
	}
	return TrainResult{Checkpoint: path, Features: []string{"value"}}, nil
}

type missLoader struct{}

func (missLoader) Load(_ context.Context, path string) (Forecaster, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return missModel{Miss: n}, nil
}

// constSource yields one sample of value 100 per call.
func constSource() Source {
	return SourceFunc(func(_ context.Context, now time.Time) ([]Sample, error) {
		return []Sample{{Time: now, Values: []float64{100}}}, nil
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

var t0 = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)

func newTestPipeline(t *testing.T, tr Trainer, src Source, mod func(*Config)) (*Pipeline, *SimClock, *Registry, *eventLog) {
	t.Helper()
	clock := NewSimClock(t0)
	reg, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg.SetClock(clock.Now)
	log := &eventLog{}
	cfg := Config{Model: "m", Registry: reg, Source: src, Trainer: tr, Loader: missLoader{}, Clock: clock,
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

// TestPromotionGate: below threshold stays Candidate; above threshold but
// worse than Active stays Candidate; better or equal is promoted. Reasons
// are recorded in the registry.
func TestPromotionGate(t *testing.T) {
	// Miss rates 10 (acc .90), 3 (.97), 4 (.96: worse than .97), 1 (.99).
	tr := &missTrainer{script: []int{10, 3, 4, 1}}
	p, clock, reg, _ := newTestPipeline(t, tr, constSource(), nil)
	ctx := context.Background()
	// The held-out span is 100 samples; train needs 50 more. Retrain daily.
	var versions []string
	for day := 0; day < 5; day++ {
		for i := 0; i < 288; i++ {
			p.Step(ctx)
			clock.Advance(5 * time.Minute)
		}
	}
	infos, err := reg.List("m")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		versions = append(versions, fmt.Sprintf("%s %s %.2f %s", in.Version, in.Status, in.Test.Accuracy5, in.Reason))
	}
	want := []string{
		"v1.0.0 Candidate 0.90 held-out accuracy5 0.9000 below threshold 0.95",
		"v1.1.0 Deprecated 0.97",
		"v1.2.0 Candidate 0.96 held-out accuracy5 0.9600 worse than Active v1.1.0's 0.9700",
		"v1.3.0 Active 0.99 held-out accuracy5 0.9900 >= threshold 0.95 and >= Active v1.1.0's 0.9700",
	}
	if len(versions) < 4 {
		t.Fatalf("versions %v", versions)
	}
	for i, w := range want {
		if !strings.HasPrefix(versions[i], w) {
			t.Errorf("version %d: %q, want prefix %q", i, versions[i], w)
		}
	}
	if cur := p.Serving.Current(); cur == nil || cur.Version.Version.String() != "v1.3.0" {
		t.Fatalf("serving %+v", cur)
	}
	// The rejection's figures are in the note.
	in, _ := reg.Get("m", "v1.2.0")
	if n := in.Notes[len(in.Notes)-1]; n.Kind != "rejected" || n.Values["active_accuracy5"] != 0.97 {
		t.Errorf("note %+v", n)
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
	p, clock, reg, log := newTestPipeline(t, &missTrainer{script: []int{0}}, src, nil)
	in, _ := reg.Add(Manifest{Model: "m"}, writeCkpt(t, t.TempDir(), "0"))
	reg.Promote("m", in.Version.String(), "")
	ctx := context.Background()
	fail.Store(true)
	for i := 0; i < 48; i++ { // 4 hours, one step per 5 minutes
		p.Step(ctx)
		if cur := p.Serving.Current(); cur == nil {
			t.Fatal("nothing served while the source fails")
		} else if _, err := cur.Forecaster.Forecast([]Sample{{Time: clock.Now(), Values: []float64{100}}}, 1); err != nil {
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
	p, clock, _, log := newTestPipeline(t, &missTrainer{script: []int{0}}, src, func(c *Config) { c.CollectTimeout = 30 * time.Second })
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
// training on its own goroutine held open by a gate, while readers forecast
// through Serving; run with -race.
func TestServingNeverWaitsForTraining(t *testing.T) {
	gate := make(chan struct{})
	tr := &missTrainer{script: []int{2, 1}, gate: gate}
	p, clock, reg, log := newTestPipeline(t, tr, constSource(), func(c *Config) {
		c.SyncTraining = false
		c.RetrainEvery = 13 * time.Hour
	})
	in, _ := reg.Add(Manifest{Model: "m"}, writeCkpt(t, t.TempDir(), "3"))
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
			h := []Sample{{Time: t0, Values: []float64{100}}}
			for !stop.Load() {
				cur := p.Serving.Current()
				if cur == nil {
					t.Error("nil served version")
					return
				}
				if _, err := cur.Forecaster.Forecast(h, 1); err != nil {
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
	p, clock, reg, log := newTestPipeline(t, &missTrainer{script: []int{0}}, constSource(), nil)
	dir := t.TempDir()
	a, _ := reg.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "1"))
	b, _ := reg.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "2"))
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
	os.WriteFile(b.CheckpointPath, []byte("9"), 0o644)
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
// samples shows it significantly better; an equal one is rejected when the
// test reaches MaxSamples. The outcome is recorded in the registry.
func TestShadowBeforePromotion(t *testing.T) {
	tr := &missTrainer{script: []int{4, 0, 0, 0}}
	p, clock, reg, log := newTestPipeline(t, tr, constSource(), func(c *Config) {
		c.Shadow = &ABConfig{MinSamples: 100, MaxSamples: 200}
	})
	ctx := context.Background()
	for i := 0; i < 4*288-1; i++ {
		p.Step(ctx)
		clock.Advance(5 * time.Minute)
	}
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
		"Feb 2 00:00 promoted v1.0.0",
		"Feb 3 00:00 ab_started v1.1.0",
		"Feb 3 08:20 ab_promoted v1.1.0", // 100th scored sample (the first is 00:05),
		"Feb 4 00:00 ab_started v1.2.0",
		"Feb 4 16:40 ab_rejected v1.2.0", // 200th,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	st := statuses(t, reg, "m")
	if st["v1.0.0"] != Deprecated || st["v1.1.0"] != Active || st["v1.2.0"] != Candidate {
		t.Fatalf("statuses %v", st)
	}
	in, _ := reg.Get("m", "v1.2.0")
	if !strings.Contains(in.Reason, "no significant difference after 200") {
		t.Fatalf("reason %q", in.Reason)
	}
	if v := p.Serving.Current().Version.Version.String(); v != "v1.1.0" || p.Shadowing() != "" {
		t.Fatalf("serving %s, shadowing %q", v, p.Shadowing())
	}
}

// TestWeeklySchedule: RetrainEvery Weekly retrains once a week.
func TestWeeklySchedule(t *testing.T) {
	p, clock, _, log := newTestPipeline(t, &missTrainer{script: []int{0}}, constSource(), func(c *Config) { c.RetrainEvery = Weekly })
	for i := 0; i < 15*288; i++ {
		p.Step(context.Background())
		clock.Advance(5 * time.Minute)
	}
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
	reg, _ := Open(filepath.Join(dir, "reg"))
	a, _ := reg.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "1"))
	b, _ := reg.Add(Manifest{Model: "m"}, writeCkpt(t, dir, "2"))
	reg.Promote("m", a.Version.String(), "")
	reg.Promote("m", b.Version.String(), "")
	os.WriteFile(b.CheckpointPath, []byte("3"), 0o644)
	log := &eventLog{}
	p, err := New(context.Background(), Config{Model: "m", Registry: reg, Source: constSource(), Trainer: &missTrainer{script: []int{0}},
		Loader: missLoader{}, Clock: NewSimClock(t0), OnEvent: log.add})
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
