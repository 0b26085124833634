package serve

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// TestServiceForecastsEveryColumn: each metric of a multi-column history
// is forecast as its own series, equal to the forecaster's Forecast of
// that column, from only the last Needs() rows.
func TestServiceForecastsEveryColumn(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(600, []string{"cpu", "mem"}, 5, 6)
	svc, err := NewService(fc, d, ServiceOptions{Name: "synth"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ctx := context.Background()
	ps, err := svc.Forecast(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	n := d[0].Len()
	last, err := svc.Forecast(ctx, sliceRows(d, n-fc.Needs(), n))
	if err != nil {
		t.Fatal(err)
	}
	for m, s := range d {
		want, err := fc.Forecast(ctx, s.Values)
		if err != nil {
			t.Fatal(err)
		}
		for k, pt := range want.Points {
			for _, got := range []Prediction{ps[m], last[m]} {
				if g := got.Points[k]; !near(g.Value, pt.Value, 1e-6) || !near(g.P10, pt.P10, 1e-6) || !near(g.P90, pt.P90, 1e-6) {
					t.Fatalf("%s h=%d: %+v, want %+v", s.Name, k+1, g, pt)
				}
			}
		}
		if ps[m].Last != s.Values[n-1] || ps[m].Source != SourceModel {
			t.Errorf("%s: last %v, source %v", s.Name, ps[m].Last, ps[m].Source)
		}
	}
	// Too short, a NaN in the rows read, an unknown column: bad input
	// naming the data, the metric and the row.
	_, err = svc.Forecast(ctx, sliceRows(d, 0, fc.Needs()-1))
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "synth: 16 rows; a forecast needs the last 17 rows") {
		t.Errorf("short: %v", err)
	}
	bad := sliceRows(d, 0, 100)
	bad[0].Values = append([]float64(nil), bad[0].Values...)
	bad[0].Values[95] = math.NaN()
	if _, err = svc.Forecast(ctx, bad); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "cpu at row 96") {
		t.Errorf("NaN: %v", err)
	}
	if _, err = svc.Forecast(ctx, d[:1]); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), `synth has no metric "mem" (it has [cpu])`) {
		t.Errorf("missing column: %v", err)
	}
}

// TestSeriesMustAlign: the metrics of a history share their times; a
// series that does not is bad input naming it, in NewService and in a
// forecast alike.
func TestSeriesMustAlign(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(300, []string{"cpu", "mem"}, 1, 2)
	shifted := slices.Clone(d[0].Times)
	shifted[250] = shifted[250].Add(time.Second)
	for _, c := range []struct {
		name string
		ss   []baseline.Series
		want string
	}{
		{"none", nil, "serve: web: no metric series"},
		{"short values", []baseline.Series{d[0], {Name: "mem", Times: d[1].Times, Values: d[1].Values[:299]}},
			`serve: web: series "mem" has 299 values for 300 times`},
		{"no times", []baseline.Series{d[0], {Name: "mem", Values: d[1].Values}}, `series "mem" has 300 values for 0 times`},
		{"fewer rows", []baseline.Series{d[0], d[1].Slice(0, 299)}, `series "mem" has 299 times, series "cpu" 300`},
		{"other times", []baseline.Series{d[0], {Name: "mem", Times: shifted, Values: d[1].Values}},
			`series "mem" at row 251 is at 2026-01-01T20:50:01Z, series "cpu" at 2026-01-01T20:50:00Z`},
	} {
		_, err := NewService(fc, c.ss, ServiceOptions{Name: "web"})
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	// Equal times in separate arrays (as baseline.LoadColumns gives them)
	// are aligned.
	own := []baseline.Series{d[0], {Name: "mem", Times: slices.Clone(d[1].Times), Values: d[1].Values}}
	svc, err := NewService(fc, own, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if _, err := svc.Forecast(context.Background(), own); err != nil {
		t.Fatal(err)
	}
	recent := []baseline.Series{d[0], {Name: "mem", Times: shifted, Values: d[1].Values}}
	if _, err := svc.Forecast(context.Background(), recent); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), `serve: series "mem" at row 251`) {
		t.Errorf("misaligned recent: %v", err)
	}
}

