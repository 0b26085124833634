package lifecycle

import (
	"context"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/forecast"
	"github.com/novacron/perfpredict/serve"
)

// switchPoints are the forecasts h = 1..Horizon of the switch that follows
// the target for the served version cur (Config.Switch): fed the samples
// collected since its last forecast, or fitted on the history's last
// serve.FollowerHistory samples at the first forecast, after a swap or a
// gap, and once the history holds twice the samples it was fitted on (a
// pipeline that starts empty would otherwise keep an autoregression
// fitted on its first hours). ok is false where no switch can be fitted
// (a short history).
func (p *Pipeline) switchPoints(cur *Served) (pts []forecast.Point, ok bool) {
	tail := p.History.Tail(serve.FollowerHistory)
	values, err := column(tail, p.cfg.Target)
	if err != nil || len(tail) == 0 {
		return nil, false
	}
	times := make([]time.Time, len(tail))
	for i, s := range tail {
		times[i] = s.Time
	}
	K := cur.Forecaster.Horizon()
	p.followMu.Lock()
	defer p.followMu.Unlock()
	if p.follow != nil && p.followFor == cur && (p.followRows >= serve.FollowerHistory || len(tail) < 2*p.followRows) {
		if pts, ok := p.follow.Points(times, values, p.cfg.CollectEvery, K); ok {
			return pts, true
		}
	}
	p.follow, p.followFor = nil, nil
	f, err := serve.NewFollower(cur.Forecaster, baseline.Series{Name: p.cfg.Model, Times: times, Values: values})
	if err != nil {
		return nil, false
	}
	if pts, ok = f.Points(times, values, p.cfg.CollectEvery, K); ok {
		p.follow, p.followFor, p.followRows = f, cur, len(tail)
	}
	return pts, ok
}

// score is what the held-out gate scores of fc on the targets y[from:] at
// horizon h: what Forecast would serve. With Config.Switch that is a
// switch fitted as switchPoints fits one (on up to
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
