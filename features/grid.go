package features

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// GridOptions tune Resample.
type GridOptions struct {
	// Cadence is the grid step; 0 infers it as the median step between
	// distinct timestamps.
	Cadence time.Duration `json:"cadence_ns"`
	// MaxFill is the longest run of missing grid points filled by linear
	// interpolation; longer runs are gaps: their points are dropped and the
	// next point is marked in Grid.Break. 0 means DefaultMaxFill; negative
	// fills nothing.
	MaxFill int
}

// DefaultMaxFill is the longest gap, in grid points, filled by interpolation
// when GridOptions.MaxFill is 0.
const DefaultMaxFill = 3

// maxGridPoints bounds the grid so a stray timestamp cannot exhaust memory.
const maxGridPoints = 1 << 31

// Grid is a series on a regular time grid: every value finite, consecutive
// rows one cadence apart except across a Break.
type Grid struct {
	Names   []string
	Cadence time.Duration
	// Times are unix nanoseconds of each row.
	Times []int64
	// Values[m][i] is metric m at row i; never NaN.
	Values [][]float64
	// Break[i] is true when grid points were dropped just before row i (a gap
	// longer than MaxFill): rolling statistics and lags restart there and no
	// window spans it.
	Break []bool
}

// Len is the number of rows.
func (g *Grid) Len() int { return len(g.Times) }

// validate checks what Resample guarantees, for grids built by hand.
func (g *Grid) validate() error {
	n := len(g.Times)
	if len(g.Break) != n || len(g.Values) != len(g.Names) {
		return fmt.Errorf("features: grid has %d times, %d breaks, %d names, %d value columns", n, len(g.Break), len(g.Names), len(g.Values))
	}
	for i, t := range g.Times {
		if t < 0 || i > 0 && t <= g.Times[i-1] {
			return fmt.Errorf("features: grid time %d (%d) is negative or not after the previous one", i, t)
		}
	}
	for m, col := range g.Values {
		if len(col) != n {
			return fmt.Errorf("features: grid metric %q has %d values for %d times", g.Names[m], len(col), n)
		}
		for i, v := range col {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("features: grid metric %q is %v at row %d", g.Names[m], v, i)
			}
		}
	}
	return nil
}

// GridReport counts what Resample did.
type GridReport struct {
	Rows                  int           `json:"rows"`                   // input rows
	ExactDuplicates       int           `json:"exact_duplicates"`       // rows identical to an earlier row with the same timestamp, dropped
	ConflictingDuplicates int           `json:"conflicting_duplicates"` // timestamps with differing rows, averaged per metric
	Binned                int           `json:"binned"`                 // distinct timestamps merged into a grid point with another, averaged
	Filled                int           `json:"filled"`                 // metric values filled by linear interpolation
	Gaps                  int           `json:"gaps"`                   // breaks: runs of missing points longer than MaxFill
	Dropped               int           `json:"dropped"`                // grid points dropped inside gaps and at the edges
	Points                int           `json:"points"`                 // rows on the grid
	Cadence               time.Duration `json:"cadence_ns"`             // the cadence used
}

func (r GridReport) String() string {
	return fmt.Sprintf("%d rows -> %d grid points at %v: %d exact duplicates dropped, %d conflicting duplicate timestamps averaged, %d timestamps binned, %d values interpolated, %d gaps (%d points dropped)",
		r.Rows, r.Points, r.Cadence, r.ExactDuplicates, r.ConflictingDuplicates, r.Binned, r.Filled, r.Gaps, r.Dropped)
}

