package integration

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// fakeHDE is an engine whose setters can be made to fail.
type fakeHDE struct {
	level, chunk int
	failChunk    bool
	calls        []string
}

func (f *fakeHDE) SetCompressionLevel(l int) error {
	f.calls = append(f.calls, "level")
	f.level = l
	return nil
}

func (f *fakeHDE) SetChunkSize(b int) error {
	f.calls = append(f.calls, "chunk")
	if f.failChunk {
		return errors.New("engine busy")
	}
	f.chunk = b
	return nil
}

// response is a deterministic HDE: bytes fall with the level, latency grows
// with it; regress makes one level pathological.
func response(level, chunk int, load float64, regress int) HDETelemetry {
	lat := 2 + float64(level)*load/200
	if level == regress {
		lat *= 10
	}
	return HDETelemetry{Settings: HDESettings{level, chunk}, ThroughputRPS: load, LatencyMs: lat,
		WireBytes: 40000 / (1 + 0.2*float64(level)) * (1 + 0.01*math.Abs(math.Log2(float64(chunk)/65536))), CPUUtil: 0.05 * float64(level)}
}

func run(t *testing.T, tu *HDETuner, e *fakeHDE, n int, load float64, regress int) {
	t.Helper()
	for range n {
		if err := tu.Observe(response(e.level, e.chunk, load, regress)); err != nil {
			t.Fatal(err)
		}
		if _, err := tu.Decide(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHDETunerFindsConstrainedOptimum(t *testing.T) {
	e := &fakeHDE{level: 3, chunk: 64 << 10}
	tu, err := NewHDETuner(e, HDESettings{3, 64 << 10}, HDETarget{LatencyMs: 20, MaxCPU: 0.8}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	run(t, tu, e, 120, 400, -1)
	// Latency 2 + 2*level <= 20 allows level 9; CPU 0.45 fine; 64 KiB chunks are cheapest.
	got, err := tu.PredictOptimalHDESettings(400, 20)
	if err != nil || got != (HDESettings{9, 64 << 10}) {
		t.Fatalf("optimal %v, %v", got, err)
	}
	if s := tu.Settings(); s != got || e.level != 9 || e.chunk != 64<<10 {
		t.Fatalf("tuner ended at %v, engine at %d/%d", s, e.level, e.chunk)
	}
	// A tighter target is met by a lower level.
	if got, _ := tu.PredictOptimalHDESettings(400, 11); got.CompressionLevel != 4 {
		t.Fatalf("11 ms target: %v", got)
	}
	// Hysteresis: once there, it stays; no flapping on a steady response.
	ch, _, _ := tu.Stats()
	run(t, tu, e, 50, 400, -1)
	if ch2, _, _ := tu.Stats(); ch2 != ch {
		t.Fatalf("%d changes on a steady response after converging", ch2-ch)
	}
}

// A simulated regression: level 4 is ten times slower than the model learned
// elsewhere predicts; the tuner tries it, measures worse, and rolls back.
func TestRollbackOnRegression(t *testing.T) {
	e := &fakeHDE{level: 3, chunk: 64 << 10}
	tu, err := NewHDETuner(e, HDESettings{3, 64 << 10}, HDETarget{LatencyMs: 20, MaxCPU: 0.8}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var rolled bool
	for range 30 {
		if err := tu.Observe(response(e.level, e.chunk, 400, 4)); err != nil {
			t.Fatal(err)
		}
		d, err := tu.Decide(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if d.Rollback {
			if float64(e.level) != d.To[0] || float64(e.chunk) != d.To[1] {
				t.Fatalf("rollback %+v left the engine at %d/%d", d, e.level, e.chunk)
			}
			if d.From[0] == 4 {
				rolled = true
			}
			if !strings.Contains(d.Reason, "rolled back") {
				t.Fatalf("reason %q", d.Reason)
			}
		}
	}
	if !rolled {
		t.Fatal("no rollback from the regressed level 4")
	}
	if _, rb, _ := tu.Stats(); rb < 1 {
		t.Fatal("rollback not counted")
	}
	if e.level == 4 {
		t.Fatal("tuner settled on the regressed level")
	}
}

func TestSetterFailureKeepsOldSettings(t *testing.T) {
	e := &fakeHDE{level: 3, chunk: 64 << 10, failChunk: true}
	tu, err := NewHDETuner(e, HDESettings{3, 64 << 10}, HDETarget{LatencyMs: 20}, Options{MaxStep: 1, ExploreEvery: 1})
	if err != nil {
		t.Fatal(err)
	}
	var se *SetterError
	for range 40 {
		if err := tu.Observe(response(e.level, e.chunk, 400, -1)); err != nil {
			t.Fatal(err)
		}
		before := tu.Settings()
		lvl := e.level
		_, err := tu.Decide(context.Background())
		if errors.As(err, &se) {
			if tu.Settings() != before || e.level != lvl || e.chunk != 64<<10 {
				t.Fatalf("after a failed setter: tuner %v, engine %d/%d; before %v", tu.Settings(), e.level, e.chunk, before)
			}
			if se.Setting != "SetChunkSize" || !strings.Contains(se.Error(), "engine busy") {
				t.Fatalf("error %v", se)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if se == nil {
		t.Fatal("the failing setter was never reported")
	}
	if _, _, sf := tu.Stats(); sf == 0 {
		t.Fatal("setter failures not counted")
	}
}

type nopACP struct{}

func (nopACP) SetTimeout(time.Duration) error { return nil }
func (nopACP) SetBatchSize(int) error         { return nil }

type nopPBA struct{}

func (nopPBA) SetPredictionWindow(int) error        { return nil }
func (nopPBA) SetConfidenceThreshold(float64) error { return nil }

func TestBadInput(t *testing.T) {
	e := &fakeHDE{level: 3, chunk: 64 << 10}
	if _, err := NewHDETuner(nil, DefaultHDE(), HDETarget{LatencyMs: 10}, Options{}); err == nil {
		t.Error("nil engine accepted")
	}
	if _, err := NewHDETuner(e, DefaultHDE(), HDETarget{LatencyMs: math.NaN()}, Options{}); err == nil {
		t.Error("NaN target accepted")
	}
	if _, err := NewHDETuner(e, HDESettings{12, 1 << 16}, HDETarget{LatencyMs: 10}, Options{}); err == nil {
		t.Error("level 12 accepted")
	}
	if _, err := NewACPTuner(nopACP{}, DefaultACP(), ACPTarget{LatencyBudgetMs: -5}, Options{}); err == nil {
		t.Error("negative budget accepted")
	}
	if _, err := NewPBATuner(nopPBA{}, PBASettings{0, 0.9}, PBATarget{}, Options{}); err == nil {
		t.Error("window 0 accepted")
	}
	tu, _ := NewHDETuner(e, DefaultHDE(), HDETarget{LatencyMs: 10}, Options{})
	if _, err := tu.PredictOptimalHDESettings(100, 10); !errors.Is(err, ErrNoTelemetry) {
		t.Errorf("prediction without telemetry: %v", err)
	}
	if d, err := tu.Decide(context.Background()); err != nil || d.Changed {
		t.Errorf("decision without telemetry: %+v %v", d, err)
	}
	gap := response(3, 64<<10, 100, -1)
	gap.LatencyMs = math.NaN()
	if err := tu.Observe(gap); err == nil || !strings.Contains(err.Error(), "latency_ms") {
		t.Errorf("NaN latency: %v", err)
	}
	gap = response(3, 64<<10, math.Inf(1), -1)
	if err := tu.Observe(gap); err == nil {
		t.Error("infinite throughput accepted")
	}
	if _, err := tu.PredictOptimalHDESettings(-1, 10); err == nil {
		t.Error("negative throughput accepted")
	}
	at, _ := NewACPTuner(nopACP{}, DefaultACP(), ACPTarget{LatencyBudgetMs: 20}, Options{})
	if err := at.Observe(ACPTelemetry{Settings: DefaultACP(), ClusterSize: 0, LoadRPS: 1}); err == nil {
		t.Error("cluster size 0 accepted")
	}
	if _, err := at.PredictOptimalACPSettings(5, 0); err == nil {
		t.Error("zero budget accepted")
	}
	pt, _ := NewPBATuner(nopPBA{}, DefaultPBA(), PBATarget{}, Options{})
	if err := pt.Observe(PBATelemetry{Settings: DefaultPBA(), Traffic: TrafficPattern{OfferedMbps: math.NaN(), AvailableMbps: 100}}); err == nil {
		t.Error("NaN traffic accepted")
	}
	if _, err := pt.PredictOptimalPBASettings(TrafficPattern{OfferedMbps: 100, AvailableMbps: 500}); !errors.Is(err, ErrNoTelemetry) {
		t.Errorf("PBA prediction without telemetry: %v", err)
	}
	for _, bad := range []float64{math.NaN(), -1, math.Inf(1)} {
		for name, set := range map[string]func(*PBATelemetry){
			"epoch_ms":              func(m *PBATelemetry) { m.EpochMs = bad },
			"message_rate":          func(m *PBATelemetry) { m.MessageRate = bad },
			"retransmit_timeout_ms": func(m *PBATelemetry) { m.RetransmitTimeoutMs = bad },
			"packets_per_message":   func(m *PBATelemetry) { m.PacketsPerMessage = bad },
			"max_retransmits":       func(m *PBATelemetry) { m.MaxRetransmits = -1 },
		} {
			m := PBATelemetry{Settings: DefaultPBA(), Traffic: TrafficPattern{OfferedMbps: 100, AvailableMbps: 500, Burstiness: 1},
				NetworkMs: 1, Measurements: []float64{500}}
			set(&m)
			if err := pt.Observe(m); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s = %v: error %v, want one naming the field", name, bad, err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tu.Decide(ctx); err == nil {
		t.Error("cancelled context ignored")
	}
}

// The replay's physical delay parts for one epoch are the formulas its doc
// states: 100 Mbps of 100 kbit messages paced at 200 Mbps.
func TestReplayPhysicalParts(t *testing.T) {
	var r pbaReplay
	p := &pendingInterval{offered: 100, phys: physics{msgRate: 1000, rtoMs: 25, packets: 10, epochMs: 50}}
	f := make([]float64, nFeat)
	bl := 0.0
	r.physEpoch(f, &bl, p, 200, 0)
	want := []float64{0.5, 0, 0.25, 0, 0, 0} // transmission 0.5 ms, M/D/1 at rho 0.5: 0.5/(2*0.5) of it
	for j := range want {
		if math.Abs(f[j]-want[j]) > 1e-12 {
			t.Errorf("no overshoot: part %d = %v, want %v", j+1, f[j], want[j])
		}
	}
	// 1% overshoot: a 10-packet message is hit with pm = 1-0.99^10 and
	// waits 25 ms per round, pm + pm^2 rounds with at most 2 resends; the
	// goodput is the rate over the 1 + rounds transmissions a message takes.
	f = make([]float64, nFeat)
	lim := &pendingInterval{offered: 100, phys: physics{msgRate: 1000, rtoMs: 25, packets: 10, epochMs: 50, maxRounds: 2}}
	r.physEpoch(f, &bl, lim, 200, 0.01)
	pm := 1 - math.Pow(0.99, 10)
	rounds := pm + pm*pm
	rho := 100 / (200 / (1 + rounds))
	want = []float64{0.5, 0.01, rho / (2 * (1 - rho)) * 0.5, 0, 25 * rounds, pm * pm * pm}
	for j := range want {
		if math.Abs(f[j]-want[j]) > 1e-12 {
			t.Errorf("1%% overshoot: part %d = %v, want %v", j+1, f[j], want[j])
		}
	}
	// Without a known limit the rounds are geometric: pm/(1-pm).
	f = make([]float64, nFeat)
	r.physEpoch(f, &bl, p, 200, 0.01)
	if w := 25 * pm / (1 - pm); math.Abs(f[4]-w) > 1e-12 {
		t.Errorf("no retransmit limit: waits %v ms, want %v", f[4], w)
	}
	// Paced below the offered load, the backlog grows by the shortfall each
	// epoch and is waited out at the goodput.
	f = make([]float64, nFeat)
	bl = 0
	slow := &pendingInterval{offered: 100, phys: p.phys}
	r.physEpoch(f, &bl, slow, 80, 0)
	if bl != 20 || math.Abs(f[3]-20.0/80*50) > 1e-12 {
		t.Errorf("backlog %v Mbps-epochs, wait %v ms; want 20 and %v", bl, f[3], 20.0/80*50)
	}
}

// The grids and defaults are returned as copies: a caller editing them (to
// print a menu, or by appending) must not move the grid every tuner in the
// process searches, nor the defaults the next caller gets.
func TestExportedGridsAreCopies(t *testing.T) {
	for _, g := range [][]float64{HDELevels(), HDEChunkSizes(), PBAWindows(), PBAConfidence(), ACPTimeoutsMs(), ACPBatchSizes()} {
		for i := range g {
			g[i] = 1e6
		}
		_ = append(g[:1], -1)
	}
	d := DefaultHDE()
	d.CompressionLevel = 9
	p := DefaultPBA()
	p.WindowSize = 1
	a := DefaultACP()
	a.BatchSize = 1
	if DefaultHDE().CompressionLevel != 3 || DefaultPBA().WindowSize != 16 || DefaultACP().BatchSize != 32 {
		t.Errorf("defaults changed: %+v %+v %+v", DefaultHDE(), DefaultPBA(), DefaultACP())
	}
	if HDELevels()[3] != 3 || PBAWindows()[4] != 16 || ACPTimeoutsMs()[5] != 50 || PBAConfidence()[0] != 0.5 {
		t.Errorf("grids changed: %v %v %v", HDELevels(), PBAWindows(), ACPTimeoutsMs())
	}
	// A tuner snaps its start to its grid: with an edited grid it would land
	// elsewhere.
	h, err := NewHDETuner(&fakeHDE{}, DefaultHDE(), HDETarget{LatencyMs: 10}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := NewPBATuner(nopPBA{}, DefaultPBA(), PBATarget{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	at, err := NewACPTuner(nopACP{}, DefaultACP(), ACPTarget{LatencyBudgetMs: 20}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if h.Settings() != DefaultHDE() || pt.Settings() != DefaultPBA() || at.Settings() != DefaultACP() {
		t.Errorf("tuners start at %+v %+v %+v", h.Settings(), pt.Settings(), at.Settings())
	}
}
