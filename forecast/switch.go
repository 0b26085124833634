package forecast

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/novacron/perfpredict/baseline"
)

// SwitchMethod is the name of a Switch in a Report.
const SwitchMethod = "switch"

// SwitchHalfLife is the half-life, in steps, of the one-step errors a
// Switch compares: one day at a 5-minute cadence (chosen across series,
// PROTOCOL.md, "A per-series switch"). The errors at horizon h have a
// half-life of SwitchHalfLife / h^(1/4) steps (155 at h = 12, 123 at
// h = 30; PROTOCOL.md, "A shorter memory at longer horizons").
const SwitchHalfLife = 288

// SwitchLags is the number of lags of a Switch's ridge autoregression, as
// in the ridge_ar baseline.
const SwitchLags = 60

// SwitchWindow is the number of a Switch's latest errors at a horizon whose
// 10% and 90% quantiles make half of its 80% interval (six hours at a
// 5-minute cadence; chosen across series, PROTOCOL.md, "A per-series
// switch").
const SwitchWindow = 72

// A Switch detects a break in the level when the autoregression's
// one-step error exceeds switchBreakRatio times its weighted mean for
// switchBreakRun targets in a row (once the weights sum to
// switchBreakMinWeight). Chosen across series, PROTOCOL.md, "A per-series
// switch".
const (
	switchBreakRatio     = 4
	switchBreakRun       = 3
	switchBreakMinWeight = 50
)

// switchMinErrors is the number of errors at a horizon a Switch needs
// before its interval reads them; before that it is the network's
// interval moved onto the switch's forecast.
const switchMinErrors = 50

// Switch follows one series and forecasts it with whichever of its
// forecasters, or of their averages, has erred less on it lately, horizon
// by horizon. Its forecasters are the Forecaster's networks, which know
// many series but read only the last Needs() observations of this one; a
// ridge autoregression fitted on this series' own history
// (baseline.RidgeAR, SwitchLags lags), which knows its long-run level and
// rhythm; and, when the Forecaster was trained with them
// (Options.SwitchTrees), gradient-boosted trees global over the training
// series that read this one's last SwitchTreeHistory observations in its
// own unit, each horizon's corrected by small trees Fit fits on this
// series' history (what the global trees leave unexplained of it). For
// each horizon h it keeps the exponentially weighted mean absolute error
// (half-life SwitchHalfLife / h^(1/4) steps) of every forecaster's h-step forecasts
// whose targets it has seen and of every average of two or three of them,
// and forecasts with the one whose error is least (the average of all on
// a tie and before any target has been seen; the one that can forecast
// when the others cannot).
//
// The autoregression remembers the level it was fitted on, so after a
// break in the level it keeps pulling its forecasts back while its
// weighted error, built over days, still looks good. A Switch therefore
// watches the autoregression's one-step errors: when three in a row
// exceed four times their weighted mean, it forgets the errors and scores
// only forecasts from origins since the break (three steps before it was
// detected), forecasting with the network, which reads the level from the
// last observations, until it has some at each horizon.
//
// Switch has the life cycle of a baseline.Forecaster (Fit once, then Update
// for every observation and never refit), so Evaluate scores it as the
// baselines are scored, and a user who follows a series serves it the same
// way. The network's forecasts are computed lazily, in batches, when a
// forecast is asked for.
type Switch struct {
	fc *Forecaster
	ar *baseline.RidgeAR
	// decay[h-1] is the factor on the weighted errors at horizon h per
	// target (their half-life, SwitchHalfLife / h^(1/4)).
	decay []float64
	ctx   context.Context
	// unit is the trees' unit, the naive one-step error of the rows Fit
	// chose the autoregression's penalty on.
	unit float64
	// tm are the trees it forecasts with, the forecaster's corrected by
	// trees fitted on the history Fit was given (fitLocal); nil when the
	// trees are not among its forecasters (the forecaster has none, or
	// the unit is not positive).
	tm *treeModel
	// cands are the forecasts compared, as sets of forecasters (bits
	// expertNet, expertAR, expertTrees), averaged; ties go to the first.
	cands []uint8

	// values[i] is observation base+i: every observation from the
	// earliest one the pending origins' windows read.
	values []float64
	base   int
	n      int // observations seen
	// pending is the first origin whose network forecast is not computed.
	pending int
	// net, arF and tr hold each origin's forecasts for h = 1..K of the
	// networks, the autoregression and the trees, ring-indexed by origin
	// mod (K+1); netOK, arOK and trOK say whether they exist.
	net, arF, tr      [][]float64
	netOK, arOK, trOK []bool
	// errs[c] are candidate c's weighted error sums per horizon, weight
	// the sums of their weights.
	errs   [][]float64
	weight []float64
	// pick holds each origin's forecasts by the switch (ring-indexed as
	// net), made with the errors known at that origin; pickOK says whether
	// they exist. netLo and netHi are the network's p10 and p90 less its
	// forecast.
	pick, netLo, netHi [][]float64
	pickOK             []bool
	// pickLo and pickHi are each origin's P10 and P90 less its forecast,
	// as Point serves them.
	pickLo, pickHi [][]float64
	// resid[h-1] is a ring of the switch's latest errors (target less
	// forecast) at horizon h, nResid[h-1] how many were put in it (it
	// holds the last window); sorted[h-1] holds the same errors in order.
	resid, sorted [][]float64
	nResid        []int
	window        int
	// logLo and logHi per horizon are the logarithms of the factors on
	// the interval's lower and upper half-widths that the tracker keeps,
	// trackRate its step at h = 1 (switchTrackRate but in tests).
	logLo, logHi []float64
	trackRate    float64
	// breakRun counts the autoregression's one-step errors in a row above
	// switchBreakRatio times their mean; breakAt is the first origin whose
	// forecasts are scored since the last break (-1: none).
	breakRun, breakAt int
	// arScratch holds the autoregression's standardised window; feats and
	// trPred the trees' feature rows and forecasts of a batch, trScratch
	// their models' forecasts.
	arScratch, feats, trPred, trScratch []float64
	// err is the first error of the network, returned by Forecast.
	err error
}

