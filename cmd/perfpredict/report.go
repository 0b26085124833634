package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// The evaluation table shared by train and evaluate: every method is scored
// on the same protocol points (baseline.Targets) of every series at every
// horizon, and summarised by the geometric mean of MASE over series.

// The model's two columns: the network alone, and the network combined
// with one baseline by a weight chosen per series and horizon on the
// validation split (what `train` offers as the model).
const (
	lstmMethod  = "lstm"
	modelMethod = "model"
	// bestOnValMethod is the baseline with the least validation MAE for the
	// series and horizon, no network: it shows how much of the model's
	// advantage over any single baseline comes from choosing per series.
	bestOnValMethod = "best_on_val"
)

// methodOrder is the order of the table's columns: the baselines as
// baseline.Standard returns them, then the network and the model.
var methodOrder = []string{"persistence", "seasonal_naive", "ma12", "holt_winters", "ridge_ar", bestOnValMethod, lstmMethod, modelMethod}

// modelOutput is the network's forecasts of one series at each horizon:
// Test aligned with baseline.Targets (the baselines' points), Val with the
// validation split's indices sp.Train..sp.Fit()-1.
type modelOutput struct {
	Test, Val [][]float64
}

// modelForecaster produces the network's forecasts of one series at each
// horizon. It is where the model joins the table.
type modelForecaster func(ctx context.Context, s baseline.Series, hs []int) (*modelOutput, error)

// combination is how the model column mixes the network with a baseline
// for one series and horizon: Weight*lstm + (1-Weight)*Baseline, chosen on
// the validation targets alone (no test data is involved).
//
// The baseline is the one with the least validation MAE (best_on_val) and
// its share is first the one of the grid combinationWeights with the least
// validation MAE. Validation errors are autocorrelated and a validation
// split is short, so a share that helps there by chance would carry into
// the test split: the share is then scaled by the evidence that it helps,
// min(1, max(0, t/evidenceFull)), where t is the t statistic of the mean
// reduction of the absolute error against the network alone over
// evidenceBatches batches of consecutive validation targets (batch means).
// A baseline that is clearly better keeps its share; one that is better by
// a margin the validation split cannot tell from noise gets little or none.
// On the 13 NAB series of PROTOCOL.md this changed the geometric-mean MASE
// by less than 0.5%; on four NAB series not among them (trained on those)
// it cut the model's error by 1-4% and its worst loss to a baseline from
// +10-18% to +5-12% (three seeds).
type combination struct {
	Baseline string  `json:"baseline,omitempty"` // "" when the network alone is best
	Weight   float64 `json:"lstm_weight"`
	// GridWeight is the network's weight with the least validation MAE,
	// before the evidence scaled the baseline's share; Evidence is t,
	// capped at ±evidenceCap.
	GridWeight float64 `json:"grid_weight"`
	Evidence   float64 `json:"evidence_t"`
	// ValMASE is the combination's MASE on the validation targets,
	// LSTMValMASE the network's alone.
	ValMASE     float64 `json:"val_mase"`
	LSTMValMASE float64 `json:"lstm_val_mase"`
	// BestOnVal is the baseline with the least validation MAE (the
	// best_on_val column).
	BestOnVal string `json:"best_on_val,omitempty"`
}

func (c *combination) String() string {
	shrunk := ""
	if c.GridWeight < 1 && c.Weight != c.GridWeight {
		shrunk = fmt.Sprintf("; the validation gain's t = %.2f scaled %s's share down from %.2f", c.Evidence, c.BestOnVal, 1-c.GridWeight)
	}
	if c.Baseline == "" || c.Weight == 1 {
		return fmt.Sprintf("model = lstm (validation MASE %.3f%s)", c.ValMASE, shrunk)
	}
	if c.Weight == 0 {
		return fmt.Sprintf("model = %s, the network gets no weight (validation MASE %.3f; lstm alone %.3f)", c.Baseline, c.ValMASE, c.LSTMValMASE)
	}
	return fmt.Sprintf("model = %.2f lstm + %.2f %s (validation MASE %.3f; lstm alone %.3f%s)",
		c.Weight, 1-c.Weight, c.Baseline, c.ValMASE, c.LSTMValMASE, shrunk)
}

