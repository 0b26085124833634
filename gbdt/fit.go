package gbdt

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// Loss is the loss a model minimises.
type Loss string

// Known losses.
const (
	// LossL2 is the squared error; leaves are regularised residual means.
	LossL2 Loss = "l2"
	// LossL1 is the absolute error; leaves are residual medians.
	LossL1 Loss = "l1"
	// LossQuantile is the pinball loss of quantile Alpha; leaves are
	// residual quantiles.
	LossQuantile Loss = "quantile"
)

// Params are the learner's settings. Every field means what it says; start
// from DefaultParams.
type Params struct {
	// Rounds is the most trees.
	Rounds int
	// LearningRate shrinks every tree's leaves.
	LearningRate float64
	// MaxLeaves is the most leaves of a tree (at least 2); MaxDepth the
	// most levels below the root (0: no limit but MaxLeaves).
	MaxLeaves, MaxDepth int
	// MinLeaf is the fewest training rows in a leaf.
	MinLeaf int
	// Lambda is the L2 penalty on leaf values in the split gain (and in L2
	// leaves): a leaf of n rows counts as n+Lambda.
	Lambda float64
	// RowSample and ColSample are the fractions of rows and of features
	// each tree sees, drawn anew per tree (1: all).
	RowSample, ColSample float64
	// MaxBins is the most bins per feature (2..255).
	MaxBins int
	// Loss is the loss; Alpha the quantile of LossQuantile, in (0, 1).
	Loss  Loss
	Alpha float64
	// Patience stops after that many rounds without a better validation
	// loss and keeps the best round (0: every round, or no validation set).
	Patience int
	// Seed seeds the row and feature subsampling.
	Seed uint64
	// Workers is the number of goroutines that build histograms (at most
	// 1: one). The model does not depend on it.
	Workers int
}

// DefaultParams are moderate settings for tens of thousands of rows.
func DefaultParams() Params {
	return Params{Rounds: 200, LearningRate: 0.05, MaxLeaves: 31, MinLeaf: 20, Lambda: 1,
		RowSample: 1, ColSample: 1, MaxBins: 255, Loss: LossL2, Alpha: 0.5, Patience: 20, Seed: 1, Workers: 1}
}

// Check reports the first field of p out of range; the error names it.
func (p Params) Check() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("gbdt: params: %s %v: %s", field, v, want)
	}
	switch {
	case p.Rounds < 1:
		return bad("Rounds", p.Rounds, "must be at least 1")
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0):
		return bad("LearningRate", p.LearningRate, "must be positive and finite")
	case p.MaxLeaves < 2:
		return bad("MaxLeaves", p.MaxLeaves, "must be at least 2")
	case p.MaxDepth < 0:
		return bad("MaxDepth", p.MaxDepth, "must not be negative")
	case p.MinLeaf < 1:
		return bad("MinLeaf", p.MinLeaf, "must be at least 1")
	case !(p.Lambda >= 0) || math.IsInf(p.Lambda, 0):
		return bad("Lambda", p.Lambda, "must be non-negative and finite")
	case !(p.RowSample > 0 && p.RowSample <= 1):
		return bad("RowSample", p.RowSample, "must be in (0, 1]")
	case !(p.ColSample > 0 && p.ColSample <= 1):
		return bad("ColSample", p.ColSample, "must be in (0, 1]")
	case p.MaxBins < 2 || p.MaxBins > 255:
		return bad("MaxBins", p.MaxBins, "must be in 2..255")
	case p.Loss != LossL2 && p.Loss != LossL1 && p.Loss != LossQuantile:
		return bad("Loss", p.Loss, fmt.Sprintf("unknown (known: %s, %s, %s)", LossL2, LossL1, LossQuantile))
	case p.Loss == LossQuantile && !(p.Alpha > 0 && p.Alpha < 1):
		return bad("Alpha", p.Alpha, "must be in (0, 1)")
	case p.Patience < 0:
		return bad("Patience", p.Patience, "must not be negative")
	}
	return nil
}