// The forecasters of a Switch, as bits of a candidate.
const (
	expertNet uint8 = 1 << iota
	expertAR
	expertTrees
)

// switchCands are the candidates of a Switch of two forecasters and of
// three, in their order of preference on a tie.
var (
	switchCands2 = []uint8{expertNet | expertAR, expertNet, expertAR}
	switchCands3 = []uint8{expertNet | expertAR | expertTrees, expertNet | expertAR, expertNet | expertTrees,
		expertAR | expertTrees, expertNet, expertAR, expertTrees}
)

// NewSwitch returns an unfitted Switch over fc.
func NewSwitch(fc *Forecaster) *Switch {
	K := fc.Horizon()
	s := &Switch{fc: fc, ar: baseline.NewRidgeAR(SwitchLags, K), decay: make([]float64, K), ctx: context.Background()}
	for h := range s.decay {
		s.decay[h] = math.Pow(0.5, math.Pow(float64(h+1), 0.25)/SwitchHalfLife)
	}
	s.net, s.arF, s.tr, s.pick, s.netLo, s.netHi = grid(K+1, K), grid(K+1, K), grid(K+1, K), grid(K+1, K), grid(K+1, K), grid(K+1, K)
	s.pickLo, s.pickHi, s.logLo, s.logHi, s.trackRate = grid(K+1, K), grid(K+1, K), make([]float64, K), make([]float64, K), switchTrackRate
	s.netOK, s.arOK, s.trOK, s.pickOK = make([]bool, K+1), make([]bool, K+1), make([]bool, K+1), make([]bool, K+1)
	s.setCands(switchCands2)
	s.setWindow(SwitchWindow)
	s.breakAt, s.arScratch = -1, make([]float64, 0, SwitchLags)
	return s
}

func (s *Switch) setCands(cands []uint8) {
	K := s.fc.Horizon()
	s.cands, s.errs, s.weight = cands, grid(len(cands), K), make([]float64, K)
}

// setWindow sizes the rings of errors (SwitchWindow but in tests).
func (s *Switch) setWindow(w int) {
	K := s.fc.Horizon()
	s.window, s.resid, s.sorted, s.nResid = w, grid(K, w), make([][]float64, K), make([]int, K)
	for h := range s.sorted {
		s.sorted[h] = make([]float64, 0, w)
	}
}