// combinationWeights is the grid of the network's weight.
var combinationWeights = []float64{1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0}

const (
	// evidenceBatches is the number of batches of consecutive validation
	// targets the evidence's standard error is estimated from.
	evidenceBatches = 10
	// evidenceFull is the t statistic at which the baseline keeps all of
	// its share (about a two-sided 5% test).
	evidenceFull = 2
	evidenceCap  = 100
)

// chooseCombination picks the baseline with the least validation MAE
// (y[sp.Train+k] is forecast by lstm[k] and val[name][k]; ties keep the
// earlier baseline), the network's weight from the grid with the least MAE
// of the combined validation forecasts (ties keep the larger weight), then
// scales the baseline's share by the evidence that it helps (see
// combination).
func chooseCombination(y []float64, sp baseline.Split, scale float64, lstm []float64, val map[string][]float64) combination {
	mix := func(w float64, b []float64, k int) float64 {
		if w == 1 {
			return lstm[k]
		}
		return w*lstm[k] + (1-w)*b[k]
	}
	mae := func(w float64, b []float64) float64 {
		var s float64
		for k := range lstm {
			s += math.Abs(mix(w, b, k) - y[sp.Train+k])
		}
		return s / float64(len(lstm)) / scale
	}
	alone := mae(1, nil)
	c := combination{Weight: 1, GridWeight: 1, ValMASE: alone, LSTMValMASE: alone}
	bestVal := math.Inf(1)
	for _, name := range orderedMethods(val) {
		if v := mae(0, val[name]); v < bestVal {
			bestVal, c.BestOnVal = v, name
		}
	}
	if c.BestOnVal == "" {
		return c
	}
	b := val[c.BestOnVal]
	for _, w := range combinationWeights[1:] {
		if v := mae(w, b); v < c.ValMASE {
			c.GridWeight, c.ValMASE = w, v
		}
	}
	if c.GridWeight == 1 {
		return c
	}
	// gain[k]: how much the grid's mix reduces the network's absolute error.
	gain := make([]float64, len(lstm))
	for k := range lstm {
		t := y[sp.Train+k]
		gain[k] = math.Abs(lstm[k]-t) - math.Abs(mix(c.GridWeight, b, k)-t)
	}
	c.Evidence = batchMeansT(gain, evidenceBatches)
	c.Weight = c.GridWeight
	if share := c.Evidence / evidenceFull; share < 1 {
		c.Weight = 1 - (1-c.GridWeight)*math.Max(0, share)
	}
	if c.Weight < 1 {
		c.Baseline = c.BestOnVal
	}
	c.ValMASE = mae(c.Weight, b)
	return c
}

// batchMeansT is the t statistic of the mean of x, whose values are
// autocorrelated, from the means of nb batches of consecutive values (fewer
// when x is short; 0 with fewer than two batches), capped at ±evidenceCap.
func batchMeansT(x []float64, nb int) float64 {
	nb = min(nb, len(x)/2)
	if nb < 2 {
		return 0
	}
	means := make([]float64, nb)
	for i := range nb {
		lo, hi := i*len(x)/nb, (i+1)*len(x)/nb
		var s float64
		for _, v := range x[lo:hi] {
			s += v
		}
		means[i] = s / float64(hi-lo)
	}
	var mean float64
	for _, m := range means {
		mean += m
	}
	mean /= float64(nb)
	var ss float64
	for _, m := range means {
		ss += (m - mean) * (m - mean)
	}
	se := math.Sqrt(ss / float64(nb-1) / float64(nb))
	t := 0.0
	switch {
	case se > 0:
		t = mean / se
	case mean > 0:
		t = evidenceCap
	case mean < 0:
		t = -evidenceCap
	}
	return math.Max(-evidenceCap, math.Min(evidenceCap, t))
}

