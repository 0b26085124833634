// Command pretrain pretrains forecasters on synthetic server series (a
// start for forecast.Options.Init) and scores recipes on the validation
// split of the 13 shipped series, the score the recipe's choices are made
// on (docs/PROTOCOL.md, "How the recipe was chosen").
//
//	go run ./tools/pretrain make [flags] OUT.zip
//	    trains the default recipe's networks on synthetic server series
//	    (internal/synth) and, with -extra, on more CSV files; saves OUT.zip.
//	go run ./tools/pretrain validate [flags]
//	    trains on the 13 series (from -init when given) and prints the
//	    geometric-mean validation MASE at h = 1, 12, 30.
//	go run ./tools/pretrain fold -folds 4 -fold K [flags]
//	    one fold of `perfpredict crossval`, the forecaster's test MASE
//	    only, so the folds of a leave-series-out run can run at once; the
//	    summary is the geometric mean over every fold's lines.
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/internal/nabdata"
	"github.com/novacron/perfpredict/internal/synth"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pretrain make|validate [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "make":
		err = runMake(os.Args[2:])
	case "validate":
		err = runValidate(os.Args[2:])
	case "fold":
		err = runFold(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (make, validate, fold)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pretrain:", err)
		os.Exit(1)
	}
}

// common are the training flags both commands take.
type common struct {
	epochs, patience, ensemble *int
	seed                       *uint64
	lr                         *float64
	stride                     *int
	shiftAug                   *float64
	batch, window, season      *int
	hidden                     *int
	dropout                    *float64
	inputs                     *string
}

func addCommon(fs *flag.FlagSet, epochs, patience, ensemble int) common {
	return common{
		epochs:   fs.Int("epochs", epochs, "most epochs"),
		patience: fs.Int("patience", patience, "early-stopping patience"),
		ensemble: fs.Int("ensemble", ensemble, "networks"),
		seed:     fs.Uint64("seed", 1, "first network's seed"),
		lr:       fs.Float64("lr", forecast.DefaultOptions().LearningRate, "learning rate"),
		stride:   fs.Int("stride", 1, "steps between training windows"),
		shiftAug: fs.Float64("shift-augment", forecast.DefaultOptions().ShiftAugment, "fraction of training windows added again with a synthetic level shift"),
		batch:    fs.Int("batch", forecast.DefaultOptions().BatchSize, "mini-batch size"),
		window:   fs.Int("window", forecast.DefaultOptions().Window, "steps the network reads"),
		season:   fs.Int("season", forecast.DefaultOptions().Season, "season in steps of the season input"),
		hidden:   fs.Int("hidden", forecast.DefaultOptions().Hidden, "LSTM hidden size per direction"),
		dropout:  fs.Float64("dropout", forecast.DefaultOptions().Dropout, "dropout probability"),
		inputs:   fs.String("inputs", "", "input channels NAME@CLIP,... (default: the recipe's)"),
	}
}

func (c common) options() (forecast.Options, error) {
	o := forecast.DefaultOptions()
	o.Epochs, o.Patience, o.Ensemble, o.Seed, o.LearningRate = *c.epochs, *c.patience, *c.ensemble, *c.seed, *c.lr
	o.Stride, o.ShiftAugment, o.BatchSize, o.Window, o.Season = *c.stride, *c.shiftAug, *c.batch, *c.window, *c.season
	o.Hidden, o.Dropout = *c.hidden, *c.dropout
	if *c.inputs != "" {
		in, err := forecast.ParseInputs(*c.inputs)
		if err != nil {
			return o, fmt.Errorf("-inputs: %w", err)
		}
		o.Inputs = in
	}
	o.Logf = func(f string, a ...any) { fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+f+"\n", a...) }
	o.Progress = func(i int, p perfpredict.Progress) {
		if p.EpochDone {
			o.Logf("network %d: epoch %d, training loss %.4f, validation loss %.4f", i+1, p.Epoch, p.EpochTrainLoss, p.ValLoss)
		}
	}
	return o, nil
}

// loadShipped loads the 13 shipped series from dir.
func loadShipped(dir string) ([]baseline.Series, error) {
	var paths []string
	for _, p := range nabdata.Series() {
		paths = append(paths, filepath.Join(dir, p))
	}
	return load(paths)
}

func load(paths []string) ([]baseline.Series, error) {
	var out []baseline.Series
	for _, p := range paths {
		ss, err := baseline.LoadColumns(p, nil)
		if err != nil {
			return nil, err
		}
		for i := range ss {
			ss[i].Name = strings.TrimSuffix(filepath.Base(p), ".csv")
		}
		out = append(out, ss...)
	}
	return out, nil
}

