package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// ModelMethod is the forecaster's name in a Report; the baselines keep
// their own names (baseline.Standard).
const ModelMethod = "model"

// methodOrder is the order of a report's methods: the baselines as
// baseline.Standard returns them, then the forecaster and the switch.
var methodOrder = []string{"persistence", "seasonal_naive", "ma12", "holt_winters", "ridge_ar", ModelMethod, SwitchMethod}

// isBaseline says whether the method name is one of the baselines, which
// the forecaster and the switch are compared with.
func isBaseline(name string) bool { return name != ModelMethod && name != SwitchMethod }

// EvalOptions adjust Evaluate.
type EvalOptions struct {
	// Forecasts keeps every scored forecast of the forecaster in
	// Report.Forecasts.
	Forecasts bool
	// Labels are anomaly windows by series (baseline.Labels.For); a series
	// without windows has no anomaly scenario.
	Labels baseline.Labels
	// Logf receives one progress line per series (nil: none).
	Logf func(format string, args ...any)
}

// Report is an evaluation under PROTOCOL.md: every method scored on the
// same test targets of every series at every horizon.
type Report struct {
	Horizons []int          `json:"horizons"`
	Series   []SeriesResult `json:"series"`
	Summary  Summary        `json:"summary"`
	// Forecasts are the forecaster's scored forecasts (EvalOptions.Forecasts).
	Forecasts []ScoredForecast `json:"-"`
	// SwitchForecasts are the switch's, at the same origins and horizons.
	SwitchForecasts []ScoredForecast `json:"-"`
	// Intervals scores the forecaster's p10/p50/p90 and the conformal
	// intervals of persistence and Holt-Winters.
	Intervals *IntervalReport `json:"intervals,omitempty"`
	// Scenarios breaks the accuracy down by load regime.
	Scenarios *ScenarioReport `json:"scenarios,omitempty"`
}

// SeriesResult is one series at one horizon.
type SeriesResult struct {
	Name    string                      `json:"name"`
	Horizon int                         `json:"horizon"`
	Targets int                         `json:"targets"`
	Methods map[string]baseline.Metrics `json:"methods"`
}

// ScoredForecast is one forecast the report scored: made at origin (the
// index and time of the last observation used) for origin+Horizon.
type ScoredForecast struct {
	Series     string
	Origin     int
	OriginTime time.Time
	Horizon    int
	Forecast   float64
	P10, P90   float64
	Actual     float64
}

// Summary holds the geometric mean of MASE per horizon and method over the
// series where the method has a MASE.
type Summary struct {
	Series      int                             `json:"series"`
	GeoMeanMASE map[string]map[string]JSONFloat `json:"geomean_mase"` // horizon -> method -> value
	Best        map[string]string               `json:"best"`         // horizon -> method with the least geometric mean
	// VersusBest compares, per horizon, the model's MASE on each series
	// with the least baseline MASE on that series.
	VersusBest map[string]Versus `json:"model_vs_best_baseline,omitempty"`
	// SwitchVersusBest is the same for the switch (SwitchMethod).
	SwitchVersusBest map[string]Versus `json:"switch_vs_best_baseline,omitempty"`
}

// Versus is the model against the best baseline of each series.
type Versus struct {
	WorstRatio  float64 `json:"worst_ratio"`
	WorstSeries string  `json:"worst_series"`
	Better      int     `json:"series_better"`
}

// JSONFloat encodes NaN and infinities as null.
type JSONFloat float64

func (f JSONFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
}

