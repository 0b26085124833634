package live

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/serve/httpapi"
)

// Collector is a lifecycle.Source over a HistorySource: each Collect asks
// for the points of Query since the last one it returned (Backfill points
// the first time, and after a gap longer than that), as one-column
// samples, oldest first.
type Collector struct {
	Series   httpapi.HistorySource
	Query    string
	Step     time.Duration // the series' cadence
	Backfill int

	mu   sync.Mutex
	last time.Time // the newest sample returned
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
