package lifecycle

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
)

// followState is a switch that follows the pipeline's target for one
// version (Config.Switch): the served version's, which Forecast answers
// with, or a shadow test's candidate's.
type followState struct {
	mu   sync.Mutex
	f    *serve.Follower
	of   *Served // the version f was fitted for
	rows int     // the samples f was fitted on
}

// points are the forecasts h = 1..Horizon of the switch that follows the
// target for version v: fed the samples collected since its last
// forecast, or fitted on the history's last serve.FollowerHistory samples
// at the first forecast, for another version, after a gap, and once the
// history holds twice the samples it was fitted on (a pipeline that starts
// empty would otherwise keep an autoregression fitted on its first
// hours). ok is false where no switch can be fitted (a short history).
func (fs *followState) points(p *Pipeline, v *Served) (pts []forecast.Point, ok bool) {
	K := v.Forecaster.Horizon()
	kept := min(p.History.Len(), serve.FollowerHistory)
	// A fit is reported once the lock is released (deferred first, run
	// last), so that an OnEvent that asks for a forecast does not wait on
	// itself.
	var fitted *Event
	defer func() {
		if fitted != nil {
			p.emit(*fitted)
		}
	}()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.f != nil && fs.of == v && (fs.rows >= serve.FollowerHistory || kept < 2*fs.rows) {
		// Only the samples from the last it saw on: the rows it is fed.
		if times, values, ok := targetRows(p, p.History.TailFrom(fs.f.Last(), serve.FollowerHistory)); ok {
			if pts, ok := fs.f.Points(times, values, p.cfg.CollectEvery, K); ok {
				return pts, true
			}
		}
	}
	fs.f, fs.of = nil, nil
	times, values, ok := targetRows(p, p.History.Tail(serve.FollowerHistory))
	if !ok {
		return nil, false
	}
	f, err := serve.NewFollower(v.Forecaster, baseline.Series{Name: p.cfg.Model, Times: times, Values: values})
	if err != nil {
		return nil, false
	}
	if pts, ok = f.Points(times, values, p.cfg.CollectEvery, K); ok {
		fs.f, fs.of, fs.rows = f, v, len(times)
		fitted = &Event{Time: times[len(times)-1], Kind: "switch_fitted", Version: v.Version.Version.String(),
			Text: fmt.Sprintf("on the last %d samples", len(times))}
	}
	return pts, ok
}

// targetRows are the times and target values of samples; ok is false
// when there are none or a target is missing or not a number.
func targetRows(p *Pipeline, samples []Sample) (times []time.Time, values []float64, ok bool) {
	values, err := column(samples, p.cfg.Target)
	if err != nil || len(samples) == 0 {
		return nil, nil, false
	}
	times = make([]time.Time, len(samples))
	for i, s := range samples {
		times[i] = s.Time
	}
	return times, values, true
}

// servedAt is what the pipeline serves for version v, h steps after the
// last sample: its switch's forecast with Config.Switch where the switch
// can answer, the forecaster's on y (the history's last values)
// otherwise.
func (p *Pipeline) servedAt(ctx context.Context, fs *followState, v *Served, y []float64, h int) (float64, error) {
	if p.cfg.Switch {
		if pts, ok := fs.points(p, v); ok {
			return pts[h-1].Value, nil
		}
	}
	return forecastAt(ctx, v.Forecaster, y, h)
}

// score is what the held-out gate scores of fc on the targets y[from:] at
// horizon h: what Forecast would serve. With Config.Switch that is a
// switch fitted as followState fits one (on up to
// serve.FollowerHistory samples before the first target's origin) and fed
// forward; where none can be fitted, and without Config.Switch, fc alone.
// method names which (forecast.SwitchMethod or "model").
func (p *Pipeline) score(ctx context.Context, fc *forecast.Forecaster, y []float64, from, h int) (m Metrics, method string, err error) {
	if p.cfg.Switch {
		if m, ok := scoreSwitch(fc, y, from, h); ok {
			return m, forecast.SwitchMethod, nil
		}
	}
	m, err = score(ctx, fc, y, from, h)
	return m, "model", err
}

// scoreSwitch scores a switch of fc on y[from:] at horizon h, fitted on
// the up to serve.FollowerHistory values before the first target's origin
// (the first 70% of them choosing the autoregression's penalty, as
// serve.NewFollower does). ok is false if it cannot be fitted or cannot
// answer at some origin.
func scoreSwitch(fc *forecast.Forecaster, y []float64, from, h int) (m Metrics, ok bool) {
	fitEnd := from - h + 1 // the first target's origin is fitEnd-1
	if h < 1 || h > fc.Horizon() || fitEnd < 1 || from >= len(y) {
		return Metrics{}, false
	}
	hist := y[max(0, fitEnd-serve.FollowerHistory):fitEnd]
	sw := forecast.NewSwitch(fc)
	if err := sw.Fit(baseline.Series{Values: hist}, baseline.SplitOf(len(hist)).Train); err != nil {
		return Metrics{}, false
	}
	var acc metricAcc
	for j := from; j < len(y); j++ {
		if j > from {
			sw.Update(y[j-h])
		}
		v, err := sw.Forecast(h)
		if err != nil {
			return Metrics{}, false
		}
		acc.add(v, y[j])
	}
	return acc.metrics(), true
}
