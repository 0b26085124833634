package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// ServiceOptions configure NewService.
type ServiceOptions struct {
	// Predictor configures the Predictor. Its Fallback defaults to
	// Holt-Winters fitted per metric on the history's train and validation
	// splits (persistence for a metric too short to fit it); NoFallback
	// leaves it out.
	Predictor  Options
	NoFallback bool
	// Thresholds override the default SLO bounds per metric (by name).
	Thresholds []Threshold
	// Quantile of the training rows giving each metric's default upper
	// bound (0: 0.99).
	Quantile float64
	// Name names the served data (a file, a query) in errors; its last
	// path element also feeds the recommendations' hints, as a metric's
	// name does: the "value" of ec2_cpu_utilization.csv is a CPU's.
	Name string
	// Switch serves each metric with a forecast.Switch (evaluate's
	// `switch` row: per metric, the forecaster, a ridge autoregression of
	// the metric, the forecaster's switch trees or an average of them,
	// whichever erred less lately), fitted on
	// the history and fed the rows each Forecast brings after the last it
	// saw. A metric the switch cannot follow (too short a history, a
	// request that skips rows or goes back in time) is answered by the
	// forecaster, as without Switch; Prediction.Method says which answered.
	Switch bool
}

// Service serves one forecaster for the metrics of a history (one
// baseline.Series per metric, sharing their times): each metric is
// forecast as its own series by the same forecaster
// (through a Predictor, with a fallback fitted per metric), and
// PredictDegradation turns the forecasts' calibrated intervals into SLO
// breach probabilities.
type Service struct {
	Predictor  *Predictor
	Metrics    []string
	Thresholds []Threshold // one per metric
	// Cadence is the median spacing of the history's timestamps: the time
	// of one forecast step.
	Cadence time.Duration
	// Period is the fallback's season in steps (a day).
	Period int

	name       string    // ServiceOptions.Name
	start      time.Time // first row of the history: phase 0
	historyLen int       // values the fallback forecasts from
	pmap       atomic.Pointer[fittedMap]
	// followers[m] serves Metrics[m] with a switch (nil without
	// ServiceOptions.Switch, or where it cannot follow the metric).
	followers []*Follower
}

// fittedMap is a probability map and the horizon it was fitted for.
type fittedMap struct {
	m       *ProbabilityMap
	horizon int
}

// NewService fits what serving metrics like history needs besides the
// forecaster: the fallback on its train and validation splits, the
// thresholds on its training rows (PROTOCOL.md's 70/15/15) and the
// cadence. The forecaster itself reads nothing of history here. Close
// stops the Predictor; fc stays the caller's.
func NewService(fc *forecast.Forecaster, history []baseline.Series, opt ServiceOptions) (*Service, error) {
	if fc == nil {
		return nil, errors.New("serve: NewService needs a forecaster")
	}
	if err := aligned(opt.Name, history); err != nil {
		return nil, err
	}
	metrics := names(history)
	cols, err := metricColumns(opt.Name, history, metrics)
	if err != nil {
		return nil, err
	}
	n, times := rows(history), history[0].Times
	if n < 2 {
		return nil, fmt.Errorf("%s%d rows; need at least 2 for a cadence: %w", prefix(opt.Name), n, ErrBadInput)
	}
	s := &Service{Metrics: metrics, Cadence: medianStep(times), name: opt.Name, start: times[0]}
	if s.Period, err = baseline.SeasonFromCadence(times); err != nil {
		return nil, fmt.Errorf("%s%w", prefix(opt.Name), err)
	}
	s.historyLen = max(2*s.Period, fc.Needs())
	split := baseline.SplitOf(n)
	if s.Thresholds, err = defaultThresholds(history, s.Metrics, cols, max(1, split.Train), opt); err != nil {
		return nil, err
	}
	popt := opt.Predictor
	if popt.Fallback == nil && !opt.NoFallback {
		var fbs PerMetric
		for _, c := range cols {
			hw, err := FitHoltWinters(history[c].Values[:split.Fit()], split.Train, s.Period)
			if err != nil {
				fbs = append(fbs, Persistence{})
				continue
			}
			fbs = append(fbs, hw)
		}
		popt.Fallback = fbs
	}
	if s.Predictor, err = New(fc, popt); err != nil {
		return nil, err
	}
	if opt.Switch {
		s.followers = make([]*Follower, len(cols))
		for m, c := range cols {
			// A metric the switch cannot follow is the forecaster's.
			s.followers[m], _ = newFollower(fc, baseline.Series{Times: times, Values: history[c].Values}, split.Train)
		}
	}
	return s, nil
}