// validationForecasts runs the baselines, fitted as the protocol fits them
// for the test split (once, on train and validation), through the series up
// to the end of its validation split and returns each one's forecasts of
// every validation target at each horizon of hs, aligned with
// sp.Train..sp.Fit()-1: the same forecasters the model column mixes with on
// the test split. (Fitted on train alone instead, ridge AR and Holt-Winters
// revert to the training level and look far worse on a validation split
// whose level has moved than the test-time forecasters are; they are mildly
// optimistic this way, which favours the baselines over the network.) A
// baseline that cannot forecast so early is left out and named in the
// returned notes.
func validationForecasts(s baseline.Series, period int, hs []int) (map[string][][]float64, []string) {
	sp := baseline.SplitOf(s.Len())
	maxH := hs[len(hs)-1]
	out := map[string][][]float64{}
	var notes []string
	hist := s.Slice(0, sp.Fit())
next:
	for _, f := range baseline.Standard(period, maxH) {
		if err := f.Fit(hist, sp.Train); err != nil {
			notes = append(notes, fmt.Sprintf("%s left out of the combination: %v", f.Name(), err))
			continue
		}
		f.Reset()
		ps := make([][]float64, len(hs))
		for i := range ps {
			ps[i] = make([]float64, sp.Val)
		}
		for t := 0; t < sp.Fit()-1; t++ {
			f.Update(s.Values[t])
			for i, h := range hs {
				if j := t + h; j >= sp.Train && j < sp.Fit() {
					v, err := f.Forecast(h)
					if err != nil {
						notes = append(notes, fmt.Sprintf("%s left out of the combination: validation forecast: %v", f.Name(), err))
						continue next
					}
					ps[i][j-sp.Train] = v
				}
			}
		}
		out[f.Name()] = ps
	}
	return out, notes
}

// seriesResult is one row group of the table: one series at one horizon.
type seriesResult struct {
	Name    string                      `json:"name"`
	Horizon int                         `json:"horizon"`
	Targets int                         `json:"targets"`
	Methods map[string]baseline.Metrics `json:"methods"`
	// Combination says how the model column was formed (with a model).
	Combination *combination `json:"combination,omitempty"`
}

// summary holds the geometric mean of MASE per horizon and method, over the
// series where every method has a MASE.
type summary struct {
	Series      int                             `json:"series"`
	GeoMeanMASE map[string]map[string]jsonFloat `json:"geomean_mase"` // horizon -> method -> value
	Best        map[string]string               `json:"best"`         // horizon -> method with the least geometric mean
	// VersusBest compares, per horizon, the model's MASE on each series with
	// the least MASE of the baselines on that series.
	VersusBest map[string]versus `json:"model_vs_best_baseline,omitempty"`
}

// versus is the model against the best baseline of each series.
type versus struct {
	WorstRatio  float64 `json:"worst_ratio"` // the largest model MASE / best baseline MASE
	WorstSeries string  `json:"worst_series"`
	Better      int     `json:"series_better"` // series where the model's MASE is the lower
}

type evalReport struct {
	Series  []seriesResult `json:"series"`
	Summary summary        `json:"summary"`
}

// jsonFloat encodes NaN and infinities as null.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(v, 'g', -1, 64)), nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = jsonFloat(math.NaN())
		return nil
	}
	v, err := strconv.ParseFloat(string(b), 64)
	*f = jsonFloat(v)
	return err
}