func (f *JSONFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = JSONFloat(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = JSONFloat(v)
	return err
}

// TestForecasts forecasts every test target of s (baseline.Targets) at each
// horizon of hs with Forecast's own path, from the history up to each
// origin: out[i][k] forecasts target k at hs[i]; lo and hi are the p10 and
// p90.
func (fc *Forecaster) TestForecasts(ctx context.Context, s baseline.Series, hs []int) (out, lo, hi [][]float64, err error) {
	return fc.forecastsAt(ctx, s, hs, baseline.Targets(baseline.SplitOf(s.Len())), "test")
}

// forecastsAt forecasts the targets tg (ascending indices of s) at each
// horizon of hs from the history up to each origin.
func (fc *Forecaster) forecastsAt(ctx context.Context, s baseline.Series, hs []int, tg []int, what string) (out, lo, hi [][]float64, err error) {
	maxH, minH := 0, math.MaxInt
	for _, h := range hs {
		if h < 1 || h > fc.Horizon() {
			return nil, nil, nil, badInput(fmt.Errorf("forecast: horizon %d: the forecaster forecasts h = 1..%d", h, fc.Horizon()))
		}
		maxH, minH = max(maxH, h), min(minH, h)
	}
	if len(tg) == 0 {
		return nil, nil, nil, badInput(fmt.Errorf("forecast: %s: %d steps leave no %s targets", s.Name, s.Len(), what))
	}
	first := tg[0] - maxH // the earliest origin
	if first+1 < fc.Needs() {
		return nil, nil, nil, badInput(fmt.Errorf("forecast: %s: the first %s origin at h=%d has %d observations; the forecaster needs %d",
			s.Name, what, maxH, first+1, fc.Needs()))
	}
	// One forecast per origin serves every horizon.
	lastOrigin := tg[len(tg)-1] - minH
	hist := make([][]float64, 0, lastOrigin-first+1)
	for t := first; t <= lastOrigin; t++ {
		hist = append(hist, s.Values[:t+1])
	}
	fs, err := fc.ForecastBatch(ctx, hist)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("forecast: %s: %w", s.Name, err)
	}
	out, lo, hi = make([][]float64, len(hs)), make([][]float64, len(hs)), make([][]float64, len(hs))
	for i, h := range hs {
		out[i], lo[i], hi[i] = make([]float64, len(tg)), make([]float64, len(tg)), make([]float64, len(tg))
		for k, j := range tg {
			p := fs[j-h-first].Points[h-1]
			out[i][k], lo[i][k], hi[i][k] = p.Value, p.P10, p.P90
		}
	}
	return out, lo, hi, nil
}

// ValidationMASE is the forecaster's MASE on the validation split of each
// series at each horizon of hs (out[i][k]: series i, hs[k]) and their
// geometric means per horizon: the score recipe choices are made on.
func ValidationMASE(ctx context.Context, fc *Forecaster, series []baseline.Series, hs []int) (out [][]float64, geo []float64, err error) {
	out = make([][]float64, len(series))
	for i, s := range series {
		sp := baseline.SplitOf(s.Len())
		var tg []int
		for j := sp.Train; j < sp.Fit(); j++ {
			tg = append(tg, j)
		}
		ps, _, _, err := fc.forecastsAt(ctx, s, hs, tg, "validation")
		if err != nil {
			return nil, nil, err
		}
		d := baseline.NaiveScale(s.Values, sp)
		out[i] = make([]float64, len(hs))
		for k := range hs {
			var sum float64
			for ti, j := range tg {
				sum += math.Abs(ps[k][ti] - s.Values[j])
			}
			out[i][k] = sum / float64(len(tg)) / d
		}
	}
	geo = make([]float64, len(hs))
	for k := range hs {
		col := make([]float64, len(series))
		for i := range series {
			col[i] = out[i][k]
		}
		geo[k] = baseline.GeoMean(col)
	}
	return out, geo, nil
}

// Evaluate scores the standard baselines and, when fc is not nil, the
// forecaster on every series at every horizon of hs, by PROTOCOL.md.
func Evaluate(ctx context.Context, fc *Forecaster, series []baseline.Series, hs []int, opt EvalOptions) (*Report, error) {
	if len(hs) == 0 {
		return nil, badInput(fmt.Errorf("forecast: evaluate: no horizon"))
	}
	hs = slices.Clone(hs)
	slices.Sort(hs)
	hs = slices.Compact(hs)
	logf := opt.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rep := &Report{Horizons: hs, Intervals: &IntervalReport{}, Scenarios: &ScenarioReport{}}
	// Series are scored independently, as many at a time as there are cores
	// (the model's and the baselines' latencies are then timed beside
	// another series' scoring); the report keeps the series' order.
	scores := make([]*seriesScore, len(series))
	errs := make([]error, len(series))
	sem := make(chan struct{}, max(1, min(runtime.GOMAXPROCS(0), len(series))))
	var wg sync.WaitGroup
	for i, s := range series {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			scores[i], errs[i] = scoreSeries(ctx, fc, s, hs, opt)
			if errs[i] == nil {
				logf("[%d/%d] %s: %d steps, season %d, scored in %s", i+1, len(series), s.Name, s.Len(), scores[i].period,
					scores[i].took.Round(time.Millisecond))
			}
		})
	}
	wg.Wait()
	for i, sc := range scores {
		if errs[i] != nil {
			return nil, errs[i]
		}
		for _, m := range sc.leftOut {
			logf("  %s", m)
		}
		rep.Series = append(rep.Series, sc.rows...)
		rep.Intervals.Series = append(rep.Intervals.Series, sc.intervals...)
		rep.Scenarios.Series = append(rep.Scenarios.Series, sc.scenarios...)
		rep.Forecasts = append(rep.Forecasts, sc.forecasts...)
		rep.SwitchForecasts = append(rep.SwitchForecasts, sc.switchForecasts...)
	}
	rep.summarise()
	return rep, nil
}

