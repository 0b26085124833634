// Command anchor scores a LightGBM-style global model on the 13 shipped
// series by the protocol (docs/PROTOCOL.md), the anchor issue 14 compares
// the forecaster with, written in Go so that it can also be run
// leave-series-out, as `perfpredict crossval` runs the forecaster.
//
// One gradient-boosted tree model (package gbdt, with LightGBM's default
// 31 leaves of at least 20 rows and 255 bins) per horizon, direct, over the
// pooled series: its features at origin t are the last values and rolling
// means and standard deviations, relative to the last value and in each
// series' naive-error unit (the mean absolute one-step change of its
// training split, MASE's denominator), that value in the unit, and the
// target's time of day and weekday; its target is the change to the
// target, in the unit, with an L1 loss. It is early-stopped on the
// validation splits, then fitted again with the best number of trees on
// the training and validation splits, and scored on the test splits.
//
//	go run ./tools/anchor [-folds K] [flags]
//
// Without -folds it trains on all 13 series and scores them (the setting
// of the anchor's figures in issue 14); -folds K trains fold k on the
// series forecast.Fold leaves in and scores those it holds out. It prints
// each series' MASE at h = 1, 12 and 30 and their geometric means.
//
// -theta, -arima and -ets score the statistical anchors issue 14 names
// instead, each fitted on each series alone as the protocol fits a
// baseline: the standard Theta method (theta.go, the core of AutoTheta),
// automatic ARIMA (arima.go, AutoARIMA's stepwise search) and automatic
// exponential smoothing (ets.go, AutoETS without a season, as it runs
// with one of 288 steps).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/gbdt"
	"github.com/novacron/perfpredict/internal/nabdata"
)

// config are the model's settings (flags).
type config struct {
	lags    []int // value k steps before the origin, for each k
	windows []int // rolling mean and standard deviation of the last w values
	change  bool  // target and lags relative to the last value (else the values)
	date    bool  // the target's time of day and weekday
	refit   bool  // fit again on training and validation with the best round
	params  gbdt.Params
}

// history is the number of observations up to an origin its features read.
func (c *config) history() int { return max(slices.Max(c.lags)+1, slices.Max(c.windows)) }

func (c *config) numFeatures() int { return len(c.lags) + 2*len(c.windows) + 3 }

// series is one series with its split and unit.
type series struct {
	baseline.Series
	split baseline.Split
	unit  float64 // the naive one-step MAE of the training split
	step  time.Duration
}

func wrap(ss []baseline.Series) []*series {
	out := make([]*series, len(ss))
	for i, s := range ss {
		sp := baseline.SplitOf(s.Len())
		out[i] = &series{Series: s, split: sp, unit: baseline.NaiveScale(s.Values, sp), step: s.Times[1].Sub(s.Times[0])}
	}
	return out
}

// features writes the features of origin t for horizon h into dst.
func (c *config) features(dst []float64, s *series, t, h int) {
	y, u := s.Values, s.unit
	ref := 0.0
	if c.change {
		ref = y[t]
	}
	i := 0
	for _, k := range c.lags {
		dst[i] = (y[t-k] - ref) / u
		i++
	}
	for _, w := range c.windows {
		var sum, sq float64
		for _, v := range y[t-w+1 : t+1] {
			sum += v
			sq += v * v
		}
		mean := sum / float64(w)
		dst[i], dst[i+1] = (mean-ref)/u, math.Sqrt(max(0, sq/float64(w)-mean*mean))/u
		i += 2
	}
	dst[i], dst[i+1] = 0, 0
	if c.date {
		at := s.Times[t].Add(time.Duration(h) * s.step)
		dst[i], dst[i+1] = float64(at.Hour())+float64(at.Minute())/60, float64(at.Weekday())
	}
	dst[i+2] = y[t] / u
}

// target is the training target of origin t at horizon h; forecast turns
// a prediction back into the series' units.
func (c *config) target(s *series, t, h int) float64 {
	if c.change {
		return (s.Values[t+h] - s.Values[t]) / s.unit
	}
	return s.Values[t+h] / s.unit
}

func (c *config) forecast(s *series, pred float64, t int) float64 {
	if c.change {
		return s.Values[t] + pred*s.unit
	}
	return pred * s.unit
}

