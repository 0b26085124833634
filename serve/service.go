package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

// ServiceOptions configure NewService.
type ServiceOptions struct {
	// Predictor configures the Predictor. Its Fallback defaults to
	// Holt-Winters fitted per metric on the history's train and validation
	// splits (NoFallback leaves it out).
	Predictor  Options
	NoFallback bool
	// Thresholds override the default SLO bounds per metric (by name).
	Thresholds []Threshold
	// Quantile of the training rows giving each metric's default upper
	// bound (default 0.99).
	Quantile float64
	// HistoryLen is how many recent values the fallback forecasts from
	// (default one season, at least the window).
	HistoryLen int
	// Normalize divides each residual path by the metric's volatility at
	// its origin (mean absolute one-step change over the window, at least a
	// tenth of the training split's) and multiplies it back by the current
	// volatility: normalised split conformal, for errors that grow and
	// shrink with the metric's turbulence.
	Normalize bool
}

// Service answers degradation questions for one model: it holds the
// features fitted on a history, the Predictor, the conformal calibration
// from the history's validation split and the SLO thresholds.
type Service struct {
	Predictor  *Predictor
	Spec       Spec
	Featurizer Featurizer
	Thresholds []Threshold // one per Spec.Metrics
	Cadence    time.Duration
	Period     int // the fallback's season in steps

	start      time.Time // first row of the history: phase 0
	historyLen int
	normalize  bool
	floor      []float64 // per metric: the least volatility (Normalize)
	cal        atomic.Pointer[Calibration]
}

// Calibration is the residual set the forecasts are calibrated with now.
func (s *Service) Calibration() *Calibration { return s.cal.Load() }

// NewService fits everything a model needs to serve metrics like history:
// the featurizer and the fallback on its train (and validation) splits, the
// thresholds on its training rows, the calibration on its validation split
// (PROTOCOL.md's 70/15/15). It takes ownership of m (see New).
func NewService(ctx context.Context, m *perfpredict.Model, history *Data, opt ServiceOptions) (*Service, error) {
	fz, sp, err := FitFeaturizer(m, history)
	if err != nil {
		return nil, err
	}
	cols, err := metricColumns(history, sp.Metrics)
	if err != nil {
		return nil, err
	}
	split := baseline.SplitOf(history.Len())
	s := &Service{Spec: sp, Featurizer: fz, Cadence: medianStep(history.Times), start: history.Times[0]}
	s.Period, err = baseline.SeasonFromCadence(history.Times)
	if err != nil {
		return nil, fmt.Errorf("serve: %s: %w", history.Name, err)
	}
	s.normalize = opt.Normalize
	for _, c := range cols {
		s.floor = append(s.floor, 0.1*math.Max(baseline.NaiveScale(history.Values[c], split), 1e-12))
	}
	s.historyLen = opt.HistoryLen
	if s.historyLen <= 0 {
		s.historyLen = max(s.Period, sp.Steps)
	}
	if s.Thresholds, err = defaultThresholds(history, sp.Metrics, cols, split.Train, opt); err != nil {
		return nil, err
	}
	popt := opt.Predictor
	if popt.Fallback == nil && !opt.NoFallback {
		var fbs PerMetric
		for _, c := range cols {
			hw, err := FitHoltWinters(history.Values[c][:split.Fit()], split.Train, s.Period)
			if err != nil {
				return nil, fmt.Errorf("serve: %s: fallback: %w", history.Name, err)
			}
			fbs = append(fbs, hw)
		}
		popt.Fallback = fbs
	}
	if s.Predictor, err = newModelPredictor(m, sp, popt); err != nil {
		return nil, err
	}
	// Calibration: every validation origin whose targets lie in validation.
	rows, err := fz.Prepare(history)
	if err != nil {
		return nil, err
	}
	first := max(split.Train-1, rows.First()+sp.Steps-1)
	var origins []int
	for t := first; t+sp.Horizon < split.Fit(); t++ {
		origins = append(origins, t)
	}
	if len(origins) < 10 {
		return nil, fmt.Errorf("serve: %s: %d validation origins for a %d-step window and horizon %d; need 10 to calibrate", history.Name, len(origins), sp.Steps, sp.Horizon)
	}
	cal, err := s.residuals(ctx, history, rows, cols, origins)
	if err != nil {
		return nil, err
	}
	s.cal.Store(cal)
	return s, nil
}

