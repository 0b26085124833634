package httpapi

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/novacron/perfpredict/internal/synth"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/serve"
)

// TestHotReloadUnderLoad: eight clients forecast without pause while the
// registry's Active version flips between two versions every 40ms and
// Follow polls every 5ms: no request fails, both versions answer, and each
// answer is its version's forecast. Then a promoted version whose
// artifact is corrupted on disk is refused (logged, counted) and the
// previous one keeps serving, still under load.
func TestHotReloadUnderLoad(t *testing.T) {
	dir := t.TempDir()
	reg, err := lifecycle.Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	fcs := map[string]*serve.ForecastAnswer{}
	values := synth.Walk(120, 5)
	var vers []string
	for seed := uint64(1); seed <= 3; seed++ {
		fc := tinyForecaster(t, seed)
		info, err := reg.AddForecaster(lifecycle.Manifest{Model: "cpu"}, fc)
		if err != nil {
			t.Fatal(err)
		}
		v := info.Version.String()
		vers = append(vers, v)
		f, err := fc.Forecast(context.Background(), values)
		if err != nil {
			t.Fatal(err)
		}
		fcs[v] = serve.NewForecastAnswer([]serve.Prediction{{Forecast: f}}, nil, t0, time.Minute, 0, 0, v)
		fc.Close()
	}
	if err := reg.Promote("cpu", vers[0], "first"); err != nil {
		t.Fatal(err)
	}
	var logMu sync.Mutex
	var logs []string
	h, srv := newServer(t, Options{Logf: func(f string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		logs = append(logs, strings.TrimSpace(fmtS(f, a...)))
	}})
	ctx, cancel := context.WithCancel(context.Background())
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		h.Follow(ctx, reg, "cpu", 5*time.Millisecond)
	}()
	waitFor(t, h.Ready)

	var stop atomic.Bool
	var requests, failed atomic.Int64
	seen := sync.Map{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				var ans serve.ForecastAnswer
				code, raw := post(t, srv.URL+"/v1/forecast", map[string]any{"values": values}, &ans)
				requests.Add(1)
				if code != 200 {
					failed.Add(1)
					t.Errorf("during reloads: %d %s", code, raw)
					continue
				}
				want := fcs[ans.Version]
				if want == nil || !near(ans.Predictions[0], want.Predictions[0]) {
					failed.Add(1)
					t.Errorf("version %s answered %v", ans.Version, ans.Predictions[0][:3])
				}
				seen.Store(ans.Version, true)
			}
		}()
	}
	for i := range 12 {
		time.Sleep(40 * time.Millisecond)
		if err := reg.Promote("cpu", vers[(i+1)%2], "flip"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(40 * time.Millisecond)
	waitFor(t, func() bool { return h.Version() == vers[0] }) // 12 flips end on vers[0]

	// A bad version: stop following so the corruption lands before the
	// load, promote it, corrupt its artifact, and sync by hand.
	cancel()
	<-followed
	// A load the follower began before the last flip may have finished
	// after the wait above (a slow load under the requests' load): sync
	// by hand to the Active version, now that nothing else swaps.
	if err := h.Sync(); err != nil || h.Version() != vers[0] {
		t.Fatalf("Sync after the flips: %v, serving %s, want %s", err, h.Version(), vers[0])
	}
	if err := reg.Promote("cpu", vers[2], "bad"); err != nil {
		t.Fatal(err)
	}
	info, err := reg.Get("cpu", vers[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(info.CheckpointPath, []byte("not a zip"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(); err == nil || !strings.Contains(err.Error(), "refusing cpu "+vers[2]) {
		t.Fatalf("Sync of a corrupt version: %v", err)
	}
	if err := h.Sync(); err == nil || !strings.Contains(err.Error(), "was refused") {
		t.Fatalf("second Sync: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if h.Version() != vers[0] {
		t.Fatalf("serving %s after refusing %s, want %s", h.Version(), vers[2], vers[0])
	}
	for _, v := range vers[:2] {
		if _, ok := seen.Load(v); !ok {
			t.Errorf("version %s never answered", v)
		}
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d of %d requests failed during reloads", n, requests.Load())
	}
	t.Logf("%d requests, none failed, over 12 swaps", requests.Load())
	logMu.Lock()
	refusals := 0
	for _, l := range logs {
		if strings.HasPrefix(l, "refusing cpu "+vers[2]+" (still serving "+vers[0]+")") {
			refusals++
		}
	}
	logMu.Unlock()
	if refusals != 1 {
		t.Fatalf("%d refusal lines for %s, want 1 (logged once): %q", refusals, vers[2], logs)
	}
	_, raw := get(t, srv.URL+"/metrics")
	if !strings.Contains(raw, `perfpredict_model_reloads_total{result="refused"} 1`) ||
		!strings.Contains(raw, `perfpredict_model_version{model="perfpredict",version="`+vers[0]+`"} 1`) {
		t.Fatalf("/metrics:\n%s", raw)
	}
	var models modelsAnswer
	_, raw = get(t, srv.URL+"/v1/models")
	if err := json.Unmarshal([]byte(raw), &models); err != nil || models.Registry == nil ||
		models.Registry.Active != vers[2] || len(models.Registry.Versions) != 3 || models.Served.Version != vers[0] {
		t.Fatalf("models: %v %s", err, raw)
	}
}

func near(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if d := a[i] - b[i]; d > 1e-6*max(1, abs(b[i])) || -d > 1e-6*max(1, abs(b[i])) {
			return false
		}
	}
	return true
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
