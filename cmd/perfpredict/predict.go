package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/internal/safetensors"
	"github.com/novacron/perfpredict/serve"
)

func init() {
	register(&command{name: "predict", summary: "predict with a saved model (values and attention weights)", run: runPredict})
}

// predictInput is a batch of already scaled windows x [batch, steps, F].
type predictInput struct {
	x            []float32
	batch, steps int
}

// predictOutput is the JSON contract of DESIGN.md.
type predictOutput struct {
	Predictions [][]float32 `json:"predictions"`
	Attention   [][]float32 `json:"attention"`
}

func runPredict(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("predict", env)
	modelPath := fs.String("model", "", "model checkpoint (`M.safetensors`)")
	tensorPath := fs.String("tensor", "", "input windows: a safetensors file whose tensor \"x\" is [B, T, F], already scaled")
	dataPath := fs.String("data", "", "metrics CSV (`file`): forecast from its latest window in original units, features fitted on its first 70% as train does")
	target := fs.String("target", "", "with --data: the metric column (default: \"value\", or the only column besides the timestamp)")
	accuracy := fs.Bool("accuracy", false, "with --data: also score the forecasts of the file's test split (last 15%) per metric: accuracy5, MAPE, MAE pooled over steps")
	asJSON := fs.Bool("json", false, "print one JSON object {\"predictions\": [[K]...], \"attention\": [[T]...]} (with --data also metrics, times, source, version)")
	device := newDeviceFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *modelPath == "" {
		return usagef("--model is required")
	}
	if *tensorPath == "" && *dataPath == "" {
		return usagef("an input is required: --tensor X.safetensors or --data metrics.csv")
	}
	if *tensorPath != "" && *dataPath != "" {
		return usagef("--tensor and --data exclude each other")
	}
	m, err := loadModel(env, *modelPath, device)
	if err != nil {
		return err
	}
	if *dataPath != "" {
		return predictData(ctx, env, m, *dataPath, *target, *asJSON, *accuracy)
	}
	in, err := readTensorInput(*tensorPath)
	if err != nil {
		return err
	}
	pred, att, err := m.Predict(in.x, in.batch, in.steps)
	if err != nil {
		return usagef("%s: tensor \"x\": %v", *tensorPath, err)
	}
	out := predictOutput{Predictions: predictRows(pred, m.Outputs()), Attention: predictRows(att, in.steps)}
	if *asJSON {
		return json.NewEncoder(env.stdout).Encode(out)
	}
	for i := range out.Predictions {
		fmt.Fprintf(env.stdout, "%d\t%v\n", i, out.Predictions[i])
	}
	return nil
}

// readTensorInput reads tensor "x" [B, T, F] (F32) from a safetensors file.
func readTensorInput(path string) (predictInput, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return predictInput{}, usageErr(err)
	}
	x, shape, err := f.Float32("x")
	if err != nil {
		return predictInput{}, usagef("%s: %v", path, err)
	}
	if len(shape) != 3 || shape[0] <= 0 || shape[1] <= 0 || shape[2] <= 0 {
		return predictInput{}, usagef("%s: tensor \"x\" has shape %v, want [batch, steps, features]", path, shape)
	}
	return predictInput{x: x, batch: shape[0], steps: shape[1]}, nil
}

// predictRows splits a row-major [n, width] slice into rows.
func predictRows(v []float32, width int) [][]float32 {
	out := make([][]float32, 0, len(v)/width)
	for i := 0; i+width <= len(v); i += width {
		out = append(out, v[i:i+width])
	}
	return out
}

// loadService reads the metrics of path the way the model was trained on
// them and fits a serve.Service on them (features, fallback, thresholds and
// calibration on the file's train and validation splits).
func loadService(ctx context.Context, m *perfpredict.Model, path, target string, opt serve.ServiceOptions) (*serve.Service, *serve.Data, error) {
	var d *serve.Data
	if m.Target == serve.ProtocolTarget || m.Target == "value_delta" {
		s, err := baseline.LoadCSV(path, target)
		if err != nil {
			return nil, nil, usageErr(err)
		}
		d = serve.FromSeries(s, "value")
	} else {
		var metrics []string
		if target != "" {
			metrics = []string{target}
		}
		var err error
		if d, err = serve.LoadCSV(path, metrics); err != nil {
			return nil, nil, usageErr(err)
		}
	}
	svc, err := serve.NewService(ctx, m, d, opt)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, err
		}
		return nil, nil, usagef("%s: %v", path, err)
	}
	return svc, d, nil
}

