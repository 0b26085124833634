package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
)

func init() {
	register(&command{name: "predict", summary: "forecast the next steps of every metric of a file with a forecaster artifact (p10/p50/p90, attention)", run: runPredict})
}

func runPredict(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("predict", env)
	modelPath := fs.String("model", "", "forecaster artifact written by perfpredict train (`forecaster.zip`)")
	data := addDataFlags(fs, "metrics CSV (`file`) with a timestamp column: every metric column is forecast from its last row", false)
	target := fs.String("target", "", "the metric columns to forecast, comma-separated (default: every column besides the timestamp)")
	asJSON := fs.Bool("json", false, "print one JSON object {\"predictions\": [[...]], \"p10\", \"p90\", \"attention\", \"needs\", \"horizon\", \"metrics\", \"times\", \"source\", \"method\", \"methods\", \"version\"}")
	useSwitch := fs.Bool("switch", false, "forecast each metric with a switch fitted on the file (as evaluate's switch row: the forecaster, a ridge AR of the metric, the switch trees or an average of them, whichever erred less over the last day) instead of the forecaster alone")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" || !data.given() {
		return usagef("--model and --data are required (or --prometheus and --query instead of --data)")
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
	svc, err := newService(fc, from, d, serve.ServiceOptions{Switch: *useSwitch})
	if err != nil {
		return err
	}
	defer svc.Close()
	out, err := svc.ForecastAnswer(ctx, d)
	if err != nil {
		return dataErr(err)
	}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(out)
	}
	// Who answered: the model, the switch, or per metric where they differ.
	who := out.Source.String()
	if out.Source == serve.SourceModel && out.Method == forecast.SwitchMethod {
		var by []string
		for m, name := range out.Metrics {
			by = append(by, name+" by the "+out.Methods[m])
		}
		who = strings.Join(by, ", ")
	}
	fmt.Fprintf(env.stdout, "forecast from %s, the last of %d rows of %s (%s", out.Origin.Format(time.RFC3339), d[0].Len(), from, who)
	if out.Reason != serve.ReasonNone {
		fmt.Fprintf(env.stdout, " %s: %s", out.Method, out.Reason)
	}
	fmt.Fprintf(env.stdout, "; forecaster %s, %d network(s), reads the last %d rows)\n", out.Version, fc.Members(), out.Needs)
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "step\ttime")
	for _, name := range out.Metrics {
		fmt.Fprintf(tw, "\t%s p50 (p10 .. p90)", name)
	}
	fmt.Fprintln(tw)
	for h := 1; h <= out.Horizon; h++ {
		fmt.Fprintf(tw, "+%d\t%s", h, out.Times[h-1].Format(time.RFC3339))
		for m := range out.Metrics {
			fmt.Fprintf(tw, "\t%.4g (%.4g .. %.4g)", out.Predictions[m][h-1], out.P10[m][h-1], out.P90[m][h-1])
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// loadMetrics reads the metrics a forecaster serves, one series per
// metric named by it (input.metricSeries), and where they came from: the
// file's columns in target (a comma-separated list, "" every column
// besides the timestamp), or the Prometheus query's series. Input the
// forecaster cannot forecast from (unreadable, not a metrics CSV, a gap,
// fewer rows than it needs) is a usage error naming the file or query.
func loadMetrics(ctx context.Context, fc *forecast.Forecaster, data *dataFlags, target string) (string, []baseline.Series, error) {
	ins, err := data.load(ctx, target)
	if err != nil {
		return "", nil, err
	}
	in := ins[0]
	if n := in.series[0].Len(); n < fc.Needs() {
		r := fc.Recipe()
		return "", nil, usagef("%s: %d rows; the forecaster needs the last %d rows (its window of %d steps and a scale over %d changes)",
			in.from, n, fc.Needs(), r.Window, r.ScaleWindow)
	}
	return in.from, in.metricSeries(), nil
}

// newService serves fc for the metrics d read from from (a file or query,
// which errors and recommendations name); a file the service cannot be
// set up from is a usage error.
func newService(fc *forecast.Forecaster, from string, d []baseline.Series, opt serve.ServiceOptions) (*serve.Service, error) {
	opt.Name = from
	svc, err := serve.NewService(fc, d, opt)
	if err != nil {
		return nil, dataErr(err)
	}
	return svc, nil
}

// dataErr makes an error caused by the data (or a flag) a usage error
// (exit 2); the serve errors name the file.
func dataErr(err error) error {
	if errors.Is(err, serve.ErrBadInput) {
		return usageErr(err)
	}
	return err
}
