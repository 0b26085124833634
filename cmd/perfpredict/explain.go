package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/novacron/perfpredict/serve"
)

func init() {
	register(&command{name: "explain", summary: "explain a forecaster on a metrics file: input importance, attention by time, integrated gradients", run: runExplain})
}

func runExplain(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("explain", env)
	modelPath := fs.String("model", "", "forecaster artifact written by perfpredict train (`forecaster.zip`)")
	data := addDataFlags(fs, "metrics CSV (`file`): importance and attention on its validation split, integrated gradients on its last window", false)
	target := fs.String("target", "", "the metric columns, comma-separated (default: every column besides the timestamp; gradients explain the first)")
	top := fs.Int("top", 10, "inputs listed")
	repeats := fs.Int("repeats", 3, "permutations per input")
	seed := fs.Uint64("seed", 1, "seed of the permutations")
	asJSON := fs.Bool("json", false, "print one JSON object (feature_importance, attention, integrated_gradients)")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || !data.given() {
		return usagef("--model and --data are required (or --prometheus and --query instead of --data)")
	}
	if *top < 1 || *repeats < 1 {
		return usagef("--top and --repeats must be positive")
	}
	fc, err := openForecaster(env, *modelPath, device)
	if err != nil {
		return err
	}
	defer fc.Close()
	from, d, err := loadMetrics(ctx, fc, data, *target)
	if err != nil {
		return err
	}
	svc, err := newService(fc, from, d, serve.ServiceOptions{NoFallback: true})
	if err != nil {
		return err
	}
	defer svc.Close()
	ex, err := svc.Explain(ctx, d, d, serve.ExplainOptions{Repeats: *repeats, Seed: *seed})
	if err != nil {
		return dataErr(err)
	}
	if len(ex.Importance) > *top {
		ex.Importance = ex.Importance[:*top]
	}
	if len(ex.IG) > *top {
		ex.IG = ex.IG[:*top]
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(ex)
	}
	fmt.Fprintf(env.stdout, "Input importance (permutation on %d validation windows; validation MAE %.4g units, the mean of %d network(s))\n\n",
		ex.Windows, ex.BaseMAE, ex.Networks)
	for i, im := range ex.Importance {
		fmt.Fprintf(env.stdout, "%2d. %s (%.3f) - MAE increase %.4g\n", i+1, im.Feature, im.Share, im.Drop)
	}
	fmt.Fprintf(env.stdout, "\nAttention (mean over the validation windows; one step is %s)\n", svc.Cadence)
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 4, ' ', 0)
	fmt.Fprintln(tw, "When\tAttention Weight\tInterpretation")
	for _, a := range ex.Attention {
		fmt.Fprintf(tw, "%s\t%.3f\t%s\n", a.Label, a.Weight, a.Interpretation)
	}
	tw.Flush()
	fmt.Fprintf(env.stdout, "\nIntegrated gradients of the %s on the latest window, from a flat window (finite differences; sum %.4g, completeness gap %.2g)\n\n",
		ex.IGTarget, ex.IGDelta, ex.IGGap)
	for i, a := range ex.IG {
		fmt.Fprintf(env.stdout, "%2d. %s %+.4g\n", i+1, a.Feature, a.Value)
	}
	return nil
}
