package forecast

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/novacron/perfpredict/baseline"
)

// conformalMethods are the baselines given split-conformal 80% intervals
// (baseline.ConformalOffsets) to compare the forecaster's intervals with.
var conformalMethods = []string{"persistence", "holt_winters"}

// IntervalReport scores the 80% intervals (p10 to p90) and the quantile
// forecasts p10/p50/p90 of the forecaster and of the conformal baselines
// on the same test targets as the point forecasts.
type IntervalReport struct {
	Series []IntervalResult `json:"series"`
	// Summary is per horizon, then per method.
	Summary map[string]map[string]IntervalSummary `json:"summary"`
}

// IntervalResult is one series at one horizon.
type IntervalResult struct {
	Name    string                              `json:"name"`
	Horizon int                                 `json:"horizon"`
	Methods map[string]baseline.IntervalMetrics `json:"methods"`
}

// IntervalSummary pools a method's interval scores over series.
// Coverage is pooled over targets (every held-out point counts once, so it
// reads as "the share of points inside"); Winkler and Pinball are
// geometric means over series of the scaled scores, as MASE is
// summarised, so that no series dominates by its scale or difficulty and
// the ratio of two methods' means is the mean of their per-series ratios.
type IntervalSummary struct {
	Series   int       `json:"series"`
	Targets  int       `json:"targets"`
	Coverage JSONFloat `json:"coverage"`
	// InBand counts the series whose coverage is within 75%..85%.
	InBand  int       `json:"series_in_75_85"`
	Winkler JSONFloat `json:"winkler_geomean"`
	Pinball JSONFloat `json:"pinball_geomean"`
}

// band is a method's p10 (lo) and p90 (hi) per horizon index and test
// target; its p50 is its point forecast.
type band struct{ lo, hi [][]float64 }

// seriesIntervals scores the quantiles of the methods of bands (the
// forecaster's from TestForecasts, the switch's) and the conformal
// baselines' on s: preds are every method's point forecasts per horizon
// index and method.
func seriesIntervals(s baseline.Series, hs []int, preds []map[string][]float64, bands map[string]band, period int) ([]IntervalResult, error) {
	rows := make([]IntervalResult, len(hs))
	for k, h := range hs {
		rows[k] = IntervalResult{Name: s.Name, Horizon: h, Methods: map[string]baseline.IntervalMetrics{}}
		for name, b := range bands {
			m, err := baseline.ScoreIntervals(s.Values, b.lo[k], preds[k][name], b.hi[k])
			if err != nil {
				return nil, fmt.Errorf("forecast: %s: intervals of %s at h=%d: %w", s.Name, name, h, err)
			}
			rows[k].Methods[name] = m
		}
	}
	for _, f := range baseline.Standard(period, hs[len(hs)-1]) {
		name := f.Name()
		if !slices.Contains(conformalMethods, name) || preds[0][name] == nil {
			continue
		}
		off0, off1, err := baseline.ConformalOffsets(s, f, hs...)
		if err != nil {
			return nil, fmt.Errorf("forecast: conformal %s: %w", name, err)
		}
		for k := range hs {
			p := preds[k][name]
			l, u := make([]float64, len(p)), make([]float64, len(p))
			for i, v := range p {
				l[i], u[i] = v+off0[k], v+off1[k]
			}
			m, err := baseline.ScoreIntervals(s.Values, l, p, u)
			if err != nil {
				return nil, fmt.Errorf("forecast: %s: intervals of %s at h=%d: %w", s.Name, name, hs[k], err)
			}
			rows[k].Methods[name] = m
		}
	}
	return rows, nil
}

func summariseIntervals(rows []IntervalResult, hs []int) map[string]map[string]IntervalSummary {
	out := map[string]map[string]IntervalSummary{}
	for _, h := range hs {
		type acc struct {
			series, targets, hits, inBand int
			wink, pin                     []float64
		}
		by := map[string]*acc{}
		for _, r := range rows {
			if r.Horizon != h {
				continue
			}
			for name, m := range r.Methods {
				a := by[name]
				if a == nil {
					a = &acc{}
					by[name] = a
				}
				a.series++
				a.targets += m.N
				a.hits += m.Hits
				if m.Coverage >= 0.75 && m.Coverage <= 0.85 {
					a.inBand++
				}
				a.wink = append(a.wink, m.Winkler)
				a.pin = append(a.pin, m.Pinball)
			}
		}
		sum := map[string]IntervalSummary{}
		for name, a := range by {
			cov := math.NaN()
			if a.targets > 0 {
				cov = float64(a.hits) / float64(a.targets)
			}
			sum[name] = IntervalSummary{Series: a.series, Targets: a.targets, Coverage: JSONFloat(cov), InBand: a.inBand,
				Winkler: JSONFloat(baseline.GeoMean(a.wink)), Pinball: JSONFloat(baseline.GeoMean(a.pin))}
		}
		out[strconv.Itoa(h)] = sum
	}
	return out
}
