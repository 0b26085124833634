package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/features"
	"github.com/novacron/perfpredict/monitor"
	"github.com/novacron/perfpredict/serve"
)

// perfpredict monitor: replay a metrics file through the monitor. The file
// is split as PROTOCOL.md says (70/15/15); the drift reference is the
// training part's engineered features (calendar columns left out: a day's
// window never matches weeks of hours and weekdays); the test part is
// replayed row by row at its own timestamps: each row is forecast one step
// ahead (by the forecaster served as predict serves it, or by a baseline),
// scored, its features enter the drift window, and the alert rules are
// evaluated. The report's figures are the ones the rules saw.

func init() {
	register(&command{name: "monitor", summary: "replay a metrics file through health, drift and alert monitoring", run: runMonitor})
}

type monitorForecaster struct {
	Kind string `json:"kind"` // "model" or "baseline"
	Name string `json:"name"`
	Path string `json:"path,omitempty"`
	// Networks is the number of networks averaged (the artifact's
	// ensemble); Version the served version.
	Networks int    `json:"networks,omitempty"`
	Version  string `json:"version,omitempty"`
	// Latency says how latencies were measured.
	Latency string `json:"latency"`
}

type monitorOutput struct {
	Data       string                 `json:"data"`
	Rules      string                 `json:"rules"`
	Forecaster monitorForecaster      `json:"forecaster"`
	Reference  int                    `json:"reference_rows"`
	Replayed   int                    `json:"replayed_rows"`
	From       time.Time              `json:"from"`
	To         time.Time              `json:"to"`
	Health     monitor.HealthSnapshot `json:"health"`
	DailyMAPE  []monitor.DayMAPE      `json:"daily_mape"`
	// Drift is the drift at the end, nil when the window held fewer rows
	// than the rules need (MinDriftRows), as the rules saw it; MaxDrift the
	// largest figures the rules saw during the replay (empty: none).
	Drift        *monitor.DriftReport `json:"drift"`
	MinDriftRows int                  `json:"min_drift_rows"`
	MaxDrift     map[string]float64   `json:"max_drift"`
	// MinErrors is how many scored forecasts the accuracy rules need.
	MinErrors int                 `json:"min_errors"`
	Alerts    []monitor.Alert     `json:"alerts"`
	Actions   map[string]int      `json:"actions"`
	Firing    []string            `json:"firing_at_end"`
	Metrics   map[string]*float64 `json:"metrics_at_end"`
}

