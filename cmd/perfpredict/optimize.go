package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/integration/sim"
	"github.com/novacron/perfpredict/optimize"
)

func init() {
	register(&command{name: "optimize", summary: "cheapest instance allocation meeting cost and performance constraints", run: runOptimize})
}

func runOptimize(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("optimize", env)
	maxCost := fs.Float64("max-cost", 0, "budget in USD per --cost-period (0: none)")
	period := fs.String("cost-period", "month", "period of --max-cost: hour or month")
	minPerf := fs.Float64("min-performance", 0.95, "share of forecast intervals that must meet the SLO, [0,1]")
	zone := fs.String("zone", "us-east-1a", "availability zone")
	catalog := fs.String("catalog", "", "instance catalogue JSON (default: embedded AWS c6i/m6i/r6i list prices)")
	demandPath := fs.String("demand", sim.DefaultTrace, "demand history CSV (timestamp,value); without --model its last --horizon values, scaled, forecast the next horizon (seasonal naive); the default is found from any folder of the repository")
	modelPath := fs.String("model", "", "forecaster artifact (from train): plan capacity for its p90 forecast of the demand history")
	median := fs.Float64("median-rps", 2847, "scale the demand so its median is this many req/s (0: use as is)")
	horizon := fs.Int("horizon", 288, "forecast intervals (288 five-minute intervals = one day; with --model, default the forecaster's horizon)")
	slo := fs.Float64("slo-ms", 50, "mean response time an interval must meet")
	rate := fs.Float64("service-rate", 250, "requests per second one busy vCPU completes")
	history := fs.String("history", "", "metrics history CSV (throughput_rps, vcpus, cpu_utilization, latency_ms) to calibrate the service rate and base latency")
	minMem := fs.Float64("min-memory-gib", 0, "memory the allocation must hold in total")
	bytesPer := fs.Float64("bytes-per-request", 16<<10, "network bytes per request (0: ignore the network)")
	var limits typeLimits
	fs.Var(&limits, "type-limit", "most instances of a type, as type=N (repeatable)")
	minI := fs.Int("min-instances", 0, "fewest instances")
	maxI := fs.Int("max-instances", 0, "most instances (0: none)")
	limit := fs.Duration("time-limit", 10*time.Second, "search time limit; the gap is reported if hit")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cons := optimize.Constraints{MinPerformance: *minPerf, Zone: *zone, MinInstances: *minI, MaxInstances: *maxI, TypeLimits: limits.m}
	switch *period {
	case "hour":
		cons.MaxCostPerHour = *maxCost
	case "month":
		cons.MaxCostPerMonth = *maxCost
	default:
		return usagef("--cost-period: want hour or month, got %q", *period)
	}
	if *horizon <= 0 {
		return usagef("--horizon: must be positive, got %d", *horizon)
	}
	cat := optimize.DefaultCatalog()
	if *catalog != "" {
		c, err := optimize.LoadCatalog(*catalog)
		if err != nil {
			return usageErr(err)
		}
		cat = c
	}
	demandFile := *demandPath
	if !flagSet(fs, "demand") {
		demandFile = findInRepo(sim.DefaultTrace)
	}
	hist, err := sim.LoadTrace(demandFile)
	if err != nil {
		return usageErr(fmt.Errorf("%w (pass --demand FILE, a timestamp,value CSV of the demand)", err))
	}
	if *median != 0 {
		if hist, err = sim.ScaleToMedian(hist, *median); err != nil {
			return usageErr(err)
		}
	}
	var demand optimize.DemandForecaster
	if *modelPath != "" {
		fc, err := forecast.Open(*modelPath)
		if err != nil {
			return usageErr(err)
		}
		defer fc.Close()
		if !flagSet(fs, "horizon") {
			*horizon = fc.Horizon()
		}
		if len(hist) < fc.Needs() {
			return usagef("--demand %s: %d intervals; the forecaster %s needs the last %d", demandFile, len(hist), *modelPath, fc.Needs())
		}
		demand = optimize.ForecastDemand{Forecaster: fc, History: hist}
		if *horizon > fc.Horizon() {
			fmt.Fprintf(env.stderr, "perfpredict optimize: --horizon %d is beyond the forecaster's %d; later steps continue from its median path, with bands that understate their uncertainty\n", *horizon, fc.Horizon())
		}
	} else {
		// Seasonal naive: the next horizon repeats the last one.
		demand = optimize.StaticDemand(hist[max(0, len(hist)-*horizon):])
	}
	capm := optimize.DefaultCapacity()
	capm.SLOMs, capm.ServiceRate, capm.MinMemoryGiB, capm.BytesPerRequest = *slo, *rate, *minMem, *bytesPer
	if *history != "" {
		obs, err := optimize.LoadHistory(*history)
		if err != nil {
			return usageErr(err)
		}
		if capm, err = optimize.Calibrate(obs, capm); err != nil {
			return usageErr(fmt.Errorf("%s: %w", *history, err))
		}
		fmt.Fprintf(env.stderr, "perfpredict optimize: calibrated on %d intervals: %.1f req/s per busy vCPU, %.1f ms outside the CPU queue\n",
			capm.Samples, capm.ServiceRate, capm.BaseLatencyMs)
	}
	o := &optimize.Optimizer{Catalog: cat, Capacity: capm, Forecaster: demand, Horizon: *horizon, TimeLimit: *limit}
	plannedDemand, err := demand.ForecastDemand(ctx, *horizon)
	if err != nil {
		return usageErr(fmt.Errorf("demand forecast: %w", err))
	}
	res, err := o.Optimize(ctx, plannedDemand, cons)
	var ie *optimize.InfeasibleError
	if errors.As(err, &ie) {
		if *asJSON {
			_ = writeJSON(env, map[string]any{"feasible": false, "reason": ie.Reason,
				"cheapest_meeting_performance": ie.CheapestMeetingPerformance, "best_within_budget": ie.BestWithinBudget})
		}
		return err
	}
	if err != nil {
		return usageErr(err)
	}
	planned := "seasonal naive (the last horizon repeated)"
	if *modelPath != "" {
		planned = "forecaster p90"
	}
	if *asJSON {
		return writeJSON(env, map[string]any{"feasible": true, "demand": planned, "intervals": res.Intervals, "demand_peak_rps": slices.Max(plannedDemand), "allocation": res.Allocation,
			"expected_performance": res.ExpectedPerformance, "cost_estimate": res.CostEstimate,
			"cost_per_month": res.CostPerMonth, "optimal": res.Optimal, "gap": res.Gap, "lower_bound": res.LowerBound,
			"nodes": res.Nodes, "zone": *zone, "capacity": capm})
	}
	w := env.stdout
	fmt.Fprintf(w, "Demand planned:        %s, %d intervals, peak %.0f req/s\n", planned, res.Intervals, slices.Max(plannedDemand))
	fmt.Fprintf(w, "Optimal allocation:    %s (%d vCPU, %.0f GiB, %.1f Gbps) in %s\n", res.Allocation, res.Allocation.VCPUs, res.Allocation.MemoryGiB, res.Allocation.NetworkGbps, *zone)
	fmt.Fprintf(w, "Expected performance:  %.4f (%d of %d forecast intervals meet the %.0f ms SLO)\n", res.ExpectedPerformance,
		int(res.ExpectedPerformance*float64(res.Intervals)+0.5), res.Intervals, *slo)
	fmt.Fprintf(w, "Cost estimate:         $%.4f/h ($%.2f/month)\n", res.CostEstimate, res.CostPerMonth)
	if res.Optimal {
		fmt.Fprintf(w, "Optimal:               proven (%d branch-and-bound nodes)\n", res.Nodes)
	} else {
		fmt.Fprintf(w, "Optimal:               not proven; gap $%.4f/h to the lower bound $%.4f/h (%d nodes)\n", res.Gap, res.LowerBound, res.Nodes)
	}
	return nil
}

// typeLimits is the repeatable --type-limit type=N flag.
type typeLimits struct{ m map[string]int }

func (t *typeLimits) String() string { return fmt.Sprint(t.m) }

func (t *typeLimits) Set(v string) error {
	name, n, ok := strings.Cut(v, "=")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || strings.TrimSpace(name) == "" || err != nil || count < 0 {
		return fmt.Errorf("want type=N with N >= 0, got %q", v)
	}
	if t.m == nil {
		t.m = map[string]int{}
	}
	t.m[strings.TrimSpace(name)] = count
	return nil
}

func writeJSON(env *cmdEnv, v any) error {
	enc := json.NewEncoder(env.stdout)
	return enc.Encode(v)
}
