package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/nabdata"
)

func init() {
	register(&command{name: "train", summary: "train a forecaster on metrics (default: the NAB series in testdata/), save it, and print the accuracy table against the baselines", run: runTrain})
}

// defaultArtifact is where train saves the forecaster.
const defaultArtifact = "perfpredict-models/forecaster.zip"

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

// parseInputs reads NAME@CLIP,... into the recipe's inputs.
func parseInputs(v string) ([]forecast.Input, error) {
	in, err := forecast.ParseInputs(v)
	if err != nil {
		return nil, fmt.Errorf("--inputs: %w", err)
	}
	return in, nil
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

// loadSeries reads the series of d (dataFlags.load: of a file the columns
// named by target, comma-separated, or every column besides the timestamp;
// a file with one column gives a series named after the file, several give
// FILE:COLUMN; a Prometheus query its series). Each series is checked for
// the protocol at the largest horizon.
func loadSeries(ctx context.Context, d *dataFlags, target string, hs []int) ([]baseline.Series, error) {
	ins, err := d.load(ctx, target)
	if err != nil {
		return nil, err
	}
	var out []baseline.Series
	for _, in := range ins {
		for _, s := range in.series {
			if err := baseline.CheckSeries(s, hs[len(hs)-1]); err != nil {
				return nil, usagef("%s: %v", in.from, err)
			}
			if _, err := baseline.SeasonFromCadence(s.Times); err != nil {
				return nil, usagef("%s: %v", in.from, err)
			}
		}
		out = append(out, in.series...)
	}
	return out, nil
}

// recipeFlags are the flags train and crossval share: the series, the
// horizons, the forecaster's recipe and its training.
type recipeFlags struct {
	data                                                                                   *dataFlags
	target, horizon                                                                        *string
	epochs, patience, hidden, layers, window, scaleWindow, batch, stride, ensemble, season *int
	lr, dropout, shiftAugment                                                              *float64
	inputs                                                                                 *string
	seed                                                                                   *uint64
	device                                                                                 deviceFlag
	labels                                                                                 *string
	trees, switchTrees                                                                     *bool
	treeWeights                                                                            *string
}

func addRecipeFlags(fs *flag.FlagSet) *recipeFlags {
	def := forecast.DefaultOptions()
	r := &recipeFlags{
		target:       fs.String("target", "", "metric columns, comma-separated (default: every column besides the timestamp)"),
		horizon:      fs.String("horizon", "1,12,30", "horizons in steps to report, comma-separated; the forecaster predicts every step up to the largest"),
		epochs:       fs.Int("epochs", def.Epochs, "most training epochs per network"),
		patience:     fs.Int("patience", def.Patience, "stop after this many epochs without a better validation loss (0: never early)"),
		hidden:       fs.Int("hidden", def.Hidden, "LSTM hidden size per direction"),
		layers:       fs.Int("layers", def.Layers, "stacked bidirectional LSTM layers"),
		window:       fs.Int("window", def.Window, "input window in steps"),
		scaleWindow:  fs.Int("scale-window", def.ScaleWindow, "recent one-step changes whose mean absolute value is the unit of inputs and outputs"),
		batch:        fs.Int("batch", def.BatchSize, "mini-batch size"),
		lr:           fs.Float64("lr", def.LearningRate, "Adam learning rate"),
		stride:       fs.Int("stride", def.Stride, "steps between consecutive training windows of a series"),
		inputs:       fs.String("inputs", inputsString(def.Inputs), "the network's inputs per step with their clipping bounds, NAME@CLIP,...: rel_last (y-y[t])/u, diff (y-y[-1])/u, rel_mean (y-mean)/u, season (the value --season steps before, horizon steps on, -y[t])/u"),
		season:       fs.Int("season", def.Season, "season in steps of the season input (288: a day at 5 minutes)"),
		seed:         fs.Uint64("seed", def.Seed, "seed of network 1 (network i: seed+i-1)"),
		ensemble:     fs.Int("ensemble", def.Ensemble, "networks trained with different seeds whose forecasts are averaged"),
		dropout:      fs.Float64("dropout", def.Dropout, "dropout probability between LSTM layers and in the head (0: none, as training on a GPU needs)"),
		shiftAugment: fs.Float64("shift-augment", def.ShiftAugment, "fraction of the training windows added again with a synthetic level shift, so that the networks learn that a shift persists (0: none)"),
		device:       newDeviceFlag(fs),
		labels:       addLabelsFlag(fs),
		trees:        fs.Bool("trees", def.Trees != nil, "add gradient-boosted trees on summary features of the same observations, combined with the networks per horizon"),
		switchTrees:  fs.Bool("switch-trees", def.SwitchTrees != nil, "train the gradient-boosted trees that the switch (the row switch, and what follows a series) forecasts with beside the networks and the series' autoregression"),
		treeWeights:  fs.String("tree-weights", "", "with --trees, the trees' share of the forecast: one value, or one per horizon up to the largest (default: chosen per horizon on the validation split; 1: the trees alone)"),
	}
	r.data = addDataFlags(fs, "CSV `file` with a timestamp column and metric columns (repeatable: one forecaster is trained on every series; default, without --prometheus: the 13 NAB series in testdata/nab)", true)
	return r
}

// options are the flags' forecast.Options for horizons up to maxH.
func (r *recipeFlags) options(env *cmdEnv, maxH int) (forecast.Options, error) {
	device, err := r.device.get()
	if err != nil {
		return forecast.Options{}, err
	}
	inputs, err := parseInputs(*r.inputs)
	if err != nil {
		return forecast.Options{}, usageErr(err)
	}
	if device == perfpredict.DeviceCUDA && *r.dropout > 0 {
		return forecast.Options{}, usagef("--device cuda trains without dropout: pass --dropout 0 (or --device auto to train on the CPU and predict on the GPU)")
	}
	var trees *forecast.TreeOptions
	if *r.trees {
		trees = forecast.DefaultTreeOptions(maxH)
		if *r.treeWeights != "" {
			for _, f := range strings.Split(*r.treeWeights, ",") {
				w, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
				if err != nil {
					return forecast.Options{}, usagef("--tree-weights %q: %q is not a number", *r.treeWeights, f)
				}
				trees.Weights = append(trees.Weights, w)
			}
		}
	} else if *r.treeWeights != "" {
		return forecast.Options{}, usagef("--tree-weights needs --trees")
	}
	// The flags override the recipe's defaults, so that a field without a
	// flag keeps the recipe's value instead of its zero.
	o := forecast.DefaultOptions()
	o.Window, o.ScaleWindow, o.Horizon, o.Inputs, o.Season = *r.window, *r.scaleWindow, maxH, inputs, *r.season
	o.Hidden, o.Layers, o.Dropout = *r.hidden, *r.layers, *r.dropout
	o.Epochs, o.Patience, o.BatchSize, o.LearningRate, o.Stride = *r.epochs, *r.patience, *r.batch, *r.lr, *r.stride
	o.ShiftAugment, o.Ensemble, o.Seed = *r.shiftAugment, *r.ensemble, *r.seed
	o.Device, o.Precision, o.Trees, o.Logf = device, trainingPrecision(device), trees, stderrLogf(env)
	if !*r.switchTrees {
		o.SwitchTrees = nil
	}
	return o, nil
}

// input parses the horizons, the recipe's options and the series (--data,
// --prometheus, or the default NAB series) that train and crossval start
// from.
func (r *recipeFlags) input(ctx context.Context, env *cmdEnv) ([]int, forecast.Options, []baseline.Series, error) {
	hs, err := parseHorizons(*r.horizon)
	if err != nil {
		return nil, forecast.Options{}, nil, usageErr(err)
	}
	opt, err := r.options(env, hs[len(hs)-1])
	if err != nil {
		return nil, forecast.Options{}, nil, err
	}
	if !r.data.given() {
		if r.data.files, err = defaultPaths(); err != nil {
			return nil, forecast.Options{}, nil, err
		}
	}
	series, err := loadSeries(ctx, r.data, *r.target, hs)
	if err != nil {
		return nil, forecast.Options{}, nil, err
	}
	return hs, opt, series, nil
}

// defaultPaths are the default NAB series.
func defaultPaths() ([]string, error) {
	dir, err := findTestdata()
	if err != nil {
		return nil, usageErr(err)
	}
	var paths []string
	for _, p := range nabdata.Series() {
		paths = append(paths, filepath.Join(dir, p))
	}
	return paths, nil
}

func runTrain(ctx context.Context, env *cmdEnv, args []string) error {
	fs := newFlagSet("train", env)
	recipe := addRecipeFlags(fs)
	out := fs.String("out", defaultArtifact, "the forecaster artifact to write (one file; \"\" writes none)")
	plots := fs.String("plots", "", "write PNG figures to `dir`: served forecasts with their p10-p90 band against the actual values, training curves, attention")
	forecastsPath := fs.String("forecasts", "", "write every scored forecast of the model and the switch to this CSV `file` (series,origin,horizon,forecast,actual,method)")
	baselinesOnly := fs.Bool("baselines-only", false, "evaluate the baselines only, training no forecaster")
	asJSON := fs.Bool("json", false, "print one JSON object {\"series\": [...], \"summary\": {...}}")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	hs, opt, series, err := recipe.input(ctx, env)
	if err != nil {
		return err
	}
	var fc *forecast.Forecaster
	if !*baselinesOnly {
		bar := newProgressBar(env.stderr, isTerminal(env.stderr))
		opt.Progress = bar.update
		start := time.Now()
		fc, err = forecast.Train(ctx, series, opt)
		bar.done()
		if errors.Is(err, forecast.ErrInterrupted) && *out != "" {
			if serr := fc.Save(*out); serr != nil {
				return errors.Join(err, serr)
			}
			return fmt.Errorf("interrupted: the forecaster learnt so far (%d network(s)) saved to %s", fc.Members(), *out)
		}
		if err != nil {
			if errors.Is(err, forecast.ErrBadInput) {
				return usageErr(err)
			}
			return err
		}
		fmt.Fprintf(env.stderr, "trained %d network(s) in %s; forecasts depend on the last %d observations\n",
			fc.Members(), time.Since(start).Round(time.Second), fc.Needs())
		if *out != "" {
			if err := fc.Save(*out); err != nil {
				return err
			}
			fmt.Fprintf(env.stderr, "saved %s\n", *out)
		}
		if *plots != "" {
			for i, h := range fc.Histories() {
				path, err := plotTraining(*plots, memberLabel(i), h)
				if err != nil {
					return err
				}
				if path != "" {
					fmt.Fprintf(env.stderr, "  wrote %s\n", path)
				}
			}
		}
	}
	labels, err := recipe.data.labels(*recipe.labels)
	if err != nil {
		return err
	}
	return evaluateAndPrint(ctx, env, fc, series, hs, labels, *plots, *forecastsPath, *asJSON)
}

// inputsString is the --inputs form of inputs.
func inputsString(inputs []forecast.Input) string {
	var s []string
	for _, in := range inputs {
		s = append(s, in.String())
	}
	return strings.Join(s, ",")
}

// memberLabel names network i in progress lines and plots.
func memberLabel(i int) string {
	if i == 0 {
		return "model"
	}
	return fmt.Sprintf("model_%d", i+1)
}

// stderrMu serialises the lines that networks training at the same time
// write to standard error (log lines and the progress bar).
var stderrMu sync.Mutex

// stderrLogf prints the library's log lines (progress, auto's fallback to
// the CPU) on standard error, one line each.
func stderrLogf(env *cmdEnv) func(format string, args ...any) {
	return func(format string, args ...any) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		fmt.Fprintf(env.stderr, strings.TrimSuffix(format, "\n")+"\n", args...)
	}
}

// progressBar shows training progress on standard error: one line per
// epoch, redrawn after every batch when live. Networks training at the
// same time call it concurrently.
type progressBar struct {
	w     io.Writer
	live  bool
	last  time.Time
	drawn bool
}

func newProgressBar(w io.Writer, live bool) *progressBar {
	return &progressBar{w: w, live: live}
}

func (b *progressBar) update(member int, p perfpredict.Progress) {
	stderrMu.Lock()
	defer stderrMu.Unlock()
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
	line := fmt.Sprintf("  %s epoch %d/%d [%s] %d/%d train %.4f", memberLabel(member), p.Epoch, p.Epochs, bar, p.Batch, p.Batches, p.EpochTrainLoss)
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

func (b *progressBar) done() {
	stderrMu.Lock()
	defer stderrMu.Unlock()
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
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
