package source

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/novacron/perfpredict/baseline"
)

// MaxPoints is the most steps one query_range request asks for: Prometheus
// refuses a range of more than 11,000 points per series, so Load splits a
// longer range into consecutive chunks of at most MaxPoints steps.
const MaxPoints = 11_000

// maxValues bounds series × steps of one Load (128 MiB of float64), so a
// query matching thousands of series fails instead of exhausting memory.
const maxValues = 16 << 20

// Prometheus reads the series a PromQL query evaluates to over a time range.
type Prometheus struct {
	// URL is the server's base address, e.g. http://localhost:9090.
	URL string
	// Query is the PromQL expression; it must evaluate to a range vector of
	// floats (an instant-vector expression such as cpu or rate(x[5m])).
	Query string
	// Start and End bound the range, both included; End zero means now,
	// Start zero means MaxPoints-1 steps before End. Both are truncated to
	// milliseconds, Prometheus's resolution.
	Start, End time.Time
	// Step is the spacing of the evaluation times (the series' cadence).
	Step time.Duration
}

// badInput wraps a fault of the query or its range so that errors.Is(err,
// baseline.ErrBadInput) holds, as for a bad file.
type badInput struct{ msg string }

func (e *badInput) Error() string        { return e.msg }
func (e *badInput) Is(target error) bool { return target == baseline.ErrBadInput }

func (p Prometheus) errorf(bad bool, format string, args ...any) error {
	msg := fmt.Sprintf("prometheus %s: %s", p.URL, fmt.Sprintf(format, args...))
	if bad {
		return &badInput{msg}
	}
	return errors.New(msg)
}

// grid is the range the server evaluates at: Start + k·Step, k < n.
type grid struct {
	start, end time.Time
	step       time.Duration
	n          int
}