// Recalibrate replaces the calibration with the residual paths of the most
// recent origins of d whose targets d holds (as many as the calibration
// has, at least ten), so intervals and probabilities follow the metric's
// current behaviour: call it as outcomes arrive (every hour, say) with the
// recent history. Backtest's online mode does the same at every step. Safe
// to call while other goroutines forecast.
func (s *Service) Recalibrate(ctx context.Context, d *Data) error {
	rows, cols, err := s.prepare(d)
	if err != nil {
		return err
	}
	old := s.cal.Load()
	n := max(10, len(old.Model), len(old.Fallback))
	lo := rows.First() + s.Spec.Steps - 1
	hi := d.Len() - 1 - s.Spec.Horizon // last origin with its targets
	if hi < lo {
		return fmt.Errorf("serve: %s: %d rows hold no origin with a %d-step window and horizon %d: %w", d.Name, d.Len(), s.Spec.Steps, s.Spec.Horizon, ErrBadInput)
	}
	var origins []int
	for t := max(lo, hi-n+1); t <= hi; t++ {
		origins = append(origins, t)
	}
	cal, err := s.residuals(ctx, d, rows, cols, origins)
	if err != nil {
		return err
	}
	s.cal.Store(cal)
	return nil
}

// Close stops the Predictor.
func (s *Service) Close() { s.Predictor.Close() }

// defaultThresholds: the Quantile of each metric's training rows as the
// upper bound, unless overridden.
func defaultThresholds(d *Data, metrics []string, cols []int, nTrain int, opt ServiceOptions) ([]Threshold, error) {
	q := opt.Quantile
	if q == 0 {
		q = 0.99
	}
	if !(q > 0 && q < 1) {
		return nil, fmt.Errorf("serve: threshold quantile %v, want in (0, 1)", q)
	}
	out := make([]Threshold, len(metrics))
	for i, name := range metrics {
		out[i] = Threshold{Metric: name}
		if j := slices.IndexFunc(opt.Thresholds, func(t Threshold) bool { return t.Metric == name }); j >= 0 {
			out[i] = opt.Thresholds[j]
			if out[i].Origin == "" {
				out[i].Origin = "configured"
			}
			continue
		}
		v := append([]float64(nil), d.Values[cols[i]][:nTrain]...)
		slices.Sort(v)
		b := v[min(len(v)-1, int(math.Ceil(q*float64(len(v))))-1)]
		out[i].Origin = fmt.Sprintf("p%g of training", 100*q)
		if b == v[len(v)-1] {
			// The quantile is the maximum (a metric saturating at 100%,
			// say): nothing ever exceeds it, so breached would never be
			// true. The SLO is reaching the top: the bound drops to the
			// largest smaller value.
			if j, _ := slices.BinarySearch(v, b); j > 0 {
				b = v[j-1]
				out[i].Origin = fmt.Sprintf("p%g of training (at its maximum %.6g: reaching it)", 100*q, v[len(v)-1])
			}
		}
		out[i].Above = &b
	}
	for _, t := range opt.Thresholds {
		if !slices.Contains(metrics, t.Metric) {
			return nil, fmt.Errorf("serve: threshold for %q: the model predicts %v", t.Metric, metrics)
		}
	}
	return out, nil
}

