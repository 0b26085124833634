package integration

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
)

// Options bound how a tuner changes settings. Zero values take the defaults
// in brackets.
type Options struct {
	MaxStep           int     // grid steps per setting per change [1]
	Hysteresis        float64 // relative predicted improvement needed to move [0.03]
	RollbackTolerance float64 // relative measured worsening after a change that undoes it [0.10]
	Cooldown          int     // intervals without changes after a rollback [2]
	BucketRatio       float64 // conditions within this ratio share a learning bucket [1.4]
	Memory            int     // observations a running estimate averages over at most [20]
	Optimism          float64 // standard errors an estimate is shifted towards better when exploring [1]
	NoExplore         bool    // only move to settings already measured near this condition
	ExploreEvery      int     // intervals since the last change before exploring again [10]
}

func (o Options) withDefaults() Options {
	if o.MaxStep <= 0 {
		o.MaxStep = 1
	}
	if o.Hysteresis <= 0 {
		o.Hysteresis = 0.03
	}
	if o.RollbackTolerance <= 0 {
		o.RollbackTolerance = 0.10
	}
	if o.Cooldown < 0 {
		o.Cooldown = 0
	} else if o.Cooldown == 0 {
		o.Cooldown = 2
	}
	if !(o.BucketRatio > 1) {
		o.BucketRatio = 1.4
	}
	if o.Memory <= 0 {
		o.Memory = 20
	}
	if o.ExploreEvery <= 0 {
		o.ExploreEvery = 10
	}
	if !(o.Optimism > 0) {
		o.Optimism = 1
	}
	return o
}

// Decision is what a tuner did after an interval.
type Decision struct {
	Changed  bool       `json:"changed"`
	Rollback bool       `json:"rollback"`
	From     [2]float64 `json:"from"`
	To       [2]float64 `json:"to"`
	Reason   string     `json:"reason"`
}

// SetterError reports an engine setter that failed; the tuner kept (and
// restored) the previous settings.
type SetterError struct {
	Component string
	Setting   string
	Value     float64
	Err       error
}

func (e *SetterError) Error() string {
	return fmt.Sprintf("integration: %s: %s(%v) failed, previous settings kept: %v", e.Component, e.Setting, e.Value, e.Err)
}

func (e *SetterError) Unwrap() error { return e.Err }

// ErrNoTelemetry is returned by predictions before anything was observed.
var ErrNoTelemetry = errors.New("integration: no telemetry observed yet")

// objective scores predicted or measured metrics: obj is minimised among
// feasible settings (viol <= 0); infeasible ones rank by viol.
type objective func(m []float64) (obj, viol float64)

// rank folds (obj, viol) into one number: every feasible score is below every
// infeasible one.
func rank(obj, viol float64) float64 {
	if viol <= 0 {
		return obj
	}
	return 1e9 * (1 + viol)
}

// cell is a running estimate of the metrics of one setting in one condition
// bucket.
type cell struct {
	n    int
	mean []float64
	vari []float64 // exponentially weighted variance of one observation
}

type cellKey struct {
	a, b int
	ctx  int // discrete context (cluster size), 0 when unused
}

// engine applies grid settings; set applies axis value v.
type engine struct {
	names [2]string
	set   [2]func(v float64) error
}

// gridTuner is the learning and decision core shared by the HDE, PBA and ACP
// tuners: two settings on a grid, metrics learned per setting and condition
// bucket, local linear regression across buckets, step-limited moves with
// hysteresis, exploration of unmeasured neighbours, and rollback.
type gridTuner struct {
	component string
	axes      [2][]float64
	metrics   []string
	opts      Options
	eng       engine
	cur       [2]int
	cells     map[cellKey]map[int]*cell // setting -> condition bucket -> estimate

	// Variance of single observations across every setting, a floor on
	// each estimate's uncertainty: observations of one setting taken in one
	// burst agree with each other far more than the next burst will.
	pooled    []float64
	pooledN   int
	lastCond  float64
	lastM     []float64 // metrics last measured
	lastCtx   int
	lastScore float64
	observed  bool
	pending   *trial
	cooldown  int
	sinceMove int // decisions since the last change

	// A model that scores every setting directly (PBA replay) replaces the
	// neighbour search when set and ready: target is where it leads, score
	// a setting's predicted rank over the remembered history, before its
	// rank in the latest interval alone.
	direct *directModel

	// plan, when set, is what the next interval is forecast to bring; the
	// decisions until the next observation plan on it (see Expectation).
	plan *plan

	Changes, Rollbacks, SetterFailures int
	// Expectations counts the forecasts received.
	Expectations int
}