// Resample sorts s by time (stably), merges duplicates, bins observations to
// a regular grid anchored at the first timestamp (each observation goes to
// the first grid point at or after it, so a grid value never comes from a
// later time), fills short gaps by linear interpolation and drops long ones.
// Rows where some metric is still missing are dropped too (as a gap).
//
// Interpolation uses the observation that closes the gap, so an interpolated
// point is known only once the gap has closed; every other grid value depends
// on observations at or before its time only.
func Resample(s *Table, opt GridOptions) (*Grid, GridReport, error) {
	rep := GridReport{Rows: s.Len()}
	nm := len(s.Names)
	if s.Len() == 0 {
		return nil, rep, ErrNoData
	}
	if len(s.Values) != nm {
		return nil, rep, fmt.Errorf("features: table has %d names and %d value columns", nm, len(s.Values))
	}
	for m := range s.Values {
		if len(s.Values[m]) != s.Len() {
			return nil, rep, fmt.Errorf("features: metric %q has %d values for %d timestamps", s.Names[m], len(s.Values[m]), s.Len())
		}
	}
	maxFill := opt.MaxFill
	if maxFill == 0 {
		maxFill = DefaultMaxFill
	} else if maxFill < 0 {
		maxFill = 0
	}

	// 1. Stable sort by time.
	perm := make([]int32, s.Len())
	for i := range perm {
		perm[i] = int32(i)
	}
	slices.SortStableFunc(perm, func(a, b int32) int {
		ta, tb := s.Times[a], s.Times[b]
		switch {
		case ta < tb:
			return -1
		case ta > tb:
			return 1
		}
		return 0
	})

	// 2. One row per distinct timestamp.
	var ut []int64
	uv := make([][]float64, nm)
	row := make([]float64, nm)
	sum := make([]float64, nm)
	cnt := make([]int, nm)
	var group []int32
	for i := 0; i < len(perm); {
		j := i
		for j < len(perm) && s.Times[perm[j]] == s.Times[perm[i]] {
			j++
		}
		group = group[:0]
		for _, r := range perm[i:j] {
			dup := false
			for _, q := range group {
				if sameRow(s.Values, r, q) {
					dup = true
					break
				}
			}
			if dup {
				rep.ExactDuplicates++
			} else {
				group = append(group, r)
			}
		}
		if len(group) > 1 {
			rep.ConflictingDuplicates++
		}
		for m := 0; m < nm; m++ {
			sum[m], cnt[m] = 0, 0
			for _, r := range group {
				if v := s.Values[m][r]; !math.IsNaN(v) {
					sum[m] += v
					cnt[m]++
				}
			}
			row[m] = math.NaN()
			if cnt[m] > 0 {
				row[m] = sum[m] / float64(cnt[m])
			}
			uv[m] = append(uv[m], row[m])
		}
		ut = append(ut, s.Times[perm[i]])
		i = j
	}

	// 3. Cadence.
	step := int64(opt.Cadence)
	if step < 0 {
		return nil, rep, fmt.Errorf("features: negative cadence %v", opt.Cadence)
	}
	if step == 0 {
		if len(ut) < 2 {
			return nil, rep, ErrCadence
		}
		d := make([]int64, len(ut)-1)
		for i := range d {
			d[i] = ut[i+1] - ut[i]
		}
		slices.Sort(d)
		step = d[(len(d)-1)/2]
	}
	rep.Cadence = time.Duration(step)

	// 4. Bin distinct timestamps to grid slots (right-closed), averaging
	// timestamps that share a slot.
	t0 := ut[0]
	var slot []int64
	sv := make([][]float64, nm)
	for i := 0; i < len(ut); {
		k := ceilDiv(ut[i]-t0, step)
		j := i
		for j < len(ut) && ceilDiv(ut[j]-t0, step) == k {
			j++
		}
		rep.Binned += j - i - 1
		for m := 0; m < nm; m++ {
			var sm float64
			c := 0
			for _, v := range uv[m][i:j] {
				if !math.IsNaN(v) {
					sm += v
					c++
				}
			}
			v := math.NaN()
			if c > 0 {
				v = sm / float64(c)
			}
			sv[m] = append(sv[m], v)
		}
		slot = append(slot, k)
		i = j
	}

	// 5. Expand short gaps into missing points; long gaps become breaks.
	var gk []int64
	var brk []bool
	gv := make([][]float64, nm)
	total := 0
	for i, k := range slot {
		b := false
		if i > 0 {
			g := k - slot[i-1] - 1
			if g > int64(maxFill) {
				b = true
				rep.Dropped += int(min(g, math.MaxInt32))
			} else {
				total += int(g)
				for q := slot[i-1] + 1; q < k; q++ {
					gk = append(gk, q)
					brk = append(brk, false)
					for m := range gv {
						gv[m] = append(gv[m], math.NaN())
					}
				}
			}
		}
		total++
		if total > maxGridPoints {
			return nil, rep, fmt.Errorf("features: grid would exceed %d points", maxGridPoints)
		}
		gk = append(gk, k)
		brk = append(brk, b)
		for m := range gv {
			gv[m] = append(gv[m], sv[m][i])
		}
	}

	// 6. Interpolate short missing runs inside each segment, per metric.
	for m := range gv {
		v := gv[m]
		for i := 0; i < len(v); {
			if !math.IsNaN(v[i]) {
				i++
				continue
			}
			j := i
			for j < len(v) && math.IsNaN(v[j]) && (j == i || !brk[j]) {
				j++
			}
			// Missing run [i, j): fill when both ends exist in the segment.
			if i > 0 && !brk[i] && j < len(v) && !brk[j] && j-i <= maxFill {
				a, b := v[i-1], v[j]
				l := float64(j - i + 1)
				for q := i; q < j; q++ {
					v[q] = a + (b-a)*(float64(q-i+1)/l)
				}
				rep.Filled += j - i
			}
			i = j
		}
	}

	// 7. Keep rows where every metric is present; a dropped row is a gap.
	g := &Grid{Names: append([]string(nil), s.Names...), Cadence: time.Duration(step), Values: make([][]float64, nm)}
	pendingBreak := false
	for i, k := range gk {
		ok := true
		for m := range gv {
			if math.IsNaN(gv[m][i]) {
				ok = false
				break
			}
		}
		if brk[i] {
			pendingBreak = true
		}
		if !ok {
			rep.Dropped++
			pendingBreak = true
			continue
		}
		g.Times = append(g.Times, t0+k*step)
		b := pendingBreak && len(g.Times) > 1
		if b {
			rep.Gaps++
		}
		g.Break = append(g.Break, b)
		pendingBreak = false
		for m := range gv {
			g.Values[m] = append(g.Values[m], gv[m][i])
		}
	}
	rep.Points = len(g.Times)
	if rep.Points == 0 {
		return nil, rep, fmt.Errorf("features: %w: no grid point has a value for every metric", ErrNoData)
	}
	return g, rep, nil
}

// sameRow reports whether rows a and b carry identical values (NaN equal NaN).
func sameRow(vals [][]float64, a, b int32) bool {
	for _, col := range vals {
		x, y := col[a], col[b]
		if x != y && !(math.IsNaN(x) && math.IsNaN(y)) {
			return false
		}
	}
	return true
}

// ceilDiv is ceil(a/b) for a >= 0, b > 0.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}
