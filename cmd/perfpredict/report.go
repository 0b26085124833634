package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// evaluateAndPrint scores fc (nil: the baselines only) and the baselines on
// series by the protocol (forecast.Evaluate), writes the scored forecasts
// and the figures when asked, and prints the table or the JSON report.
func evaluateAndPrint(ctx context.Context, env *cmdEnv, fc *forecast.Forecaster, series []baseline.Series, hs []int, labels baseline.Labels, plots, forecastsPath string, asJSON bool) error {
	if fc != nil && hs[len(hs)-1] > fc.Horizon() {
		return usagef("--horizon %d: the forecaster forecasts at most %d steps ahead", hs[len(hs)-1], fc.Horizon())
	}
	keep := fc != nil && (plots != "" || forecastsPath != "")
	rep, err := forecast.Evaluate(ctx, fc, series, hs, forecast.EvalOptions{Forecasts: keep, Labels: labels, Logf: stderrLogf(env)})
	if err != nil {
		if errors.Is(err, forecast.ErrBadInput) || errors.Is(err, baseline.ErrBadInput) {
			return usageErr(err)
		}
		return err
	}
	if forecastsPath != "" && fc != nil {
		if err := writeForecastsCSV(forecastsPath, rep.Forecasts, rep.SwitchForecasts); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "wrote %d scored forecasts to %s\n", len(rep.Forecasts)+len(rep.SwitchForecasts), forecastsPath)
	}
	if plots != "" && fc != nil {
		if err := writeForecastPlots(ctx, env, fc, series, hs, rep.Forecasts, plots); err != nil {
			return err
		}
	}
	if asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeTable(env.stdout, rep, "the forecaster the artifact serves (its networks averaged)", fc != nil && fc.Info().SwitchTrees != nil)
	return nil
}

// originLayout formats forecast origins as NAB's files write timestamps.
const originLayout = "2006-01-02 15:04:05"

// writeForecastsCSV writes the scored forecasts of the model, then the
// switch's, with the header series,origin,horizon,forecast,actual,method
// (origin: the timestamp of the last observation the forecast used).
func writeForecastsCSV(path string, model, sw []forecast.ScoredForecast) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"series", "origin", "horizon", "forecast", "actual", "method"})
	for i, fs := range [][]forecast.ScoredForecast{model, sw} {
		method := []string{forecast.ModelMethod, forecast.SwitchMethod}[i]
		for _, s := range fs {
			w.Write([]string{s.Series, s.OriginTime.UTC().Format(originLayout), strconv.Itoa(s.Horizon),
				strconv.FormatFloat(s.Forecast, 'g', -1, 64), strconv.FormatFloat(s.Actual, 'g', -1, 64), method})
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// writeForecastPlots draws every series' forecasts at every horizon and
// the attention over its last window.
func writeForecastPlots(ctx context.Context, env *cmdEnv, fc *forecast.Forecaster, series []baseline.Series, hs []int, fs []forecast.ScoredForecast, dir string) error {
	for _, s := range series {
		for _, h := range hs {
			var mine []forecast.ScoredForecast
			for _, f := range fs {
				if f.Series == s.Name && f.Horizon == h {
					mine = append(mine, f)
				}
			}
			if len(mine) == 0 {
				continue
			}
			path, err := plotForecasts(dir, s, h, mine)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.stderr, "  wrote %s\n", path)
		}
		f, err := fc.Forecast(ctx, s.Values)
		if err != nil {
			return err
		}
		w := make([]float32, len(f.Attention))
		for i, v := range f.Attention {
			w[i] = float32(v)
		}
		path, err := plotAttention(dir, s.Name, w, s.Values[s.Len()-len(w):])
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "  wrote %s\n", path)
	}
	return nil
}

