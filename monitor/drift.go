package monitor

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
)

// psiFloor keeps PSI finite when a bin is empty on one side: proportions are
// floored at 1e-4 (the usual practice) before the logarithm.
const psiFloor = 1e-4

// Reference is the training distribution of each feature, binned on its own
// quantiles so that every bin holds about the same share of the training
// data.
type Reference struct {
	Features []string
	// Edges[f] are the inner bin edges of feature f (ascending, distinct);
	// a value v falls in bin i = number of edges < v, so bins are
	// (-inf, e0], (e0, e1], ..., (e_last, +inf).
	Edges [][]float64
	// Props[f][i] is the share of training values of feature f in bin i.
	Props [][]float64
	N     int
}

// NewReference bins each feature of rows ([n][F], NaN ignored) on the
// reference's quantiles at 1/bins, 2/bins, ... (linear interpolation between
// order statistics); equal quantiles merge, so a constant feature has two
// bins (<= c, > c).
func NewReference(features []string, rows [][]float64, bins int) (*Reference, error) {
	if bins < 2 {
		return nil, fmt.Errorf("monitor: reference needs at least 2 bins, got %d", bins)
	}
	if len(rows) == 0 {
		return nil, errors.New("monitor: reference needs at least one row")
	}
	ref := &Reference{Features: append([]string(nil), features...), N: len(rows)}
	for f := range features {
		var col []float64
		for i, r := range rows {
			if len(r) != len(features) {
				return nil, fmt.Errorf("monitor: reference row %d has %d values, want %d (%v)", i, len(r), len(features), features)
			}
			if !math.IsNaN(r[f]) && !math.IsInf(r[f], 0) {
				col = append(col, r[f])
			}
		}
		if len(col) == 0 {
			return nil, fmt.Errorf("monitor: reference feature %q has no finite values", features[f])
		}
		sort.Float64s(col)
		var edges []float64
		for k := 1; k < bins; k++ {
			q := quantileSorted(col, float64(k)/float64(bins))
			if len(edges) == 0 || q > edges[len(edges)-1] {
				edges = append(edges, q)
			}
		}
		props := make([]float64, len(edges)+1)
		for _, v := range col {
			props[binOf(edges, v)]++
		}
		for i := range props {
			props[i] /= float64(len(col))
		}
		ref.Edges = append(ref.Edges, edges)
		ref.Props = append(ref.Props, props)
	}
	return ref, nil
}

// quantileSorted is the type-7 (R default, numpy linear) quantile.
func quantileSorted(s []float64, q float64) float64 {
	h := q * float64(len(s)-1)
	lo := math.Floor(h)
	i := int(lo)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (h-lo)*(s[i+1]-s[i])
}

func binOf(edges []float64, v float64) int { return sort.SearchFloat64s(edges, v) }

// PSI is the population stability index sum (c-r) ln(c/r) of current
// proportions c against reference r, each floored at 1e-4.
func PSI(ref, cur []float64) float64 {
	s := 0.0
	for i := range ref {
		r := math.Max(ref[i], psiFloor)
		c := math.Max(cur[i], psiFloor)
		s += (c - r) * math.Log(c/r)
	}
	return s
}

// JS is the Jensen-Shannon divergence in bits (0 = same, 1 = disjoint).
func JS(p, q []float64) float64 {
	s := 0.0
	for i := range p {
		m := (p[i] + q[i]) / 2
		if p[i] > 0 {
			s += 0.5 * p[i] * math.Log2(p[i]/m)
		}
		if q[i] > 0 {
			s += 0.5 * q[i] * math.Log2(q[i]/m)
		}
	}
	return math.Max(s, 0)
}

// FeatureDrift is one feature's divergence from its reference.
type FeatureDrift struct {
	Feature string  `json:"feature"`
	PSI     float64 `json:"psi"`
	JS      float64 `json:"js"`
	N       int     `json:"n"`
}

// DriftReport holds one figure per feature and overall ones: the mean and
// the maximum over features. An alert on feature_distribution_divergence
// reads MaxJS: one drifting feature is enough to matter.
type DriftReport struct {
	Features []FeatureDrift `json:"features"`
	PSI      float64        `json:"psi_mean"`
	JS       float64        `json:"js_mean"`
	MaxPSI   float64        `json:"psi_max"`
	MaxJS    float64        `json:"js_max"`
	N        int            `json:"n"`
}