type directModel struct {
	target func() ([2]int, float64, bool) // where to head and its optimistic score
	score  func(i [2]int) (float64, bool)
	before func(i [2]int) (float64, bool)
}

type trial struct {
	from        [2]int
	beforeScore float64
	// settle is how many intervals after the change pass before it is
	// judged: the first one still carries the old setting's backlog.
	settle int
	// judge is how many intervals the judgement averages (at least one):
	// where one interval's outcome is mostly noise, a rollback on it would
	// undo good changes as often as bad ones.
	judge               int
	sumAfter, sumBefore float64
	n                   int
}

// directJudge is the judging window of a change the direct model made.
const directJudge = 3

func newGridTuner(component string, axes [2][]float64, metrics []string, start [2]float64, eng engine, opts Options) *gridTuner {
	return &gridTuner{component: component, axes: axes, metrics: metrics, opts: opts.withDefaults(), eng: eng,
		cur: [2]int{nearest(axes[0], start[0]), nearest(axes[1], start[1])}, cells: map[cellKey]map[int]*cell{}}
}

func nearest(axis []float64, v float64) int {
	best := 0
	for i, a := range axis {
		if math.Abs(a-v) < math.Abs(axis[best]-v) {
			best = i
		}
	}
	return best
}

func (t *gridTuner) bucketPos(cond float64) float64 {
	return math.Log(math.Max(cond, 1e-3)) / math.Log(t.opts.BucketRatio)
}

// observe records metrics measured with settings at a condition.
func (t *gridTuner) observe(settings [2]float64, cond float64, ctx int, m []float64, obj objective) error {
	if math.IsNaN(cond) || math.IsInf(cond, 0) || cond < 0 {
		return fmt.Errorf("integration: %s telemetry: condition must be finite and non-negative, got %v (a gap?)", t.component, cond)
	}
	for i, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return fmt.Errorf("integration: %s telemetry: %s must be finite and non-negative, got %v (a gap?)", t.component, t.metrics[i], v)
		}
	}
	a, b := nearest(t.axes[0], settings[0]), nearest(t.axes[1], settings[1])
	k, bucket := cellKey{a, b, ctx}, int(math.Round(t.bucketPos(cond)))
	if t.cells[k] == nil {
		t.cells[k] = map[int]*cell{}
	}
	c := t.cells[k][bucket]
	if c == nil {
		c = &cell{mean: make([]float64, len(m)), vari: make([]float64, len(m))}
		t.cells[k][bucket] = c
	}
	if t.pooled == nil {
		t.pooled = make([]float64, len(m))
	}
	if c.n > 0 {
		// Residuals against the setting's own estimate measure noise, not
		// the differences between settings.
		t.pooledN++
		pw := 1 / float64(min(t.pooledN, 10*t.opts.Memory))
		for i, v := range m {
			r := v - c.mean[i]
			t.pooled[i] += pw * (r*r - t.pooled[i])
		}
	}
	c.n++
	w := 1 / float64(min(c.n, t.opts.Memory))
	for i, v := range m {
		delta := v - c.mean[i]
		c.mean[i] += w * delta
		c.vari[i] = (1 - w) * (c.vari[i] + w*delta*delta)
	}
	t.lastCond, t.lastCtx, t.observed = cond, ctx, true
	t.lastM = append(t.lastM[:0], m...)
	t.plan = nil // a forecast made before this interval is stale now
	o, v := obj(m)
	t.lastScore = rank(o, v)
	if a != t.cur[0] || b != t.cur[1] {
		// The engine runs something else than we set (changed by hand):
		// follow it rather than fight it.
		t.cur, t.pending = [2]int{a, b}, nil
	}
	return nil
}