// TestTails: the split normal through p10, p50, p90 puts 10% beyond each
// outer quantile and half beyond the median.
func TestTails(t *testing.T) {
	pt := forecast.Point{P10: 8, P50: 10, P90: 14}
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		th           Threshold
		above, below float64
	}{
		{Threshold{Above: f(14)}, 0.1, 0},
		{Threshold{Above: f(10)}, 0.5, 0},
		{Threshold{Above: f(8)}, 0.9, 0},
		{Threshold{Below: f(8)}, 0, 0.1},
		{Threshold{Below: f(14)}, 0, 0.9},
		{Threshold{Above: f(14), Below: f(8)}, 0.1, 0.1},
	} {
		a, b := c.th.tails(pt)
		if math.Abs(a-c.above) > 1e-9 || math.Abs(b-c.below) > 1e-9 {
			t.Errorf("%+v: above %v below %v, want %v %v", c.th, a, b, c.above, c.below)
		}
	}
	// No interval (a fallback): certainty on either side of the point.
	flat := forecast.Point{P10: 10, P50: 10, P90: 10}
	if a, _ := (Threshold{Above: f(10)}).tails(flat); a != 0 {
		t.Errorf("at the point: above %v, want 0 (strictly above)", a)
	}
	if a, _ := (Threshold{Above: f(9.99)}).tails(flat); a != 1 {
		t.Errorf("below the point: above %v, want 1", a)
	}
}

// TestDegradationDefaults: with the design's 30 steps (the default) the
// answer carries the forecaster's intervals, breach probabilities that
// grow with the horizon, the first likely breach and recommendations.
func TestDegradationDefaults(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(600, []string{"cpu_utilization"}, 7)
	ctx := context.Background()
	want, err := fc.Forecast(ctx, d[0].Values)
	if err != nil {
		t.Fatal(err)
	}
	last := d[0].Values[d[0].Len()-1]
	for _, c := range []struct {
		name       string
		above      float64
		pLo, pHi   float64
		firstBelow int // the first breach is at or before this step (0: none)
		recommends bool
	}{
		{"far above", last + 1e6, 0, 1e-9, 0, false},
		{"below now", last - 1e6, 1 - 1e-9, 1, 1, true},
		{"at the 30-step p90", want.Points[29].P90, 0.1 - 1e-6, 0.5, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			above := c.above
			svc, err := NewService(fc, d, ServiceOptions{Thresholds: []Threshold{{Metric: "cpu_utilization", Above: &above}}})
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			deg, err := svc.PredictDegradation(ctx, d, 0)
			if err != nil {
				t.Fatal(err)
			}
			if deg.Horizon != DefaultHorizon || len(deg.Metrics) != 1 || len(deg.Metrics[0].Steps) != 30 || deg.Step.Minutes() != 5 {
				t.Fatalf("%+v", deg)
			}
			mf := deg.Metrics[0]
			if mf.Threshold.Origin != "configured" || mf.Source != SourceModel || mf.Last != last {
				t.Errorf("metric %+v", mf)
			}
			prev := 0.0
			for h, s := range mf.Steps {
				pt := want.Points[h]
				if !near(s.P10, pt.P10, 1e-6) || !near(s.P50, pt.Value, 1e-6) || !near(s.P90, pt.P90, 1e-6) ||
					!s.Time.Equal(d[0].Times[d[0].Len()-1].Add(deg.Step*time.Duration(h+1))) {
					t.Fatalf("h=%d: %+v, forecast %+v", h+1, s, pt)
				}
				if s.PBreach < 0 || s.PBreach > 1 {
					t.Errorf("h=%d: P(breach) %v", h+1, s.PBreach)
				}
				prev = math.Max(prev, s.PBreach)
			}
			if !near(mf.Probability, prev, 1e-12) || !near(deg.Probability, mf.Probability, 1e-12) {
				t.Errorf("P(within horizon) %v, metric %v, largest step %v", deg.Probability, mf.Probability, prev)
			}
			if deg.Probability < c.pLo || deg.Probability > c.pHi {
				t.Errorf("P = %v, want in [%v, %v]", deg.Probability, c.pLo, c.pHi)
			}
			if (deg.FirstBreach != 0) != (c.firstBelow != 0) || deg.FirstBreach > c.firstBelow {
				t.Errorf("first breach %d, want by %d", deg.FirstBreach, c.firstBelow)
			}
			if (len(deg.Recommendations) > 0) != c.recommends {
				t.Errorf("recommendations %v", deg.Recommendations)
			}
			if c.recommends && (deg.Recommendations[0].Action != "scale out" || !strings.Contains(deg.Recommendations[0].Evidence, "within 30 steps) = 1.00")) {
				t.Errorf("recommendation %+v", deg.Recommendations[0])
			}
		})
	}
	svc, _ := NewService(fc, d, ServiceOptions{})
	defer svc.Close()
	if _, err := svc.PredictDegradation(ctx, d, 31); !errors.Is(err, ErrBadInput) {
		t.Errorf("horizon 31: %v", err)
	}
	if th := svc.Thresholds[0]; th.Above == nil || !strings.HasPrefix(th.Origin, "p99 of training") {
		t.Errorf("default threshold %+v", th)
	}
}