func runMonitor(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("monitor", env)
	modelArg := fs.String("model", "", "forecaster artifact (perfpredict train), or a baseline: persistence, seasonal_naive, ma12, holt_winters, ridge_ar (required)")
	data := addDataFlags(fs, "metrics CSV with timestamp and value columns (this, or --prometheus with a query of one series, is required)", false)
	target := fs.String("target", "value", "value column of the CSV")
	rulesPath := fs.String("rules", "", "alert rules YAML (default: the DWCP v3 design's three rules: accuracy < 0.90, inference_time > 20ms, feature_distribution_divergence > 0.15)")
	window := fs.Int("drift-window", 288, "rows in the drift window (288 = a day at 5 minutes)")
	bins := fs.Int("bins", 10, "quantile bins of the drift reference")
	healthWindow := fs.Duration("health-window", 24*time.Hour, "span of the rolling health figures")
	jsonOut := fs.Bool("json", false, "print one JSON object")
	useSwitch := fs.Bool("switch", true, "with a forecaster artifact: serve a switch fitted on the train and validation rows and fed each test row (evaluate's switch row, which a replay follows as serve does); --switch=false: the forecaster alone")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelArg == "" || !data.given() {
		return usagef("--model and --data are required (or --prometheus and --query instead of --data)")
	}
	if *window < 2 || *bins < 2 || *healthWindow <= 0 {
		return usagef("--drift-window and --bins must be at least 2, --health-window positive")
	}
	if _, err := device.get(); err != nil {
		return err
	}
	rulesName, rulesSrc := "default", []byte(monitor.DefaultRules)
	if *rulesPath != "" {
		b, err := os.ReadFile(*rulesPath)
		if err != nil {
			return usageErr(err)
		}
		rulesName, rulesSrc = *rulesPath, b
	}
	rules, err := monitor.ParseRules(rulesSrc, rulesName)
	if err != nil {
		return usageErr(err)
	}
	ins, err := data.load(ctx, *target)
	if err != nil {
		return err
	}
	if len(ins[0].series) != 1 {
		return usagef("%s: %d series; monitor replays one (narrow the query)", ins[0].from, len(ins[0].series))
	}
	s, metric, from := ins[0].series[0], ins[0].metrics[0], ins[0].from
	if err := baseline.CheckSeries(s, 1); err != nil {
		return usageErr(err)
	}
	sp := baseline.SplitOf(s.Len())
	start, n := sp.TestStart(), s.Len()

	// Forecasts of every test row, one step ahead, with the latency of each
	// call.
	pred := make([]float64, n-start)
	lat := make([]time.Duration, n-start)
	fellBack := make([]bool, n-start)
	var fc monitorForecaster
	if f := baselineByName(*modelArg, s); f != nil && !fileExists(*modelArg) {
		fc = monitorForecaster{Kind: "baseline", Name: f.Name(), Latency: "per forecast"}
		if err := f.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
			return usagef("%s: %s: %v", from, f.Name(), err)
		}
		for j := start; j < n; j++ {
			t0 := time.Now()
			v, err := f.Forecast(1)
			lat[j-start] = time.Since(t0)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				v, fellBack[j-start] = s.Values[j-1], true // persistence, as a serving fallback would
			}
			pred[j-start] = v
			f.Update(s.Values[j])
		}
	} else {
		// The forecaster as predict serves it: the artifact's ensemble
		// through a serve.Service (Holt-Winters fallback fitted on the
		// train and validation rows; a row without the history the
		// forecaster needs is answered by the fallback, as in service).
		f, err := openForecaster(env, *modelArg, device)
		if err != nil {
			return err
		}
		defer f.Close()
		m := baseline.Series{Name: metric, Times: s.Times, Values: s.Values}
		svc, err := newService(f, s.Name, []baseline.Series{m.Slice(0, sp.Fit())},
			serve.ServiceOptions{Predictor: serve.Options{FallbackOnBadInput: true}, Switch: *useSwitch})
		if err != nil {
			return err
		}
		defer svc.Close()
		fc = monitorForecaster{Kind: "model", Name: "forecaster", Path: *modelArg, Networks: f.Members(),
			Version: svc.Predictor.Version(), Latency: "per forecast (serve.Service.Forecast)"}
		if *useSwitch {
			fc.Name = "switch"
		}
		for j := start; j < n; j++ {
			t0 := time.Now()
			ps, err := svc.Forecast(ctx, []baseline.Series{m.Slice(0, j)})
			lat[j-start] = time.Since(t0)
			if err != nil {
				return dataErr(err)
			}
			pred[j-start], fellBack[j-start] = ps[0].Points[0].Value, ps[0].Source != serve.SourceModel
		}
	}

	// Drift reference: training rows of the non-calendar feature columns
	// (features.Engineer), standardised on the training rows.
	fr, err := engineer(s)
	if err != nil {
		return usagef("%s: %v", from, err)
	}
	var cols []int
	var names []string
	for c, name := range fr.Names {
		if !slices.Contains(features.TemporalNames(), name) && name != features.GapName {
			cols = append(cols, c)
			names = append(names, name)
		}
	}
	row := func(i int) []float64 {
		all := fr.Row(i)
		r := make([]float64, len(cols))
		for k, c := range cols {
			r[k] = float64(all[c])
		}
		return r
	}
	refRows := make([][]float64, sp.Train)
	for i := range refRows {
		refRows[i] = row(i)
	}
	ref, err := monitor.NewReference(names, refRows, *bins)
	if err != nil {
		return usagef("%s: drift reference: %v", from, err)
	}
	slot := min(5*time.Minute, *healthWindow)
	mon := monitor.New(monitor.HealthConfig{Window: *healthWindow, Slot: slot, RateWindow: time.Hour}, ref, *window, rules)
	mon.MinDriftRows = *window / 2
	res := monitorOutput{Data: from, Rules: rulesName, Forecaster: fc, Reference: sp.Train, Replayed: n - start,
		From: s.Times[start], To: s.Times[n-1], Actions: map[string]int{}, MaxDrift: map[string]float64{}, Alerts: []monitor.Alert{},
		MinDriftRows: mon.MinDriftRows, MinErrors: mon.MinErrors}
	mon.Engine.OnAlert(func(a monitor.Alert) { res.Alerts = append(res.Alerts, a) })
	for _, r := range rules {
		if r.Action != "" && r.Action != "none" && r.Action != "notify" {
			action := r.Action
			mon.Engine.OnAction(action, func(monitor.Alert) { res.Actions[action]++ })
		}
	}
	for j := start; j < n; j++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := s.Times[j]
		mon.Health.ObservePrediction(t, lat[j-start], fellBack[j-start])
		mon.Health.ObserveError(t, pred[j-start], s.Values[j])
		if err := mon.Drift().Observe(row(j)); err != nil {
			return err
		}
		values, _, dr := mon.Values(t)
		if dr != nil {
			res.MaxDrift["js_max"] = math.Max(res.MaxDrift["js_max"], dr.MaxJS)
			res.MaxDrift["psi_max"] = math.Max(res.MaxDrift["psi_max"], dr.MaxPSI)
		}
		mon.Engine.Evaluate(t, values)
	}
	end := s.Times[n-1]
	// The end's figures as the rules saw them: drift only over a window of
	// at least MinDriftRows rows. Health is reported unmasked (the daily
	// MAPE beside it is too); the rules saw no accuracy below MinErrors.
	values, _, dr := mon.Values(end)
	res.Health = mon.Health.Snapshot(end)
	res.DailyMAPE = mon.Health.DailyMAPE()
	res.Drift = dr
	res.Metrics = map[string]*float64{}
	for k, v := range values {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			v := v
			res.Metrics[k] = &v
		} else {
			res.Metrics[k] = nil
		}
	}
	res.Firing = []string{}
	for _, a := range mon.Engine.Firing() {
		res.Firing = append(res.Firing, a.Rule.Name)
	}
	if *jsonOut {
		return regJSON(env.stdout, res)
	}
	printMonitor(env.stdout, &res)
	return nil
}