// window fills w for the origin row t of d.
func (s *Service) window(w *Window, rows Rows, d *Data, cols []int, t int) {
	T, F := s.Spec.Steps, s.Spec.Inputs
	if cap(w.X) < T*F {
		w.X = make([]float32, T*F)
	}
	w.X = w.X[:T*F]
	rows.Window(w.X, t, T)
	w.Features = s.Spec.Features
	if len(w.Last) != len(cols) {
		w.Last = make([]float64, len(cols))
		w.History = make([][]float64, len(cols))
	}
	lo := max(0, t+1-s.historyLen)
	for m, c := range cols {
		w.Last[m] = d.Values[c][t]
		w.History[m] = d.Values[c][lo : t+1]
	}
	w.Phase = int(math.Round(float64(d.Times[t].Sub(s.start)) / float64(s.Cadence)))
}

// scales is the volatility of each metric over the window ending at row t
// (1 for every metric without Normalize).
func (s *Service) scales(d *Data, cols []int, t int) []float64 {
	out := make([]float64, len(cols))
	for m, c := range cols {
		out[m] = 1
		if !s.normalize {
			continue
		}
		v, sum, n := d.Values[c], 0.0, 0
		for i := max(1, t-s.Spec.Steps+1); i <= t; i++ {
			if dv := math.Abs(v[i] - v[i-1]); !math.IsNaN(dv) && !math.IsInf(dv, 0) {
				sum += dv
				n++
			}
		}
		if n > 0 {
			out[m] = sum / float64(n)
		}
		out[m] = math.Max(out[m], s.floor[m])
	}
	return out
}

// forecastMany predicts origins of d in chunks, returning per origin the
// forecasts [M*K] and the source.
func (s *Service) forecastMany(ctx context.Context, d *Data, rows Rows, cols []int, origins []int) ([][]float64, []Source, error) {
	const chunk = 256
	preds := make([][]float64, len(origins))
	srcs := make([]Source, len(origins))
	ws := make([]Window, chunk)
	dst := make([]Prediction, chunk)
	for lo := 0; lo < len(origins); lo += chunk {
		n := min(chunk, len(origins)-lo)
		for i := range n {
			s.window(&ws[i], rows, d, cols, origins[lo+i])
		}
		if err := s.Predictor.PredictBatch(ctx, ws[:n], dst[:n]); err != nil {
			return nil, nil, err
		}
		for i := range n {
			preds[lo+i] = append([]float64(nil), dst[i].Values...)
			srcs[lo+i] = dst[i].Source
		}
	}
	return preds, srcs, nil
}

// residuals computes the model's and the fallback's residual paths at the
// origins, and their cross-fitted pairs (raw breach probability within the
// model's horizon, breach followed) for the probability maps.
func (s *Service) residuals(ctx context.Context, d *Data, rows Rows, cols []int, origins []int) (*Calibration, error) {
	K, M := s.Spec.Horizon, len(s.Spec.Metrics)
	preds, srcs, err := s.forecastMany(ctx, d, rows, cols, origins)
	if err != nil {
		return nil, err
	}
	n := len(origins)
	modelPaths, fbPaths, fbPreds := make([][]float64, n), make([][]float64, n), make([][]float64, n)
	modelPreds, scales, events := make([][]float64, n), make([][]float64, n), make([]bool, n)
	var model, fb [][]float64
	var w Window
	for i, t := range origins {
		r := make([]float64, M*K)
		sc := s.scales(d, cols, t)
		scales[i] = sc
		for m, c := range cols {
			for h := 1; h <= K; h++ {
				r[m*K+h-1] = (d.Values[c][t+h] - preds[i][m*K+h-1]) / sc[m]
				events[i] = events[i] || s.Thresholds[m].breached(d.Values[c][t+h])
			}
		}
		if srcs[i] == SourceModel {
			model = append(model, r)
			modelPaths[i], modelPreds[i] = r, preds[i]
		}
		if fbk := s.Predictor.opt.Fallback; fbk != nil {
			s.window(&w, rows, d, cols, t)
			rf, fp := make([]float64, M*K), make([]float64, M*K)
			for m, c := range cols {
				if err := fbk.Forecast(m, w.History[m], w.Phase, fp[m*K:(m+1)*K]); err != nil {
					return nil, err
				}
				for h := 1; h <= K; h++ {
					rf[m*K+h-1] = (d.Values[c][t+h] - fp[m*K+h-1]) / sc[m]
				}
			}
			fb = append(fb, rf)
			fbPaths[i], fbPreds[i] = rf, fp
		}
	}
	mp := crossFit(origins, modelPreds, modelPaths, scales, events, K, K, s.Thresholds)
	fp := crossFit(origins, fbPreds, fbPaths, scales, events, K, K, s.Thresholds)
	return newCalibration(s.Spec.Metrics, K, model, fb, mp, fp), nil
}