// predict estimates the metrics of grid setting (a, b) at cond by kernel
// weighted local linear regression over condition buckets; support is the
// kernel weight of the buckets with data (about 1 for data at this very
// bucket).
func (t *gridTuner) predict(a, b, ctx int, cond float64) (m []float64, support float64) {
	m, _, support = t.predictSE(a, b, ctx, cond)
	return m, support
}

// predictSE is predict with the standard error of each estimate.
func (t *gridTuner) predictSE(a, b, ctx int, cond float64) (m, se []float64, support float64) {
	pos := t.bucketPos(cond)
	var xs, ws []float64
	var ys, vs [][]float64
	neff := 0.0
	byBucket := t.cells[cellKey{a, b, ctx}]
	buckets := make([]int, 0, len(byBucket))
	for k := range byBucket {
		buckets = append(buckets, k)
	}
	sort.Ints(buckets) // a fixed summation order keeps runs bit-for-bit reproducible
	for _, k := range buckets {
		c := byBucket[k]
		d := float64(k) - pos
		if math.Abs(d) > 4 {
			continue
		}
		w := math.Exp(-d * d / 2)
		support += w
		xs = append(xs, d)
		ws = append(ws, w*math.Min(float64(c.n), 5))
		ys = append(ys, c.mean)
		vs = append(vs, c.vari)
		neff += w * math.Min(float64(c.n), float64(t.opts.Memory))
	}
	if len(xs) == 0 {
		return nil, nil, 0
	}
	m = make([]float64, len(t.metrics))
	se = make([]float64, len(t.metrics))
	var sw, sx, sxx float64
	for i := range xs {
		sw += ws[i]
		sx += ws[i] * xs[i]
		sxx += ws[i] * xs[i] * xs[i]
	}
	den := sw*sxx - sx*sx
	for j := range m {
		var sy, sxy, lo, hi, sv float64
		lo, hi = math.Inf(1), math.Inf(-1)
		for i := range xs {
			sv += ws[i] * vs[i][j]
			sy += ws[i] * ys[i][j]
			sxy += ws[i] * xs[i] * ys[i][j]
			lo, hi = math.Min(lo, ys[i][j]), math.Max(hi, ys[i][j])
		}
		// One observation says nothing of its spread: the pooled residual
		// variance stands in, or, before any exists, the value itself.
		se[j] = math.Sqrt(math.Max(sv/sw, t.pooled[j])) / math.Sqrt(neff)
		if neff < 1.5 && t.pooledN == 0 {
			se[j] = math.Max(se[j], math.Abs(sy/sw))
		}
		if len(xs) < 2 || den < 1e-9*sw*sw {
			m[j] = sy / sw
			continue
		}
		// Intercept at d = 0 (this condition), kept within the data's range
		// so the line never extrapolates wildly.
		beta := (sw*sxy - sx*sy) / den
		alpha := (sy - beta*sx) / sw
		m[j] = math.Min(hi, math.Max(lo, alpha))
	}
	return m, se, support
}

// minSupport is the kernel weight below which a setting counts as unmeasured
// at a condition (data more than about one bucket away).
const minSupport = 0.5

// best searches the whole grid for the setting whose pessimistic estimate
// (every metric Optimism standard errors worse) is best at cond, so a setting
// measured once in a lucky interval does not win over well-measured ones.
func (t *gridTuner) best(ctx int, cond float64, obj objective) ([2]int, []float64, error) {
	found := false
	var arg [2]int
	var argM []float64
	bestR := math.Inf(1)
	for a := range t.axes[0] {
		for b := range t.axes[1] {
			m, se, sup := t.predictSE(a, b, ctx, cond)
			if sup < minSupport*0.5 {
				continue
			}
			upper := make([]float64, len(m))
			for j := range m {
				upper[j] = m[j] + t.opts.Optimism*se[j]
			}
			if r := rank(obj(upper)); r < bestR {
				bestR, arg, argM, found = r, [2]int{a, b}, m, true
			}
		}
	}
	if !found {
		return arg, nil, ErrNoTelemetry
	}
	return arg, argM, nil
}

