package live_test

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/lifecycle/live"
)

// minutes is a series with a point every minute up to a clock the example
// moves by hand.
type minutes struct{ now time.Time }

func (m *minutes) Last(_ context.Context, _ string, n int) (baseline.Series, error) {
	var s baseline.Series
	for i := n - 1; i >= 0; i-- {
		t := m.now.Add(-time.Duration(i) * time.Minute)
		s.Times, s.Values = append(s.Times, t), append(s.Values, float64(t.Minute()))
	}
	return s, nil
}

// A Collector backfills once, then returns only the points that are new.
func ExampleCollector() {
	src := &minutes{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	c := &live.Collector{Series: src, Query: "cpu", Step: time.Minute, Backfill: 60}
	ss, _ := c.Collect(context.Background(), src.now)
	fmt.Println(len(ss), "samples, the last at", ss[len(ss)-1].Time.Format("15:04"))
	src.now = src.now.Add(3 * time.Minute)
	ss, _ = c.Collect(context.Background(), src.now)
	fmt.Println(len(ss), "new samples:", ss[0].Time.Format("15:04"), "to", ss[len(ss)-1].Time.Format("15:04"))
	// Output:
	// 60 samples, the last at 12:00
	// 3 new samples: 12:01 to 12:03
}