// TestRecommendMatchesWords: actions follow the words of a metric's name,
// not substrings of them (issue 15, defect 7: "io" matched "hit_ratio").
func TestRecommendMatchesWords(t *testing.T) {
	for _, c := range []struct{ hint, want string }{
		{"cache_hit_ratio", "investigate cache_hit_ratio (rising past its SLO)"},
		{"disk_io_wait", "scale out storage or throttle writers"},
		{"ec2_cpu_utilization_fe7f93", "scale out"},
		{"compression_ratio", "lower the HDE compression level (CPU-bound)"},
		{"session_ratio value", "investigate session_ratio (rising past its SLO)"},
	} {
		if got := actionsFor(strings.Fields(c.hint)[0], c.hint, true); got[0] != c.want {
			t.Errorf("%s: %v, want %q", c.hint, got, c.want)
		}
	}
}

// TestBacktest scores the degradation forecast on held-out data: the
// p10-p90 band covers about 80% of what happened, the probabilities are
// probabilities, and the intervals are the forecaster's.
func TestBacktest(t *testing.T) {
	fc := tinyForecaster(t)
	d := synthData(900, []string{"value"}, 9)
	svc, err := NewService(fc, d, ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	b, err := svc.Backtest(context.Background(), d, 600, 900, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Origins) != 900-30-600 || b.Origins[0] != 600 || b.FallbackUsed != 0 || len(b.Coverage) != 30 {
		t.Fatalf("%d origins from %d, %d fallbacks", len(b.Origins), b.Origins[0], b.FallbackUsed)
	}
	if b.CoverageAll < 0.6 || b.CoverageAll > 0.95 {
		t.Errorf("80%% band covers %.3f of the outcomes", b.CoverageAll)
	}
	for i, p := range b.Probability {
		if p < 0 || p > 1 || math.IsNaN(p) {
			t.Fatalf("origin %d: P %v", b.Origins[i], p)
		}
	}
	t.Logf("coverage %.3f (h=1 %.3f, h=30 %.3f), Brier %.4f, %d origins", b.CoverageAll, b.Coverage[0], b.Coverage[29], b.Brier, len(b.Origins))
	if _, err := svc.Backtest(context.Background(), d, 880, 900, 30); !errors.Is(err, ErrBadInput) {
		t.Errorf("no origin: %v", err)
	}
}
