package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/novacron/perfpredict/serve"
)

func init() {
	register(&command{name: "degradation", summary: "forecast SLO breaches from a metrics file: intervals, calibrated probability, first likely breach, recommendations", run: runDegradation})
}

// sloList is a repeatable --slo METRIC>VALUE or METRIC<VALUE flag.
type sloList []serve.Threshold

func (l *sloList) String() string { return fmt.Sprint(len(*l), " thresholds") }
func (l *sloList) Set(v string) error {
	i := strings.IndexAny(v, "<>")
	if i <= 0 {
		return fmt.Errorf("%q: want METRIC>VALUE or METRIC<VALUE", v)
	}
	x, err := strconv.ParseFloat(strings.TrimSpace(v[i+1:]), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("%q: want METRIC>VALUE or METRIC<VALUE with a finite VALUE", v)
	}
	name := strings.TrimSpace(v[:i])
	if name == "" {
		return fmt.Errorf("%q: the metric name is empty", v)
	}
	for j := range *l {
		if (*l)[j].Metric == name {
			if v[i] == '>' {
				(*l)[j].Above = &x
			} else {
				(*l)[j].Below = &x
			}
			return nil
		}
	}
	t := serve.Threshold{Metric: name, Origin: "--slo"}
	if v[i] == '>' {
		t.Above = &x
	} else {
		t.Below = &x
	}
	*l = append(*l, t)
	return nil
}

func runDegradation(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("degradation", env)
	modelPath := fs.String("model", "", "model checkpoint (`M.safetensors`)")
	dataPath := fs.String("data", "", "metrics CSV (`file`): features, fallback and thresholds are fitted on its first 70%, calibration on the next 15% (or its latest outcomes, --recalibrate); the forecast starts at its last row")
	target := fs.String("target", "", "the metric column (default: \"value\", or the only column besides the timestamp)")
	horizon := fs.Int("horizon", serve.DefaultHorizon, "steps ahead (at most the model's horizon)")
	quantile := fs.Float64("quantile", 0.99, "default SLO: this quantile of each metric's training rows as its upper bound")
	var slos sloList
	fs.Var(&slos, "slo", "SLO bound `METRIC>VALUE` or METRIC<VALUE overriding the default (repeatable; \"value\" for a one-metric file)")
	recent := fs.Bool("recalibrate", true, "calibrate on the file's most recent outcomes (as many origins as the validation split holds) instead of its validation split: intervals and probabilities follow the current regime")
	asJSON := fs.Bool("json", false, "print one JSON object (degradation_probability, predicted_metrics, recommendations, ...)")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || *dataPath == "" {
		return usagef("--model and --data are required")
	}
	if *horizon < 1 {
		return usagef("--horizon: must be positive, got %d", *horizon)
	}
	m, err := loadModel(env, *modelPath, device)
	if err != nil {
		return err
	}
	svc, d, err := loadService(ctx, m, *dataPath, *target, serve.ServiceOptions{Thresholds: slos, Quantile: *quantile})
	if err != nil {
		return err
	}
	defer svc.Close()
	if *recent {
		if err := svc.Recalibrate(ctx, d); err != nil {
			return err
		}
	}
	deg, err := svc.PredictDegradation(ctx, d, *horizon)
	if err != nil {
		return dataErr(*dataPath, err)
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(deg)
	}
	fmt.Fprintf(env.stdout, "Degradation probability: %.2f%% within %d steps (%s) from %s (%s, %s, model %s)\n",
		100*deg.Probability, deg.Horizon, time.Duration(deg.Horizon)*deg.Step, deg.Origin.Format(time.RFC3339), deg.Source, deg.Method, deg.Version)
	fmt.Fprintf(env.stdout, "  (%.2f%% of conformal residual paths breach; recalibrated on held-out outcomes)\n", 100*deg.RawProbability)
	if deg.FirstBreachTime != nil {
		fmt.Fprintf(env.stdout, "First likely breach: step %d at %s\n", deg.FirstBreach, deg.FirstBreachTime.Format(time.RFC3339))
	} else {
		fmt.Fprintln(env.stdout, "First likely breach: none within the horizon")
	}
	for _, mf := range deg.Metrics {
		fmt.Fprintf(env.stdout, "\n%s (now %.4g; SLO %s; P(breach) %.2f)\n", mf.Metric, mf.Last, describeThreshold(mf.Threshold), mf.Probability)
		tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "step\ttime\tp10\tp50\tp90\tP(breach)\t")
		for _, s := range mf.Steps {
			fmt.Fprintf(tw, "+%d\t%s\t%.4g\t%.4g\t%.4g\t%.2f\t\n", s.Step, s.Time.Format("15:04"), s.P10, s.P50, s.P90, s.PBreach)
		}
		tw.Flush()
	}
	fmt.Fprintln(env.stdout, "\nRecommendations:")
	if len(deg.Recommendations) == 0 {
		fmt.Fprintln(env.stdout, "  none (no breach more likely than not)")
	}
	for _, r := range deg.Recommendations {
		fmt.Fprintf(env.stdout, "  - %s: %s\n", r.Action, r.Evidence)
	}
	return nil
}

func describeThreshold(t serve.Threshold) string {
	var parts []string
	if t.Above != nil {
		parts = append(parts, fmt.Sprintf("above %.4g", *t.Above))
	}
	if t.Below != nil {
		parts = append(parts, fmt.Sprintf("below %.4g", *t.Below))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " or ") + " breaches (" + t.Origin + ")"
}