// summarise computes every summary from the per-series rows.
func (r *Report) summarise() {
	r.Summary = summarise(r.Series, r.Horizons)
	if r.Intervals != nil {
		r.Intervals.Summary = summariseIntervals(r.Intervals.Series, r.Horizons)
	}
	if r.Scenarios != nil {
		r.Scenarios.Summary = summariseScenarios(r.Scenarios.Series, r.Horizons, r.Summary)
	}
}

func undefinedMetrics(n int) baseline.Metrics {
	nan := math.NaN()
	return baseline.Metrics{MAE: nan, RMSE: nan, MAPE: nan, R2: nan, MASE: nan, Accuracy5: nan, N: n}
}

func summarise(rows []SeriesResult, hs []int) Summary {
	sum := Summary{GeoMeanMASE: map[string]map[string]JSONFloat{}, Best: map[string]string{}}
	names := map[string]bool{}
	for _, r := range rows {
		names[r.Name] = true
	}
	sum.Series = len(names)
	for _, h := range hs {
		key := strconv.Itoa(h)
		mase := map[string][]float64{}
		for _, r := range rows {
			if r.Horizon != h {
				continue
			}
			for m, v := range r.Methods {
				mase[m] = append(mase[m], v.MASE)
			}
		}
		gm := map[string]JSONFloat{}
		best, bestV := "", math.Inf(1)
		for _, m := range OrderedMethods(mase) {
			v := baseline.GeoMean(mase[m])
			gm[m] = JSONFloat(v)
			if v < bestV {
				best, bestV = m, v
			}
		}
		sum.GeoMeanMASE[key] = gm
		sum.Best[key] = best
		if v, ok := versusBest(rows, h, ModelMethod); ok {
			if sum.VersusBest == nil {
				sum.VersusBest = map[string]Versus{}
			}
			sum.VersusBest[key] = v
		}
		if v, ok := versusBest(rows, h, SwitchMethod); ok {
			if sum.SwitchVersusBest == nil {
				sum.SwitchVersusBest = map[string]Versus{}
			}
			sum.SwitchVersusBest[key] = v
		}
	}
	return sum
}

// versusBest compares method with the best baseline of each series at h.
func versusBest(rows []SeriesResult, h int, method string) (Versus, bool) {
	v := Versus{WorstRatio: math.Inf(-1)}
	found := false
	for _, r := range rows {
		m, ok := r.Methods[method]
		if r.Horizon != h || !ok {
			continue
		}
		best := math.Inf(1)
		for name, b := range r.Methods {
			if isBaseline(name) && b.MASE < best {
				best = b.MASE
			}
		}
		ratio := m.MASE / best
		if math.IsNaN(ratio) || math.IsInf(best, 0) {
			continue
		}
		found = true
		if ratio > v.WorstRatio {
			v.WorstRatio, v.WorstSeries = ratio, r.Name
		}
		if ratio < 1 {
			v.Better++
		}
	}
	return v, found
}