func runMake(args []string) error {
	fs := flag.NewFlagSet("make", flag.ExitOnError)
	c := addCommon(fs, 10, 3, 2)
	count := fs.Int("series", 100, "synthetic series")
	steps := fs.Int("steps", 4032, "steps per synthetic series (4032: two weeks at 5 minutes)")
	synthSeed := fs.Uint64("synth-seed", 1000, "seed of the first synthetic series (the others follow)")
	var extra stringsFlag
	fs.Var(&extra, "extra", "a CSV file to pretrain on besides the synthetic series (repeatable; never a series scored later)")
	fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("make: one output path, got %q", fs.Args())
	}
	var series []baseline.Series
	for i := range *count {
		v, _ := synth.Server(*steps, *synthSeed+uint64(i))
		series = append(series, baseline.Series{Name: fmt.Sprintf("synth-%d", *synthSeed+uint64(i)), Values: v})
	}
	more, err := load(extra)
	if err != nil {
		return err
	}
	series = append(series, more...)
	o, err := c.options()
	if err != nil {
		return err
	}
	o.NoTestSplit = true // synthetic: no test split to keep; the last 15% stops early
	fc, err := forecast.Train(context.Background(), series, o)
	if err != nil {
		return err
	}
	return fc.Save(fs.Arg(0))
}

func runValidate(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ExitOnError)
	c := addCommon(fs, 20, 5, 1)
	data := fs.String("data", "testdata/nab", "folder of the 13 shipped series")
	init := fs.String("init", "", "a forecaster artifact to fine-tune from")
	save := fs.String("save", "", "save the trained forecaster there")
	zeroShot := fs.Bool("zero-shot", false, "score -init as it is, without training")
	fs.Parse(args)
	series, err := loadShipped(*data)
	if err != nil {
		return err
	}
	o, err := c.options()
	if err != nil {
		return err
	}
	if *init != "" {
		if o.Init, err = forecast.Open(*init); err != nil {
			return err
		}
	}
	ctx := context.Background()
	fc := o.Init
	if !*zeroShot {
		if fc, err = forecast.Train(ctx, series, o); err != nil {
			return err
		}
	} else if fc == nil {
		return fmt.Errorf("validate: -zero-shot needs -init")
	}
	if *save != "" {
		if err := fc.Save(*save); err != nil {
			return err
		}
	}
	per, geo, err := forecast.ValidationMASE(ctx, fc, series, []int{1, 12, 30})
	if err != nil {
		return err
	}
	for i, s := range series {
		fmt.Printf("%-40s %.3f %.3f %.3f\n", s.Name, per[i][0], per[i][1], per[i][2])
	}
	for _, m := range fc.Info().Members {
		fmt.Printf("network seed %d: best epoch %d of %d\n", m.Seed, m.BestEpoch, m.Epochs)
	}
	fmt.Printf("validation MASE h=1/12/30: %.3f %.3f %.3f\n", geo[0], geo[1], geo[2])
	return nil
}

type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, ",") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

