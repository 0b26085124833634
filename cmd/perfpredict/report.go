package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// The evaluation table shared by train and evaluate: every method is scored
// on the same protocol points (baseline.Targets) of every series at every
// horizon, and summarised by the geometric mean of MASE over series.

// modelMethod is the table's key for the neural model's forecasts.
const modelMethod = "model"

// methodOrder is the order of the table's columns: the baselines as
// baseline.Standard returns them, then the model.
var methodOrder = []string{"persistence", "seasonal_naive", "ma12", "holt_winters", "ridge_ar", modelMethod}

// modelForecaster produces the neural model's forecasts of one series at
// each horizon, aligned with baseline.Targets (the same points as the
// baselines). It is where the model joins the table.
type modelForecaster func(ctx context.Context, s baseline.Series, hs []int) ([][]float64, error)

// seriesResult is one row group of the table: one series at one horizon.
type seriesResult struct {
	Name    string                      `json:"name"`
	Horizon int                         `json:"horizon"`
	Targets int                         `json:"targets"`
	Methods map[string]baseline.Metrics `json:"methods"`
}

// summary holds the geometric mean of MASE per horizon and method, over the
// series where every method has a MASE.
type summary struct {
	Series      int                             `json:"series"`
	GeoMeanMASE map[string]map[string]jsonFloat `json:"geomean_mase"` // horizon -> method -> value
	Best        map[string]string               `json:"best"`         // horizon -> method with the least geometric mean
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
			ps, err := model(ctx, s, hs)
			if err != nil {
				return nil, err
			}
			for k := range hs {
				preds[k][modelMethod] = ps[k]
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
	}
	return sum
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