// Data is a regression data set: row i is X[i*Cols:(i+1)*Cols], its
// target Y[i] and, when W is not nil, its weight W[i] in the loss (nil:
// every row weighs 1).
type Data struct {
	X          []float64
	Y          []float64
	W          []float64
	Rows, Cols int
}

func (d *Data) check(name string) error {
	if d.Rows < 1 || d.Cols < 1 {
		return fmt.Errorf("gbdt: %s data: %d rows of %d columns: need at least one of each", name, d.Rows, d.Cols)
	}
	if len(d.X) != d.Rows*d.Cols || len(d.Y) != d.Rows {
		return fmt.Errorf("gbdt: %s data: %d values and %d targets for %d rows of %d columns", name, len(d.X), len(d.Y), d.Rows, d.Cols)
	}
	for i, v := range d.X {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("gbdt: %s data: row %d column %d is %v", name, i/d.Cols+1, i%d.Cols+1, v)
		}
	}
	for i, v := range d.Y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("gbdt: %s data: target of row %d is %v", name, i+1, v)
		}
	}
	if d.W != nil {
		if len(d.W) != d.Rows {
			return fmt.Errorf("gbdt: %s data: %d weights for %d rows", name, len(d.W), d.Rows)
		}
		for i, v := range d.W {
			if !(v > 0) || math.IsInf(v, 0) {
				return fmt.Errorf("gbdt: %s data: weight of row %d is %v: must be positive and finite", name, i+1, v)
			}
		}
	}
	return nil
}

// History is what Fit saw: the validation loss after every round (empty
// without a validation set) and the number of trees kept.
type History struct {
	Valid []float64
	Best  int
}

// Fit trains a model on train, stopping early on valid when it is not nil
// and p.Patience > 0. Errors name the field or the row at fault; a
// cancelled ctx stops between rounds with its error.
func Fit(ctx context.Context, p Params, train, valid *Data) (*Model, *History, error) {
	if err := p.Check(); err != nil {
		return nil, nil, err
	}
	if train == nil {
		return nil, nil, errors.New("gbdt: no training data")
	}
	if err := train.check("training"); err != nil {
		return nil, nil, err
	}
	if valid != nil {
		if err := valid.check("validation"); err != nil {
			return nil, nil, err
		}
		if valid.Cols != train.Cols {
			return nil, nil, fmt.Errorf("gbdt: validation data has %d columns, training data %d", valid.Cols, train.Cols)
		}
	}
	f := newFitter(p, train)
	m := &Model{features: train.Cols, loss: p.Loss, base: initScore(p, train.Y, train.W)}
	n := train.Rows
	pred := make([]float64, n)
	for i := range pred {
		pred[i] = m.base
	}
	var vpred []float64
	hist := &History{}
	if valid != nil {
		vpred = make([]float64, valid.Rows)
		for i := range vpred {
			vpred[i] = m.base
		}
	}
	best := math.Inf(1)
	for round := range p.Rounds {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		t := f.tree(pred)
		m.trees = append(m.trees, t)
		for i := range n {
			pred[i] += t.nodes[f.leafOf(t, i)].value
		}
		if valid == nil {
			continue
		}
		for i := range valid.Rows {
			vpred[i] += t.eval(valid.X[i*valid.Cols : (i+1)*valid.Cols])
		}
		l := lossOf(p, vpred, valid.Y, valid.W)
		hist.Valid = append(hist.Valid, l)
		if l < best {
			best, hist.Best = l, round+1
		}
		if p.Patience > 0 && round+1-hist.Best >= p.Patience {
			break
		}
	}
	if valid != nil && p.Patience > 0 {
		m.trees = m.trees[:hist.Best]
	}
	hist.Best = len(m.trees)
	m.compile()
	return m, hist, nil
}

// initScore is the constant that minimises the loss (weights w, nil: 1).
func initScore(p Params, y, w []float64) float64 {
	switch p.Loss {
	case LossL1:
		return weightedQuantile(slices.Clone(y), slices.Clone(w), 0.5)
	case LossQuantile:
		return weightedQuantile(slices.Clone(y), slices.Clone(w), p.Alpha)
	}
	var s, sw float64
	for i, v := range y {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		s, sw = s+wi*v, sw+wi
	}
	return s / sw
}

