package main

import (
	"context"
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/novacron/perfpredict/serve"
)

func init() {
	register(&command{name: "explain", summary: "explain a model on a metrics file: feature importance, attention by time step, integrated gradients", run: runExplain})
}

func runExplain(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("explain", env)
	modelPath := fs.String("model", "", "model checkpoint (`M.safetensors`)")
	dataPath := fs.String("data", "", "metrics CSV (`file`): importance and attention on its validation split, integrated gradients on its last window")
	target := fs.String("target", "", "the metric column (default: \"value\", or the only column besides the timestamp)")
	top := fs.Int("top", 10, "features listed")
	repeats := fs.Int("repeats", 3, "permutations per feature")
	seed := fs.Uint64("seed", 1, "seed of the permutations")
	asJSON := fs.Bool("json", false, "print one JSON object (feature_importance, attention, integrated_gradients)")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *dataPath == "" {
		return usagef("--model and --data are required")
	}
	if *top < 1 || *repeats < 1 {
		return usagef("--top and --repeats must be positive")
	}
	m, err := loadModel(env, *modelPath, device)
	if err != nil {
		return err
	}
	svc, d, err := loadService(ctx, m, *dataPath, *target, serve.ServiceOptions{NoFallback: true})
	if err != nil {
		return err
	}
	defer svc.Close()
	ex, err := svc.Explain(ctx, d, d, serve.ExplainOptions{Repeats: *repeats, Seed: *seed})
	if err != nil {
		return dataErr(*dataPath, err)
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
	fmt.Fprintf(env.stdout, "Feature importance (permutation on %d validation windows; validation MSE %.4g)\n\n", ex.Windows, ex.BaseMSE)
	for i, im := range ex.Importance {
		fmt.Fprintf(env.stdout, "%2d. %s (%.3f) - score drop %.4g\n", i+1, im.Feature, im.Share, im.Drop)
	}
	fmt.Fprintln(env.stdout, "\nAttention")
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 4, ' ', 0)
	fmt.Fprintln(tw, "Time Step\tAttention Weight\tInterpretation")
	for _, a := range ex.Attention {
		fmt.Fprintf(tw, "t-%d\t%.3f\t%s\n", a.Lag, a.Weight, a.Interpretation)
	}
	tw.Flush()
	fmt.Fprintf(env.stdout, "\nIntegrated gradients of the %s on the latest window (finite differences; sum %.4g, completeness gap %.2g)\n\n",
		ex.IGTarget, ex.IGDelta, ex.IGGap)
	for i, a := range ex.IG {
		fmt.Fprintf(env.stdout, "%2d. %s %+.4g\n", i+1, a.Feature, a.Value)
	}
	return nil
}