// Close stops the Predictor.
func (s *Service) Close() { s.Predictor.Close() }

// Needs is the number of most recent rows a forecast depends on.
func (s *Service) Needs() int { return s.Predictor.Needs() }

// Horizon is the largest horizon forecast.
func (s *Service) Horizon() int { return s.Predictor.Horizon() }

// defaultThresholds: the Quantile of each metric's training rows as the
// upper bound, unless overridden.
func defaultThresholds(d []baseline.Series, metrics []string, cols []int, nTrain int, opt ServiceOptions) ([]Threshold, error) {
	q := opt.Quantile
	if q == 0 {
		q = 0.99
	}
	if !(q > 0 && q < 1) {
		return nil, fmt.Errorf("serve: threshold quantile %v, want in (0, 1)", q)
	}
	for _, t := range opt.Thresholds {
		if !slices.Contains(metrics, t.Metric) {
			return nil, fmt.Errorf("serve: threshold for %q: the served metrics are %v: %w", t.Metric, metrics, ErrBadInput)
		}
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
		v := slices.Clone(d[cols[i]].Values[:nTrain])
		slices.Sort(v)
		b := v[min(len(v)-1, max(0, int(math.Ceil(q*float64(len(v))))-1))]
		out[i].Origin = fmt.Sprintf("p%g of training", 100*q)
		if b == v[len(v)-1] {
			// The quantile is the maximum (a metric saturating at 100%,
			// say): nothing ever exceeds it. The SLO is reaching the top:
			// the bound drops to the largest smaller value.
			if j, _ := slices.BinarySearch(v, b); j > 0 {
				b = v[j-1]
				out[i].Origin = fmt.Sprintf("p%g of training (at its maximum %.6g: reaching it)", 100*q, v[len(v)-1])
			}
		}
		out[i].Above = &b
	}
	return out, nil
}

// inputs are the Predictor's inputs for the origin row t of d, one per
// metric.
func (s *Service) inputs(d []baseline.Series, cols []int, t int) []Input {
	ins := make([]Input, len(cols))
	lo := max(0, t+1-s.historyLen)
	phase := int(math.Round(float64(d[0].Times[t].Sub(s.start)) / float64(s.Cadence)))
	for m, c := range cols {
		ins[m] = Input{History: d[c].Values[lo : t+1], Series: m, Phase: phase}
	}
	return ins
}

// Forecast forecasts every metric from the last row of recent (a series
// per metric, sharing their times; others are ignored): out[m] answers
// Metrics[m], and equals the forecaster's Forecast of that series, or,
// with ServiceOptions.Switch, the switch's Point at each horizon. A
// series shorter than Needs() rows, or with a missing or infinite value
// among them, is bad input: an error naming the data, the metric and the
// row, or the fallback when Options.FallbackOnBadInput.
func (s *Service) Forecast(ctx context.Context, recent []baseline.Series) ([]Prediction, error) {
	cols, err := s.columns(recent)
	if err != nil {
		return nil, err
	}
	if err := s.checkRecent(recent, cols); err != nil && !(s.Predictor.opt.FallbackOnBadInput && s.Predictor.opt.Fallback != nil) {
		return nil, err
	}
	out, err := s.Predictor.PredictBatch(ctx, s.inputs(recent, cols, rows(recent)-1))
	if err != nil {
		var ie inputError
		if errors.As(err, &ie) && ie.i < len(s.Metrics) {
			return nil, fmt.Errorf("%s%s: %w", prefix(s.name), s.Metrics[ie.i], ie.err)
		}
		return nil, err
	}
	for m, f := range s.followers {
		// Where the forecaster answered, so did the switch if it can (it
		// runs the same network; the fallback's answer stands).
		if f == nil || out[m].Source != SourceModel {
			continue
		}
		c := cols[m]
		if pts, ok := f.Points(recent[c].Times, recent[c].Values, s.Cadence, s.Horizon()); ok {
			out[m].Points, out[m].Method = pts, forecast.SwitchMethod
		}
	}
	return out, nil
}

