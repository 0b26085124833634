package serve

import (
	"math"
	"slices"
)

// ProbabilityMap is the second stage of the breach probability: a monotone
// map from the raw probability (from the forecaster's per-step quantiles,
// see PredictDegradation) to the frequency with which breaches followed
// such forecasts on held-out origins. The per-step quantiles are
// calibrated, but a breach within the horizon is an event about the whole
// path: spikes, level shifts and a metric's quantisation make the raw
// number err, so it is recalibrated on outcomes.
//
// The map is an isotonic regression (pool adjacent violators) of outcome on
// raw probability whose blocks hold at least MinCount origins, each
// block's frequency shrunk toward its mean raw probability by Prior
// pseudo-origins (a Beta prior centred on the raw value: where evidence is
// thin the conformal number stands), pooled again where the shrinkage broke
// monotonicity. Between the blocks' mean raw probabilities it
// interpolates linearly; beyond the raw
// probabilities it was fitted on it runs linearly to (0, 0) and (1, 1), so
// it does not extrapolate a calm period's "never" to forecasts it never saw.
// The nil map is the identity.
//
// It is fitted for a breach within one horizon (Service.Recalibrate's);
// PredictDegradation applies it to that horizon only.
type ProbabilityMap struct {
	// X, Y are the knots: raw probability and calibrated probability,
	// both non-decreasing.
	X, Y []float64
	// N is the number of held-out origins the map was fitted on, Events
	// how many were followed by a breach.
	N, Events int
}

// Apply maps a raw probability.
func (m *ProbabilityMap) Apply(p float64) float64 {
	if m == nil || len(m.X) == 0 || math.IsNaN(p) {
		return p
	}
	i, _ := slices.BinarySearch(m.X, p)
	switch {
	case i == 0:
		return m.Y[0]
	case i == len(m.X):
		return m.Y[len(m.Y)-1]
	}
	x0, x1, y0, y1 := m.X[i-1], m.X[i], m.Y[i-1], m.Y[i]
	if x1 == x0 {
		return y1
	}
	return y0 + (y1-y0)*(p-x0)/(x1-x0)
}

// probPair is a raw probability at a held-out origin and whether a breach
// followed within the horizon.
type probPair struct {
	p     float64
	event bool
}

// FitProbabilityMap fits the map on held-out raw probabilities and
// outcomes. minCount is the least number of origins per block, prior the
// shrinkage strength in origins (both in origins, not in independent
// events: outcomes of origins closer than the horizon overlap, so about
// a horizon's worth of origins is one piece of evidence). Nil when there
// are no pairs.
func FitProbabilityMap(probs []float64, events []bool, minCount int, prior float64) *ProbabilityMap {
	pairs := make([]probPair, 0, len(probs))
	for i, p := range probs {
		if !math.IsNaN(p) {
			pairs = append(pairs, probPair{p, events[i]})
		}
	}
	return fitPairs(pairs, minCount, prior)
}

// block is a run of pairs sorted by raw probability pooled to one value.
type block struct {
	lo, hi float64 // raw probability range
	n      float64 // origins (weight)
	sumP   float64 // of raw probabilities
	y      float64 // pooled outcome frequency (or calibrated value)
	events float64
}

func (b *block) merge(o block) {
	w := b.n + o.n
	b.y = (b.y*b.n + o.y*o.n) / w
	b.n, b.sumP, b.events = w, b.sumP+o.sumP, b.events+o.events
	b.lo, b.hi = min(b.lo, o.lo), max(b.hi, o.hi)
}

// pav pools adjacent violators of a non-decreasing y in place.
func pav(bs []block) []block {
	out := bs[:0]
	for _, b := range bs {
		out = append(out, b)
		for len(out) > 1 && out[len(out)-2].y >= out[len(out)-1].y {
			out[len(out)-2].merge(out[len(out)-1])
			out = out[:len(out)-1]
		}
	}
	return out
}

func fitPairs(pairs []probPair, minCount int, prior float64) *ProbabilityMap {
	if len(pairs) == 0 {
		return nil
	}
	pairs = slices.Clone(pairs)
	slices.SortFunc(pairs, func(a, b probPair) int {
		if a.p != b.p {
			if a.p < b.p {
				return -1
			}
			return 1
		}
		// Ties: events last, so equal raw values pool into one block.
		if a.event == b.event {
			return 0
		}
		if a.event {
			return 1
		}
		return -1
	})
	bs := make([]block, 0, len(pairs))
	events := 0
	for _, q := range pairs {
		y := 0.0
		if q.event {
			y = 1
			events++
		}
		// Equal raw probabilities must share a value: start them in one block.
		if n := len(bs); n > 0 && bs[n-1].lo == q.p {
			bs[n-1].merge(block{lo: q.p, hi: q.p, n: 1, sumP: q.p, y: y, events: y})
			continue
		}
		bs = append(bs, block{lo: q.p, hi: q.p, n: 1, sumP: q.p, y: y, events: y})
	}
	bs = pav(bs)
	// Blocks too small to estimate a frequency join the neighbour closer in
	// value (merging adjacent blocks keeps the order).
	for {
		i := slices.IndexFunc(bs, func(b block) bool { return b.n < float64(minCount) })
		if i < 0 || len(bs) == 1 {
			break
		}
		j := i + 1
		if j == len(bs) || i > 0 && bs[i].y-bs[i-1].y <= bs[j].y-bs[i].y {
			j = i - 1
		}
		lo, hi := min(i, j), max(i, j)
		bs[lo].merge(bs[hi])
		bs = slices.Delete(bs, hi, hi+1)
	}
	// Shrink toward the raw probability, then restore monotonicity with
	// the shrunk weights.
	for i := range bs {
		b := &bs[i]
		b.y = (b.events + prior*b.sumP/b.n) / (b.n + prior)
		b.sumP += prior * b.sumP / b.n // keeps the mean raw probability
		b.n += prior
	}
	bs = pav(bs)
	m := &ProbabilityMap{N: len(pairs), Events: events}
	if bs[0].lo > 0 {
		m.X, m.Y = append(m.X, 0), append(m.Y, 0)
	}
	// Knots at the blocks' mean raw probabilities (linear in between keeps
	// the resolution a step function would lose), flat to the ends of the
	// fitted range.
	last := len(bs) - 1
	add := func(x, y float64) {
		if n := len(m.X); n > 0 && x <= m.X[n-1] {
			m.Y[n-1] = max(m.Y[n-1], y)
			return
		}
		m.X, m.Y = append(m.X, x), append(m.Y, y)
	}
	add(bs[0].lo, bs[0].y)
	for _, b := range bs {
		add(b.sumP/b.n, b.y)
	}
	add(bs[last].hi, bs[last].y)
	if bs[len(bs)-1].hi < 1 {
		m.X, m.Y = append(m.X, 1), append(m.Y, 1)
	}
	return m
}

// Recalibration defaults, in horizons' worth of origins: a block needs
// two horizons of origins, the prior weighs as much as two horizons.
const (
	mapMinHorizons   = 2
	mapPriorHorizons = 2
)
