package forecast

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/baseline"
)

// windows accumulates network windows and their targets.
type windows struct {
	x, y []float32
	n    int
	// where each window comes from (validation windows, for calibration).
	series []int
	origin []int
	unit   []float64
}

// add appends the window of y ending at origin t with targets h = 1..K
// (clipped) when withTargets.
func (w *windows) add(r Recipe, y []float64, s, t int) {
	f := len(r.Inputs)
	w.x = slices.Grow(w.x, r.Window*f)[:len(w.x)+r.Window*f]
	u := r.window(w.x[len(w.x)-r.Window*f:], y[:t+1])
	for h := 1; h <= r.Horizon; h++ {
		v := (y[t+h] - y[t]) / u
		w.y = append(w.y, float32(math.Max(-r.TargetClip, math.Min(r.TargetClip, v))))
	}
	w.series = append(w.series, s)
	w.origin = append(w.origin, t)
	w.unit = append(w.unit, u)
	w.n++
}

// Train fits a forecaster on the training split of every series at once
// (PROTOCOL.md's first 70% of each series' steps), stops early on the
// validation split (the next 15%), and calibrates its intervals on the
// validation split. The test split is never read. Series must be finite
// and not constant over their training split; an error names the series.
//
// When ctx is cancelled after at least one epoch, Train returns the
// forecaster learnt so far (the finished networks and the best epoch of
// the one in progress, calibrated) together with an error wrapping
// ErrInterrupted and ctx's error, so a caller can save it.
func Train(ctx context.Context, series []baseline.Series, opt Options) (*Forecaster, error) {
	if err := opt.Check(); err != nil {
		return nil, err
	}
	if len(series) == 0 {
		return nil, badInput(fmt.Errorf("forecast: no series to train on"))
	}
	r := opt.recipe()
	K, needs := r.Horizon, r.Needs()
	tr, va := &windows{}, &windows{}
	for si, s := range series {
		trainEnd, valEnd := opt.Split(s.Len())
		if err := checkTrainable(s, r, trainEnd, valEnd); err != nil {
			return nil, err
		}
		y := s.Values
		// The most recent training window first, so a stride keeps it.
		for t := trainEnd - 1 - K; t >= needs-1; t -= opt.Stride {
			tr.add(r, y, si, t)
			if tr.n%4096 == 0 && ctx.Err() != nil {
				return nil, fmt.Errorf("forecast: building training windows: %w", ctx.Err())
			}
		}
		for t := max(trainEnd-1, needs-1); t+K < valEnd; t++ {
			va.add(r, y, si, t)
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("forecast: building windows: %w", err)
		}
	}
	plain := tr.n
	if opt.ShiftAugment > 0 && tr.n > 0 {
		values := make([][]float64, len(series))
		for i, s := range series {
			values[i] = s.Values
		}
		augmentShifts(tr, r, values, opt.ShiftAugment, opt.Seed)
	}
	if tr.n < 2 {
		return nil, badInput(fmt.Errorf("forecast: %d training windows of %d steps (scale over %d) for horizon %d; need at least 2 (longer series or a shorter window)",
			tr.n, r.Window, r.ScaleWindow, K))
	}
	f := len(r.Inputs)
	trainDS, err := perfpredict.NewDataset(tr.x, tr.y, tr.n, r.Window, f, K)
	if err != nil {
		return nil, err
	}
	var valDS perfpredict.Dataset
	if va.n > 0 {
		if valDS, err = perfpredict.NewDataset(va.x, va.y, va.n, r.Window, f, K); err != nil {
			return nil, err
		}
	}
	fc := &Forecaster{recipe: r, info: Info{Created: time.Now().UTC().Truncate(time.Second)}}
	for _, s := range series {
		fc.info.Series = append(fc.info.Series, s.Name)
	}
	logf := opt.logger()
	names := make([]string, f)
	for i, in := range r.Inputs {
		names[i] = in.String()
	}
	// Build every network first (on the CPU, where a bad setting is bad
	// input), then move it to its device.
	ms := make([]*perfpredict.Model, opt.Ensemble)
	for i := range ms {
		cfg := opt.config(i)
		dev := cfg.Device
		cfg.Device = perfpredict.DeviceCPU
		m, err := perfpredict.New(cfg, f, K)
		if err != nil {
			return nil, badInput(fmt.Errorf("forecast: %w", err))
		}
		if err := opt.initMember(m, i); err != nil {
			return nil, err
		}
		if dev != perfpredict.DeviceCPU {
			if err := m.UseDevice(dev, opt.Logf); err != nil {
				return nil, fmt.Errorf("forecast: device %s: %w", dev, err)
			}
			if dev == perfpredict.DeviceAuto && m.Device() == perfpredict.DeviceCPU {
				opt.Device = perfpredict.DeviceCPU // the others without repeating the log line
			}
		}
		m.FeatureNames, m.Target, m.Horizon = names, memberTarget, K
		ms[i] = m
	}
	// The networks are independent: on the CPU they train at the same time,
	// as many as there are cores. At the recipe's size one network cannot
	// use a second core (its products are too small to split), so this is
	// what makes an ensemble cost what one network costs. Each network's
	// arithmetic does not depend on the goroutine it runs on, so the result
	// is bit-identical to training them one after another.
	workers := 1
	if !opt.Sequential && ms[0].Device() == perfpredict.DeviceCPU {
		workers = min(opt.Ensemble, runtime.GOMAXPROCS(0))
	}
	hists := make([]*perfpredict.History, opt.Ensemble)
	errs := make([]error, opt.Ensemble)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, m := range ms {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break // the networks not started yet are not started
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			logf("network %d of %d (seed %d): %d series, %d training windows (every %d steps) and %d copies with a level shift, %d validation windows, %d parameters",
				i+1, opt.Ensemble, m.Config().Seed, len(series), plain, opt.Stride, tr.n-plain, va.n, m.NumParams())
			var topts []perfpredict.TrainOption
			if opt.Progress != nil {
				topts = append(topts, perfpredict.WithProgress(func(p perfpredict.Progress) { opt.Progress(i, p) }))
			}
			// With a network per core, each keeps to its goroutine: splitting
			// its directions and products over cores the other network
			// occupies only adds hand-offs (the results are the same bits).
			m.Serial = workers > 1
			hists[i], errs[i] = m.Train(ctx, trainDS, valDS, topts...)
			m.Serial = false
			if errs[i] == nil {
				logf("network %d: best epoch %d of %d, validation loss %.4f", i+1, hists[i].BestEpoch, len(hists[i].Epochs), hists[i].BestLoss)
			}
		}()
	}
	wg.Wait()
	for i, m := range ms {
		if errs[i] == nil && hists[i] != nil {
			fc.addMember(m, m.Config().Seed, hists[i])
			continue
		}
		if ctx.Err() == nil {
			return nil, fmt.Errorf("forecast: training network %d: %w", i+1, errs[i])
		}
	}
	if err := ctx.Err(); err != nil {
		// Interrupted: keep what was learnt (the finished networks and the
		// best epoch so far of those cut short), calibrated.
		fc.members, fc.info.Members, fc.histories = nil, nil, nil
		for i, m := range ms {
			if h := hists[i]; h != nil && h.BestEpoch > 0 {
				fc.addMember(m, m.Config().Seed, h)
			}
		}
		if len(fc.members) == 0 {
			return nil, fmt.Errorf("forecast: training: %w", err)
		}
		if cerr := fc.calibrate(context.WithoutCancel(ctx), series, va); cerr != nil {
			return nil, cerr
		}
		return fc, fmt.Errorf("forecast: %w with %d of %d networks kept: %w", ErrInterrupted, len(fc.members), opt.Ensemble, err)
	}
	if opt.Trees != nil {
		if err := fc.fitTrees(ctx, series, opt, va); err != nil {
			return nil, err
		}
	}
	if err := fc.calibrate(ctx, series, va); err != nil {
		return nil, err
	}
	if opt.SwitchTrees != nil {
		if err := fc.fitSwitchTrees(ctx, series, opt); err != nil {
			if cerr := ctx.Err(); cerr != nil {
				// Interrupted: keep the networks, calibrated; a Switch
				// over them has two forecasters.
				return fc, fmt.Errorf("forecast: %w with the switch's trees left out: %w", ErrInterrupted, cerr)
			}
			return nil, err
		}
	}
	return fc, nil
}