// columns maps the served metrics to the indices of recent's series.
func (s *Service) columns(recent []baseline.Series) ([]int, error) {
	if err := aligned(s.name, recent); err != nil {
		return nil, err
	}
	if rows(recent) == 0 {
		return nil, fmt.Errorf("%sno rows: %w", prefix(s.name), ErrBadInput)
	}
	return metricColumns(s.name, recent, s.Metrics)
}

// checkRecent names the first problem of the rows a forecast reads.
func (s *Service) checkRecent(d []baseline.Series, cols []int) error {
	n, needs := rows(d), s.Needs()
	if n < needs {
		return fmt.Errorf("%s%d rows; a forecast needs the last %d rows: %w", prefix(s.name), n, needs, ErrBadInput)
	}
	for m, c := range cols {
		for i := n - needs; i < n; i++ {
			if v := d[c].Values[i]; math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("%s%s at row %d (%s) is %v: %w", prefix(s.name), s.Metrics[m], i+1, d[c].Times[i].Format(time.RFC3339), v, ErrBadInput)
			}
		}
	}
	return nil
}

// StepForecast is one metric at one step ahead.
type StepForecast struct {
	Step int       `json:"step"`
	Time time.Time `json:"time"`
	P10  float64   `json:"p10"`
	P50  float64   `json:"p50"`
	P90  float64   `json:"p90"`
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
	Source      Source  `json:"source"`
	Method      string  `json:"method"`
	Reason      Reason  `json:"reason,omitempty"`
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
	Version string        `json:"version"`
	// Probability that any metric breaches its SLO within the horizon:
	// RawProbability (from the per-step quantiles) recalibrated on
	// Recalibrated held-out outcomes (Service.Recalibrate; 0: not
	// recalibrated, Probability is RawProbability).
	Probability    float64 `json:"degradation_probability"`
	RawProbability float64 `json:"raw_probability"`
	Recalibrated   int     `json:"recalibrated_on"`
	// FirstBreach is the first step at which a breach has become more
	// likely than not (0: none within the horizon); FirstBreachTime its time.
	FirstBreach     int              `json:"first_breach_step"`
	FirstBreachTime *time.Time       `json:"first_breach_time,omitempty"`
	Metrics         []MetricForecast `json:"predicted_metrics"`
	Recommendations []Recommendation `json:"recommendations"`
}

// DefaultHorizon is the DWCP v3 design's forecast horizon in steps.
const DefaultHorizon = 30

// PredictDegradation forecasts the metrics of recent for horizon steps (0:
// DefaultHorizon) after its last row with the forecaster's calibrated
// 10/50/90% quantiles, the probability that any SLO is breached within the
// horizon, the first likely breach and recommendations.
//
// At each step the metric's distribution is the split normal through its
// p10, p50 and p90 (two half normals meeting at the median), which gives
// the probability of being out of bounds there. Within a metric the
// errors of the steps are taken as comonotone (one quantile path: a
// forecast that is too low at one step is too low at the next, as the
// errors of a forecast from one origin are), so the probability of a
// breach by step h is the largest per-step probability up to h; metrics
// are taken as independent. A fallback answer has no interval: its
// probabilities are 0 or 1. After Recalibrate for this horizon, the
// probabilities of a breach within the horizon (and the first likely
// breach) are mapped to the frequencies observed after such forecasts.
func (s *Service) PredictDegradation(ctx context.Context, recent []baseline.Series, horizon int) (*Degradation, error) {
	if horizon == 0 {
		horizon = DefaultHorizon
	}
	if horizon < 1 || horizon > s.Horizon() {
		return nil, fmt.Errorf("serve: horizon %d: the forecaster forecasts 1 to %d steps ahead: %w", horizon, s.Horizon(), ErrBadInput)
	}
	ps, err := s.Forecast(ctx, recent)
	if err != nil {
		return nil, err
	}
	out := s.assess(ps, recent[0].Times[rows(recent)-1], horizon)
	hints := make([]string, len(s.Metrics))
	for m, name := range s.Metrics {
		hints[m] = name + " " + filepath.Base(s.name) // not the directories' words
	}
	out.Recommendations = recommend(out, s.Cadence, hints)
	if out.Recommendations == nil {
		out.Recommendations = []Recommendation{}
	}
	return out, nil
}

