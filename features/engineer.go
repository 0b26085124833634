package features

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Options tune Engineer. The zero value gives the default features.
type Options struct {
	// Windows are the rolling windows; default 5m, 15m, 30m. Each becomes
	// max(2, round(window/cadence)) samples.
	Windows []time.Duration
	// Lags are in samples; default 1, 5, 10, 30.
	Lags []int
	// TrendWindow is the span of the utilisation trend; default 30m.
	TrendWindow time.Duration
	// TrendMetrics get a <m>_trend_<win> column; nil picks metrics whose
	// name contains cpu, mem, disk, util or load.
	TrendMetrics []string
	// NoDomain leaves out the domain columns (counters still become rates).
	NoDomain bool
}

// Default feature parameters. Engineer reads these, never a caller's copy,
// so no caller can change the features of every Frame in the process.
var (
	defaultWindows = []time.Duration{5 * time.Minute, 15 * time.Minute, 30 * time.Minute}
	defaultLags    = []int{1, 5, 10, 30}
)

// DefaultWindows returns the rolling windows Engineer uses when
// Options.Windows is nil: 5, 15 and 30 minutes (a copy).
func DefaultWindows() []time.Duration { return slices.Clone(defaultWindows) }

// DefaultLags returns the lags in samples Engineer uses when Options.Lags is
// nil: 1, 5, 10 and 30 (a copy).
func DefaultLags() []int { return slices.Clone(defaultLags) }

// DefaultTrendWindow is the span of the utilisation trend.
const DefaultTrendWindow = 30 * time.Minute

// pctEpsilon guards percentage changes: against a lagged value with
// |v| <= pctEpsilon the change is 0.
const pctEpsilon = 1e-9

// Frame is the engineered feature matrix: float32, row-major [Rows, Cols].
type Frame struct {
	Names   []string
	Times   []int64
	Break   []bool // as Grid.Break
	Cadence time.Duration
	Data    []float32
	// Metrics are the per-metric base series' names (counters already
	// turned into <base>_rate), each also the name of its value column.
	Metrics []string
}

// Rows is the number of time steps.
func (f *Frame) Rows() int { return len(f.Times) }

// Cols is the number of features.
func (f *Frame) Cols() int { return len(f.Names) }

// Row returns row i (a view).
func (f *Frame) Row(i int) []float32 { c := len(f.Names); return f.Data[i*c : (i+1)*c] }

// Column is the index of the named feature, or -1.
func (f *Frame) Column(name string) int {
	for i, n := range f.Names {
		if n == name {
			return i
		}
	}
	return -1
}

var temporalNames = []string{"hour", "dow", "weekend", "hour_sin", "hour_cos", "dow_sin", "dow_cos"}

// TemporalNames returns the names of the first columns of every Frame (a copy).
func TemporalNames() []string { return slices.Clone(temporalNames) }

// GapName is the column that is 1 on the first row after a long gap.
const GapName = "gap"

// plan is the resolved layout of a Frame.
type plan struct {
	wins    []int    // window sizes in samples
	winLbl  []string // labels such as 15m
	lags    []int
	base    [][]float64 // per-metric series (counters as rates)
	metrics []string
	off     []int // column of each metric's value
	domain  []domainColumn
	domOff  int
	cols    int
	names   []string
}