func grid(rows, cols int) [][]float64 {
	g := make([][]float64, rows)
	for i := range g {
		g[i] = make([]float64, cols)
	}
	return g
}

// Name is SwitchMethod.
func (s *Switch) Name() string { return SwitchMethod }

// Fit fits the ridge autoregression on history (its first nTrain steps
// choose the penalty, as baseline.RidgeAR.Fit does), takes the trees'
// unit from those steps and fits the trees' corrections on history (the
// steps after nTrain stop them early), then replays history.
// The replay is lazy like Update's, but without Update's bound on the
// observations held (the caller holds them anyway), so a Reset right
// after Fit, as the protocol does, throws no network forecast away.
func (s *Switch) Fit(history baseline.Series, nTrain int) error {
	if err := s.ar.Fit(history, nTrain); err != nil {
		return fmt.Errorf("switch: %w", err)
	}
	s.unit = naiveUnit(history.Values[:min(max(nTrain, 0), len(history.Values))])
	s.tm = nil
	if s.fc.switchTrees != nil && s.unit > 0 && !math.IsInf(s.unit, 0) {
		tm, err := s.fc.switchTrees.fitLocal(s.ctx, history.Values, nTrain, s.unit)
		if err != nil {
			return fmt.Errorf("switch: %w", err)
		}
		s.tm = tm
		s.setCands(switchCands3)
	} else {
		s.setCands(switchCands2)
	}
	s.Reset()
	s.values = append(s.values, history.Values...)
	s.n = len(history.Values)
	return nil
}

// Fresh returns a new Switch with s's fitted parameters (its
// autoregression and its trees' corrections) and none of its
// observations, as s was after Fit and Reset, however much s has been fed
// since: for a caller that replays the series from its start without
// fitting again. s is only read, so it must not be fed at the same time.
func (s *Switch) Fresh() *Switch {
	out := NewSwitch(s.fc)
	ar := *s.ar // its coefficients shared: a Switch only reads them (ForecastFrom)
	out.ar, out.unit, out.tm, out.ctx, out.trackRate = &ar, s.unit, s.tm, s.ctx, s.trackRate
	out.setCands(s.cands)
	out.Reset()
	return out
}

// Reset empties the state (observations, forecasts and errors), keeping
// the fitted autoregression.
func (s *Switch) Reset() {
	s.values, s.base, s.n, s.pending, s.err = s.values[:0], 0, 0, 0, nil
	clear(s.netOK)
	clear(s.arOK)
	clear(s.trOK)
	clear(s.pickOK)
	s.breakRun, s.breakAt = 0, -1
	clear(s.nResid)
	for h := range s.sorted {
		s.sorted[h] = s.sorted[h][:0]
	}
	clear(s.logLo)
	clear(s.logHi)
	s.forget()
}

// forget clears the weighted errors.
func (s *Switch) forget() {
	for _, e := range s.errs {
		clear(e)
	}
	clear(s.weight)
}

// experts are the forecasters with forecasts from origin slot.
func (s *Switch) experts(slot int) uint8 {
	var m uint8
	if s.netOK[slot] {
		m |= expertNet
	}
	if s.arOK[slot] {
		m |= expertAR
	}
	if s.trOK[slot] {
		m |= expertTrees
	}
	return m
}

// all are the forecasters the switch compares.
func (s *Switch) all() uint8 {
	if s.tm != nil {
		return expertNet | expertAR | expertTrees
	}
	return expertNet | expertAR
}

// value is candidate c's forecast from origin slot at horizon index h:
// the mean of its forecasters'.
func (s *Switch) value(c uint8, slot, h int) float64 {
	var sum float64
	var n int
	if c&expertNet != 0 {
		sum += s.net[slot][h]
		n++
	}
	if c&expertAR != 0 {
		sum += s.arF[slot][h]
		n++
	}
	if c&expertTrees != 0 {
		sum += s.tr[slot][h]
		n++
	}
	return sum / float64(n)
}

// Update appends the observation v.
func (s *Switch) Update(v float64) {
	if s.ar.Coef == nil {
		panic("forecast: switch: Update before Fit")
	}
	s.values = append(s.values, v)
	s.n++
	// Bound the memory: score in batches of origins.
	if s.n-s.pending >= 4096 {
		s.catchUp()
	}
}