// lossOf is the mean loss of pred against y, weighted by w (nil: 1).
func lossOf(p Params, pred, y, w []float64) float64 {
	var s, sw float64
	for i, v := range y {
		d := v - pred[i]
		var l float64
		switch p.Loss {
		case LossL2:
			l = d * d
		case LossL1:
			l = math.Abs(d)
		case LossQuantile:
			if d >= 0 {
				l = p.Alpha * d
			} else {
				l = -(1 - p.Alpha) * d
			}
		}
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		s, sw = s+wi*l, sw+wi
	}
	return s / sw
}

// weightedQuantile is quantileOf(s, q) when w is nil, else the least value
// of s whose cumulative weight (in ascending order) reaches q of the
// total. It reorders s and w.
func weightedQuantile(s, w []float64, q float64) float64 {
	if w == nil {
		return quantileOf(s, q)
	}
	idx := make([]int, len(s))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case s[a] < s[b]:
			return -1
		case s[a] > s[b]:
			return 1
		}
		return 0
	})
	var total float64
	for _, v := range w {
		total += v
	}
	var cum float64
	for _, i := range idx {
		cum += w[i]
		if cum >= q*total {
			return s[i]
		}
	}
	return s[idx[len(idx)-1]]
}

// quantileOf interpolates the q quantile of s between its order
// statistics, as slices.Sort(s) and then s[i] + (pos-i)(s[i+1]-s[i]) at
// pos = q(len(s)-1) would; it finds the two by selection, not a sort
// (which took a tenth of a small L1 fit). It reorders s.
func quantileOf(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return nthSmallest(s, len(s)-1)
	}
	a := nthSmallest(s, i)
	// Everything after s[i] is at least s[i]: the next order statistic
	// is their least.
	b := s[i+1]
	for _, v := range s[i+2:] {
		if cmp.Less(v, b) {
			b = v
		}
	}
	return a + (pos-float64(i))*(b-a)
}

// nthSmallest reorders s so that s[k] is the value slices.Sort would put
// there, none before it greater and none after it less (in cmp.Compare's
// order, NaN first), and returns it: Hoare's selection with a
// median-of-three pivot and a three-way partition, so that runs of equal
// values cost one pass.
func nthSmallest(s []float64, k int) float64 {
	lo, hi := 0, len(s) // s[k] is among s[lo:hi]
	for hi-lo > 12 {
		a, b, c := s[lo], s[lo+(hi-lo)/2], s[hi-1]
		if cmp.Less(b, a) {
			a, b = b, a
		}
		if cmp.Less(c, b) {
			b = c
			if cmp.Less(b, a) {
				b = a
			}
		}
		pivot := b
		// s[lo:lt] < pivot, s[lt:i] == pivot, s[gt:hi] > pivot.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch c := cmp.Compare(s[i], pivot); {
			case c < 0:
				s[lt], s[i] = s[i], s[lt]
				lt++
				i++
			case c > 0:
				gt--
				s[i], s[gt] = s[gt], s[i]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return pivot
		}
	}
	slices.Sort(s[lo:hi])
	return s[k]
}

// bin holds one histogram bin: the weighted sum of the gradients of its
// rows, the sum of their weights (every loss here has a unit hessian, so
// that is the hessian sum) and their count.
type bin struct {
	g, h float64 // sums of weight * gradient and of weight
	n    int
}

// fitter holds the binned training data and the buffers of tree growth.
type fitter struct {
	p      Params
	y      []float64
	w      []float64 // nil: every row weighs 1
	n, f   int
	edges  [][]float64 // per feature: bin b holds values <= edges[b] (> edges[b-1])
	binned []uint8     // column-major: feature j's bins at [j*n, (j+1)*n)
	off    []int       // feature j's histogram at [off[j], off[j+1])
	rng    *rand.Rand
	grad   []float64
	rows   []int32 // the sampled rows, partitioned by leaf
	tmp    []int32
	feats  []int
	pool   [][]bin
	resid  []float64
	pred   []float64 // the predictions the tree being grown corrects
}

