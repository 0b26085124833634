package serve

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
)

// FollowerHistory is how many of a series' latest observations a
// follower is fitted on by default: 28 days at a 5-minute cadence, chosen
// on held-out series (docs/PROTOCOL.md, "How much history a served switch
// is fitted on"), and one Prometheus query.
const FollowerHistory = 8064

// Follower serves one series with a forecast.Switch (evaluate's `switch`
// row): fitted on the series' history as an evaluation fits it, then fed
// the rows each request brings after the last one it saw, so that what it
// answers is what the evaluation scored. A Service with
// ServiceOptions.Switch keeps one per metric; a server that follows named
// series (the HTTP API's {"series": NAME}) keeps one per series. It is
// safe for concurrent use.
type Follower struct {
	mu sync.Mutex
	// sw is the switch, fed every row; replays start from a Fresh copy of
	// its fitted parameters instead of fitting again.
	sw *forecast.Switch
	// stopped is set once a row it was fed was not a number: it answers
	// no more.
	stopped bool
	// last is the time of the last row fed.
	last time.Time
}

// NewFollower fits a Switch of fc on history (times and values, oldest
// first), the first 70% of its rows (PROTOCOL.md's training split)
// choosing the autoregression's penalty as in an evaluation. The history
// must be long enough for the autoregression and hold only numbers.
func NewFollower(fc *forecast.Forecaster, history baseline.Series) (*Follower, error) {
	return newFollower(fc, history, baseline.SplitOf(len(history.Values)).Train)
}

func newFollower(fc *forecast.Forecaster, history baseline.Series, nTrain int) (*Follower, error) {
	n := len(history.Values)
	switch {
	case fc == nil:
		return nil, errors.New("serve: NewFollower needs a forecaster")
	case len(history.Times) != n:
		return nil, fmt.Errorf("%s%d times for %d values: %w", prefix(history.Name), len(history.Times), n, ErrBadInput)
	case n == 0:
		return nil, fmt.Errorf("%sno rows to follow: %w", prefix(history.Name), ErrBadInput)
	}
	for i, v := range history.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%srow %d is %v; a switch follows only numbers: %w", prefix(history.Name), i, v, ErrBadInput)
		}
		if i > 0 && !history.Times[i].After(history.Times[i-1]) {
			return nil, fmt.Errorf("%srow %d (%s) is not after row %d: %w", prefix(history.Name), i, history.Times[i].Format(time.RFC3339), i-1, ErrBadInput)
		}
	}
	sw := forecast.NewSwitch(fc)
	if err := sw.Fit(baseline.Series{Values: history.Values}, nTrain); err != nil {
		return nil, fmt.Errorf("%s%w", prefix(history.Name), err)
	}
	return &Follower{sw: sw, last: history.Times[n-1]}, nil
}

func finite(values []float64) bool {
	for _, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Last is the time of the last row the follower saw.
func (f *Follower) Last() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// Points feeds the follower the rows of a request (times and values,
// oldest first) after the last one it saw and answers the switch's
// forecasts h = 1..horizon after the request's last row. ok is false when
// it cannot answer that: the request ends before the last row it saw,
// does not continue it (a gap of more than half a cadence), or brings a
// value that is not a number (after which it never answers again, its
// errors no longer being those of consecutive steps).
func (f *Follower) Points(times []time.Time, values []float64, cadence time.Duration, horizon int) (pts []forecast.Point, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(times)
	if f.stopped || n == 0 || n != len(values) || times[n-1].Before(f.last) {
		return nil, false
	}
	i := sort.Search(n, func(i int) bool { return times[i].After(f.last) })
	prev := f.last
	if i > 0 && !times[i-1].Equal(f.last) {
		return nil, false // the request skips the last row seen
	}
	for j := i; j < n; j++ {
		if d := times[j].Sub(prev) - cadence; d > cadence/2 || d < -cadence/2 {
			return nil, false
		}
		prev = times[j]
	}
	if !finite(values[i:]) {
		f.stopped = true
		return nil, false
	}
	for _, v := range values[i:] {
		f.sw.Update(v)
	}
	f.last = times[n-1]
	return switchPoints(f.sw, horizon)
}

// switchPoints are sw's forecasts h = 1..horizon.
func switchPoints(sw *forecast.Switch, horizon int) ([]forecast.Point, bool) {
	pts := make([]forecast.Point, horizon)
	for h := 1; h <= horizon; h++ {
		p, err := sw.Point(h)
		if err != nil {
			return nil, false
		}
		pts[h-1] = p
	}
	return pts, true
}

// replays are, per metric, a Fresh copy of its follower's fitted Switch,
// fed none of d's rows yet, to forecast from past origins of d as the follower
// would have (nil where the metric has no follower or d's rows before to
// hold a value that is not a number: the forecaster answers those).
func (s *Service) replays(d []baseline.Series, cols []int, to int) []*forecast.Switch {
	if s.followers == nil {
		return nil
	}
	out := make([]*forecast.Switch, len(cols))
	for m, f := range s.followers {
		if f == nil || !finite(d[cols[m]].Values[:to]) {
			continue
		}
		out[m] = f.fresh()
	}
	return out
}

// fresh is a Fresh copy of the follower's fitted Switch, taken while no
// request feeds it.
func (f *Follower) fresh() *forecast.Switch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sw.Fresh()
}
