package main

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/lifecycle"
	"github.com/novacron/perfpredict/lifecycle/live"
	"github.com/novacron/perfpredict/monitor"
)

func init() {
	register(&command{name: "run", summary: "live operation: collect from Prometheus, retrain on schedule or alert, validate, promote, serve over HTTP, evaluate alert rules", run: runRun})
}

func runRun(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("run", env)
	promURL := fs.String("prometheus", "", "Prometheus base `URL` to collect from (required)")
	query := fs.String("query", "", "PromQL selector of the one series to forecast (required), e.g. 'cpu_usage{instance=\"a\"}'")
	regDir := fs.String("registry", "", "model registry `dir`, created if missing (required)")
	name := fs.String("name", "perfpredict", "the model's name in the registry")
	interval := fs.Duration("interval", 5*time.Minute, "collection interval, also the series' cadence (the step of the points fetched)")
	retrain := fs.Duration("retrain", lifecycle.Daily, "scheduled retraining interval (alerts may ask for one sooner)")
	rulesPath := fs.String("rules", "", "alert rules YAML `file` (monitor's format); none: no alerts")
	def := forecast.DefaultOptions()
	epochs := fs.Int("epochs", def.Epochs, "most training epochs per network of a retrain (the recipe of perfpredict train otherwise; fewer for a quick run)")
	threshold := fs.Float64("threshold", 0.95, "held-out accuracy5 a retrained version needs to be promoted (and at least the Active one's)")
	holdout := fs.Duration("holdout", 24*time.Hour, "most recent span kept out of training to compare a candidate with the Active version")
	backfill := fs.Int("backfill", 2016, "points the first collection fetches (2016: a week at 5 minutes)")
	history := fs.Int("history", 8640, "samples kept in memory, the most a retrain trains on (8640: 30 days at 5 minutes; allocated at start)")
	sf := addServeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *promURL == "" || *query == "" || *regDir == "":
		return usagef("--prometheus, --query and --registry are required")
	case *interval < time.Millisecond || *retrain <= 0 || *holdout <= 0:
		return usagef("--interval (at least 1ms), --retrain and --holdout must be positive")
	case *epochs < 1:
		return usagef("--epochs: must be positive, got %d", *epochs)
	case !(*threshold >= 0 && *threshold <= 1):
		return usagef("--threshold: must be in [0, 1], got %v", *threshold)
	case *backfill < 1 || *history < 1:
		return usagef("--backfill and --history must be positive")
	}
	if err := sf.check(); err != nil {
		return err
	}
	var rules []monitor.Rule
	if *rulesPath != "" {
		var err error
		if rules, err = monitor.LoadRules(*rulesPath); err != nil {
			return usageErr(err)
		}
	}
	reg, err := lifecycle.Create(*regDir)
	if err != nil {
		return usagef("--registry: %v", err)
	}
	recipe := def
	recipe.Epochs = *epochs
	logf := func(format string, args ...any) {
		fmt.Fprintf(env.stderr, time.Now().UTC().Format("15:04:05")+" run: "+format+"\n", args...)
	}
	if *threshold == 0 {
		// The pipeline reads 0 as its default (0.95); the smallest positive
		// threshold promotes any candidate no worse than the Active one.
		*threshold = 1e-300
	}
	cfg := live.Config{
		Pipeline: lifecycle.Config{Model: *name, Registry: reg, Train: &recipe, CollectEvery: *interval,
			CollectTimeout: max(*interval, 10*time.Second), RetrainEvery: *retrain, Holdout: *holdout,
			HistoryLimit: *history, Threshold: *threshold, BackoffMax: max(*interval, time.Hour)},
		Series:   live.Prometheus(*promURL, *interval),
		Query:    *query,
		Backfill: *backfill,
		Rules:    rules,
		HTTP:     sf.options(env),
		Logf:     logf,
	}
	cfg.HTTP.Logf = logf
	// The pipeline serves what the HTTP API serves for the series: its
	// switch (the forecast scored when the API cannot answer the sample's
	// origin, and what the held-out gate scores).
	cfg.Pipeline.Switch = cfg.HTTP.Switch
	// {"series": NAME} requests read the same Prometheus.
	cfg.HTTP.Source, cfg.HTTP.Step = cfg.Series, *interval
	if *sf.addr != "" {
		ln, err := sf.listen(env)
		if err != nil {
			return err
		}
		cfg.Listener = ln
	}
	r, err := live.New(ctx, cfg)
	if err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		return err
	}
	err = r.Run(ctx)
	logf("stopped")
	return err
}