// OrderedMethods lists the keys of a per-method map in report order:
// the baselines, the model, then unknown methods by name.
func OrderedMethods[V any](m map[string]V) []string {
	var out []string
	for _, name := range methodOrder {
		if _, ok := m[name]; ok {
			out = append(out, name)
		}
	}
	var rest []string
	for name := range m {
		if !slices.Contains(methodOrder, name) {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// seriesScore is one series' part of a Report.
type seriesScore struct {
	rows      []SeriesResult
	intervals []IntervalResult
	scenarios []ScenarioResult
	forecasts []ScoredForecast
	// switchForecasts are the switch's at the same origins and horizons.
	switchForecasts []ScoredForecast
	leftOut         []string // baselines without enough history
	period          int
	took            time.Duration
}

// scoreSeries scores the baselines and, when fc is not nil, the forecaster
// on one series (Evaluate's work for it).
func scoreSeries(ctx context.Context, fc *Forecaster, s baseline.Series, hs []int, opt EvalOptions) (*seriesScore, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	maxH := hs[len(hs)-1]
	sc := &seriesScore{}
	if err := baseline.CheckSeries(s, maxH); err != nil {
		return nil, fmt.Errorf("forecast: %w", err)
	}
	period, err := baseline.SeasonFromCadence(s.Times)
	if err != nil {
		return nil, badInput(fmt.Errorf("forecast: %s: %v", s.Name, err))
	}
	start := time.Now()
	tg := baseline.Targets(baseline.SplitOf(s.Len()))
	n := len(tg)
	rows := make([]SeriesResult, len(hs))
	preds := make([]map[string][]float64, len(hs))
	for k, h := range hs {
		rows[k] = SeriesResult{Name: s.Name, Horizon: h, Targets: n, Methods: map[string]baseline.Metrics{}}
		preds[k] = map[string][]float64{}
	}
	scen := scenariosOf(s, tg, opt.Labels.For(s.Name))
	pick := latencySample(scen)
	lat := map[string]map[string]float64{}
	for _, f := range baseline.Standard(period, maxH) {
		ps, err := baseline.Forecasts(s, f, hs...)
		if errors.Is(err, baseline.ErrShortHistory) {
			sc.leftOut = append(sc.leftOut, fmt.Sprintf("%s: %s: %v; left out", s.Name, f.Name(), err))
			for k := range hs {
				rows[k].Methods[f.Name()] = undefinedMetrics(n)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		for k := range hs {
			preds[k][f.Name()] = ps[k]
		}
		lat[f.Name()] = baselineLatency(f, s, tg, scen, pick)
	}
	var lo, hi [][]float64
	bands := map[string]band{}
	if fc != nil {
		var out [][]float64
		out, lo, hi, err = fc.TestForecasts(ctx, s, hs)
		if err != nil {
			return nil, err
		}
		if lat[ModelMethod], err = modelLatency(ctx, fc, s, tg, scen, pick); err != nil {
			return nil, fmt.Errorf("forecast: %s: %w", s.Name, err)
		}
		// The switch between the forecaster and a ridge autoregression of
		// this series, run as the baselines are (fitted once, then fed).
		ps, slo, shi, err := switchForecasts(ctx, fc, s, hs)
		if err != nil {
			return nil, fmt.Errorf("forecast: %w", err)
		}
		bands[ModelMethod], bands[SwitchMethod] = band{lo, hi}, band{slo, shi}
		for k, h := range hs {
			preds[k][SwitchMethod] = ps[k]
			preds[k][ModelMethod] = out[k]
			if opt.Forecasts {
				for ti, j := range tg {
					sf := ScoredForecast{Series: s.Name, Origin: j - h, Horizon: h, Forecast: out[k][ti],
						P10: lo[k][ti], P90: hi[k][ti], Actual: s.Values[j]}
					if s.Times != nil {
						sf.OriginTime = s.Times[j-h]
					}
					sc.forecasts = append(sc.forecasts, sf)
					sf.Forecast, sf.P10, sf.P90 = ps[k][ti], slo[k][ti], shi[k][ti]
					sc.switchForecasts = append(sc.switchForecasts, sf)
				}
			}
		}
	}
	for k := range hs {
		for name, p := range preds[k] {
			m, err := baseline.Score(s.Values, p)
			if err != nil {
				return nil, fmt.Errorf("forecast: %s: scoring %s at h=%d: %w", s.Name, name, hs[k], err)
			}
			rows[k].Methods[name] = m
		}
	}
	irows, err := seriesIntervals(s, hs, preds, bands, period)
	if err != nil {
		return nil, err
	}
	sc.intervals = irows
	sc.scenarios = seriesScenarios(s, hs, tg, scen, preds, lat)
	sc.rows, sc.period, sc.took = rows, period, time.Since(start)
	return sc, nil
}