// catchUp forecasts from every pending origin with every forecaster and
// scores, in order, every target observed since.
func (s *Switch) catchUp() {
	K, need := s.fc.Horizon(), s.fc.Needs()
	keep := max(need, SwitchLags)
	if s.tm != nil {
		keep = max(keep, SwitchTreeHistory)
	}
	last := s.n - 1
	for s.pending <= last {
		hi := min(last, s.pending+1023)
		// The network forecasts from origins first..hi in one batch.
		first := max(s.pending, need-1)
		var hist [][]float64
		for t := first; t <= hi; t++ {
			hist = append(hist, s.values[t+1-need-s.base:t+1-s.base])
		}
		var fs []Forecast
		if len(hist) > 0 && s.err == nil {
			var err error
			if fs, err = s.fc.ForecastBatch(s.ctx, hist); err != nil {
				s.err, fs = err, nil
			}
		}
		// The trees forecast from origins trFrom..trTo, in batches of
		// switchTreeBatch as the loop below reaches them.
		trFrom, trTo := 0, -1
		for t := s.pending; t <= hi; t++ {
			// Score target t with the forecasts made before it, then
			// store origin t's (its slot held origin t-K-1's).
			y := s.values[t-s.base]
			s.watchBreak(t, y)
			for h := 1; h <= K && h <= t; h++ {
				o := (t - h) % (K + 1)
				if s.pickOK[o] {
					s.scoreInterval(o, h, y)
				}
				if s.experts(o) != s.all() || t-h < s.breakAt {
					continue
				}
				for c, cand := range s.cands {
					s.errs[c][h-1] = s.decay[h-1]*s.errs[c][h-1] + math.Abs(s.value(cand, o, h-1)-y)
				}
				s.weight[h-1] = s.decay[h-1]*s.weight[h-1] + 1
			}
			slot := t % (K + 1)
			s.netOK[slot], s.arOK[slot], s.trOK[slot] = false, false, false
			if t >= first && fs != nil {
				for h, p := range fs[t-first].Points {
					s.net[slot][h] = p.Value
					s.netLo[slot][h], s.netHi[slot][h] = p.P10-p.Value, p.P90-p.Value
				}
				s.netOK[slot] = true
			}
			if t+1 >= SwitchLags {
				s.ar.ForecastFrom(s.arF[slot], s.values[t+1-SwitchLags-s.base:t+1-s.base], s.arScratch)
				s.arOK[slot] = true
			}
			if s.tm != nil && t >= SwitchTreeHistory-1 {
				if t > trTo {
					trFrom, trTo = t, min(hi, t+switchTreeBatch-1)
					s.treeForecasts(trFrom, trTo)
				}
				last, p := s.values[t-s.base], s.trPred[(t-trFrom)*K:(t-trFrom+1)*K]
				for h := range K {
					s.tr[slot][h] = last + s.unit*p[h]
				}
				s.trOK[slot] = true
			}
			s.choose(slot)
		}
		s.pending = hi + 1
		// Keep what the next origins' windows need.
		if drop := s.pending - keep - s.base; drop > 0 {
			s.values = append(s.values[:0], s.values[drop:]...)
			s.base += drop
		}
	}
}

// switchTreeBatch is the most origins whose tree features a Switch holds
// at once (its scratch stays small however far it catches up).
const switchTreeBatch = 64

// treeForecasts puts into s.trPred the trees' forecasts [from..to, K] of
// the change in the unit.
func (s *Switch) treeForecasts(from, to int) {
	K, F, n := s.fc.Horizon(), numSwitchTreeFeatures, to-from+1
	s.feats = slices.Grow(s.feats[:0], n*F)[:n*F]
	for t := from; t <= to; t++ {
		i := t - from
		switchTreeFeatures(s.feats[i*F:(i+1)*F], s.values[t+1-SwitchTreeHistory-s.base:t+1-s.base], s.unit)
	}
	s.trPred = slices.Grow(s.trPred[:0], n*K)[:n*K]
	s.trScratch = s.tm.predict(s.trPred, s.feats, n, K, s.trScratch)
}