func (fc *Forecaster) addMember(m *perfpredict.Model, seed uint64, hist *perfpredict.History) {
	fc.members = append(fc.members, m)
	fc.info.Members = append(fc.info.Members, MemberInfo{Seed: seed, BestEpoch: hist.BestEpoch,
		Epochs: len(hist.Epochs), ValLoss: hist.BestLoss})
	fc.histories = append(fc.histories, hist)
}

// checkTrainable rejects a series the recipe cannot learn from: steps
// [0, trainEnd) train it and [trainEnd, valEnd) validate.
func checkTrainable(s baseline.Series, r Recipe, trainEnd, valEnd int) error {
	if trainEnd < r.Needs()+r.Horizon {
		return badInput(fmt.Errorf("forecast: series %s: %d steps (%d for training) are too few for the recipe's %d-step history plus horizon %d",
			s.Name, s.Len(), trainEnd, r.Needs(), r.Horizon))
	}
	for i, v := range s.Values[:valEnd] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return badInput(fmt.Errorf("forecast: series %s: step %d is %v", s.Name, i+1, v))
		}
	}
	if baseline.NaiveScale(s.Values[:trainEnd], baseline.Split{N: trainEnd, Train: trainEnd}) == 0 {
		return badInput(fmt.Errorf("forecast: series %s: constant over its training split (%d steps)", s.Name, trainEnd))
	}
	return nil
}

