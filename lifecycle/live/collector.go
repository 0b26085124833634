package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/serve/httpapi"
	"github.com/novacron/perfpredict/source"
)

// Collector is a lifecycle.Source over a HistorySource: each Collect asks
// for the points of Query since the last one it returned (Backfill points
// the first time, and after a gap longer than that), as one-column
// samples, oldest first.
//
// A source that refuses a range holding a gap (source.Prometheus does: a
// missed scrape is a missing value) would refuse it at every later call,
// since each asks from the last point returned: the Collector then takes
// the points after the newest gap (found by bisection), skipping it (the
// history jumps over it), and reports the refusal to OnGap.
type Collector struct {
	Series   httpapi.HistorySource
	Query    string
	Step     time.Duration // the series' cadence
	Backfill int
	OnGap    func(error) // may be nil

	mu   sync.Mutex
	last time.Time // the newest sample returned
}

// afterGap finds the most recent points up to n that the source does not
// refuse (the ones after the newest gap) by bisection: log2(n) requests.
func (c *Collector) afterGap(ctx context.Context, n int) (baseline.Series, error) {
	var best baseline.Series
	ok, refused := 0, n // ok points were answered, refused were not
	for refused-ok > 1 {
		mid := (ok + refused) / 2
		s, err := c.Series.Last(ctx, c.Query, mid)
		switch {
		case err == nil:
			ok, best = mid, s
		case errors.Is(err, baseline.ErrBadInput):
			refused = mid
		default:
			return baseline.Series{}, err
		}
	}
	if ok == 0 {
		return baseline.Series{}, errors.New("live: no point after the gap")
	}
	return best, nil
}

// Collect implements lifecycle.Source.
func (c *Collector) Collect(ctx context.Context, now time.Time) ([]lifecycle.Sample, error) {
	c.mu.Lock()
	last := c.last
	c.mu.Unlock()
	n := c.Backfill
	if !last.IsZero() && c.Step > 0 {
		// One more than the steps elapsed: a point landing just after the
		// previous call's end is not missed.
		n = min(c.Backfill, int(now.Sub(last)/c.Step)+2)
	}
	s, err := c.Series.Last(ctx, c.Query, max(n, 1))
	if errors.Is(err, baseline.ErrBadInput) && n > 1 {
		refused := err
		if s, err = c.afterGap(ctx, n); err != nil {
			return nil, refused
		}
		if c.OnGap != nil {
			c.OnGap(refused)
		}
	}
	if err != nil {
		return nil, err
	}
	if len(s.Times) != len(s.Values) {
		return nil, fmt.Errorf("live: %s: %d times for %d values", c.Query, len(s.Times), len(s.Values))
	}
	var out []lifecycle.Sample
	for i, t := range s.Times {
		if t.After(last) {
			out = append(out, lifecycle.Sample{Time: t, Values: []float64{s.Values[i]}})
		}
	}
	if len(out) > 0 {
		c.mu.Lock()
		c.last = out[len(out)-1].Time
		c.mu.Unlock()
	}
	return out, nil
}

// Prometheus is a HistorySource over a Prometheus server whose points lie
// on the multiples of step (Unix time): each call evaluates the query up
// to now truncated to step, so that successive collections see the same
// evaluation times instead of a grid shifted by when they ran.
func Prometheus(url string, step time.Duration) httpapi.HistorySource {
	return alignedPrometheus{source.Prometheus{URL: url, Step: step}}
}

type alignedPrometheus struct{ p source.Prometheus }

func (a alignedPrometheus) Last(ctx context.Context, name string, n int) (baseline.Series, error) {
	p := a.p
	p.End = time.Now().Truncate(p.Step)
	return p.Last(ctx, name, n)
}