// Forecast predicts from the last row of recent.
// Missing (NaN) or infinite values in the rows the window reads are bad
// input: an error naming the metric and row, or the fallback (from the
// finite history) when Options.FallbackOnBadInput is set.
func (s *Service) Forecast(ctx context.Context, recent *Data) (Prediction, error) {
	var p Prediction
	rows, cols, err := s.prepare(recent)
	if err == nil {
		err = s.checkRecent(recent, cols, rows.First())
	}
	if err != nil {
		if !errors.Is(err, ErrBadInput) || !s.Predictor.opt.FallbackOnBadInput || s.Predictor.opt.Fallback == nil || cols == nil {
			return Prediction{}, err
		}
		// The fallback forecasts from the finite values of the history.
		w := Window{Last: make([]float64, len(cols)), History: make([][]float64, len(cols))}
		t := recent.Len() - 1
		lo := max(0, t+1-s.historyLen)
		for m, c := range cols {
			w.History[m] = recent.Values[c][lo : t+1]
		}
		w.Phase = int(math.Round(float64(recent.Times[t].Sub(s.start)) / float64(s.Cadence)))
		return p, s.Predictor.fallback(&w, &p, ReasonBadInput, err)
	}
	var w Window
	s.window(&w, rows, recent, cols, recent.Len()-1)
	err = s.Predictor.PredictInto(ctx, &w, &p)
	return p, err
}

// checkRecent names the first non-finite value the last window reads.
func (s *Service) checkRecent(d *Data, cols []int, first int) error {
	n := d.Len()
	lo := max(0, n-s.Spec.Steps-first)
	for _, c := range cols {
		for i := lo; i < n; i++ {
			if v := d.Values[c][i]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("serve: %s: %s at row %d (%s) is %v: %w", d.Name, d.Metrics[c], i+1, d.Times[i].Format(time.RFC3339), v, ErrBadInput)
			}
		}
	}
	return nil
}

// prepare checks recent and computes its rows.
func (s *Service) prepare(recent *Data) (Rows, []int, error) {
	if err := recent.check(); err != nil {
		return nil, nil, err
	}
	cols, err := metricColumns(recent, s.Spec.Metrics)
	if err != nil {
		return nil, nil, err
	}
	rows, err := s.Featurizer.Prepare(recent)
	if err != nil {
		return nil, cols, err
	}
	if need := rows.First() + s.Spec.Steps; recent.Len() < need {
		return nil, nil, fmt.Errorf("serve: %s: %d rows, the model's %d-step window needs at least %d: %w", recent.Name, recent.Len(), s.Spec.Steps, need, ErrBadInput)
	}
	return rows, cols, nil
}

// StepForecast is one metric at one step ahead.
type StepForecast struct {
	Step int       `json:"step"`
	Time time.Time `json:"time"`
	P10  float64   `json:"p10"`
	P50  float64   `json:"p50"`
	P90  float64   `json:"p90"`
	// Forecast is the point forecast (model or fallback).
	Forecast float64 `json:"forecast"`
	// PBreach is the probability that the metric is out of its SLO at
	// this step.
	PBreach float64 `json:"p_breach"`
}

