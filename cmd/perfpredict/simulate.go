package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/integration"
	"github.com/novacron/perfpredict/integration/sim"
)

func init() {
	register(&command{name: "simulate", summary: "DWCP cluster simulation: static settings, reactive tuners and tuners planning on forecasts", run: runSimulate})
}

func runSimulate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("simulate", env)
	trace := fs.String("trace", sim.DefaultTrace, "load trace CSV (timestamp,value, as NAB's); the default is found from any folder of the repository")
	median := fs.Float64("median-rps", 600, "scale the trace so its median is this many req/s")
	slice := fs.Float64("slice-seconds", 1, "simulated seconds per trace interval")
	seed := fs.Uint64("seed", 1, "random seed (the same for every run)")
	maxStep := fs.Int("max-step", 1, "grid steps a tuner may move a setting per interval")
	split := fs.Float64("split", 0.5, "share of the trace whose telemetry trains the forecaster; the runs are reported on the rest")
	lookahead := fs.Int("lookahead", sim.DefaultLookahead, "forecast steps the tuners plan over (the peak over them)")
	planOn := fs.String("plan", "p50", "forecast quantile the tuners plan on: p50 or p90")
	epochs := fs.Int("forecast-epochs", sim.SimForecastOptions().Epochs, "most training epochs of the forecaster")
	telemetry := fs.String("telemetry", "", "write the static run's telemetry (timestamp + one column per metric) as CSV to this file")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !(*median > 0) || math.IsInf(*median, 0) {
		return usagef("--median-rps: must be positive, got %v", *median)
	}
	if !(*slice > 0) || *slice > 3600 {
		return usagef("--slice-seconds: must be in (0, 3600], got %v", *slice)
	}
	if *maxStep < 1 {
		return usagef("--max-step: must be at least 1, got %d", *maxStep)
	}
	if !(*split > 0 && *split < 1) {
		return usagef("--split: must be in (0, 1), got %v", *split)
	}
	opts := sim.SimForecastOptions()
	if *lookahead < 1 || *lookahead > opts.Horizon {
		return usagef("--lookahead: must be in [1, %d] (the forecaster's horizon), got %d", opts.Horizon, *lookahead)
	}
	if *planOn != "p50" && *planOn != "p90" {
		return usagef("--plan: want p50 or p90, got %q", *planOn)
	}
	if *epochs < 1 {
		return usagef("--forecast-epochs: must be at least 1, got %d", *epochs)
	}
	opts.Epochs = *epochs
	opts.Logf = func(format string, a ...any) { fmt.Fprintf(env.stderr, "perfpredict simulate: "+format+"\n", a...) }
	tracePath := *trace
	if !flagSet(fs, "trace") {
		tracePath = findInRepo(sim.DefaultTrace)
	}
	raw, err := sim.LoadTrace(tracePath)
	if err != nil {
		return usageErr(fmt.Errorf("%w (pass --trace FILE, a timestamp,value CSV of the load)", err))
	}
	rps, err := sim.ScaleToMedian(raw, *median)
	if err != nil {
		return usageErr(err)
	}
	cfg := sim.Config{Seed: *seed, MedianRPS: *median, SliceSeconds: *slice}
	start := time.Now()
	res, err := sim.RunThree(ctx, rps, cfg, sim.DefaultTargets(), integration.Options{MaxStep: *maxStep},
		sim.ForecastSetup{Split: *split, Options: opts, Lookahead: *lookahead, Upper: *planOn == "p90"})
	if err != nil {
		if errors.Is(err, forecast.ErrBadInput) {
			return usageErr(err)
		}
		return err
	}
	fmt.Fprintf(env.stderr, "perfpredict simulate: three runs and the forecaster in %.1f s\n", time.Since(start).Seconds())
	for _, tu := range []*sim.Tuners{res.ReactiveTuners, res.ForecastTuners} {
		for _, e := range tu.SetterErrors {
			fmt.Fprintln(env.stderr, "perfpredict simulate:", e)
		}
	}
	if *telemetry != "" {
		if err := writeTelemetry(*telemetry, tracePath, res.Telemetry, *slice); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeJSON(env, res.Runs)
	}
	w := env.stdout
	fmt.Fprintf(w, "Trace %s: %d intervals x %g s, median %g req/s, seed %d\n", tracePath, len(rps), *slice, *median, *seed)
	fmt.Fprintf(w, "Reported on intervals %d-%d; the forecaster (a BiLSTM of %d parameters, horizon %d) was trained on the static run's telemetry before them.\n",
		res.Split+1, res.Intervals, res.Forecaster.Network(0).NumParams(), res.Forecaster.Horizon())
	if *lookahead == 1 {
		fmt.Fprintf(w, "The forecast tuners plan on the %s forecast of the next interval.\n\n", *planOn)
	} else {
		fmt.Fprintf(w, "The forecast tuners plan on the highest %s forecast of the next %d intervals.\n\n", *planOn, *lookahead)
	}
	fmt.Fprintf(w, "%-22s %12s %12s %12s\n", "Metric", "Static", "Reactive", "Forecast")
	fmt.Fprintln(w, "--------------------------------------------------------------")
	row := func(name, format string, scale float64, get func(sim.Metrics) float64) {
		fmt.Fprintf(w, "%-22s %12s %12s %12s\n", name, fmt.Sprintf(format, scale*get(res.Static)),
			fmt.Sprintf(format, scale*get(res.Reactive)), fmt.Sprintf(format, scale*get(res.Forecast)))
	}
	row("Average Latency", "%.1f ms", 1, func(m sim.Metrics) float64 { return m.LatencyAvgMs })
	row("P95 Latency", "%.1f ms", 1, func(m sim.Metrics) float64 { return m.LatencyP95Ms })
	row("P99 Latency", "%.1f ms", 1, func(m sim.Metrics) float64 { return m.LatencyP99Ms })
	row("Throughput", "%.1f req/s", 1, func(m sim.Metrics) float64 { return m.ThroughputRPS })
	row("Error Rate", "%.3f%%", 100, func(m sim.Metrics) float64 { return m.ErrorRate })
	row("Resource Utilization", "%.1f%%", 100, func(m sim.Metrics) float64 { return m.Utilization })
	fmt.Fprintf(w, "\n%-8s %10s %22s %22s %22s\n", "Phase", "intervals", "static ms / errors", "reactive ms / errors", "forecast ms / errors")
	for _, ph := range []string{"calm", "ramp", "peak"} {
		cell := func(run string) string {
			p := res.Phases[run][ph]
			return fmt.Sprintf("%.1f / %.3f%%", p.LatencyAvgMs, 100*p.ErrorRate)
		}
		fmt.Fprintf(w, "%-8s %10d %22s %22s %22s\n", ph, res.Phases["static"][ph].Intervals, cell("static"), cell("reactive"), cell("forecast"))
	}
	fmt.Fprintln(w)
	for _, run := range []struct {
		name string
		tu   *sim.Tuners
	}{{"Reactive", res.ReactiveTuners}, {"Forecast", res.ForecastTuners}} {
		h, p, a := run.tu.HDE.Settings(), run.tu.PBA.Settings(), run.tu.ACP.Settings()
		fmt.Fprintf(w, "%s: final HDE level %d chunk %d B; PBA window %d confidence %.2f; ACP timeout %.0f ms batch %d\n",
			run.name, h.CompressionLevel, h.ChunkSize, p.WindowSize, p.Confidence, a.TimeoutMs, a.BatchSize)
		for _, c := range []struct {
			name string
			s    interface{ Stats() (int, int, int) }
		}{{"HDE", run.tu.HDE}, {"PBA", run.tu.PBA}, {"ACP", run.tu.ACP}} {
			ch, rb, sf := c.s.Stats()
			fmt.Fprintf(w, "  %s tuner: %d changes, %d rollbacks, %d setter failures\n", c.name, ch, rb, sf)
		}
	}
	fmt.Fprintf(w, "Forecasts given to the forecast run's tuners: %d intervals\n", res.ForecastTuners.Forecasting.Forecasts())
	return nil
}

// writeTelemetry writes the static run's telemetry, stamped with the trace's
// own start and cadence when its timestamps read (so a forecaster trained on
// it sees the daily season), else one interval per simulated slice from the
// Unix epoch.
func writeTelemetry(path, tracePath string, stats []sim.IntervalStats, slice float64) error {
	start, step := time.Unix(0, 0).UTC(), time.Duration(slice*float64(time.Second))
	if s, err := baseline.LoadCSV(tracePath, ""); err == nil && len(s.Times) == len(stats) && len(s.Times) > 1 {
		if d := s.Times[1].Sub(s.Times[0]); d > 0 {
			start, step = s.Times[0], d
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return usageErr(fmt.Errorf("--telemetry: %w", err))
	}
	if err := sim.WriteTelemetry(f, stats, start, step); err != nil {
		f.Close()
		return fmt.Errorf("--telemetry %s: %w", path, err)
	}
	return f.Close()
}

// findInRepo finds a path relative to the repository root from the working
// directory or any of its parents (as train finds testdata/), so the
// commands' defaults work from any folder of the repository; rel itself
// when none has it (its error then names it).
func findInRepo(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return rel
	}
	for range 8 {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return rel
}

// flagSet reports whether the flag was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}