// assess is the degradation answer for the forecasts ps (one per metric)
// from origin, without recommendations.
func (s *Service) assess(ps []Prediction, origin time.Time, horizon int) *Degradation {
	out := &Degradation{Origin: origin, Step: s.Cadence, Horizon: horizon, Version: s.Predictor.Version()}
	cumAny := make([]float64, horizon) // P(no metric breached by step h), then its complement
	for h := range cumAny {
		cumAny[h] = 1
	}
	for m, name := range s.Metrics {
		p, th := ps[m], s.Thresholds[m]
		mf := MetricForecast{Metric: name, Last: p.Last, Threshold: th, Source: p.Source, Method: p.Method, Reason: p.Reason}
		var upA, upB float64 // the largest per-step tail probabilities so far
		for h := 1; h <= horizon; h++ {
			pt := p.Points[h-1]
			a, b := th.tails(pt)
			upA, upB = math.Max(upA, a), math.Max(upB, b)
			cum := math.Min(1, upA+upB)
			cumAny[h-1] *= 1 - cum
			mf.Steps = append(mf.Steps, StepForecast{Step: h, Time: origin.Add(time.Duration(h) * s.Cadence),
				P10: pt.P10, P50: pt.P50, P90: pt.P90, PBreach: math.Min(1, a+b)})
			mf.Probability = cum
		}
		out.Metrics = append(out.Metrics, mf)
	}
	// The map (when fitted for this horizon) recalibrates the
	// probabilities of a breach within the horizon and by each step (it is
	// monotone, so the curve stays non-decreasing); the per-step marginals
	// stay the ones that match the intervals.
	var pm *ProbabilityMap
	if f := s.pmap.Load(); f != nil && f.horizon == horizon {
		pm, out.Recalibrated = f.m, f.m.N
	}
	for m := range out.Metrics {
		out.Metrics[m].Probability = pm.Apply(out.Metrics[m].Probability)
	}
	for h := range cumAny {
		cumAny[h] = 1 - cumAny[h]
		if h == horizon-1 {
			out.RawProbability = cumAny[h]
		}
		cumAny[h] = pm.Apply(cumAny[h])
		if out.FirstBreach == 0 && cumAny[h] >= 0.5 {
			out.FirstBreach = h + 1
		}
	}
	out.Probability = cumAny[horizon-1]
	if out.FirstBreach > 0 {
		t := origin.Add(time.Duration(out.FirstBreach) * s.Cadence)
		out.FirstBreachTime = &t
	}
	return out
}

// z90 is the standard normal's 90% quantile.
const z90 = 1.2815515655446004

// tails are the probabilities that the metric is above t.Above and below
// t.Below at a step whose quantiles are pt, under the split normal through
// p10, p50 and p90 (a point mass at p50 where an interval is empty).
func (t Threshold) tails(pt forecast.Point) (above, below float64) {
	lo, hi := (pt.P50-pt.P10)/z90, (pt.P90-pt.P50)/z90 // the halves' deviations
	// tail is P(Y beyond x) on the side away from the median, for the
	// half with deviation sd.
	tail := func(dist, sd float64) float64 {
		if !(sd > 0) {
			return 0
		}
		return 0.5 * math.Erfc(dist/(sd*math.Sqrt2))
	}
	if t.Above != nil {
		if x := *t.Above; x >= pt.P50 {
			above = tail(x-pt.P50, hi)
		} else {
			above = 1 - tail(pt.P50-x, lo)
		}
	}
	if t.Below != nil {
		if x := *t.Below; x <= pt.P50 {
			below = tail(pt.P50-x, lo)
		} else {
			below = 1 - tail(x-pt.P50, hi)
		}
	}
	return above, below
}

// recommend maps likely breaches to actions, with their evidence.
// hints (the metric and the data's name, per metric) help when the metric is
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
// bound (rising when up). Keys match the start of a word of the hint
// ("util" matches "cpu_utilization"; "io" does not match "ratio").
func actionsFor(metric, hint string, up bool) []string {
	words := strings.FieldsFunc(strings.ToLower(hint), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	has := func(keys ...string) bool {
		for _, k := range keys {
			for _, w := range words {
				if strings.HasPrefix(w, k) {
					return true
				}
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

// medianStep is the median positive spacing of times (a minute without).
func medianStep(times []time.Time) time.Duration {
	var d []time.Duration
	for i := 1; i < len(times); i++ {
		if dt := times[i].Sub(times[i-1]); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return time.Minute
	}
	slices.Sort(d)
	return d[len(d)/2]
}