// grid checks the fields and resolves the defaults.
func (p Prometheus) grid(now time.Time) (grid, error) {
	u, err := url.Parse(p.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return grid{}, &badInput{fmt.Sprintf("prometheus: URL %q is not an http:// or https:// address", p.URL)}
	}
	if p.Step < time.Millisecond {
		return grid{}, p.errorf(true, "step %v: want at least 1ms", p.Step)
	}
	if p.Step%time.Millisecond != 0 {
		return grid{}, p.errorf(true, "step %v: want a whole number of milliseconds", p.Step)
	}
	end := p.End
	if end.IsZero() {
		end = now
	}
	end = end.Truncate(time.Millisecond)
	start := p.Start.Truncate(time.Millisecond)
	if p.Start.IsZero() {
		start = end.Add(-time.Duration(MaxPoints-1) * p.Step)
	}
	if end.Before(start) {
		return grid{}, p.errorf(true, "end %s is before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	span := end.Sub(start) / p.Step
	if span >= baseline.MaxRows {
		return grid{}, p.errorf(true, "%s to %s at step %v is more than %d steps; perfpredict holds a series in memory, so narrow the range or widen the step",
			start.Format(time.RFC3339), end.Format(time.RFC3339), p.Step, baseline.MaxRows)
	}
	return grid{start: start, end: end, step: p.Step, n: int(span) + 1}, nil
}

// Load evaluates Query over the range and returns one series per label
// set, in name order, on one grid of Step. The package doc says what is an
// error (a gap, mismatched series, NaN, an empty result).
func (p Prometheus) Load(ctx context.Context) ([]baseline.Series, error) {
	if p.Query == "" {
		return nil, &badInput{"prometheus: no query given"}
	}
	g, err := p.grid(time.Now())
	if err != nil {
		return nil, err
	}
	return p.load(ctx, p.Query, g)
}

// Last returns the points of the series named name (its labels in
// Prometheus's text form, as Load names it) at the n steps of Step up to
// End (zero: now); fewer when the series began or stopped inside them.
// The name is sent as the query, so it may be any selector matching that
// one series; Query and Start are not used.
func (p Prometheus) Last(ctx context.Context, name string, n int) (baseline.Series, error) {
	if name == "" {
		return baseline.Series{}, &badInput{"prometheus: no series name given"}
	}
	if n < 1 {
		return baseline.Series{}, p.errorf(true, "series %s: want at least one point, asked for %d", name, n)
	}
	if n > baseline.MaxRows {
		return baseline.Series{}, p.errorf(true, "series %s: %d points asked for, more than %d", name, n, baseline.MaxRows)
	}
	if p.Step >= time.Millisecond {
		// Start is derived from End once End is resolved.
		end := p.End
		if end.IsZero() {
			end = time.Now()
		}
		p.End = end.Truncate(time.Millisecond)
		p.Start = p.End.Add(-time.Duration(n-1) * p.Step)
	}
	g, err := p.grid(time.Now())
	if err != nil {
		return baseline.Series{}, err
	}
	ss, err := p.load(ctx, name, g)
	if err != nil {
		return baseline.Series{}, err
	}
	if len(ss) == 1 {
		return ss[0], nil
	}
	for _, s := range ss {
		if s.Name == name {
			return s, nil
		}
	}
	names := make([]string, len(ss))
	for i, s := range ss {
		names[i] = s.Name
	}
	return baseline.Series{}, p.errorf(true, "series %s: the selector matches %d series and none has exactly that name: %v", name, len(ss), names)
}

// stream is one series being assembled from chunks: values on the grid,
// NaN where the server returned none.
type stream struct {
	name   string
	values []float64
}

func (p Prometheus) load(ctx context.Context, query string, g grid) ([]baseline.Series, error) {
	base, err := url.Parse(p.URL)
	if err != nil {
		return nil, p.errorf(true, "%v", err)
	}
	byFP := map[model.Fingerprint]*stream{}
	for i0 := 0; i0 < g.n; i0 += MaxPoints {
		i1 := min(i0+MaxPoints, g.n) - 1
		from, to := g.start.Add(time.Duration(i0)*g.step), g.start.Add(time.Duration(i1)*g.step)
		resultType, m, err := queryRange(ctx, base, fresh(query, g.step), from, to, g.step, maxBody)
		if err != nil {
			var ae *apiError
			if errors.As(err, &ae) && ae.Type == "bad_data" {
				if _, got, ok := strings.Cut(ae.Msg, `in call to function "timestamp", got `); ok {
					// The message is about fresh's wrapper; say it of the query.
					return nil, p.errorf(true, "query %s: a %s, want an instant vector (a selector such as cpu{job=\"a\"}, or a function of one such as rate(x[5m]))", query, got)
				}
				return nil, p.errorf(true, "query %s: %s", query, ae.Msg)
			}
			return nil, p.errorf(false, "query %s from %s to %s: %v", query, from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		if resultType != "matrix" {
			return nil, p.errorf(false, "query %s: the server answered a %s, want a matrix", query, resultType)
		}
		for _, ss := range m {
			if len(ss.Histograms) > 0 {
				return nil, p.errorf(true, "query %s: series %s holds native histograms; query a float such as histogram_quantile(0.9, ...)", query, ss.Metric)
			}
			fp := ss.Metric.Fingerprint()
			st := byFP[fp]
			if st == nil {
				if (len(byFP)+1)*g.n > maxValues {
					return nil, p.errorf(true, "query %s: more than %d series of %d steps; narrow the query or the range", query, len(byFP), g.n)
				}
				st = &stream{name: ss.Metric.String(), values: make([]float64, g.n)}
				for i := range st.values {
					st.values[i] = math.NaN()
				}
				byFP[fp] = st
			}
			for _, pt := range ss.Values {
				k, ok := g.index(pt.t)
				if !ok {
					return nil, p.errorf(false, "query %s: series %s: the server answered a point at %s, off the grid of %v from %s",
						query, st.name, pt.t.Time().UTC().Format(time.RFC3339Nano), g.step, g.start.UTC().Format(time.RFC3339Nano))
				}
				if math.IsNaN(pt.v) || math.IsInf(pt.v, 0) {
					return nil, p.errorf(true, "query %s: series %s at %s: %v is not a finite number", query, st.name, pt.t.Time().UTC().Format(time.RFC3339), pt.v)
				}
				st.values[k] = pt.v
			}
		}
	}
	if len(byFP) == 0 {
		return nil, p.errorf(true, "query %s returned no series from %s to %s", query, g.start.UTC().Format(time.RFC3339), g.end.UTC().Format(time.RFC3339))
	}
	streams := make([]*stream, 0, len(byFP))
	for _, st := range byFP {
		streams = append(streams, st)
	}
	slices.SortFunc(streams, func(a, b *stream) int {
		if a.name < b.name {
			return -1
		}
		if a.name > b.name {
			return 1
		}
		return 0
	})
	// The grid is trimmed to the steps at which some series has a value, so
	// a range wider than the data is not a gap.
	lo, hi := g.n, -1
	for _, st := range streams {
		for k, v := range st.values {
			if !math.IsNaN(v) {
				lo, hi = min(lo, k), max(hi, k)
			}
		}
	}
	times := make([]time.Time, hi-lo+1)
	for k := range times {
		times[k] = g.start.Add(time.Duration(lo+k) * g.step).UTC()
	}
	out := make([]baseline.Series, len(streams))
	for i, st := range streams {
		vs := st.values[lo : hi+1]
		if k := slices.IndexFunc(vs, math.IsNaN); k >= 0 {
			what := "a gap (no sample within the step before it: a missed scrape, a stale marker, or a Step finer than the series' cadence)"
			if len(streams) > 1 {
				what += "; every series of the query must have a value at every step the others have"
			}
			return nil, p.errorf(true, "query %s: series %s has no value at %s (step %d of %d, every %v): %s",
				query, st.name, times[k].Format(time.RFC3339), k+1, len(times), g.step, what)
		}
		out[i] = baseline.Series{Name: st.name, Times: slices.Clone(times), Values: slices.Clone(vs)}
	}
	return out, nil
}

// fresh keeps the points of query whose sample lies within the step
// before the evaluation time. Prometheus answers a selector at time t with
// the newest sample in its lookback (5 minutes by default), so without
// this a missed scrape, or the steps just past a series' end, would read
// as a repeat of the last value: a row filled, which the protocol forbids.
// A function such as rate() is timestamped at t itself and always passes.
func fresh(query string, step time.Duration) string {
	return fmt.Sprintf("(%s) and (timestamp(%s) > time() - %s)", query, query, strconv.FormatFloat(step.Seconds(), 'f', -1, 64))
}

// index is the grid step of a timestamp the server answered.
func (g grid) index(t model.Time) (int, bool) {
	d := time.Duration(int64(t)-g.start.UnixMilli()) * time.Millisecond
	if d < 0 || d%g.step != 0 {
		return 0, false
	}
	k := int(d / g.step)
	return k, k < g.n
}
