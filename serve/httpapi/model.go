package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/serve"
)

// loaded is one model version being served. Requests hold a reference
// while they use it; a swap retires it, and the last request to let go of
// a retired model closes it, so nothing in flight loses its model.
type loaded struct {
	fc      *forecast.Forecaster
	pred    *serve.Predictor
	version string
	model   string                 // the registry's model name ("" for an artifact)
	info    *lifecycle.VersionInfo // nil for an artifact
	since   time.Time
	// switches follow the named series it answered (Options.Switch).
	switches switches

	mu      sync.Mutex
	refs    int
	retired bool
}

func (m *loaded) close() {
	m.pred.Close()
	m.fc.Close()
}

// acquire returns the current model with a reference held (nil: none
// loaded); release it with h.release.
func (h *Handler) acquire() *loaded {
	for {
		m := h.cur.Load()
		if m == nil {
			return nil
		}
		m.mu.Lock()
		if !m.retired {
			m.refs++
			m.mu.Unlock()
			return m
		}
		// Swapped out between the load and the lock: the pointer holds
		// its successor now.
		m.mu.Unlock()
	}
}

func (h *Handler) release(m *loaded) {
	m.mu.Lock()
	m.refs--
	last := m.refs == 0 && m.retired
	m.mu.Unlock()
	if last {
		m.close()
	}
}

// retire closes m once no request holds it.
func retire(m *loaded) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.retired = true
	idle := m.refs == 0
	m.mu.Unlock()
	if idle {
		m.close()
	}
}

// Load serves fc from now on as version (a registry version, or "" for
// its artifact's digest, as `perfpredict predict` names it). Requests in
// flight finish on the model they started with. fc becomes the handler's:
// it is closed once replaced and idle, or by Close. A forecaster that
// fails the smoke test (a forecast of a plain series that is not finite)
// is refused with an error and not closed.
func (h *Handler) Load(fc *forecast.Forecaster, version string) error {
	return h.load(fc, version, "", nil)
}

func (h *Handler) load(fc *forecast.Forecaster, version, model string, info *lifecycle.VersionInfo) error {
	if fc == nil {
		return errors.New("httpapi: Load needs a forecaster")
	}
	if err := smokeTest(fc); err != nil {
		return err
	}
	opt := h.opt.Predictor
	opt.Version = version
	opt.Fallback = seasonalFallback{}
	user := opt.OnFallback
	opt.OnFallback = func(r serve.Reason, err error) {
		h.metrics.fallbacks.WithLabelValues(r.String()).Inc()
		if user != nil {
			user(r, err)
		}
	}
	pred, err := serve.New(fc, opt)
	if err != nil {
		return err
	}
	m := &loaded{fc: fc, pred: pred, version: pred.Version(), model: model, info: info, since: h.opt.Now()}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		m.close()
		return errors.New("httpapi: handler closed")
	}
	old := h.cur.Swap(m)
	h.promc.SetVersion(m.version)
	retire(old)
	return nil
}

// smokeTest forecasts a gently seasonal series with fc: a version whose
// forecast is not finite or not of its horizon is not served.
func smokeTest(fc *forecast.Forecaster) error {
	y := make([]float64, fc.Needs())
	for i := range y {
		y[i] = 50 + 10*math.Sin(float64(i)/12)
	}
	f, err := fc.Forecast(context.Background(), y)
	if err != nil {
		return fmt.Errorf("httpapi: smoke test: %w", err)
	}
	if len(f.Points) != fc.Horizon() {
		return fmt.Errorf("httpapi: smoke test: %d forecast steps for a horizon of %d", len(f.Points), fc.Horizon())
	}
	for _, p := range f.Points {
		for _, v := range [...]float64{p.Value, p.P10, p.P90} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("httpapi: smoke test: the forecast at h=%d is %v", p.Horizon, v)
			}
		}
	}
	return nil
}

// Follow serves model's Active version in reg and polls the registry every
// interval for a new one until ctx ends (UseRegistry, then Sync on every
// tick). Before anything is loaded /readyz answers 503.
func (h *Handler) Follow(ctx context.Context, reg *lifecycle.Registry, model string, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("httpapi: Follow interval %v, want > 0", interval)
	}
	h.UseRegistry(reg, model)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		h.Sync()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// UseRegistry names the registry and model that Sync follows and GET
// /v1/models lists.
func (h *Handler) UseRegistry(reg *lifecycle.Registry, model string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reg, h.regModel, h.refused = reg, model, ""
}

// Sync serves the registry's Active version (UseRegistry) if it is not the
// one served. A version that cannot be loaded (missing or corrupt files, a
// checksum mismatch) or fails the smoke test is refused: the error is
// logged once and returned, the current version keeps serving, and Sync
// tries again only once the Active version has changed. It returns nil
// when nothing needed loading.
func (h *Handler) Sync() error {
	h.syncMu.Lock()
	defer h.syncMu.Unlock()
	h.mu.Lock()
	reg, model, refused := h.reg, h.regModel, h.refused
	h.mu.Unlock()
	if reg == nil {
		return errors.New("httpapi: Sync before UseRegistry")
	}
	v, err := reg.ActiveVersion(model)
	if err != nil {
		if errors.Is(err, lifecycle.ErrNotFound) {
			return nil // no such model yet: a runner's first version is on its way
		}
		h.logf("registry %s: %v", reg.Dir(), err)
		return err
	}
	if v == "" {
		return nil
	}
	if v == refused {
		return fmt.Errorf("httpapi: %s %s was refused", model, v)
	}
	if cur := h.cur.Load(); cur != nil && cur.model == model && cur.version == v {
		return nil
	}
	fc, info, err := reg.LoadActive(model)
	if err == nil {
		// Promoted again between the two reads: serve what was loaded
		// (verified); the next Sync catches up.
		v = info.Version.String()
		if err = h.load(fc, v, model, &info); err != nil {
			fc.Close()
		}
	}
	if err != nil {
		h.metrics.reloads.WithLabelValues("refused").Inc()
		serving := "nothing"
		if cur := h.cur.Load(); cur != nil {
			serving = cur.version
		}
		h.logf("refusing %s %s (still serving %s): %v", model, v, serving, err)
		h.mu.Lock()
		h.refused = v
		h.mu.Unlock()
		return fmt.Errorf("httpapi: refusing %s %s: %w", model, v, err)
	}
	h.metrics.reloads.WithLabelValues("loaded").Inc()
	h.logf("serving %s %s", model, v)
	return nil
}

// seasonalFallback answers when the model cannot: Holt-Winters fitted on
// the request's own values (train and validation splits, PROTOCOL.md's
// 70/15/15), persistence when they are too few to fit it. The service
// passes the season's length in steps (a day at the request's cadence) as
// Input.Series, since a shared Predictor has one fallback for requests of
// any cadence.
type seasonalFallback struct{}

func (seasonalFallback) Name() string { return "holt_winters" }

func (seasonalFallback) Forecast(period int, history []float64, phase int, dst []float64) error {
	split := baseline.SplitOf(len(history))
	hw, err := serve.FitHoltWinters(history[:split.Fit()], max(1, split.Train), max(1, period))
	if err != nil {
		return serve.Persistence{}.Forecast(0, history, phase, dst)
	}
	return hw.Forecast(0, history, phase, dst)
}
