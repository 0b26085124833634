package httpapi

import (
	"context"
	"sync"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
)

// switchRetry is how long a series whose switch could not be fitted (too
// short a history, a gap, a value that is not a number) is answered by the
// model before its history is fetched again.
const switchRetry = 15 * time.Minute

// switches follow the named series of {"series": NAME} requests for one
// loaded model (Options.Switch): a serve.Follower per series, fitted on
// Options.SwitchHistory observations fetched at its first request and fed
// the rows of each later one. Past Options.MaxSwitches series the least
// recently asked for is dropped. A model swap drops them all with the
// model, since a follower's errors are its model's.
type switches struct {
	mu     sync.Mutex
	byName map[string]*followed
	tick   uint64
}

// followed is one series' follower.
type followed struct {
	mu sync.Mutex // held while it is fitted or fed
	f  *serve.Follower
	// retry is when a series that could not be fitted is tried again.
	retry time.Time
	used  uint64 // switches.tick at its last request
}

// len is the number of series followed.
func (s *switches) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byName)
}

// entry returns name's entry, made (and the least recently used one
// dropped, past max) if it has none.
func (s *switches) entry(name string, max int) *followed {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tick++
	e := s.byName[name]
	if e == nil {
		if s.byName == nil {
			s.byName = map[string]*followed{}
		}
		if len(s.byName) >= max {
			var oldest string
			for n, o := range s.byName {
				if oldest == "" || o.used < s.byName[oldest].used {
					oldest = n
				}
			}
			delete(s.byName, oldest)
		}
		e = &followed{}
		s.byName[name] = e
	}
	e.used = s.tick
	return e
}

// follow answers a {"series": NAME} request (its fetched rows: times and
// values at cadence step) with the series' switch: fitted on a fresh
// history at the series' first request, after a gap its rows do not
// cover, and after a value that was not a number (once switchRetry has
// passed). ok is false where the model's answer stands: the switch cannot
// be fitted, or the request's rows end before the last ones the switch saw
// (a request that fetched before another one answered).
func (h *Handler) follow(ctx context.Context, m *loaded, name string, times []time.Time, values []float64, step time.Duration) (pts []forecast.Point, ok bool) {
	n := len(times)
	if n == 0 || n != len(values) {
		return nil, false
	}
	e := m.switches.entry(name, h.opt.MaxSwitches)
	e.mu.Lock()
	defer e.mu.Unlock()
	horizon := m.pred.Horizon()
	if e.f != nil {
		if times[n-1].Before(e.f.Last()) {
			return nil, false
		}
		if pts, ok := e.f.Points(times, values, step, horizon); ok {
			return pts, true
		}
		// A gap longer than the rows fetched, or a value that is not a
		// number: start again from a fresh history.
		e.f = nil
	} else if !e.retry.IsZero() && h.opt.Now().Before(e.retry) {
		return nil, false
	}
	hist, err := h.opt.Source.Last(ctx, name, h.opt.SwitchHistory)
	if err == nil {
		if hist.Name == "" {
			hist.Name = name
		}
		e.f, err = serve.NewFollower(m.fc, hist)
	}
	if err != nil && ctx.Err() != nil {
		return nil, false // the request ended, not the series' fault: try again with the next
	}
	if err != nil {
		h.metrics.switchFits.WithLabelValues("failed").Inc()
		e.f, e.retry = nil, h.opt.Now().Add(switchRetry)
		h.logf("series %q: the model answers it until %s, its switch could not be fitted: %v", name, e.retry.Format(time.RFC3339), err)
		return nil, false
	}
	h.metrics.switchFits.WithLabelValues("fitted").Inc()
	e.retry = time.Time{}
	return e.f.Points(times, values, step, horizon)
}
