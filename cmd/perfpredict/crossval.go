package main

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/novacron/perfpredict/forecast"
)

func init() {
	register(&command{name: "crossval", summary: "leave-series-out cross-validation of the recipe: each series scored by a forecaster trained without it", run: runCrossval})
}

func runCrossval(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("crossval", env)
	folds := fs.Int("folds", 0, "folds over the series (series i goes to fold i mod folds; default: one per series, leave-one-series-out)")
	recipe := addRecipeFlags(fs)
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	hs, opt, series, err := recipe.input(ctx, env)
	if err != nil {
		return err
	}
	k := *folds
	if k == 0 {
		k = len(series)
	}
	labels, err := recipe.data.labels(*recipe.labels)
	if err != nil {
		return err
	}
	rep, err := forecast.CrossValidate(ctx, series, hs, k, opt, forecast.EvalOptions{Labels: labels, Logf: stderrLogf(env)})
	if err != nil {
		if errors.Is(err, forecast.ErrBadInput) {
			return usageErr(err)
		}
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	writeTable(env.stdout, rep, "each series forecast by the forecaster of its fold, trained without it", opt.SwitchTrees != nil)
	return nil
}