// MetricForecast is one metric's forecast over the horizon.
type MetricForecast struct {
	Metric    string         `json:"metric"`
	Last      float64        `json:"last"`
	Threshold Threshold      `json:"threshold"`
	Steps     []StepForecast `json:"steps"`
	// Probability that the metric breaches its SLO within the horizon.
	Probability float64 `json:"probability"`
}

// Recommendation is an action with the evidence that triggered it.
type Recommendation struct {
	Action   string `json:"action"`
	Metric   string `json:"metric"`
	Evidence string `json:"evidence"`
}

// Degradation is PredictDegradation's answer.
type Degradation struct {
	Origin  time.Time     `json:"origin"`
	Step    time.Duration `json:"step_ns"`
	Horizon int           `json:"horizon"`
	Source  Source        `json:"source"`
	Method  string        `json:"method"`
	Reason  Reason        `json:"reason,omitempty"`
	Version string        `json:"version"`
	// Probability that any metric breaches its SLO within the horizon:
	// the conformal probability (RawProbability, the share of residual
	// paths that breach) recalibrated on held-out outcomes (see
	// ProbabilityMap).
	Probability    float64 `json:"degradation_probability"`
	RawProbability float64 `json:"raw_probability"`
	// FirstBreach is the first step at which a breach has become more
	// likely than not (0: none within the horizon); FirstBreachTime its time.
	FirstBreach     int              `json:"first_breach_step"`
	FirstBreachTime *time.Time       `json:"first_breach_time,omitempty"`
	Metrics         []MetricForecast `json:"predicted_metrics"`
	Recommendations []Recommendation `json:"recommendations"`
	// Attention of the model over the window (nil from the fallback).
	Attention []float32 `json:"attention,omitempty"`
}

// DefaultHorizon is the seed's forecast_horizon.
const DefaultHorizon = 30

// PredictDegradation forecasts the metrics of recent for horizon steps (0:
// DefaultHorizon) after its last row with 10/50/90% intervals, the
// probability that any SLO is breached within the horizon, the first likely
// breach and recommendations.
func (s *Service) PredictDegradation(ctx context.Context, recent *Data, horizon int) (*Degradation, error) {
	if horizon == 0 {
		horizon = DefaultHorizon
	}
	if horizon < 1 || horizon > s.Spec.Horizon {
		return nil, fmt.Errorf("serve: horizon %d: the model forecasts 1 to %d steps ahead: %w", horizon, s.Spec.Horizon, ErrBadInput)
	}
	p, err := s.Forecast(ctx, recent)
	if err != nil {
		return nil, err
	}
	return s.degradation(p, recent, horizon), nil
}

func (s *Service) degradation(p Prediction, recent *Data, horizon int) *Degradation {
	K := s.Spec.Horizon
	origin := recent.Times[recent.Len()-1]
	paths, sorted, pm := s.cal.Load().residuals(p.Source)
	cols, _ := metricColumns(recent, s.Spec.Metrics)
	sc := s.scales(recent, cols, recent.Len()-1)
	r := assess(p.Values, K, horizon, s.Thresholds, paths, sc)
	r.recalibrate(pm)
	out := &Degradation{Origin: origin, Step: s.Cadence, Horizon: horizon, Source: p.Source, Method: p.Method,
		Reason: p.Reason, Version: p.Version, Probability: r.pAny, RawProbability: r.raw, FirstBreach: r.firstStep, Attention: p.Attention}
	if r.firstStep > 0 {
		t := origin.Add(time.Duration(r.firstStep) * s.Cadence)
		out.FirstBreachTime = &t
	}
	for m, name := range s.Spec.Metrics {
		mf := MetricForecast{Metric: name, Last: recent.Values[cols[m]][recent.Len()-1], Threshold: s.Thresholds[m], Probability: r.pMetric[m]}
		for h := 1; h <= horizon; h++ {
			f := p.Values[m*K+h-1]
			sf := StepForecast{Step: h, Time: origin.Add(time.Duration(h) * s.Cadence), Forecast: f, P10: f, P50: f, P90: f,
				PBreach: r.marginal[m*horizon+h-1]}
			if sorted != nil {
				col := sorted[m*K+h-1]
				sf.P10 = f + sc[m]*conformalQuantile(col, 0.1)
				sf.P50 = f + sc[m]*conformalQuantile(col, 0.5)
				sf.P90 = f + sc[m]*conformalQuantile(col, 0.9)
			}
			mf.Steps = append(mf.Steps, sf)
		}
		out.Metrics = append(out.Metrics, mf)
	}
	hints := make([]string, len(cols))
	for m, c := range cols {
		hints[m] = recent.Metrics[c] + " " + recent.Name
	}
	out.Recommendations = recommend(out, s.Cadence, hints)
	if out.Recommendations == nil {
		out.Recommendations = []Recommendation{}
	}
	return out
}