// decide picks and applies the next settings (see the package doc).
func (t *gridTuner) decide(ctx context.Context, obj objective) (Decision, error) {
	d := Decision{From: t.values(t.cur), To: t.values(t.cur)}
	if err := ctx.Err(); err != nil {
		return d, err
	}
	if !t.observed {
		d.Reason = "no telemetry yet"
		return d, nil
	}
	t.sinceMove++
	cx := t.lastCtx
	// Judging a change compares what was measured, at the condition
	// measured; choosing the next settings plans for the condition the
	// forecaster expects (reactively: the one just measured), with every
	// setting's latency scaled by what the forecaster expects beyond the
	// learned response (latencyFactor).
	cond, k := t.lastCond, 1.0
	if t.plan != nil {
		cond, k = t.plan.cond, t.latencyFactor(t.plan)
	}
	// estimateAt returns a setting's predicted score at cond, its latency
	// scaled by lk, and its optimistic score (every metric, all
	// lower-is-better, moved Optimism standard errors down); ok is false
	// for settings not measured near cond.
	estimateAt := func(i [2]int, cond, lk float64) (mean, opt float64, ok bool) {
		m, se, sup := t.predictSE(i[0], i[1], cx, cond)
		if sup < minSupport {
			return 0, 0, false
		}
		if lk > 1 {
			m = append([]float64(nil), m...)
			m[0] *= lk
		}
		lower := make([]float64, len(m))
		for j := range m {
			lower[j] = math.Max(0, m[j]-t.opts.Optimism*se[j])
		}
		return rank(obj(m)), rank(obj(lower)), true
	}
	judge := func(i [2]int) (mean, opt float64, ok bool) { return estimateAt(i, t.lastCond, 1) }
	estimate := func(i [2]int) (mean, opt float64, ok bool) { return estimateAt(i, cond, k) }
	if p := t.pending; p != nil && p.settle > 0 {
		p.settle--
		d.Reason = "settling: the interval after a change still carries the old setting's backlog"
		return d, nil
	}
	if p := t.pending; p != nil {
		before := p.beforeScore
		if s, _, ok := judge(p.from); ok {
			before = s
		}
		if t.direct != nil {
			// The old setting's counterfactual in this very interval.
			if s, ok := t.direct.before(p.from); ok {
				before = s
			}
		}
		p.sumAfter += t.lastScore
		p.sumBefore += before
		p.n++
		if p.n < p.judge {
			d.Reason = "judging the change"
			return d, nil
		}
		t.pending = nil
		after, before := p.sumAfter/float64(p.n), p.sumBefore/float64(p.n)
		if worse(after, before, t.opts.RollbackTolerance) {
			if err := t.apply(p.from); err != nil {
				return d, err
			}
			t.Rollbacks++
			t.cooldown = t.opts.Cooldown
			t.sinceMove = 0
			d.Changed, d.Rollback, d.To = true, true, t.values(p.from)
			d.Reason = fmt.Sprintf("rolled back: measured %.4g after the change, %.4g before", after, before)
			return d, nil
		}
	}
	if t.cooldown > 0 {
		t.cooldown--
		d.Reason = "cooling down after a rollback"
		return d, nil
	}
	if t.direct != nil {
		if tgt, goal, ok := t.direct.target(); ok {
			return t.decideDirect(d, tgt, goal)
		}
	}
	curScore, _, ok := estimate(t.cur)
	if !ok {
		curScore = t.lastScore
	}
	bestMean, bestMeanIdx := curScore, t.cur
	bestOpt, bestOptIdx := math.Inf(1), t.cur
	var unexplored [][2]int
	for _, off := range t.neighbours() {
		c := [2]int{t.cur[0] + off[0], t.cur[1] + off[1]}
		if c[0] < 0 || c[1] < 0 || c[0] >= len(t.axes[0]) || c[1] >= len(t.axes[1]) {
			continue
		}
		mean, opt, known := estimate(c)
		if !known {
			unexplored = append(unexplored, c)
			continue
		}
		if mean < bestMean {
			bestMean, bestMeanIdx = mean, c
		}
		if opt < bestOpt {
			bestOpt, bestOptIdx = opt, c
		}
	}
	target := t.cur
	switch {
	case bestMeanIdx != t.cur && improves(bestMean, curScore, t.opts.Hysteresis):
		target = bestMeanIdx
		d.Reason = fmt.Sprintf("predicted %.4g against %.4g now", bestMean, curScore)
	case t.opts.NoExplore || t.sinceMove < t.opts.ExploreEvery:
		d.Reason = "no neighbour predicted better beyond the hysteresis"
		return d, nil
	case len(unexplored) > 0:
		target = unexplored[0]
		d.Reason = "exploring an unmeasured neighbour"
	case bestOptIdx != t.cur && improves(bestOpt, curScore, t.opts.Hysteresis):
		target = bestOptIdx
		d.Reason = fmt.Sprintf("exploring: %.4g within its uncertainty against %.4g now", bestOpt, curScore)
	default:
		d.Reason = "no neighbour predicted better beyond the hysteresis"
		return d, nil
	}
	from := t.cur
	if err := t.apply(target); err != nil {
		return d, err
	}
	t.pending = &trial{from: from, beforeScore: curScore}
	t.Changes++
	t.sinceMove = 0
	d.Changed, d.To = true, t.values(target)
	return d, nil
}