func runFold(args []string) error {
	fs := flag.NewFlagSet("fold", flag.ExitOnError)
	c := addCommon(fs, 20, 5, 2)
	data := fs.String("data", "testdata/nab", "folder of the 13 shipped series")
	folds := fs.Int("folds", 4, "folds")
	fold := fs.Int("fold", 0, "the fold held out, 0-based")
	split := fs.String("split", "test", "the held-out series' split to score: test (to report) or validation (to choose on)")
	var extra stringsFlag
	fs.Var(&extra, "extra", "a CSV file to train on besides the fold's series (repeatable; never a series scored later)")
	save := fs.String("save", "", "save the fold's forecaster to this file")
	loadFC := fs.String("load", "", "score this forecaster (saved by -save for the same -folds and -fold) instead of training one")
	withSwitch := fs.Bool("switch", false, "also print each held-out series' MASE of forecast.Switch")
	addTrees := fs.Bool("add-switch-trees", false, "fit the switch's trees (forecast.DefaultSwitchTreeOptions) on the fold's training series onto the forecaster trained or loaded, before -save")
	treeHorizons := fs.String("switch-tree-horizons", "", "with -add-switch-trees: the comma-separated horizons that get their own model (empty: the default's)")
	colSample := fs.Float64("switch-tree-colsample", 0, "with -add-switch-trees: the share of features each tree may split on (0: the default's)")
	rowSample := fs.Float64("switch-tree-rowsample", 0, "with -add-switch-trees: the share of rows each tree is fitted on (0: the default's)")
	treeSeed := fs.Uint64("switch-tree-seed", 0, "with -add-switch-trees: the trees' sampling seed (0: the default's)")
	fs.Parse(args)
	if *split != "test" && *split != "validation" {
		return fmt.Errorf("fold: -split %q: want test or validation", *split)
	}
	series, err := loadShipped(*data)
	if err != nil {
		return err
	}
	train, held := forecast.Fold(series, *folds, *fold)
	more, err := load(extra)
	if err != nil {
		return err
	}
	train = append(train, more...)
	o, err := c.options()
	if err != nil {
		return err
	}
	ctx := context.Background()
	var fc *forecast.Forecaster
	if *loadFC != "" {
		fc, err = forecast.Open(*loadFC)
	} else {
		fc, err = forecast.Train(ctx, train, o)
	}
	if err != nil {
		return err
	}
	if *addTrees {
		o.SwitchTrees = forecast.DefaultSwitchTreeOptions()
		if *colSample > 0 {
			o.SwitchTrees.Params.ColSample = *colSample
		}
		if *treeSeed > 0 {
			o.SwitchTrees.Params.Seed = *treeSeed
		}
		if *rowSample > 0 {
			o.SwitchTrees.Params.RowSample = *rowSample
		}
		if *treeHorizons != "" {
			for _, f := range strings.Split(*treeHorizons, ",") {
				h, err := strconv.Atoi(strings.TrimSpace(f))
				if err != nil {
					return fmt.Errorf("fold: -switch-tree-horizons %q: %v", *treeHorizons, err)
				}
				o.SwitchTrees.Horizons = append(o.SwitchTrees.Horizons, h)
			}
		}
		o.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		if fc, err = forecast.AddSwitchTrees(ctx, fc, train, o); err != nil {
			return err
		}
	}
	if *save != "" {
		if err := fc.Save(*save); err != nil {
			return err
		}
	}
	hs := []int{1, 12, 30}
	if *split == "validation" {
		// No network of this fold saw these series: their validation
		// split is data a recipe choice may be made on.
		per, _, err := forecast.ValidationMASE(ctx, fc, held, hs)
		if err != nil {
			return err
		}
		for i, s := range held {
			fmt.Printf("%-40s %.3f %.3f %.3f", s.Name, per[i][0], per[i][1], per[i][2])
			if *withSwitch {
				// Fitted on the training split (its first 70/85 choose
				// the penalty, as on the test split), fed through the
				// validation split.
				sp := baseline.SplitOf(s.Len())
				m, err := switchMASE(fc, s, sp.Train, sp.Train*70/85, sp.Train, sp.Fit(), hs)
				if err != nil {
					return err
				}
				fmt.Printf("  switch %.3f %.3f %.3f", m[0], m[1], m[2])
			}
			fmt.Println()
		}
		return nil
	}
	for _, s := range held {
		out, _, _, err := fc.TestForecasts(ctx, s, hs)
		if err != nil {
			return err
		}
		sp := baseline.SplitOf(s.Len())
		tg, d := baseline.Targets(sp), baseline.NaiveScale(s.Values, sp)
		fmt.Printf("%-40s", s.Name)
		for k := range hs {
			var sum float64
			for i, j := range tg {
				sum += math.Abs(out[k][i] - s.Values[j])
			}
			fmt.Printf(" %.3f", sum/float64(len(tg))/d)
		}
		if *withSwitch {
			m, err := switchMASE(fc, s, sp.Fit(), sp.Train, sp.Fit(), sp.N, hs)
			if err != nil {
				return err
			}
			fmt.Printf("  switch %.3f %.3f %.3f", m[0], m[1], m[2])
		}
		fmt.Println()
	}
	return nil
}

// switchMASE is the MASE at each horizon of hs of forecast.Switch on the
// targets lo..hi-1 of s: fitted on its first fitEnd steps (nTrain of them
// choosing the penalty), then fed from the first step.
func switchMASE(fc *forecast.Forecaster, s baseline.Series, fitEnd, nTrain, lo, hi int, hs []int) ([]float64, error) {
	sw := forecast.NewSwitch(fc)
	if err := sw.Fit(s.Slice(0, fitEnd), nTrain); err != nil {
		return nil, err
	}
	sw.Reset()
	sum := make([]float64, len(hs))
	for t := 0; t < hi-1; t++ {
		sw.Update(s.Values[t])
		for k, h := range hs {
			if j := t + h; j >= lo && j < hi {
				p, err := sw.Forecast(h)
				if err != nil {
					return nil, fmt.Errorf("%s: switch at origin %d: %w", s.Name, t, err)
				}
				sum[k] += math.Abs(p - s.Values[j])
			}
		}
	}
	d := baseline.NaiveScale(s.Values, baseline.SplitOf(s.Len()))
	for k := range sum {
		sum[k] /= float64(hi-lo) * d
	}
	return sum, nil
}
