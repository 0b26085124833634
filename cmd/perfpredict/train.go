package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/features"
)

func init() {
	register(&command{name: "train", summary: "train on metrics (default: the NAB series in testdata/) and print the accuracy table against the baselines", run: runTrain})
}

// defaultSeries are the 13 NAB series of the project's published comparison
// (PROTOCOL.md), relative to testdata/nab.
var defaultSeries = []string{
	"realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
	"realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv",
	"realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv",
	"realAWSCloudwatch/ec2_network_in_257a54.csv",
	"realAWSCloudwatch/elb_request_count_8c0756.csv",
	"realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv",
	"realKnownCause/cpu_utilization_asg_misconfiguration.csv",
	"realKnownCause/ec2_request_latency_system_failure.csv",
	"realKnownCause/machine_temperature_system_failure.csv",
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// parseHorizons reads "1,12" into ascending distinct horizons >= 1.
func parseHorizons(v string) ([]int, error) {
	var hs []int
	for _, f := range strings.Split(v, ",") {
		h, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || h < 1 {
			return nil, fmt.Errorf("--horizon: %q is not a positive integer", f)
		}
		if !slices.Contains(hs, h) {
			hs = append(hs, h)
		}
	}
	slices.Sort(hs)
	return hs, nil
}

// findTestdata looks for testdata/nab in the working directory and its
// parents, so the default command works from anywhere in the repository.
func findTestdata() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for range 6 {
		p := filepath.Join(dir, "testdata", "nab")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", errors.New("no --data given and testdata/nab not found in this directory or its parents (run from the repository, or pass --data FILE)")
}

// loadSeries reads and checks every input before any work starts: a missing
// target column, too few steps for the window plus the largest horizon, or
// constant values are bad input (exit 2).
func loadSeries(paths []string, target string, hs []int, window int) ([]baseline.Series, error) {
	maxH := 0
	for _, h := range hs {
		maxH = max(maxH, h)
	}
	var out []baseline.Series
	for _, p := range paths {
		s, err := baseline.LoadCSV(p, target)
		if err != nil {
			return nil, usageErr(err)
		}
		if err := baseline.CheckSeries(s, maxH); err != nil {
			return nil, usagef("%s: %v", p, strings.TrimPrefix(err.Error(), s.Name+": "))
		}
		// A model window longer than the baselines' 60 steps needs as many
		// training steps before its first target.
		if sp := baseline.SplitOf(s.Len()); window > baseline.MinTrainLags && sp.Train < window+maxH+1 {
			return nil, usagef("%s: %d steps (%d for training) are too few for a %d-step window plus horizon %d",
				p, s.Len(), sp.Train, window, maxH)
		}
		if _, err := baseline.SeasonFromCadence(s.Times); err != nil {
			return nil, usagef("%s: %v", p, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func runTrain(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("train", env)
	var data stringList
	fs.Var(&data, "data", "CSV `file` with a timestamp column and the target column (repeatable; default: the 13 NAB series in testdata/nab)")
	target := fs.String("target", "", "target column (default: \"value\", or the only column besides the timestamp)")
	horizon := fs.String("horizon", "1,12", "forecast horizons in steps, comma-separated; the model predicts every step up to the largest")
	epochs := fs.Int("epochs", defaultEpochs, "most training epochs per series (early stopping after --patience epochs without a better validation loss)")
	patience := fs.Int("patience", 3, "epochs without improvement before stopping")
	hidden := fs.Int("hidden", 32, "LSTM hidden size per direction")
	layers := fs.Int("layers", 1, "stacked bidirectional LSTM layers")
	window := fs.Int("window", baseline.MinTrainLags, "input window in steps")
	batch := fs.Int("batch", 64, "mini-batch size")
	lr := fs.Float64("lr", 1e-3, "Adam learning rate")
	maxWindows := fs.Int("max-windows", 3000, "most recent training windows per series (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the initial weights, shuffling and dropout")
	out := fs.String("out", "perfpredict-models", "`dir`ectory for the best checkpoint of each series (<series>.safetensors)")
	plots := fs.String("plots", "", "write PNG figures to `dir`: forecasts vs actual per series and horizon, training curves, attention")
	baselinesOnly := fs.Bool("baselines-only", false, "evaluate the baselines only, training no model")
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	hs, err := parseHorizons(*horizon)
	if err != nil {
		return usageErr(err)
	}
	for name, v := range map[string]int{"--epochs": *epochs, "--hidden": *hidden, "--layers": *layers, "--window": *window, "--batch": *batch} {
		if v < 1 {
			return usagef("%s: must be positive, got %d", name, v)
		}
	}
	if *batch < 2 {
		return usagef("--batch: must be at least 2 (batch normalisation), got %d", *batch)
	}
	if *lr <= 0 {
		return usagef("--lr: must be positive, got %g", *lr)
	}
	paths := []string(data)
	if len(paths) == 0 {
		dir, err := findTestdata()
		if err != nil {
			return usageErr(err)
		}
		for _, p := range defaultSeries {
			paths = append(paths, filepath.Join(dir, p))
		}
	}
	series, err := loadSeries(paths, *target, hs, *window)
	if err != nil {
		return err
	}
	var model modelForecaster
	if !*baselinesOnly {
		opt := modelOptions{
			cfg: perfpredict.Config{
				Hidden: *hidden, Layers: *layers, Head: []int{64, 32}, Dropout: 0.1, Steps: *window,
				BatchSize: *batch, LearningRate: *lr, Epochs: *epochs, Patience: *patience, Seed: *seed,
			},
			maxWindows: *maxWindows, outDir: *out, log: env.stderr, live: isTerminal(env.stderr),
		}
		K := hs[len(hs)-1]
		model = func(ctx context.Context, s baseline.Series, hs []int) ([][]float64, error) {
			d, err := prepareSeries(s)
			if err != nil {
				return nil, err
			}
			m, hist, err := trainSeriesModel(ctx, d, K, opt, s.Name)
			if err != nil {
				return nil, err
			}
			if *plots != "" {
				if err := plotModel(env, *plots, m, d, hist); err != nil {
					return nil, err
				}
			}
			return modelForecastsOn(m, d, hs)
		}
	}
	rep, err := evaluateAll(ctx, env.stderr, series, hs, model, *plots)
	if err != nil {
		return err
	}
	if *asJSON {
		return rep.writeJSON(env.stdout)
	}
	rep.writeTable(env.stdout)
	return nil
}

// defaultEpochs keeps the default command (13 series) within minutes on two
// cores.
const defaultEpochs = 8

// The model on a protocol series.
//
// Rows are the protocol's steps (no resampling), so the model is scored on
// exactly the baselines' targets. Inside the model the metric is always
// named "value", whatever the CSV column is called, so a checkpoint applies
// to any column. Inputs: features.Engineer's default columns, standardised
// with a features.Scaler fitted on the training rows. Outputs: for h = 1..K,
// the change y[t+h] - y[t] from the window's last value, standardised per
// horizon on the training windows (Model.Scaler); the forecast is y[t] plus
// the predicted change. A checkpoint records this as Target = "value_delta"
// and Horizon = K.

const (
	modelMetric = "value"
	modelTarget = "value_delta"
)

// seriesData is a series with its scaled feature rows.
type seriesData struct {
	s     baseline.Series
	sp    baseline.Split
	x     []float32 // [rows, f], standardised
	f     int
	names []string
}

// medianStep is the median positive spacing of times.
func medianStep(times []time.Time) time.Duration {
	var d []time.Duration
	for i := 1; i < len(times); i++ {
		if dt := times[i].Sub(times[i-1]); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return time.Minute
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// prepareSeries engineers and scales the features of s.
func prepareSeries(s baseline.Series) (*seriesData, error) {
	n := s.Len()
	sp := baseline.SplitOf(n)
	g := &features.Grid{
		Names:   []string{modelMetric},
		Cadence: medianStep(s.Times),
		Times:   make([]int64, n),
		Values:  [][]float64{s.Values},
		Break:   make([]bool, n),
	}
	for i, t := range s.Times {
		g.Times[i] = t.UnixNano()
		// The protocol keeps rows with equal timestamps; the feature grid
		// needs increasing times, so a repeat moves 1 ns after the row
		// before it (no calendar feature changes).
		if i > 0 && g.Times[i] <= g.Times[i-1] {
			g.Times[i] = g.Times[i-1] + 1
		}
	}
	fr, err := features.Engineer(g, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: features: %w", s.Name, err)
	}
	sc, err := features.FitScaler(fr, 0, sp.Train)
	if err != nil {
		return nil, fmt.Errorf("%s: feature scaler: %w", s.Name, err)
	}
	x := append([]float32(nil), fr.Data...)
	sc.Transform(x)
	return &seriesData{s: s, sp: sp, x: x, f: fr.Cols(), names: fr.Names}, nil
}

// window copies the T feature rows ending at origin t into dst [T, f].
func (d *seriesData) window(dst []float32, t, T int) {
	copy(dst, d.x[(t-T+1)*d.f:(t+1)*d.f])
}

// modelOptions are the train command's model settings.
type modelOptions struct {
	cfg        perfpredict.Config
	maxWindows int    // most recent training windows kept per series (0: all)
	outDir     string // checkpoints go here ("" keeps none)
	log        io.Writer
	live       bool // redraw the progress line within an epoch (a terminal)
}

// trainSeriesModel trains one model on d predicting h = 1..K and saves its
// best checkpoint. On cancellation it saves the best weights so far and
// returns the context's error.
func trainSeriesModel(ctx context.Context, d *seriesData, K int, opt modelOptions, label string) (*perfpredict.Model, *perfpredict.History, error) {
	T := opt.cfg.Steps
	sp := d.sp
	// Training origins: every target in train; validation origins: every
	// target in validation.
	lo, hi := T-1, sp.Train-1-K
	if opt.maxWindows > 0 && hi-lo+1 > opt.maxWindows {
		lo = hi - opt.maxWindows + 1
	}
	vlo, vhi := max(sp.Train-1, T-1), sp.Fit()-1-K
	if hi-lo+1 < 2 {
		return nil, nil, usagef("%s: %d steps leave %d training windows of %d steps for horizon %d", d.s.Name, d.s.Len(), max(0, hi-lo+1), T, K)
	}
	build := func(lo, hi int) ([]float32, []float64, int) {
		n := max(0, hi-lo+1)
		x := make([]float32, n*T*d.f)
		y := make([]float64, n*K)
		for i := range n {
			t := lo + i
			d.window(x[i*T*d.f:(i+1)*T*d.f], t, T)
			for h := 1; h <= K; h++ {
				y[i*K+h-1] = d.s.Values[t+h] - d.s.Values[t]
			}
		}
		return x, y, n
	}
	xt, yt, nt := build(lo, hi)
	xv, yv, nv := build(vlo, vhi)
	ts := &perfpredict.TargetScaler{Mean: make([]float64, K), Std: make([]float64, K)}
	for k := range K {
		sc := baseline.FitScaler(column(yt, K, k))
		ts.Mean[k], ts.Std[k] = sc.Mean, sc.SD
	}
	scaled := func(y []float64) []float32 {
		out := make([]float32, len(y))
		row := make([]float64, K)
		for i := 0; i+K <= len(y); i += K {
			copy(row, y[i:i+K])
			ts.Scale(row)
			for k, v := range row {
				out[i+k] = float32(v)
			}
		}
		return out
	}
	trainDS, err := perfpredict.NewDataset(xt, scaled(yt), nt, T, d.f, K)
	if err != nil {
		return nil, nil, err
	}
	var valDS perfpredict.Dataset
	if nv > 0 {
		if valDS, err = perfpredict.NewDataset(xv, scaled(yv), nv, T, d.f, K); err != nil {
			return nil, nil, err
		}
	}
	m, err := perfpredict.New(opt.cfg, d.f, K)
	if err != nil {
		return nil, nil, usageErr(err)
	}
	m.FeatureNames, m.Target, m.Horizon, m.Scaler = d.names, modelTarget, K, ts
	bar := newProgressBar(opt.log, label, opt.live)
	hist, trainErr := m.Train(ctx, trainDS, valDS, perfpredict.WithProgress(bar.update))
	bar.done(hist)
	if opt.outDir != "" && (trainErr == nil || errors.Is(trainErr, context.Canceled)) && hist != nil && hist.BestEpoch > 0 {
		if err := os.MkdirAll(opt.outDir, 0o755); err != nil {
			return nil, nil, err
		}
		path := filepath.Join(opt.outDir, d.s.Name+".safetensors")
		if err := m.Save(path); err != nil {
			return nil, nil, err
		}
		fmt.Fprintf(opt.log, "  best epoch %d (val loss %.4f) saved to %s\n", hist.BestEpoch, hist.BestLoss, path)
		if trainErr != nil {
			return nil, nil, fmt.Errorf("interrupted: best checkpoint so far saved to %s", path)
		}
	}
	if trainErr != nil {
		return nil, nil, fmt.Errorf("%s: training: %w", d.s.Name, trainErr)
	}
	return m, hist, nil
}

// plotModel writes the training curves and the attention over the series'
// last window.
func plotModel(env *cmdEnv, dir string, m *perfpredict.Model, d *seriesData, hist *perfpredict.History) error {
	path, err := plotTraining(dir, d.s.Name, hist)
	if err != nil {
		return err
	}
	if path != "" {
		fmt.Fprintf(env.stderr, "  wrote %s\n", path)
	}
	T, n := m.Config().Steps, d.s.Len()
	x := make([]float32, T*d.f)
	d.window(x, n-1, T)
	_, w, err := m.Predict(x, 1, T)
	if err != nil {
		return err
	}
	if path, err = plotAttention(dir, d.s.Name, w, d.s.Values[n-T:]); err != nil {
		return err
	}
	fmt.Fprintf(env.stderr, "  wrote %s\n", path)
	return nil
}

// column extracts column k of row-major y with width K.
func column(y []float64, K, k int) []float64 {
	out := make([]float64, 0, len(y)/K)
	for i := k; i < len(y); i += K {
		out = append(out, y[i])
	}
	return out
}

// modelForecastsOn forecasts every test target of d at each horizon of hs
// with m, aligned with baseline.Targets.
func modelForecastsOn(m *perfpredict.Model, d *seriesData, hs []int) ([][]float64, error) {
	K, T := m.Outputs(), m.Config().Steps
	if m.Target != modelTarget || m.Scaler == nil || len(m.Scaler.Mean) != K {
		return nil, usagef("the model predicts %q with %d outputs; this command needs a checkpoint written by perfpredict train (target %q with its scaler)", m.Target, K, modelTarget)
	}
	if m.Features() != d.f || (m.FeatureNames != nil && !slices.Equal(m.FeatureNames, d.names)) {
		return nil, usagef("%s: the model expects %d features %v, the data give %d %v", d.s.Name, m.Features(), m.FeatureNames, d.f, d.names)
	}
	maxH := 0
	for _, h := range hs {
		if h > K {
			return nil, usagef("horizon %d: the model forecasts at most %d steps ahead", h, K)
		}
		maxH = max(maxH, h)
	}
	start, n := d.sp.TestStart(), d.s.Len()
	first := start - maxH
	if first < T-1 {
		return nil, usagef("%s: %d steps are too few for the model's %d-step window plus horizon %d", d.s.Name, n, T, maxH)
	}
	out := make([][]float64, len(hs))
	for i := range out {
		out[i] = make([]float64, n-start)
	}
	const chunk = 256
	x := make([]float32, chunk*T*d.f)
	row := make([]float64, K)
	for t0 := first; t0 < n-1; t0 += chunk {
		b := min(chunk, n-1-t0)
		for i := range b {
			d.window(x[i*T*d.f:(i+1)*T*d.f], t0+i, T)
		}
		pred, _, err := m.Predict(x[:b*T*d.f], b, T)
		if err != nil {
			return nil, fmt.Errorf("%s: predict: %w", d.s.Name, err)
		}
		for i := range b {
			t := t0 + i
			for k := range K {
				row[k] = float64(pred[i*K+k])
			}
			m.Scaler.Unscale(row)
			for hi, h := range hs {
				if j := t + h; j >= start && j < n {
					out[hi][j-start] = d.s.Values[t] + row[h-1]
				}
			}
		}
	}
	return out, nil
}

// progressBar shows training progress on standard error: one line per
// epoch, redrawn after every batch when live.
type progressBar struct {
	w     io.Writer
	label string
	live  bool
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, label string, live bool) *progressBar {
	return &progressBar{w: w, label: label, live: live}
}

func (b *progressBar) update(p perfpredict.Progress) {
	if !p.EpochDone && (!b.live || time.Since(b.last) < 200*time.Millisecond) {
		return
	}
	b.last = time.Now()
	done := float64((p.Epoch-1)*p.Batches + p.Batch)
	total := float64(p.Epochs * p.Batches)
	left := time.Duration(0)
	if done > 0 {
		left = time.Duration(float64(p.Elapsed) * (total - done) / done)
	}
	const width = 20
	fill := int(width * float64(p.Batch) / float64(max(1, p.Batches)))
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", width-fill)
	line := fmt.Sprintf("  %s epoch %d/%d [%s] %d/%d train %.4f", b.label, p.Epoch, p.Epochs, bar, p.Batch, p.Batches, p.EpochTrainLoss)
	if p.EpochDone {
		line += fmt.Sprintf(" val %.4f", p.ValLoss)
	}
	line += fmt.Sprintf("  %s elapsed, at most %s left", p.Elapsed.Round(time.Second), left.Round(time.Second))
	if b.live {
		fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
		if p.EpochDone {
			fmt.Fprintln(b.w)
			b.drawn = false
		}
		return
	}
	fmt.Fprintln(b.w, line)
}

func (b *progressBar) done(h *perfpredict.History) {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
	if h != nil && h.EarlyStopped {
		fmt.Fprintf(b.w, "  %s stopped early after epoch %d\n", b.label, len(h.Epochs))
	}
}

// isTerminal reports whether w is a character device (progress redraws).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