func newFitter(p Params, d *Data) *fitter {
	f := &fitter{p: p, y: d.Y, w: d.W, n: d.Rows, f: d.Cols, rng: rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15))}
	f.edges = make([][]float64, d.Cols)
	f.binned = make([]uint8, d.Rows*d.Cols)
	f.off = make([]int, d.Cols+1)
	col := make([]float64, d.Rows)
	for j := range d.Cols {
		for i := range d.Rows {
			col[i] = d.X[i*d.Cols+j]
		}
		e := binEdges(col, p.MaxBins)
		f.edges[j] = e
		b := f.binned[j*d.Rows : (j+1)*d.Rows]
		for i, v := range col {
			b[i] = uint8(binOf(e, v))
		}
		f.off[j+1] = f.off[j] + len(e) + 1
	}
	f.grad = make([]float64, d.Rows)
	f.rows = make([]int32, 0, d.Rows)
	f.tmp = make([]int32, d.Rows)
	return f
}

// binOf is the bin of v among the increasing edges e: the first b with
// v <= e[b], len(e) past the last. It is slices.BinarySearch's position,
// found without the generic comparison, which made the search a third
// of the time spent binning the data of a small fit.
func binOf(e []float64, v float64) int {
	lo, hi := 0, len(e)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if e[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// binEdges returns at most maxBins-1 increasing edges that split the
// values of col into bins of about equal counts: every distinct value gets
// its own bin when there are at most maxBins of them. An edge is the
// midpoint between two neighbouring distinct values.
func binEdges(col []float64, maxBins int) []float64 {
	s := slices.Clone(col)
	slices.Sort(s)
	type run struct {
		v float64
		n int
	}
	var runs []run
	for _, v := range s {
		if len(runs) > 0 && runs[len(runs)-1].v == v {
			runs[len(runs)-1].n++
			continue
		}
		runs = append(runs, run{v, 1})
	}
	var edges []float64
	if len(runs) <= maxBins {
		for i := 0; i+1 < len(runs); i++ {
			edges = append(edges, mid(runs[i].v, runs[i+1].v))
		}
		return edges
	}
	// An edge after the run where the cumulative count first reaches the
	// next of maxBins equal shares.
	total, cum := len(s), 0
	next := 1
	for i := 0; i+1 < len(runs) && len(edges) < maxBins-1; i++ {
		cum += runs[i].n
		if cum*maxBins >= next*total {
			edges = append(edges, mid(runs[i].v, runs[i+1].v))
			for cum*maxBins >= next*total {
				next++
			}
		}
	}
	return edges
}

// mid is the midpoint of a < b, strictly below b.
func mid(a, b float64) float64 {
	m := a + (b-a)/2
	if m >= b {
		m = a
	}
	return m
}

// node is one tree node: a leaf when left < 0.
type node struct {
	feature     int32
	left, right int32
	threshold   float64
	bin         uint8 // the training bin of threshold (Fit only)
	value       float64
}

type tree struct{ nodes []node }

// eval is the tree's output on one row of raw features.
func (t *tree) eval(x []float64) float64 {
	j := int32(0)
	for {
		nd := &t.nodes[j]
		if nd.left < 0 {
			return nd.value
		}
		if x[nd.feature] <= nd.threshold {
			j = nd.left
		} else {
			j = nd.right
		}
	}
}

// leafOf is the leaf of training row i, routed on its bins.
func (f *fitter) leafOf(t *tree, i int) int32 {
	j := int32(0)
	for {
		nd := &t.nodes[j]
		if nd.left < 0 {
			return j
		}
		if f.binned[int(nd.feature)*f.n+i] <= nd.bin {
			j = nd.left
		} else {
			j = nd.right
		}
	}
}

// split is a leaf's best split.
type split struct {
	gain    float64
	feature int
	bin     int
}

// leaf is a leaf being grown: its rows are f.rows[lo:hi].
type leaf struct {
	node   int32
	lo, hi int
	depth  int
	g, h   float64 // sums of weight * gradient and of weight
	hist   []bin
	best   split
}

// tree grows one tree on the gradients at pred.
func (f *fitter) tree(pred []float64) *tree {
	p := f.p
	f.pred = pred
	for i := range f.n {
		d := pred[i] - f.y[i]
		switch p.Loss {
		case LossL2:
			f.grad[i] = d
		case LossL1:
			f.grad[i] = sign(d)
		case LossQuantile:
			switch {
			case d < 0:
				f.grad[i] = -p.Alpha
			case d > 0:
				f.grad[i] = 1 - p.Alpha
			default:
				f.grad[i] = 0
			}
		}
	}
	f.rows = f.rows[:0]
	for i := range f.n {
		if p.RowSample >= 1 || f.rng.Float64() < p.RowSample {
			f.rows = append(f.rows, int32(i))
		}
	}
	f.feats = f.feats[:0]
	if p.ColSample >= 1 {
		for j := range f.f {
			f.feats = append(f.feats, j)
		}
	} else {
		k := max(1, int(math.Round(p.ColSample*float64(f.f))))
		perm := f.rng.Perm(f.f)
		f.feats = append(f.feats, perm[:k]...)
		slices.Sort(f.feats)
	}
	t := &tree{nodes: []node{{left: -1, right: -1}}}
	root := &leaf{node: 0, lo: 0, hi: len(f.rows), hist: f.getHist()}
	for _, r := range f.rows {
		root.g += f.wt(r) * f.grad[r]
		root.h += f.wt(r)
	}
	f.build(root)
	f.findSplit(root)
	leaves := []*leaf{root}
	for len(leaves) < p.MaxLeaves {
		bi := -1
		for i, l := range leaves {
			if l.best.gain > 0 && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		l := leaves[bi]
		left, right := f.splitLeaf(t, l)
		leaves[bi] = left
		leaves = append(leaves, right)
	}
	for _, l := range leaves {
		t.nodes[l.node].value = p.LearningRate * f.leafValue(l)
		f.putHist(l.hist)
	}
	return t
}

// wt is the weight of row r.
func (f *fitter) wt(r int32) float64 {
	if f.w == nil {
		return 1
	}
	return f.w[r]
}

func sign(v float64) float64 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// leafValue is the loss-minimising step of a leaf: the regularised mean
// residual for L2, the residuals' median or Alpha quantile otherwise.
func (f *fitter) leafValue(l *leaf) float64 {
	n := l.hi - l.lo
	if n == 0 {
		return 0
	}
	if f.p.Loss == LossL2 {
		return -l.g / (l.h + f.p.Lambda)
	}
	f.resid = f.resid[:0]
	var w []float64
	for _, r := range f.rows[l.lo:l.hi] {
		f.resid = append(f.resid, f.y[r]-f.pred[r])
		if f.w != nil {
			w = append(w, f.w[r])
		}
	}
	q := 0.5
	if f.p.Loss == LossQuantile {
		q = f.p.Alpha
	}
	return weightedQuantile(f.resid, w, q)
}

func (f *fitter) getHist() []bin {
	if k := len(f.pool); k > 0 {
		h := f.pool[k-1]
		f.pool = f.pool[:k-1]
		clear(h)
		return h
	}
	return make([]bin, f.off[f.f])
}

func (f *fitter) putHist(h []bin) {
	if h != nil {
		f.pool = append(f.pool, h)
	}
}

// build fills l's histogram over the sampled features from its rows,
// splitting the features among p.Workers goroutines.
func (f *fitter) build(l *leaf) {
	rows := f.rows[l.lo:l.hi]
	work := func(feats []int) {
		for _, j := range feats {
			col := f.binned[j*f.n : (j+1)*f.n]
			h := l.hist[f.off[j]:f.off[j+1]]
			if f.w == nil {
				for _, r := range rows {
					b := &h[col[r]]
					b.g += f.grad[r]
					b.h++
					b.n++
				}
				continue
			}
			for _, r := range rows {
				b := &h[col[r]]
				b.g += f.w[r] * f.grad[r]
				b.h += f.w[r]
				b.n++
			}
		}
	}
	w := min(f.p.Workers, len(f.feats))
	if w <= 1 || len(rows) < 2048 {
		work(f.feats)
		return
	}
	var wg sync.WaitGroup
	per := (len(f.feats) + w - 1) / w
	for k := 0; k < len(f.feats); k += per {
		wg.Go(func() { work(f.feats[k:min(k+per, len(f.feats))]) })
	}
	wg.Wait()
}

// findSplit sets l.best to the split of most gain that leaves at least
// MinLeaf rows on each side (gain 0: none).
func (f *fitter) findSplit(l *leaf) {
	l.best = split{}
	p := f.p
	if p.MaxDepth > 0 && l.depth >= p.MaxDepth {
		return
	}
	n := l.hi - l.lo
	if n < 2*p.MinLeaf {
		return
	}
	parent := l.g * l.g / (l.h + p.Lambda)
	for _, j := range f.feats {
		h := l.hist[f.off[j]:f.off[j+1]]
		var gl, hl float64
		nl := 0
		for b := 0; b+1 < len(h); b++ {
			gl += h[b].g
			hl += h[b].h
			nl += h[b].n
			if nl < p.MinLeaf {
				continue
			}
			nr := n - nl
			if nr < p.MinLeaf {
				break
			}
			if h[b].n == 0 {
				continue // the same partition as the previous bin
			}
			gr, hr := l.g-gl, l.h-hl
			gain := gl*gl/(hl+p.Lambda) + gr*gr/(hr+p.Lambda) - parent
			if gain > l.best.gain {
				l.best = split{gain: gain, feature: j, bin: b}
			}
		}
	}
}

// splitLeaf turns l into an internal node and returns its two children,
// their rows partitioned in place and their histograms built (the smaller
// from its rows, the larger as the parent's minus the smaller's).
func (f *fitter) splitLeaf(t *tree, l *leaf) (*leaf, *leaf) {
	s := l.best
	col := f.binned[s.feature*f.n : (s.feature+1)*f.n]
	rows := f.rows[l.lo:l.hi]
	tmp := f.tmp[:0]
	k := 0
	var gl, hl float64
	for _, r := range rows {
		if col[r] <= uint8(s.bin) {
			rows[k] = r
			k++
			gl += f.wt(r) * f.grad[r]
			hl += f.wt(r)
		} else {
			tmp = append(tmp, r)
		}
	}
	copy(rows[k:], tmp)
	li, ri := int32(len(t.nodes)), int32(len(t.nodes)+1)
	t.nodes[l.node] = node{feature: int32(s.feature), left: li, right: ri,
		threshold: f.edges[s.feature][s.bin], bin: uint8(s.bin)}
	t.nodes = append(t.nodes, node{left: -1, right: -1}, node{left: -1, right: -1})
	left := &leaf{node: li, lo: l.lo, hi: l.lo + k, depth: l.depth + 1, g: gl, h: hl}
	right := &leaf{node: ri, lo: l.lo + k, hi: l.hi, depth: l.depth + 1, g: l.g - gl, h: l.h - hl}
	small, large := left, right
	if right.hi-right.lo < left.hi-left.lo {
		small, large = right, left
	}
	small.hist = f.getHist()
	f.build(small)
	large.hist = l.hist
	for _, j := range f.feats {
		lh, sh := large.hist[f.off[j]:f.off[j+1]], small.hist[f.off[j]:f.off[j+1]]
		sh = sh[:len(lh)]
		for b := range lh {
			lh[b].g -= sh[b].g
			lh[b].h -= sh[b].h
			lh[b].n -= sh[b].n
		}
	}
	l.hist = nil
	f.findSplit(left)
	f.findSplit(right)
	return left, right
}