// engineer computes the features of s (features.Engineer on its rows, one
// cadence apart) standardised with the scaler of its training rows.
func engineer(s baseline.Series) (*features.Frame, error) {
	g := &features.Grid{Names: []string{"value"}, Values: [][]float64{s.Values}, Times: make([]int64, s.Len()), Break: make([]bool, s.Len())}
	step, err := medianSpacing(s.Times)
	if err != nil {
		return nil, err
	}
	g.Cadence = step
	for i, t := range s.Times {
		g.Times[i] = t.UnixNano()
		if i > 0 && g.Times[i] <= g.Times[i-1] {
			g.Times[i] = g.Times[i-1] + 1
		}
	}
	fr, err := features.Engineer(g, nil)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	sc, err := features.FitScaler(fr, 0, baseline.SplitOf(s.Len()).Train)
	if err != nil {
		return nil, fmt.Errorf("feature scaler: %w", err)
	}
	sc.Transform(fr.Data)
	return fr, nil
}

// medianSpacing is the median positive spacing of times.
func medianSpacing(times []time.Time) (time.Duration, error) {
	var d []time.Duration
	for i := 1; i < len(times); i++ {
		if dt := times[i].Sub(times[i-1]); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return 0, errors.New("the timestamps never advance")
	}
	slices.Sort(d)
	return d[len(d)/2], nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// baselineByName returns the standard baseline called name (with or
// without a "baseline:" prefix), or nil.
func baselineByName(name string, s baseline.Series) baseline.Forecaster {
	name = strings.TrimPrefix(name, "baseline:")
	period, err := baseline.SeasonFromCadence(s.Times)
	if err != nil {
		period = 288
	}
	for _, f := range baseline.Standard(period, 1) {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

func fmtFloat(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

func printMonitor(w io.Writer, r *monitorOutput) {
	fmt.Fprintf(w, "data:       %s (%d reference rows, %d replayed %s .. %s)\n", r.Data, r.Reference, r.Replayed,
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339))
	src := r.Forecaster.Name
	if r.Forecaster.Kind == "baseline" {
		src = "baseline " + src + " (no model checkpoint given)"
	} else {
		src = "forecaster " + r.Forecaster.Path
		if r.Forecaster.Networks > 1 {
			src += fmt.Sprintf(" (the average of %d networks)", r.Forecaster.Networks)
		}
		src += ", version " + r.Forecaster.Version
		if r.Forecaster.Name == "switch" {
			src += ", served with the switch (--switch=false: the networks alone)"
		}
	}
	fmt.Fprintf(w, "forecaster: %s; latency %s\n", src, r.Forecaster.Latency)
	fmt.Fprintf(w, "rules:      %s\n\n", r.Rules)
	h := r.Health
	fmt.Fprintf(w, "health (last %d scored forecasts", h.Errors)
	if h.Errors < r.MinErrors {
		fmt.Fprintf(w, "; the accuracy rules need %d, so they saw none", r.MinErrors)
	}
	fmt.Fprintln(w, "):")
	fmt.Fprintf(w, "  MAPE %s  accuracy5 %s  MAE %s\n", fmtFloat(h.MAPE, "%.2f%%"), fmtFloat(100*h.Accuracy5, "%.1f%%"), fmtFloat(h.MAE, "%.4g"))
	fmt.Fprintf(w, "  latency p50 %s  p99 %s  fallback %s  predictions/s %s (replay time)\n",
		fmtFloat(h.LatencyP50*1e6, "%.1fus"), fmtFloat(h.LatencyP99*1e6, "%.1fus"), fmtFloat(100*h.FallbackRate, "%.1f%%"), fmtFloat(h.PredictionsPerSecond, "%.4g"))
	if len(r.DailyMAPE) > 0 {
		fmt.Fprint(w, "  daily MAPE:")
		for _, d := range r.DailyMAPE {
			fmt.Fprintf(w, " %s %.2f%%", d.Day.Format("01-02"), d.MAPE)
		}
		fmt.Fprintln(w)
	}
	if r.Drift == nil {
		fmt.Fprintf(w, "\ndrift: not measured (the %d replayed rows never filled the %d rows the drift rules need)\n", r.Replayed, r.MinDriftRows)
	} else {
		fmt.Fprintf(w, "\ndrift at end (last %d rows vs training):\n", r.Drift.N)
		for _, f := range r.Drift.Features {
			fmt.Fprintf(w, "  %-28s PSI %s  JS %s\n", f.Feature, fmtFloat(f.PSI, "%7.3f"), fmtFloat(f.JS, "%.3f"))
		}
		fmt.Fprintf(w, "  overall: PSI mean %s max %s, JS mean %s max %s (max during replay: PSI %.3f, JS %.3f)\n",
			fmtFloat(r.Drift.PSI, "%.3f"), fmtFloat(r.Drift.MaxPSI, "%.3f"), fmtFloat(r.Drift.JS, "%.3f"), fmtFloat(r.Drift.MaxJS, "%.3f"),
			r.MaxDrift["psi_max"], r.MaxDrift["js_max"])
	}
	repeats := 0
	for _, a := range r.Alerts {
		if a.Repeat {
			repeats++
		}
	}
	fmt.Fprintf(w, "\nalerts (%d state changes, %d reminders while firing):\n", len(r.Alerts)-repeats, repeats)
	for _, a := range r.Alerts {
		if !a.Repeat {
			fmt.Fprintf(w, "  %s\n", a)
		}
	}
	if len(r.Actions) > 0 {
		fmt.Fprint(w, "actions that would be dispatched:")
		for _, k := range slices.Sorted(mapsKeys(r.Actions)) {
			fmt.Fprintf(w, " %s x%d", k, r.Actions[k])
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "firing at end: %s\n", strings.Join(r.Firing, ", "))
}

func mapsKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}