// dataErr makes a serve error about the metrics file at path a usage error
// (exit 2) when the file is at fault.
func dataErr(path string, err error) error {
	if errors.Is(err, serve.ErrBadInput) {
		return usagef("%s: %v", path, err)
	}
	return err
}

// predictDataOutput extends the DESIGN.md contract with what a forecast
// from metrics carries.
type predictDataOutput struct {
	Predictions [][]float64  `json:"predictions"` // [1][metrics*horizon], original units
	Attention   [][]float32  `json:"attention"`
	Metrics     []string     `json:"metrics"`
	Horizon     int          `json:"horizon"`
	Origin      time.Time    `json:"origin"`
	Times       []time.Time  `json:"times"`
	Source      serve.Source `json:"source"`
	Method      string       `json:"method"`
	Reason      serve.Reason `json:"reason,omitempty"`
	Version     string       `json:"version"`
	// Accuracy per metric on the test split (--accuracy).
	Accuracy *perfpredict.Metrics `json:"accuracy,omitempty"`
}

func predictData(ctx context.Context, env *cmdEnv, m *perfpredict.Model, path, target string, asJSON, accuracy bool) error {
	svc, d, err := loadService(ctx, m, path, target, serve.ServiceOptions{})
	if err != nil {
		return err
	}
	defer svc.Close()
	p, err := svc.Forecast(ctx, d)
	if err != nil {
		return dataErr(path, err)
	}
	origin := d.Times[d.Len()-1]
	out := predictDataOutput{Predictions: [][]float64{p.Values}, Metrics: p.Metrics, Horizon: p.Horizon, Origin: origin,
		Source: p.Source, Method: p.Method, Reason: p.Reason, Version: p.Version, Attention: [][]float32{}}
	if p.Attention != nil {
		out.Attention = [][]float32{p.Attention}
	}
	for h := 1; h <= p.Horizon; h++ {
		out.Times = append(out.Times, origin.Add(time.Duration(h)*svc.Cadence))
	}
	if accuracy {
		acc, err := svc.Accuracy(ctx, d, baseline.SplitOf(d.Len()).TestStart(), d.Len(), 0)
		if err != nil {
			return usagef("%s: --accuracy: %v", path, err)
		}
		out.Accuracy = &acc
	}
	if asJSON {
		return json.NewEncoder(env.stdout).Encode(out)
	}
	fmt.Fprintf(env.stdout, "forecast from %s (%s, %s", origin.Format(time.RFC3339), p.Source, p.Method)
	if p.Reason != serve.ReasonNone {
		fmt.Fprintf(env.stdout, ": %s", p.Reason)
	}
	fmt.Fprintf(env.stdout, ", model %s)\n", p.Version)
	tw := tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "step\ttime")
	for _, name := range p.Metrics {
		fmt.Fprintf(tw, "\t%s", name)
	}
	fmt.Fprintln(tw)
	for h := 1; h <= p.Horizon; h++ {
		fmt.Fprintf(tw, "+%d\t%s", h, out.Times[h-1].Format(time.RFC3339))
		for mi := range p.Metrics {
			fmt.Fprintf(tw, "\t%.4g", p.At(mi, h))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil || out.Accuracy == nil {
		return err
	}
	fmt.Fprintf(env.stdout, "\nPrediction accuracy by metric (test split, steps 1..%d pooled)\n", p.Horizon)
	tw = tabwriter.NewWriter(env.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Metric\tAccuracy (5%)\tMAPE\tMAE\tN")
	for i, o := range out.Accuracy.Outputs {
		fmt.Fprintf(tw, "%s\t%.1f%%\t%.2f%%\t%.4g\t%d\n", p.Metrics[i], 100*o.Accuracy5, o.MAPE, o.MAE, o.N)
	}
	return tw.Flush()
}