func windowLabel(d time.Duration) string {
	switch {
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// samplesFor converts a duration to a window length in samples (>= 2).
func samplesFor(d, cadence time.Duration) int {
	w := math.Round(float64(d) / float64(cadence))
	return int(max(min(w, 1<<40), 2))
}

// capWindow bounds a window by the series length: a longer window holds the
// same values, so the features are unchanged, and its buffers stay small.
func capWindow(w, n int) int { return max(min(w, n), 2) }

// f32 narrows a statistic to the matrix's float32, saturating at the largest
// finite float32 so an extreme rate or percentage never becomes infinite.
func f32(x float64) float32 {
	if x > math.MaxFloat32 {
		return math.MaxFloat32
	}
	if x < -math.MaxFloat32 {
		return -math.MaxFloat32
	}
	return float32(x)
}

func newPlan(g *Grid, opt *Options) (*plan, error) {
	if g.Cadence <= 0 {
		return nil, fmt.Errorf("features: grid cadence %v", g.Cadence)
	}
	p := &plan{}
	wins := opt.Windows
	if wins == nil {
		wins = defaultWindows
	}
	for _, d := range wins {
		if d <= 0 {
			return nil, fmt.Errorf("features: rolling window %v must be positive", d)
		}
		p.wins = append(p.wins, samplesFor(d, g.Cadence))
		p.winLbl = append(p.winLbl, windowLabel(d))
	}
	p.lags = opt.Lags
	if p.lags == nil {
		p.lags = defaultLags
	}
	for _, k := range p.lags {
		if k < 1 {
			return nil, fmt.Errorf("features: lag %d must be >= 1", k)
		}
	}
	p.names = append(p.names, temporalNames...)
	p.names = append(p.names, GapName)
	for m, name := range g.Names {
		v := g.Values[m]
		if base, ok := strings.CutSuffix(name, "_total"); ok && base != "" {
			name = base + "_rate"
			v = counterRate(v, g.Times)
		}
		p.metrics = append(p.metrics, name)
		p.base = append(p.base, v)
		p.off = append(p.off, len(p.names))
		p.names = append(p.names, name)
		for wi := range p.wins {
			for _, st := range rollStatNames {
				p.names = append(p.names, fmt.Sprintf("%s_roll_%s_%s", name, st, p.winLbl[wi]))
			}
		}
		for _, k := range p.lags {
			p.names = append(p.names, fmt.Sprintf("%s_lag_%d", name, k), fmt.Sprintf("%s_diff_%d", name, k), fmt.Sprintf("%s_pct_%d", name, k))
		}
	}
	if !opt.NoDomain {
		p.domain = domainColumns(g, p, opt)
	}
	p.domOff = len(p.names)
	for _, d := range p.domain {
		p.names = append(p.names, d.name)
	}
	seen := make(map[string]bool, len(p.names))
	for _, n := range p.names {
		if seen[n] {
			return nil, fmt.Errorf("features: two columns named %q (rename the metric)", n)
		}
		seen[n] = true
	}
	p.cols = len(p.names)
	return p, nil
}

// Engineer computes the feature matrix of g (see the package comment for the
// columns). Every row depends on grid rows at or before it only; rolling
// statistics and lags restart after each Break (a lag reaching before the
// segment start takes the segment's first value).
func Engineer(g *Grid, opt *Options) (*Frame, error) {
	if opt == nil {
		opt = &Options{}
	}
	if g.Len() == 0 {
		return nil, ErrNoData
	}
	if err := g.validate(); err != nil {
		return nil, err
	}
	p, err := newPlan(g, opt)
	if err != nil {
		return nil, err
	}
	n, cols := g.Len(), p.cols
	f := &Frame{
		Names:   p.names,
		Times:   append([]int64(nil), g.Times...),
		Break:   append([]bool(nil), g.Break...),
		Cadence: g.Cadence,
		Data:    make([]float32, n*cols),
		Metrics: p.metrics,
	}
	nm := len(p.base)
	wins := make([][]*rollWindow, nm)
	for m := range wins {
		wins[m] = make([]*rollWindow, len(p.wins))
		var q *ranks // one ranking serves all windows of the metric
		if len(p.wins) > 0 {
			q = newRanks(capWindow(slices.Max(p.wins), n))
		}
		for wi, w := range p.wins {
			wins[m][wi] = newRollWindowOn(capWindow(w, n), q)
		}
	}
	segStart := 0
	for i := 0; i < n; i++ {
		if i > 0 && g.Break[i] {
			segStart = i
			for m := range wins {
				for _, r := range wins[m] {
					r.reset()
				}
			}
		}
		row := f.Data[i*cols : (i+1)*cols]
		temporal(row[:len(temporalNames)], g.Times[i])
		if g.Break[i] {
			row[len(temporalNames)] = 1
		}
		for m, v := range p.base {
			x := v[i]
			o := p.off[m]
			row[o] = f32(x)
			o++
			for _, r := range wins[m] {
				r.push(v, i)
				r.stats(row[o : o+rollStats])
				o += rollStats
			}
			for _, k := range p.lags {
				j := max(i-k, segStart)
				l := v[j]
				d := x - l
				row[o] = f32(l)
				row[o+1] = f32(d)
				if math.Abs(l) > pctEpsilon {
					row[o+2] = f32(d / math.Abs(l))
				}
				o += 3
			}
		}
		for c, d := range p.domain {
			row[p.domOff+c] = f32(d.values[i])
		}
	}
	return f, nil
}

// temporal writes hour, dow, weekend and their cyclic encodings for unix
// nanoseconds t >= 0 (UTC; dow 0 = Monday, as pandas).
func temporal(out []float32, t int64) {
	sec := t / 1e9
	sod := sec % 86400
	dow := (sec/86400 + 3) % 7 // 1970-01-01 was a Thursday
	out[0] = float32(sod / 3600)
	out[1] = float32(dow)
	if dow >= 5 {
		out[2] = 1
	}
	hs, hc := math.Sincos(2 * math.Pi * float64(sod) / 86400)
	ds, dc := math.Sincos(2 * math.Pi * float64(dow) / 7)
	out[3] = float32(hs)
	out[4] = float32(hc)
	out[5] = float32(ds)
	out[6] = float32(dc)
}

// counterRate turns a monotonic counter into a per-second rate. A decrease is
// a reset (the counter restarted from zero), so the increase is the new value.
// The first row has rate 0; after a gap the rate spans the gap.
func counterRate(v []float64, times []int64) []float64 {
	r := make([]float64, len(v))
	for i := 1; i < len(v); i++ {
		d := v[i] - v[i-1]
		if d < 0 {
			d = v[i]
		}
		r[i] = d / (float64(times[i]-times[i-1]) / 1e9)
	}
	return r
}