// writeTable prints the report for a person: each series and horizon, the
// geometric means, and for multi-metric files the accuracy by metric.
// model says what the model row is.
func writeTable(w io.Writer, r *forecast.Report, model string, switchTrees bool) {
	num := func(v float64, prec int) string {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "-"
		}
		return strconv.FormatFloat(v, 'f', prec, 64)
	}
	for _, row := range r.Series {
		fmt.Fprintf(w, "%s  h=%d  (%d test targets)\n", row.Name, row.Horizon, row.Targets)
		fmt.Fprintf(w, "  %-15s %12s %12s %9s %8s %7s %7s\n", "method", "MAE", "RMSE", "MAPE%", "R2", "MASE", "acc5")
		for _, m := range forecast.OrderedMethods(row.Methods) {
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
	for _, m := range forecast.OrderedMethods(methods) {
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
	if _, ok := methods[forecast.ModelMethod]; ok {
		fmt.Fprintf(w, "  model: %s\n", model)
		if _, ok := methods[forecast.SwitchMethod]; ok {
			if switchTrees {
				fmt.Fprintln(w, "  switch: per series, the model, a ridge AR(60) of the series, the switch's global trees corrected")
				fmt.Fprintln(w, "    on the series' history or an average of two or three of them, whichever erred less over about")
				fmt.Fprintln(w, "    the last day at that horizon (forecast.Switch; fitted and fed like the baselines)")
			} else {
				fmt.Fprintln(w, "  switch: per series, the model, a ridge AR(60) of the series or their average, whichever erred")
				fmt.Fprintln(w, "    less over about the last day at that horizon (forecast.Switch; fitted and fed like the baselines)")
			}
		}
		for _, h := range hs {
			if v, ok := r.Summary.VersusBest[h]; ok {
				fmt.Fprintf(w, "  h=%s: model vs the best baseline of each series: at worst %+.1f%% (%s), %d of %d series better\n",
					h, 100*(v.WorstRatio-1), v.WorstSeries, v.Better, r.Summary.Series)
			}
			if v, ok := r.Summary.SwitchVersusBest[h]; ok {
				fmt.Fprintf(w, "  h=%s: switch vs the best baseline of each series: at worst %+.1f%% (%s), %d of %d series better\n",
					h, 100*(v.WorstRatio-1), v.WorstSeries, v.Better, r.Summary.Series)
			}
		}
		writeMetricTable(w, r)
	}
	writeIntervalTable(w, r)
	writeScenarioTable(w, r)
}

// writeIntervalTable prints the probabilistic scores per horizon: the
// forecaster's p10/p50/p90 and the conformal baselines'.
func writeIntervalTable(w io.Writer, r *forecast.Report) {
	if r.Intervals == nil || len(r.Intervals.Summary) == 0 {
		return
	}
	fmt.Fprintln(w, "\nprobabilistic forecasts: the 80% interval p10..p90 and the quantiles p10/p50/p90")
	fmt.Fprintln(w, "  (coverage: share of all test targets inside, nominal 80%; in 75-85: series whose coverage is;")
	fmt.Fprintln(w, "   winkler: interval score at alpha 0.2, pinball: mean over the 3 quantiles, both divided by the")
	fmt.Fprintln(w, "   training split's one-step naive MAE like MASE, geometric mean over series; lower is better)")
	fmt.Fprintf(w, "  %4s  %-24s %8s %10s %9s %9s\n", "h", "method", "coverage", "in 75-85", "winkler", "pinball")
	for _, h := range r.Horizons {
		sum := r.Intervals.Summary[strconv.Itoa(h)]
		for _, m := range forecast.OrderedMethods(sum) {
			v := sum[m]
			label := m
			switch m {
			case forecast.ModelMethod:
			case forecast.SwitchMethod:
				label += " (recent errors)"
			default:
				label += " (conformal)"
			}
			fmt.Fprintf(w, "  %4d  %-24s %7.1f%% %10s %9s %9s\n", h, label, 100*float64(v.Coverage),
				fmt.Sprintf("%d/%d", v.InBand, v.Series), fixed(float64(v.Winkler), 3), fixed(float64(v.Pinball), 4))
		}
	}
}

// writeScenarioTable prints the accuracy per scenario: the model and the
// switch against the best baseline of each horizon.
func writeScenarioTable(w io.Writer, r *forecast.Report) {
	if r.Scenarios == nil || len(r.Scenarios.Summary) == 0 {
		return
	}
	fmt.Fprintln(w, "\naccuracy by scenario (peak/low: target above/below 90% of the training split; anomaly: inside a")
	fmt.Fprintln(w, "  labelled window; MASE and RMSSE (RMSE over the naive MAE): geometric mean over the series with")
	fmt.Fprintln(w, "  targets in the scenario, per-series MAE and RMSE in --json; latency: mean time of one forecast")
	fmt.Fprintln(w, "  call, measured during this evaluation: the model's Forecast on a history, a baseline's on its state)")
	fmt.Fprintf(w, "  %4s  %-8s %7s %6s  %-14s %8s %8s %8s %8s %8s %8s %11s %11s\n", "h", "scenario", "targets", "series",
		"best baseline", "MASE", "MASE", "MASE", "RMSSE", "RMSSE", "RMSSE", "latency", "latency")
	fmt.Fprintf(w, "  %4s  %-8s %7s %6s  %-14s %8s %8s %8s %8s %8s %8s %11s %11s\n", "", "", "", "", "",
		"model", "switch", "baseline", "model", "switch", "baseline", "model", "baseline")
	for _, s := range r.Scenarios.Summary {
		m, hasModel := s.Methods[forecast.ModelMethod]
		sw, hasSwitch := s.Methods[forecast.SwitchMethod]
		b := s.Methods[s.Baseline]
		mm, mr, ml, sm, sr := "-", "-", "-", "-", "-"
		if hasModel {
			mm, mr, ml = fixed(float64(m.MASE), 3), fixed(float64(m.RMSSE), 3), micros(float64(m.LatencyUS))
		}
		if hasSwitch {
			sm, sr = fixed(float64(sw.MASE), 3), fixed(float64(sw.RMSSE), 3)
		}
		fmt.Fprintf(w, "  %4d  %-8s %7d %6d  %-14s %8s %8s %8s %8s %8s %8s %11s %11s\n", s.Horizon, s.Scenario, s.Targets, s.Series,
			s.Baseline, mm, sm, fixed(float64(b.MASE), 3), mr, sr, fixed(float64(b.RMSSE), 3), ml, micros(float64(b.LatencyUS)))
	}
}

// fixed formats v with prec decimals, "-" when undefined.
func fixed(v float64, prec int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// micros formats a latency given in microseconds.
func micros(us float64) string {
	switch {
	case math.IsNaN(us):
		return "-"
	case us >= 1000:
		return fmt.Sprintf("%.2f ms", us/1000)
	case us >= 1:
		return fmt.Sprintf("%.1f us", us)
	}
	return fmt.Sprintf("%.0f ns", us*1000)
}

// addLabelsFlag adds --labels.
func addLabelsFlag(fs *flag.FlagSet) *string {
	return fs.String("labels", "", "anomaly windows in NAB's combined_windows.json format, `file`; targets inside one form the anomaly scenario (default: testdata/nab/combined_windows.json when the series come from testdata/nab)")
}

// loadLabels reads --labels, or, when it is empty and every series comes
// from the repository's testdata/nab (data empty: the default series),
// the label file shipped there; nil when there is none.
func loadLabels(file string, data []string) (baseline.Labels, error) {
	if file != "" {
		l, err := baseline.LoadLabels(file)
		if err != nil {
			return nil, usageErr(err)
		}
		return l, nil
	}
	dir, err := findTestdata()
	if err != nil {
		return nil, nil
	}
	for _, p := range data {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, nil
		}
		rel, err := filepath.Rel(dir, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return nil, nil
		}
	}
	def := filepath.Join(dir, "combined_windows.json")
	if _, err := os.Stat(def); err != nil {
		return nil, nil
	}
	l, err := baseline.LoadLabels(def)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// writeMetricTable prints, for series read from multi-metric files
// (FILE:COLUMN), the design's accuracy by metric: the model's share of
// forecasts within 5% and its MAPE at each horizon.
func writeMetricTable(w io.Writer, r *forecast.Report) {
	var rows []forecast.SeriesResult
	for _, row := range r.Series {
		if strings.Contains(row.Name, ":") {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\naccuracy by metric (model; accuracy: share of forecasts within 5% of the actual value)")
	fmt.Fprintf(w, "  %-30s %4s %9s %8s %7s\n", "metric", "h", "accuracy", "MAPE%", "MASE")
	for _, row := range rows {
		m := row.Methods[forecast.ModelMethod]
		acc, mape := "-", "-"
		if !math.IsNaN(m.Accuracy5) {
			acc = fmt.Sprintf("%.1f%%", 100*m.Accuracy5)
		}
		if !math.IsNaN(m.MAPE) {
			mape = fmt.Sprintf("%.2f", m.MAPE)
		}
		fmt.Fprintf(w, "  %-30s %4d %9s %8s %7.3f\n", row.Name, row.Horizon, acc, mape, m.MASE)
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