// evaluateAll scores the standard baselines and, when model is not nil, the
// model on every series at every horizon of hs. Progress goes to log; with
// plotDir set, a forecast plot per series and horizon goes there.
func evaluateAll(ctx context.Context, log io.Writer, series []baseline.Series, hs []int, model modelForecaster, plotDir string) (*evalReport, error) {
	maxH := 0
	for _, h := range hs {
		maxH = max(maxH, h)
	}
	rep := &evalReport{}
	for i, s := range series {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		period, err := baseline.SeasonFromCadence(s.Times)
		if err != nil {
			return nil, usagef("%s: %v", s.Name, err)
		}
		start := time.Now()
		rows := make([]seriesResult, len(hs))
		preds := make([]map[string][]float64, len(hs)) // per horizon, per method
		for k, h := range hs {
			rows[k] = seriesResult{Name: s.Name, Horizon: h, Methods: map[string]baseline.Metrics{}}
			preds[k] = map[string][]float64{}
		}
		for _, f := range baseline.Standard(period, maxH) {
			ps, err := baseline.Forecasts(s, f, hs...)
			if errors.Is(err, baseline.ErrShortHistory) {
				// Seasonal naive needs a season before the first test
				// origin: on a short series it has no figures (null).
				fmt.Fprintf(log, "  %s: %v; left out\n", f.Name(), err)
				for k := range hs {
					rows[k].Methods[f.Name()] = undefinedMetrics(len(baseline.Targets(baseline.SplitOf(s.Len()))))
				}
				continue
			}
			if err != nil {
				return nil, err
			}
			for k := range hs {
				preds[k][f.Name()] = ps[k]
			}
		}
		fmt.Fprintf(log, "[%d/%d] %s: %d steps, season %d, baselines in %s\n",
			i+1, len(series), s.Name, s.Len(), period, time.Since(start).Round(time.Millisecond))
		if model != nil {
			out, err := model(ctx, s, hs)
			if err != nil {
				return nil, err
			}
			sp := baseline.SplitOf(s.Len())
			val, notes := validationForecasts(s, period, hs)
			for _, n := range notes {
				fmt.Fprintf(log, "  %s\n", n)
			}
			scale := baseline.NaiveScale(s.Values, sp)
			for k := range hs {
				preds[k][lstmMethod] = out.Test[k]
				vk := map[string][]float64{}
				for name, v := range val {
					if _, ok := preds[k][name]; ok {
						vk[name] = v[k]
					}
				}
				c := chooseCombination(s.Values, sp, scale, out.Val[k], vk)
				combined := slices.Clone(out.Test[k])
				if c.Weight < 1 {
					b := preds[k][c.Baseline]
					for i := range combined {
						combined[i] = c.Weight*combined[i] + (1-c.Weight)*b[i]
					}
				}
				preds[k][modelMethod] = combined
				if c.BestOnVal != "" {
					preds[k][bestOnValMethod] = preds[k][c.BestOnVal]
				}
				rows[k].Combination = &c
			}
		}
		for k := range hs {
			for name, p := range preds[k] {
				m, err := baseline.Score(s.Values, p)
				if err != nil {
					return nil, fmt.Errorf("%s: scoring %s at h=%d: %w", s.Name, name, hs[k], err)
				}
				rows[k].Methods[name] = m
				rows[k].Targets = m.N
			}
			if plotDir != "" {
				path, err := plotForecasts(plotDir, s, hs[k], preds[k])
				if err != nil {
					return nil, err
				}
				fmt.Fprintf(log, "  wrote %s\n", path)
			}
		}
		rep.Series = append(rep.Series, rows...)
	}
	rep.Summary = summarise(rep.Series, hs)
	return rep, nil
}

// undefinedMetrics stands for a method that could not forecast the n targets.
func undefinedMetrics(n int) baseline.Metrics {
	nan := math.NaN()
	return baseline.Metrics{MAE: nan, RMSE: nan, MAPE: nan, R2: nan, MASE: nan, Accuracy5: nan, N: n}
}

// summarise computes the geometric mean of MASE per horizon and method.
func summarise(rows []seriesResult, hs []int) summary {
	sum := summary{GeoMeanMASE: map[string]map[string]jsonFloat{}, Best: map[string]string{}}
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
		gm := map[string]jsonFloat{}
		best, bestV := "", math.Inf(1)
		for _, m := range orderedMethods(mase) {
			v := baseline.GeoMean(mase[m])
			gm[m] = jsonFloat(v)
			if v < bestV {
				best, bestV = m, v
			}
		}
		sum.GeoMeanMASE[key] = gm
		sum.Best[key] = best
		if v, ok := versusBest(rows, h); ok {
			if sum.VersusBest == nil {
				sum.VersusBest = map[string]versus{}
			}
			sum.VersusBest[key] = v
		}
	}
	return sum
}

