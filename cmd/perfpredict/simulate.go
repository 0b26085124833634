package main

import (
	"context"
	"fmt"
	"math"

	"github.com/novacron/perfpredict/integration"
	"github.com/novacron/perfpredict/integration/sim"
)

func init() {
	register(&command{name: "simulate", summary: "DWCP cluster simulation: static settings against the HDE/PBA/ACP tuners", run: runSimulate})
}

func runSimulate(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("simulate", env)
	trace := fs.String("trace", sim.DefaultTrace, "load trace CSV (NAB timestamp,value)")
	median := fs.Float64("median-rps", 600, "scale the trace so its median is this many req/s")
	slice := fs.Float64("slice-seconds", 1, "simulated seconds per trace interval")
	seed := fs.Uint64("seed", 1, "random seed (the same for both runs)")
	maxStep := fs.Int("max-step", 1, "grid steps a tuner may move a setting per interval")
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
	raw, err := sim.LoadTrace(*trace)
	if err != nil {
		return usageErr(err)
	}
	rps, err := sim.ScaleToMedian(raw, *median)
	if err != nil {
		return usageErr(err)
	}
	cfg := sim.Config{Seed: *seed, MedianRPS: *median, SliceSeconds: *slice}
	if *maxStep < 1 {
		return usagef("--max-step: must be at least 1, got %d", *maxStep)
	}
	cmp, tuners, err := sim.Compare(ctx, rps, cfg, sim.DefaultTargets(), integration.Options{MaxStep: *maxStep})
	if err != nil {
		return err
	}
	for _, e := range tuners.SetterErrors {
		fmt.Fprintln(env.stderr, "perfpredict simulate:", e)
	}
	if *asJSON {
		return writeJSON(env, cmp)
	}
	w := env.stdout
	fmt.Fprintf(w, "Trace %s: %d intervals x %g s, median %g req/s, seed %d\n\n", *trace, len(rps), *slice, *median, *seed)
	fmt.Fprintf(w, "%-22s %12s %12s %10s\n", "Metric", "Static", "Tuned", "Change")
	fmt.Fprintln(w, "------------------------------------------------------------")
	row := func(name, format string, b, a, pct float64) {
		fmt.Fprintf(w, "%-22s %12s %12s %9s%%\n", name, fmt.Sprintf(format, b), fmt.Sprintf(format, a), signed(pct))
	}
	row("Average Latency", "%.1f ms", cmp.Static.LatencyAvgMs, cmp.Tuned.LatencyAvgMs, cmp.ChangePct.LatencyAvgMs)
	row("P95 Latency", "%.1f ms", cmp.Static.LatencyP95Ms, cmp.Tuned.LatencyP95Ms, cmp.ChangePct.LatencyP95Ms)
	row("P99 Latency", "%.1f ms", cmp.Static.LatencyP99Ms, cmp.Tuned.LatencyP99Ms, cmp.ChangePct.LatencyP99Ms)
	row("Throughput", "%.1f req/s", cmp.Static.ThroughputRPS, cmp.Tuned.ThroughputRPS, cmp.ChangePct.ThroughputRPS)
	row("Error Rate", "%.3f%%", 100*cmp.Static.ErrorRate, 100*cmp.Tuned.ErrorRate, cmp.ChangePct.ErrorRate)
	row("Resource Utilization", "%.1f%%", 100*cmp.Static.Utilization, 100*cmp.Tuned.Utilization, cmp.ChangePct.Utilization)
	h, p, a := tuners.HDE.Settings(), tuners.PBA.Settings(), tuners.ACP.Settings()
	fmt.Fprintf(w, "\nFinal tuned settings: HDE level %d chunk %d B; PBA window %d confidence %.2f; ACP timeout %.0f ms batch %d\n",
		h.CompressionLevel, h.ChunkSize, p.WindowSize, p.Confidence, a.TimeoutMs, a.BatchSize)
	for _, c := range []struct {
		name string
		s    interface{ Stats() (int, int, int) }
	}{{"HDE", tuners.HDE}, {"PBA", tuners.PBA}, {"ACP", tuners.ACP}} {
		ch, rb, sf := c.s.Stats()
		fmt.Fprintf(w, "%s tuner: %d changes, %d rollbacks, %d setter failures\n", c.name, ch, rb, sf)
	}
	return nil
}

func signed(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f", v)
}