// watchBreak checks target t (observed y) for a break in the level: the
// autoregression's one-step forecast of it, against the mean of its
// one-step errors so far. On a break it forgets the weighted errors.
// The autoregression's errors are the candidate expertAR's.
func (s *Switch) watchBreak(t int, y float64) {
	K := s.fc.Horizon()
	o := (t - 1) % (K + 1)
	if t < 1 || !s.netOK[o] || !s.arOK[o] {
		return
	}
	errAR := s.errs[slices.Index(s.cands, expertAR)]
	if s.weight[0] >= switchBreakMinWeight && math.Abs(s.arF[o][0]-y) > switchBreakRatio*errAR[0]/s.weight[0] {
		s.breakRun++
	} else {
		s.breakRun = 0
	}
	if s.breakRun >= switchBreakRun {
		s.forget()
		s.breakRun, s.breakAt = 0, t-switchBreakRun
	}
}

// choose sets origin slot's forecasts by the switch from its forecasters'
// and the errors known now: per horizon, the candidate whose weighted
// error is least (the first in s.cands on a tie), among those whose
// forecasters could all forecast from the slot; before any target has
// been seen the average of those that could, and the network since a
// break.
func (s *Switch) choose(slot int) {
	ok := s.experts(slot)
	s.pickOK[slot] = ok != 0
	if ok == 0 {
		return
	}
	for h := range s.pick[slot] {
		if s.weight[h] == 0 {
			if s.breakAt >= 0 && ok&expertNet != 0 {
				s.pick[slot][h] = s.net[slot][h]
			} else {
				s.pick[slot][h] = s.value(ok, slot, h)
			}
			continue
		}
		best := -1
		for c, cand := range s.cands {
			if cand&ok == cand && (best < 0 || s.errs[c][h] < s.errs[best][h]) {
				best = c
			}
		}
		s.pick[slot][h] = s.value(s.cands[best], slot, h)
	}
	s.interval(slot)
}

// Forecast forecasts the value h steps after the last observation: Point's
// Value, without the interval.
func (s *Switch) Forecast(h int) (float64, error) {
	slot, err := s.origin(h)
	if err != nil {
		return 0, err
	}
	return s.pick[slot][h-1], nil
}

// origin catches up and returns the ring slot of the last observation's
// forecasts, or why there are none at horizon h.
func (s *Switch) origin(h int) (int, error) {
	K := s.fc.Horizon()
	if h < 1 || h > K {
		return 0, fmt.Errorf("forecast: switch: horizon %d: the forecaster forecasts h = 1..%d", h, K)
	}
	if s.n == 0 {
		return 0, baseline.ErrShortHistory
	}
	s.catchUp()
	slot := (s.n - 1) % (K + 1)
	if !s.pickOK[slot] {
		if s.err != nil {
			return 0, s.err
		}
		return 0, errors.Join(baseline.ErrShortHistory, fmt.Errorf("forecast: switch: %d observations; the forecaster needs %d", s.n, s.fc.Needs()))
	}
	return slot, nil
}

// Point is the forecast h steps after the last observation with its 80%
// interval: Value (= P50) is Forecast's; P10 and P90 are the bounds
// interval set for that origin, the ones the tracker then scores.
func (s *Switch) Point(h int) (Point, error) {
	slot, err := s.origin(h)
	if err != nil {
		return Point{}, err
	}
	v := s.pick[slot][h-1]
	return Point{Horizon: h, Value: v, P10: v + s.pickLo[slot][h-1], P50: v, P90: v + s.pickHi[slot][h-1]}, nil
}

// interval sets origin slot's P10 and P90 offsets from its forecast at
// every horizon h. They start from the mean of two offsets, the
// network's (its p10 and p90 less its forecast, which follow the
// window's volatility) and the 10% and 90% quantiles of the switch's own
// errors at h over its last SwitchWindow targets (conformal on a sliding
// window, which follows how well the switch does on this series and
// widens within hours after a break); before switchMinErrors such errors
// have been seen the network's offsets alone, and the errors' alone when
// the network has no forecast. Each half of the interval, below and above
// its centre, is then multiplied by the factor the tracker keeps for it
// (scoreInterval).
func (s *Switch) interval(slot int) {
	for h := range s.pick[slot] {
		var lo, hi float64
		switch {
		case s.nResid[h] >= switchMinErrors:
			lo, hi = baseline.QuantileSorted(s.sorted[h], 0.1), baseline.QuantileSorted(s.sorted[h], 0.9)
			if s.netOK[slot] {
				lo, hi = (lo+s.netLo[slot][h])/2, (hi+s.netHi[slot][h])/2
			}
		case s.netOK[slot]:
			lo, hi = s.netLo[slot][h], s.netHi[slot][h]
		}
		c, w := (lo+hi)/2, (hi-lo)/2
		s.pickLo[slot][h], s.pickHi[slot][h] = c-math.Exp(s.logLo[h])*w, c+math.Exp(s.logHi[h])*w
	}
}