// decideDirect moves at most MaxStep per setting towards the direct model's
// target when the target is predicted better than the current settings
// beyond the hysteresis. The step itself need not be better: the way to the
// target may cross a worse setting, and judging each step alone would stop
// the tuner on the first one (the rollback still guards every step).
func (t *gridTuner) decideDirect(d Decision, tgt [2]int, goal float64) (Decision, error) {
	step := t.cur
	for ax := range 2 {
		step[ax] += max(-t.opts.MaxStep, min(t.opts.MaxStep, tgt[ax]-t.cur[ax]))
	}
	cur, ok := t.direct.score(t.cur)
	if step == t.cur || !ok || !improves(goal, cur, t.opts.Hysteresis) {
		d.Reason = "replay: current settings are as good as any predicted"
		return d, nil
	}
	from := t.cur
	if err := t.apply(step); err != nil {
		return d, err
	}
	t.pending = &trial{from: from, beforeScore: cur, settle: 1, judge: directJudge}
	t.Changes++
	t.sinceMove = 0
	d.Changed, d.To = true, t.values(step)
	d.Reason = fmt.Sprintf("replay: towards %v, predicted %.4g against %.4g now", t.values(tgt), goal, cur)
	return d, nil
}

// neighbours lists step offsets within MaxStep, axis moves first (nearest
// first) so exploration walks before it jumps.
func (t *gridTuner) neighbours() [][2]int {
	var out [][2]int
	for s := 1; s <= t.opts.MaxStep; s++ {
		out = append(out, [2]int{s, 0}, [2]int{-s, 0}, [2]int{0, s}, [2]int{0, -s})
	}
	for i := -t.opts.MaxStep; i <= t.opts.MaxStep; i++ {
		for j := -t.opts.MaxStep; j <= t.opts.MaxStep; j++ {
			if i != 0 && j != 0 {
				out = append(out, [2]int{i, j})
			}
		}
	}
	return out
}

// worse reports a score worse than ref by more than tol (relative).
func worse(s, ref, tol float64) bool { return s > ref+tol*math.Abs(ref) }

// improves reports s better than ref by more than h (relative).
func improves(s, ref, h float64) bool { return s < ref-h*math.Abs(ref) }

func (t *gridTuner) values(i [2]int) [2]float64 { return [2]float64{t.axes[0][i[0]], t.axes[1][i[1]]} }

// apply calls the setters for the axes that change; when the second fails
// the first is restored, so the engine keeps its old settings.
func (t *gridTuner) apply(target [2]int) error {
	old := t.cur
	var done []int
	for ax := range 2 {
		if target[ax] == old[ax] {
			continue
		}
		v := t.axes[ax][target[ax]]
		if err := t.eng.set[ax](v); err != nil {
			for _, prev := range done {
				_ = t.eng.set[prev](t.axes[prev][old[prev]])
			}
			t.SetterFailures++
			t.pending = nil
			return &SetterError{Component: t.component, Setting: t.eng.names[ax], Value: v, Err: err}
		}
		done = append(done, ax)
	}
	t.cur = target
	return nil
}