// calibrate sets the interval offsets from the ensemble's residuals on the
// validation windows, per horizon, in ScaleSpread's scale: the 10% and
// 90% quantiles with each series' windows weighted equally (a long series
// would otherwise set them alone), times IntervalWidth.
func (fc *Forecaster) calibrate(ctx context.Context, series []baseline.Series, va *windows) error {
	res, w, err := fc.residuals(ctx, series, va, ScaleSpread)
	if err != nil {
		return err
	}
	fc.calib = newCalibration(res, w, ScaleSpread, IntervalWidth)
	return nil
}

// residuals are the ensemble's residuals on the validation windows va in
// the interval scale named scale, per horizon index, with weights that sum
// to 1 over each series' windows.
func (fc *Forecaster) residuals(ctx context.Context, series []baseline.Series, va *windows, scale string) (res, w [][]float64, err error) {
	K := fc.recipe.Horizon
	res, w = make([][]float64, K), make([][]float64, K)
	if va.n == 0 {
		return res, w, nil
	}
	pred, _, err := fc.predict(ctx, va.x, fc.treeInputs(series, va), va.n, false)
	if err != nil {
		return nil, nil, err
	}
	count := map[int]int{}
	for _, s := range va.series {
		count[s]++
	}
	c := Calibration{Scale: scale}
	sc := make([]float64, K)
	core := fc.recipe.core()
	for i := range va.n {
		y, t, u := series[va.series[i]].Values, va.origin[i], va.unit[i]
		c.scales(sc, y[t+1-core:t+1], u)
		wi := 1 / float64(count[va.series[i]])
		for h := 1; h <= K; h++ {
			point := y[t] + u*float64(pred[i*K+h-1])
			res[h-1] = append(res[h-1], (y[t+h]-point)/sc[h-1])
			w[h-1] = append(w[h-1], wi)
		}
	}
	return res, w, nil
}
