package forecast

import (
	"context"
	"math"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// Scenarios, the regimes a test target can be in. A target inside a
// labelled anomaly window is an anomaly whatever its value; otherwise it
// is peak load when its value exceeds at least 90% of the series' training
// split (the top decile), low load when at least 90% exceed it (the bottom
// decile), and normal load else. Comparing strictly keeps a value repeated
// over much of the training split (an idle CPU at its floor) out of the
// deciles.
const (
	ScenarioNormal  = "normal"
	ScenarioPeak    = "peak"
	ScenarioLow     = "low"
	ScenarioAnomaly = "anomaly"
)

var scenarioOrder = []string{ScenarioNormal, ScenarioPeak, ScenarioLow, ScenarioAnomaly}

// latencySamples is how many targets per series and scenario the forecast
// latency is timed at.
const latencySamples = 5

// ScenarioReport breaks the point accuracy down by scenario.
type ScenarioReport struct {
	Series  []ScenarioResult  `json:"series"`
	Summary []ScenarioSummary `json:"summary"`
}

// ScenarioResult is one series at one horizon in one scenario, every
// method scored on the same targets.
type ScenarioResult struct {
	Name     string                     `json:"name"`
	Horizon  int                        `json:"horizon"`
	Scenario string                     `json:"scenario"`
	Targets  int                        `json:"targets"`
	Methods  map[string]ScenarioMetrics `json:"methods"`
}

// ScenarioMetrics are a method's errors on a scenario's targets, in the
// series' units (MAE, RMSE) and scaled by its training split's one-step
// naive MAE (MASE, RMSSE), with the forecast latency measured during the
// evaluation: the model's is the mean wall time of one Forecast call on a
// history ending just before a target of the scenario (inputs built, every
// network run); a baseline's is the mean time of one Forecast(h) call on
// its state, which it keeps up to date one observation at a time.
type ScenarioMetrics struct {
	MAE       JSONFloat `json:"mae"`
	RMSE      JSONFloat `json:"rmse"`
	MASE      JSONFloat `json:"mase"`
	RMSSE     JSONFloat `json:"rmsse"`
	LatencyUS JSONFloat `json:"latency_us"`
}

// ScenarioSummary is one scenario at one horizon over every series that has
// targets in it: the model against the baseline with the least geometric
// mean MASE over all targets at that horizon.
type ScenarioSummary struct {
	Horizon  int             `json:"horizon"`
	Scenario string          `json:"scenario"`
	Targets  int             `json:"targets"`
	Series   int             `json:"series"`
	Baseline string          `json:"best_baseline"`
	Methods  map[string]Pool `json:"methods"`
}

// Pool summarises a method over series: the geometric means of MASE and
// RMSSE (as the protocol summarises MASE; MAE and RMSE are in each series'
// own units, so only the per-series rows hold them) and the mean latency.
type Pool struct {
	MASE      JSONFloat `json:"mase_geomean"`
	RMSSE     JSONFloat `json:"rmsse_geomean"`
	LatencyUS JSONFloat `json:"latency_us"`
}

// scenariosOf labels each target tg of s.
func scenariosOf(s baseline.Series, tg []int, windows []baseline.Window) []string {
	sp := baseline.SplitOf(s.Len())
	train := slices.Clone(s.Values[:sp.Train])
	slices.Sort(train)
	n := float64(len(train))
	out := make([]string, len(tg))
	for k, j := range tg {
		v := s.Values[j]
		out[k] = ScenarioNormal
		if s.Times != nil && inWindows(s.Times[j], windows) {
			out[k] = ScenarioAnomaly
			continue
		}
		below := float64(sort.SearchFloat64s(train, v)) // training values < v
		above := n - float64(sort.Search(len(train), func(i int) bool { return train[i] > v }))
		switch {
		case below >= 0.9*n:
			out[k] = ScenarioPeak
		case above >= 0.9*n:
			out[k] = ScenarioLow
		}
	}
	return out
}

func inWindows(t time.Time, ws []baseline.Window) bool {
	for _, w := range ws {
		if w.Contains(t) {
			return true
		}
	}
	return false
}

// latencySample picks up to latencySamples targets per scenario, evenly
// spread: sample[k] is true for a picked target index k.
func latencySample(scen []string) []bool {
	pick := make([]bool, len(scen))
	for _, sc := range scenarioOrder {
		var idx []int
		for k, v := range scen {
			if v == sc {
				idx = append(idx, k)
			}
		}
		n := min(latencySamples, len(idx))
		for i := range n {
			pick[idx[i*len(idx)/n]] = true
		}
	}
	return pick
}

// modelLatency times one Forecast call from the history before each picked
// target; the mean per scenario in microseconds.
func modelLatency(ctx context.Context, fc *Forecaster, s baseline.Series, tg []int, scen []string, pick []bool) (map[string]float64, error) {
	sum, n := map[string]float64{}, map[string]int{}
	for k, j := range tg {
		if !pick[k] {
			continue
		}
		start := time.Now()
		if _, err := fc.Forecast(ctx, s.Values[:j]); err != nil {
			return nil, err
		}
		sum[scen[k]] += float64(time.Since(start).Nanoseconds()) / 1e3
		n[scen[k]]++
	}
	for sc := range sum {
		sum[sc] /= float64(n[sc])
	}
	return sum, nil
}

// baselineLatency runs the fitted f through s and, after the observation
// before each picked target, times repeated Forecast(1) calls (too fast to
// time one at a time); the mean per scenario in microseconds.
func baselineLatency(f baseline.Forecaster, s baseline.Series, tg []int, scen []string, pick []bool) map[string]float64 {
	const reps = 200
	at := map[int]int{} // origin -> target index
	for k, j := range tg {
		if pick[k] {
			at[j-1] = k
		}
	}
	sum, n := map[string]float64{}, map[string]int{}
	f.Reset()
	for t := 0; t < s.Len()-1; t++ {
		f.Update(s.Values[t])
		k, ok := at[t]
		if !ok {
			continue
		}
		start := time.Now()
		var err error
		for range reps {
			_, err = f.Forecast(1)
		}
		if err != nil {
			continue
		}
		sum[scen[k]] += float64(time.Since(start).Nanoseconds()) / 1e3 / reps
		n[scen[k]]++
	}
	for sc := range sum {
		sum[sc] /= float64(n[sc])
	}
	return sum
}

// seriesScenarios scores every method's forecasts preds (per horizon
// index, then method; aligned with tg) per scenario; lat is each method's
// latency per scenario.
func seriesScenarios(s baseline.Series, hs []int, tg []int, scen []string, preds []map[string][]float64, lat map[string]map[string]float64) []ScenarioResult {
	d := baseline.NaiveScale(s.Values, baseline.SplitOf(s.Len()))
	var rows []ScenarioResult
	for k, h := range hs {
		for _, sc := range scenarioOrder {
			var idx []int
			for i, v := range scen {
				if v == sc {
					idx = append(idx, i)
				}
			}
			if len(idx) == 0 {
				continue
			}
			row := ScenarioResult{Name: s.Name, Horizon: h, Scenario: sc, Targets: len(idx), Methods: map[string]ScenarioMetrics{}}
			for name, p := range preds[k] {
				var sa, ss float64
				for _, i := range idx {
					e := p[i] - s.Values[tg[i]]
					sa += math.Abs(e)
					ss += e * e
				}
				n := float64(len(idx))
				mae, rmse := sa/n, math.Sqrt(ss/n)
				l := math.NaN()
				if v, ok := lat[name][sc]; ok {
					l = v
				}
				row.Methods[name] = ScenarioMetrics{MAE: JSONFloat(mae), RMSE: JSONFloat(rmse),
					MASE: JSONFloat(mae / d), RMSSE: JSONFloat(rmse / d), LatencyUS: JSONFloat(l)}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// summariseScenarios pools the rows per horizon and scenario for the
// model, the switch and the best baseline of each horizon by sum's
// geometric mean MASE.
func summariseScenarios(rows []ScenarioResult, hs []int, sum Summary) []ScenarioSummary {
	var out []ScenarioSummary
	for _, h := range hs {
		best, bestV := "", math.Inf(1)
		for name, v := range sum.GeoMeanMASE[strconv.Itoa(h)] {
			if isBaseline(name) && float64(v) < bestV {
				best, bestV = name, float64(v)
			}
		}
		for _, sc := range scenarioOrder {
			ss := ScenarioSummary{Horizon: h, Scenario: sc, Baseline: best, Methods: map[string]Pool{}}
			mase, rmsse, lat := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
			for _, r := range rows {
				if r.Horizon != h || r.Scenario != sc {
					continue
				}
				ss.Targets += r.Targets
				ss.Series++
				for name, m := range r.Methods {
					if isBaseline(name) && name != best {
						continue
					}
					mase[name] = append(mase[name], float64(m.MASE))
					rmsse[name] = append(rmsse[name], float64(m.RMSSE))
					if !math.IsNaN(float64(m.LatencyUS)) {
						lat[name] = append(lat[name], float64(m.LatencyUS))
					}
				}
			}
			if ss.Series == 0 {
				continue
			}
			for name := range mase {
				l := math.NaN()
				if len(lat[name]) > 0 {
					var t float64
					for _, v := range lat[name] {
						t += v
					}
					l = t / float64(len(lat[name]))
				}
				ss.Methods[name] = Pool{MASE: JSONFloat(baseline.GeoMean(mase[name])),
					RMSSE: JSONFloat(baseline.GeoMean(rmsse[name])), LatencyUS: JSONFloat(l)}
			}
			out = append(out, ss)
		}
	}
	return out
}