// recommend maps likely breaches to actions, with their evidence.
// hints (the data's column and name per metric) help when the metric is
// just "value".
func recommend(d *Degradation, step time.Duration, hints []string) []Recommendation {
	var out []Recommendation
	for m, mf := range d.Metrics {
		if mf.Probability < 0.5 {
			continue
		}
		// The step where the breach is most likely, and its forecast.
		best := mf.Steps[0]
		for _, s := range mf.Steps {
			if s.PBreach > best.PBreach {
				best = s
			}
		}
		bound, dir := "", ""
		th := mf.Threshold
		above := th.Above != nil && best.P50 > *th.Above || th.Below == nil
		if above && th.Above != nil {
			bound, dir = fmt.Sprintf("%.4g", *th.Above), "above"
		} else if th.Below != nil {
			bound, dir = fmt.Sprintf("%.4g", *th.Below), "below"
		}
		evidence := fmt.Sprintf("P(%s %s %s within %d steps) = %.2f; at +%s the median forecast is %.4g (80%% interval %.4g to %.4g, now %.4g); SLO %s %s (%s)",
			mf.Metric, dir, bound, d.Horizon, mf.Probability, time.Duration(best.Step)*step, best.P50, best.P10, best.P90, mf.Last, dir, bound, th.Origin)
		for _, a := range actionsFor(mf.Metric, mf.Metric+" "+hints[m], dir == "above") {
			out = append(out, Recommendation{Action: a, Metric: mf.Metric, Evidence: evidence})
		}
	}
	return out
}

// actionsFor names what an operator of DWCP does about a metric leaving its
// bound (rising when up).
func actionsFor(metric, hint string, up bool) []string {
	n := strings.ToLower(hint)
	has := func(keys ...string) bool {
		for _, k := range keys {
			if strings.Contains(n, k) {
				return true
			}
		}
		return false
	}
	switch {
	case has("consensus", "acp"):
		if up {
			return []string{"lengthen the ACP timeout", "raise the ACP batch size"}
		}
	case has("compression", "hde"):
		if !up {
			return []string{"raise the HDE compression level"}
		}
		return []string{"lower the HDE compression level (CPU-bound)"}
	case has("latency", "response", "duration"):
		if up {
			return []string{"scale out", "lengthen the ACP timeout"}
		}
	case has("error", "fail"):
		if up {
			return []string{"hold deployments and check the error budget", "scale out"}
		}
	case has("cpu", "util", "load"):
		if up {
			return []string{"scale out"}
		}
	case has("mem"):
		if up {
			return []string{"scale up memory", "scale out"}
		}
	case has("disk", "write", "io"):
		if up {
			return []string{"scale out storage or throttle writers"}
		}
	case has("network", "bytes", "request", "throughput", "count"):
		if up {
			return []string{"scale out", "raise the PBA prediction window"}
		}
		return []string{"check upstream traffic"}
	case has("temperature"):
		if up {
			return []string{"check cooling and shed load"}
		}
	}
	if up {
		return []string{"investigate " + metric + " (rising past its SLO)"}
	}
	return []string{"investigate " + metric + " (falling past its SLO)"}
}