// switchTrackRate and switchTrackMax set the tracker of a Switch's
// interval: each target at horizon h below the interval that was served
// for it multiplies the lower half-width at h by exp(0.9 rate/h), each one
// not below it by exp(-0.1 rate/h), and the same above, so that in the
// long run each tail holds about 10% of the series' targets (adaptive
// conformal inference, Gibbs and Candès 2021, on a scale, as the quantile
// tracker of Angelopoulos, Candès and Tibshirani 2023). A miss at h is known
// only h steps after the interval was served, and misses at h come in
// runs about h long: the step shrinks as 1/h so that one excursion does
// not count h times. The factors stay within [1/switchTrackMax,
// switchTrackMax], so that a spiky series, whose upper tail no interval
// of sensible width covers, does not widen its interval without end.
// Chosen across series, PROTOCOL.md, "The switch's interval tracks its
// coverage".
const (
	switchTrackRate = 0.03
	switchTrackMax  = 2
)

// scoreInterval scores the switch's forecast from origin slot o at
// horizon h against its target y: the tracker's factors follow whether y
// fell outside the interval served, and the error joins the window
// (unless it is NaN, which has no place in the sorted copy).
func (s *Switch) scoreInterval(o, h int, y float64) {
	r := y - s.pick[o][h-1]
	if math.IsNaN(r) {
		return
	}
	bound := math.Log(switchTrackMax)
	track := func(log *float64, miss bool) {
		step := -0.1
		if miss {
			step = 0.9
		}
		*log = min(max(*log+s.trackRate/float64(h)*step, -bound), bound)
	}
	track(&s.logLo[h-1], r < s.pickLo[o][h-1])
	track(&s.logHi[h-1], r > s.pickHi[o][h-1])
	n, ring, held := s.nResid[h-1], s.resid[h-1], s.sorted[h-1]
	if n >= s.window {
		// The oldest error leaves the window.
		i, _ := slices.BinarySearch(held, ring[n%s.window])
		held = slices.Delete(held, i, i+1)
	}
	i, _ := slices.BinarySearch(held, r)
	s.sorted[h-1] = slices.Insert(held, i, r) // within its capacity, the window
	ring[n%s.window] = r
	s.nResid[h-1]++
}

// switchForecasts are a Switch's forecasts of s's test targets at each
// horizon of hs with their p10 and p90, made as baseline.Forecasts makes
// a baseline's: fitted on the training and validation splits, then fed
// the series from its start. The autoregression's penalty is chosen on
// the last 15% of those rows (the protocol's proportions applied to the
// history the switch is given), so that a switch fitted by
// serve.NewService on the same rows and fed the same rows answers the
// same forecasts.
func switchForecasts(ctx context.Context, fc *Forecaster, s baseline.Series, hs []int) (out, lo, hi [][]float64, err error) {
	sw := NewSwitch(fc)
	sw.ctx = ctx
	y := s.Values
	sp := baseline.SplitOf(len(y))
	if err := sw.Fit(s.Slice(0, sp.Fit()), baseline.SplitOf(sp.Fit()).Train); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: fitting the switch: %w", s.Name, err)
	}
	sw.Reset()
	start := sp.TestStart()
	out, lo, hi = make([][]float64, len(hs)), make([][]float64, len(hs)), make([][]float64, len(hs))
	for t := 0; t < sp.N-1; t++ {
		sw.Update(y[t])
		for i, h := range hs {
			if j := t + h; j < start || j >= sp.N {
				continue
			}
			p, err := sw.Point(h)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: switch at origin %d, h=%d: %w", s.Name, t, h, err)
			}
			out[i], lo[i], hi[i] = append(out[i], p.Value), append(lo[i], p.P10), append(hi[i], p.P90)
		}
	}
	return out, lo, hi, nil
}
