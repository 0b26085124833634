package forecast

import (
	"context"
	"reflect"
	"runtime"
	"testing"

	"github.com/novacron/perfpredict/baseline"
)

// Evaluate scores series concurrently on several cores; the report must be
// the one a single core gives, in the series' order (latencies aside: they
// are timings).
func TestEvaluateConcurrentSameReport(t *testing.T) {
	fc, _ := tinyForecaster(t)
	series := []baseline.Series{synthSeries("a", 900, 1), synthSeries("b", 700, 2), synthSeries("c", 800, 3), synthSeries("d", 650, 4)}
	run := func(procs int) *Report {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		rep, err := Evaluate(context.Background(), fc, series, []int{1, 4}, EvalOptions{Forecasts: true})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rep.Scenarios.Series {
			for m, sm := range rep.Scenarios.Series[i].Methods {
				sm.LatencyUS = 0
				rep.Scenarios.Series[i].Methods[m] = sm
			}
		}
		rep.Scenarios.Summary = nil
		return rep
	}
	one, four := run(1), run(4)
	if !reflect.DeepEqual(one.Series, four.Series) || !reflect.DeepEqual(one.Forecasts, four.Forecasts) ||
		!reflect.DeepEqual(one.Intervals, four.Intervals) || !reflect.DeepEqual(one.Scenarios, four.Scenarios) ||
		!reflect.DeepEqual(one.Summary, four.Summary) {
		t.Error("the report on four cores differs from the one on one core")
	}
	if n := len(four.Series); n != len(series)*2 || four.Series[0].Name != "a" || four.Series[n-1].Name != "d" {
		t.Errorf("rows out of the series' order: %d rows, first %q, last %q", n, four.Series[0].Name, four.Series[n-1].Name)
	}
}