// rows are the examples of the origins whose targets lie in [0, end(s))
// of each series, or in [start(s), end(s)).
func (c *config) rows(ss []*series, h int, start, end func(*series) int) *gbdt.Data {
	d := &gbdt.Data{Cols: c.numFeatures()}
	x := make([]float64, d.Cols)
	for _, s := range ss {
		for j := max(start(s), c.history()-1+h); j < end(s); j++ {
			c.features(x, s, j-h, h)
			d.X = append(d.X, x...)
			d.Y = append(d.Y, c.target(s, j-h, h))
			d.Rows++
		}
	}
	return d
}

// fit trains the model of horizon h on train's series.
func (c *config) fit(train []*series, h int) (*gbdt.Model, error) {
	zero := func(*series) int { return 0 }
	fitRows := c.rows(train, h, zero, func(s *series) int { return s.split.Train })
	valRows := c.rows(train, h, func(s *series) int { return s.split.Train }, func(s *series) int { return s.split.Fit() })
	m, hist, err := gbdt.Fit(context.Background(), c.params, fitRows, valRows)
	if err != nil || !c.refit {
		return m, err
	}
	p := c.params
	p.Rounds, p.Patience = max(1, hist.Best), 0
	m, _, err = gbdt.Fit(context.Background(), p, c.rows(train, h, zero, func(s *series) int { return s.split.Fit() }), nil)
	return m, err
}

// mase is the test MASE of m's forecasts of s at horizon h.
func (c *config) mase(m *gbdt.Model, s *series, h int) (float64, error) {
	tg := baseline.Targets(s.split)
	pred := make([]float64, len(tg))
	x := make([]float64, c.numFeatures())
	for i, j := range tg {
		c.features(x, s, j-h, h)
		pred[i] = c.forecast(s, m.Predict(x), j-h)
	}
	sc, err := baseline.Score(s.Values, pred)
	return sc.MASE, err
}

func main() {
	dir := flag.String("data", filepath.Join("testdata", "nab"), "the shipped series' directory")
	folds := flag.Int("folds", 0, "0: train on every series and score them; K: leave-series-out over K folds (forecast.Fold)")
	lags := flag.String("lags", "0-59", "lags of the origin's value, in steps: comma-separated numbers and ranges")
	windows := flag.String("windows", "12,48,288", "rolling windows, in steps")
	target := flag.String("target", "change", "change (from the last value) or level (the value itself), in the unit")
	loss := flag.String("loss", "l1", "l1 or l2")
	noDate := flag.Bool("no-date", false, "leave out the target's time of day and weekday")
	noRefit := flag.Bool("no-refit", false, "keep the early-stopped model instead of fitting again on the validation splits too")
	withTheta := flag.Bool("theta", false, "score the standard Theta method instead, fitted per series (a local model: -folds does not apply)")
	withARIMA := flag.Bool("arima", false, "score automatic ARIMA instead, fitted per series (a local model: -folds does not apply)")
	withETS := flag.Bool("ets", false, "score automatic exponential smoothing instead, fitted per series (a local model: -folds does not apply)")
	p := gbdt.DefaultParams()
	flag.IntVar(&p.Rounds, "rounds", 2000, "most trees per horizon")
	flag.Float64Var(&p.LearningRate, "lr", 0.05, "learning rate")
	flag.IntVar(&p.MaxLeaves, "leaves", 31, "most leaves per tree")
	flag.IntVar(&p.MinLeaf, "min-leaf", 20, "fewest rows per leaf")
	flag.Parse()
	p.Patience, p.Lambda, p.Workers = 50, 0, 2
	c := &config{date: !*noDate, refit: !*noRefit, change: *target == "change", params: p}
	err := func() error {
		var err error
		if c.lags, err = steps(*lags); err != nil {
			return fmt.Errorf("-lags: %w", err)
		}
		if c.windows, err = steps(*windows); err != nil || slices.Min(c.windows) < 1 {
			return fmt.Errorf("-windows %q: want windows of at least one step", *windows)
		}
		if *target != "change" && *target != "level" {
			return fmt.Errorf("-target %q: want change or level", *target)
		}
		switch *loss {
		case "l1":
			c.params.Loss = gbdt.LossL1
		case "l2":
			c.params.Loss = gbdt.LossL2
		default:
			return fmt.Errorf("-loss %q: want l1 or l2", *loss)
		}
		if *withTheta {
			return runLocal(*dir, func(period int) localModel { return newTheta(period) })
		}
		if *withARIMA {
			return runLocal(*dir, func(period int) localModel { return newAutoARIMA(period) })
		}
		if *withETS {
			return runLocal(*dir, func(int) localModel { return newAutoETS() })
		}
		return run(c, *dir, *folds)
	}()
	if err != nil {
		fmt.Fprintln(os.Stderr, "anchor:", err)
		os.Exit(1)
	}
}