// Compare bins rows ([n][F]) on the reference's edges and reports drift.
func (ref *Reference) Compare(rows [][]float64) (DriftReport, error) {
	counts := make([][]float64, len(ref.Features))
	for f := range counts {
		counts[f] = make([]float64, len(ref.Props[f]))
	}
	for i, r := range rows {
		if len(r) != len(ref.Features) {
			return DriftReport{}, fmt.Errorf("monitor: row %d has %d values, reference has %d features", i, len(r), len(ref.Features))
		}
		for f, v := range r {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				counts[f][binOf(ref.Edges[f], v)]++
			}
		}
	}
	return ref.report(counts, len(rows)), nil
}

func (ref *Reference) report(counts [][]float64, n int) DriftReport {
	rep := DriftReport{N: n, PSI: math.NaN(), JS: math.NaN(), MaxPSI: math.NaN(), MaxJS: math.NaN()}
	var sumPSI, sumJS float64
	nf := 0
	for f, c := range counts {
		tot := 0.0
		for _, x := range c {
			tot += x
		}
		fd := FeatureDrift{Feature: ref.Features[f], PSI: math.NaN(), JS: math.NaN(), N: int(tot)}
		if tot > 0 {
			p := make([]float64, len(c))
			for i, x := range c {
				p[i] = x / tot
			}
			fd.PSI = PSI(ref.Props[f], p)
			fd.JS = JS(ref.Props[f], p)
			sumPSI += fd.PSI
			sumJS += fd.JS
			nf++
			if nf == 1 || fd.PSI > rep.MaxPSI {
				rep.MaxPSI = fd.PSI
			}
			if nf == 1 || fd.JS > rep.MaxJS {
				rep.MaxJS = fd.JS
			}
		}
		rep.Features = append(rep.Features, fd)
	}
	if nf > 0 {
		rep.PSI = sumPSI / float64(nf)
		rep.JS = sumJS / float64(nf)
	}
	return rep
}

// Drift compares a rolling window of the latest feature rows with a
// Reference. Observe is O(features); Report is O(features x bins). Safe for
// concurrent use.
type Drift struct {
	mu     sync.Mutex
	ref    *Reference
	rows   [][]float64 // ring of the last rows, raw, so a new reference can rebin them
	bins   [][]int     // their bin indices (-1 for a missing value)
	next   int
	full   bool
	counts [][]float64
}

// NewDrift watches the last window rows against ref.
func NewDrift(ref *Reference, window int) *Drift {
	if window < 1 {
		panic("monitor: drift window must be positive")
	}
	d := &Drift{ref: ref, rows: make([][]float64, window), bins: make([][]int, window)}
	d.resetCounts()
	return d
}

func (d *Drift) resetCounts() {
	d.counts = make([][]float64, len(d.ref.Features))
	for f := range d.counts {
		d.counts[f] = make([]float64, len(d.ref.Props[f]))
	}
}

// Reference returns the reference the window is compared with.
func (d *Drift) Reference() *Reference {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ref
}

// SetReference starts comparing with a new reference (after a new model
// version is promoted). Rows in the window are kept and rebinned when the
// feature names match, so the figures do not restart from a handful of rows;
// otherwise the window is emptied.
func (d *Drift) SetReference(ref *Reference) {
	d.mu.Lock()
	defer d.mu.Unlock()
	same := len(ref.Features) == len(d.ref.Features)
	for i := 0; same && i < len(ref.Features); i++ {
		same = ref.Features[i] == d.ref.Features[i]
	}
	d.ref = ref
	d.resetCounts()
	if !same {
		clear(d.rows)
		clear(d.bins)
		d.next, d.full = 0, false
		return
	}
	for i, row := range d.rows {
		if row != nil {
			d.binRow(i, row)
		}
	}
}

// binRow bins row into slot i and counts it.
func (d *Drift) binRow(i int, row []float64) {
	b := d.bins[i]
	if b == nil {
		b = make([]int, len(row))
		d.bins[i] = b
	}
	for f, v := range row {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			b[f] = -1
			continue
		}
		b[f] = binOf(d.ref.Edges[f], v)
		d.counts[f][b[f]]++
	}
}

// Observe adds one feature row (values in the reference's feature order).
func (d *Drift) Observe(row []float64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(row) != len(d.ref.Features) {
		return fmt.Errorf("monitor: drift row has %d values, reference has %d features", len(row), len(d.ref.Features))
	}
	if d.rows[d.next] != nil {
		for f, b := range d.bins[d.next] {
			if b >= 0 {
				d.counts[f][b]--
			}
		}
	}
	d.rows[d.next] = append(d.rows[d.next][:0], row...)
	d.binRow(d.next, d.rows[d.next])
	d.next++
	if d.next == len(d.rows) {
		d.next, d.full = 0, true
	}
	return nil
}

// Report computes drift over the rows in the window.
func (d *Drift) Report() DriftReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.next
	if d.full {
		n = len(d.rows)
	}
	return d.ref.report(d.counts, n)
}