// versusBest compares the model with each series' best baseline at h.
func versusBest(rows []seriesResult, h int) (versus, bool) {
	v := versus{WorstRatio: math.Inf(-1)}
	found := false
	for _, r := range rows {
		m, ok := r.Methods[modelMethod]
		if r.Horizon != h || !ok {
			continue
		}
		best := math.Inf(1)
		for name, b := range r.Methods {
			if name != modelMethod && name != lstmMethod && name != bestOnValMethod && b.MASE < best {
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

// orderedMethods lists the keys of a per-method map in table order, unknown
// methods last by name.
func orderedMethods[V any](m map[string]V) []string {
	var out []string
	for _, name := range methodOrder {
		if _, ok := m[name]; ok {
			out = append(out, name)
		}
	}
	var rest []string
	for name := range m {
		if !contains(methodOrder, name) {
			rest = append(rest, name)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// writeJSON prints the report as one JSON object.
func (r *evalReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// writeTable prints the report for a person.
func (r *evalReport) writeTable(w io.Writer) {
	num := func(v float64, prec int) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	for _, row := range r.Series {
		fmt.Fprintf(w, "%s  h=%d  (%d test targets)\n", row.Name, row.Horizon, row.Targets)
		fmt.Fprintf(w, "  %-15s %12s %12s %9s %8s %7s %7s\n", "method", "MAE", "RMSE", "MAPE%", "R2", "MASE", "acc5")
		for _, m := range orderedMethods(row.Methods) {
			v := row.Methods[m]
			fmt.Fprintf(w, "  %-15s %12s %12s %9s %8s %7s %7s\n", m, sig(v.MAE), sig(v.RMSE), num(v.MAPE, 2),
				num(v.R2, 3), num(v.MASE, 3), num(v.Accuracy5, 3))
		}
		if row.Combination != nil {
			fmt.Fprintf(w, "  %s\n", row.Combination)
		}
		fmt.Fprintln(w)
	}
	var hs []string
	for h := range r.Summary.GeoMeanMASE {
		hs = append(hs, h)
	}
	sort.Slice(hs, func(i, j int) bool { a, _ := strconv.Atoi(hs[i]); b, _ := strconv.Atoi(hs[j]); return a < b })
	fmt.Fprintf(w, "geometric mean of MASE over %d series\n", r.Summary.Series)
	fmt.Fprintf(w, "  %-15s", "method")
	for _, h := range hs {
		fmt.Fprintf(w, " %8s", "h="+h)
	}
	fmt.Fprintln(w)
	methods := map[string]bool{}
	for _, h := range hs {
		for m := range r.Summary.GeoMeanMASE[h] {
			methods[m] = true
		}
	}
	for _, m := range orderedMethods(methods) {
		fmt.Fprintf(w, "  %-15s", m)
		for _, h := range hs {
			v, ok := r.Summary.GeoMeanMASE[h][m]
			s := "-"
			if ok {
				s = num(float64(v), 3)
			}
			if r.Summary.Best[h] == m {
				s += "*"
			} else {
				s += " "
			}
			fmt.Fprintf(w, " %8s", s)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, "  (* least per horizon; MASE < 1 beats the training split's one-step naive error)")
	if _, ok := methods[modelMethod]; ok {
		fmt.Fprintln(w, "  lstm: the network alone; best_on_val: the baseline with the least validation error per")
		fmt.Fprintln(w, "  series and horizon, no network (what choosing alone earns); model: the network mixed with")
		fmt.Fprintln(w, "  best_on_val, its weight chosen on the validation split and the baseline's share scaled by")
		fmt.Fprintln(w, "  the evidence that it helps there (full at t >= 2)")
		for _, h := range hs {
			if v, ok := r.Summary.VersusBest[h]; ok {
				fmt.Fprintf(w, "  h=%s: model vs the best baseline of each series: at worst %+.1f%% (%s), %d of %d series better\n",
					h, 100*(v.WorstRatio-1), v.WorstSeries, v.Better, r.Summary.Series)
			}
		}
	}
}

// sig formats an error magnitude with 4 significant digits, whatever its
// units (CPU percent or bytes).
func sig(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	s := strconv.FormatFloat(v, 'g', 4, 64)
	if strings.Contains(s, "e+") {
		return strconv.FormatFloat(v, 'e', 3, 64)
	}
	return s
}