// steps parses "0-3,12" as 0, 1, 2, 3, 12.
func steps(list string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(f, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a {
			return nil, fmt.Errorf("%q: want numbers >= 0 and ranges lo-hi", f)
		}
		for k := a; k <= b; k++ {
			out = append(out, k)
		}
	}
	return out, nil
}

// shipped loads the 13 series.
func shipped(dir string) ([]baseline.Series, error) {
	var all []baseline.Series
	for _, name := range nabdata.Series() {
		ss, err := baseline.LoadColumns(filepath.Join(dir, name), nil)
		if err != nil {
			return nil, err
		}
		for i := range ss {
			ss[i].Name = strings.TrimSuffix(filepath.Base(name), ".csv")
		}
		all = append(all, ss...)
	}
	return all, nil
}

// localModel is a model fitted on each series alone, and says what it
// chose.
type localModel interface {
	baseline.Forecaster
	describe() string
}

// runLocal prints a local model's test MASE per series at h = 1, 12 and 30
// by the protocol (fitted on the train and validation splits, then fed
// every observation) and their geometric means.
func runLocal(dir string, newModel func(period int) localModel) error {
	all, err := shipped(dir)
	if err != nil {
		return err
	}
	hs := []int{1, 12, 30}
	geo := make([]float64, len(hs))
	for _, s := range all {
		period, err := baseline.SeasonFromCadence(s.Times)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		start := time.Now()
		f := newModel(period)
		ms, err := baseline.EvaluateHorizons(s, f, hs...)
		if err != nil {
			return fmt.Errorf("%s: %w", s.Name, err)
		}
		fmt.Printf("%-40s %.3f %.3f %.3f  (%s; %s)\n", s.Name, ms[0].MASE, ms[1].MASE, ms[2].MASE, f.describe(), time.Since(start).Round(time.Second))
		for k := range hs {
			geo[k] += math.Log(ms[k].MASE) / float64(len(all))
		}
	}
	fmt.Printf("%-40s %.3f %.3f %.3f\n", "geometric mean", math.Exp(geo[0]), math.Exp(geo[1]), math.Exp(geo[2]))
	return nil
}

func run(c *config, dir string, folds int) error {
	all, err := shipped(dir)
	if err != nil {
		return err
	}
	type fold struct{ train, held []baseline.Series }
	runs := []fold{{all, all}}
	if folds > 0 {
		runs = nil
		for k := range folds {
			train, held := forecast.Fold(all, folds, k)
			runs = append(runs, fold{train, held})
		}
	}
	hs := []int{1, 12, 30}
	mase := map[string][]float64{}
	var order []string
	for r, rn := range runs {
		train, held := wrap(rn.train), wrap(rn.held)
		for _, s := range held {
			order = append(order, s.Name)
			mase[s.Name] = make([]float64, len(hs))
		}
		for k, h := range hs {
			start := time.Now()
			m, err := c.fit(train, h)
			if err != nil {
				return fmt.Errorf("run %d, h=%d: %w", r, h, err)
			}
			fmt.Fprintf(os.Stderr, "run %d of %d, h=%d: %d trees, %s\n", r+1, len(runs), h, m.Trees(), time.Since(start).Round(time.Second))
			for _, s := range held {
				if mase[s.Name][k], err = c.mase(m, s, h); err != nil {
					return fmt.Errorf("%s: %w", s.Name, err)
				}
			}
		}
	}
	geo := make([]float64, len(hs))
	for _, name := range order {
		fmt.Printf("%-40s %.3f %.3f %.3f\n", name, mase[name][0], mase[name][1], mase[name][2])
		for k := range hs {
			geo[k] += math.Log(mase[name][k]) / float64(len(order))
		}
	}
	fmt.Printf("%-40s %.3f %.3f %.3f\n", "geometric mean", math.Exp(geo[0]), math.Exp(geo[1]), math.Exp(geo[2]))
	return nil
}
