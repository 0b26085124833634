package main

import (
	"context"
	"encoding/json"
	"errors"
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
	modelPath := fs.String("model", "", "forecaster artifact written by perfpredict train (`forecaster.zip`)")
	data := addDataFlags(fs, "metrics CSV (`file`): the forecast starts at its last row; default SLOs and the fallback are fitted on its first 70%", false)
	target := fs.String("target", "", "the metric columns, comma-separated (default: every column besides the timestamp)")
	horizon := fs.Int("horizon", serve.DefaultHorizon, "steps ahead (at most the forecaster's horizon)")
	quantile := fs.Float64("quantile", 0.99, "default SLO: this quantile of each metric's training rows as its upper bound")
	var slos sloList
	fs.Var(&slos, "slo", "SLO bound `METRIC>VALUE` or METRIC<VALUE overriding the default (repeatable)")
	recent := fs.Bool("recalibrate", true, "recalibrate the probability of a breach within the horizon on the file's most recent outcomes (as many origins as 15% of its rows): the frequency of breaches that followed such forecasts")
	asJSON := fs.Bool("json", false, "print one JSON object (degradation_probability, predicted_metrics, recommendations, ...)")
	useSwitch := fs.Bool("switch", false, "forecast each metric with a switch fitted on the file (as evaluate's switch row; also in the recalibration) instead of the forecaster alone")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || !data.given() {
		return usagef("--model and --data are required (or --prometheus and --query instead of --data)")
	}
	if *horizon < 1 {
		return usagef("--horizon: must be positive, got %d", *horizon)
	}
	if !(*quantile > 0 && *quantile < 1) {
		return usagef("--quantile: must be in (0, 1), got %v", *quantile)
	}
	fc, err := openForecaster(env, *modelPath, device)
	if err != nil {
		return err
	}
	defer fc.Close()
	if *horizon > fc.Horizon() {
		return usagef("--horizon %d: %s forecasts at most %d steps ahead", *horizon, *modelPath, fc.Horizon())
	}
	from, d, err := loadMetrics(ctx, fc, data, *target)
	if err != nil {
		return err
	}
	svc, err := newService(fc, from, d, serve.ServiceOptions{Thresholds: slos, Quantile: *quantile, Switch: *useSwitch})
	if err != nil {
		return err
	}
	defer svc.Close()
	if *recent {
		if err := svc.RecalibrateRecent(ctx, d, *horizon); errors.Is(err, serve.ErrBadInput) {
			fmt.Fprintf(env.stderr, "degradation: not recalibrated: %v\n", err)
		} else if err != nil {
			return err
		}
	}
	deg, err := svc.PredictDegradation(ctx, d, *horizon)
	if err != nil {
		return dataErr(err)
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(deg)
	}
	fmt.Fprintf(env.stdout, "Degradation probability: %.2f%% within %d steps (%s) from %s (forecaster %s)\n",
		100*deg.Probability, deg.Horizon, time.Duration(deg.Horizon)*deg.Step, deg.Origin.Format(time.RFC3339), deg.Version)
	if deg.Recalibrated > 0 {
		fmt.Fprintf(env.stdout, "  (%.2f%% from the per-step quantiles, recalibrated on %d recent outcomes)\n", 100*deg.RawProbability, deg.Recalibrated)
	} else {
		fmt.Fprintln(env.stdout, "  (from the per-step quantiles, not recalibrated)")
	}
	if deg.FirstBreachTime != nil {
		fmt.Fprintf(env.stdout, "First likely breach: step %d at %s\n", deg.FirstBreach, deg.FirstBreachTime.Format(time.RFC3339))
	} else {
		fmt.Fprintln(env.stdout, "First likely breach: none within the horizon")
	}
	for _, mf := range deg.Metrics {
		src := mf.Source.String()
		if mf.Reason != serve.ReasonNone {
			src = fmt.Sprintf("%s %s: %s, no interval", src, mf.Method, mf.Reason)
		}
		fmt.Fprintf(env.stdout, "\n%s (now %.4g; SLO %s; P(breach) %.2f; %s)\n", mf.Metric, mf.Last, describeThreshold(mf.Threshold), mf.Probability, src)
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
