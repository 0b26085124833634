package integration

import (
	"fmt"
	"math"
)

// PBA replay: PBA v3 paces each epoch at mean - z(confidence)*sd of its last
// window bandwidth measurements. The measurements do not depend on the
// settings, so from the measurement log the tuner can compute the rate every
// grid setting would have paced, epoch by epoch, over the same history. From
// those rates it derives three features per setting and interval:
//
//	x1 = offered / rate                 (transmission time and queueing)
//	x2 = max(0, 1 - measured/rate)      (overshoot: sending above what was there)
//	x3 = rho/(1-rho), rho = offered/(rate*(1-x2)) (queueing on the goodput, rho capped at 0.98)
//	x4 = fluid backlog / capacity, in epochs (what a sustained shortfall
//	     queues: each setting's backlog is carried from interval to interval)
//	x5 = pc = 1-(1-x2)^16, x6 = pc^3     (a 16-packet chunk lost once, and again)
//
// Loss is read off the replay as the mean of x2; measured against noisy
// measurements it errs on the cautious side (averaging measurements in
// hindsight made the choice bolder and worse). Net delay is fitted on the intervals actually
// run as b1 x1 + b2 x2 + b3 x3 + b4 x4 by least squares with every b >= 0
// (no cost falls as its cause grows; the fit cannot be extrapolated into
// "overshoot is free" from a history that rarely overshot). Every setting is then scored
// on every remembered interval: one bandwidth regime change informs all 49
// settings at once, where measuring each setting in turn would need hundreds
// of regime changes per setting. Telemetry without measurements falls back
// to the generic learner.

const (
	nFeat         = 6   // features per setting and interval
	replaySmooth  = 5   // later epochs averaged into the hindsight bandwidth
	replayKeep    = 600 // intervals remembered
	replayMinRows = 20  // intervals before the replay model is trusted
	replayRidge   = 1e-6
	replayShrink  = 10 // intervals of prior weight on "the model is right" per setting
)

type pbaReplay struct {
	backlog []float64 // per setting: fluid backlog, in Mbps-epochs, had it run all along
	log     []float64 // measurements, oldest first; log[i] is measurement base+i
	base    int
	pend    *pendingInterval // the last interval, replayed once the next one's measurements arrive
	rows    [][]float64      // per interval: nFeat features per grid setting
	// Actual features and outcomes of the intervals run.
	x    [][7]float64
	net  []float64
	rt   []float64 // retransmission waits, part of net
	loss []float64
	act  []int // setting index actually run
}

// pendingInterval is an interval waiting for later measurements, which the
// hindsight bandwidth of its last epochs needs.
type pendingInterval struct {
	from, to          int // measurement positions [from, to)
	offered           float64
	actual            [2]int
	netMs, rtMs, loss float64
}

func (r *pbaReplay) settings() int { return len(PBAWindows) * len(PBAConfidence) }

// add records one interval's measurements and outcome, and replays the
// interval before it for every setting.
func (r *pbaReplay) add(meas []float64, offeredMbps float64, actual [2]int, netMs, rtMs, loss float64) error {
	for i, m := range meas {
		if !(m > 0) || math.IsInf(m, 0) {
			return fmt.Errorf("integration: PBA telemetry: measurement %d must be positive and finite, got %v (a gap?)", i, m)
		}
	}
	r.log = append(r.log, meas...)
	if p := r.pend; p != nil {
		r.replay(p)
	}
	end := r.base + len(r.log)
	r.pend = &pendingInterval{from: end - len(meas), to: end, offered: offeredMbps, actual: actual, netMs: netMs, rtMs: rtMs, loss: loss}
	// Keep what the widest window of the oldest pending epoch needs.
	maxW := int(PBAWindows[len(PBAWindows)-1])
	if drop := r.pend.from - maxW - r.base; drop > len(r.log)/2 {
		r.log = append(r.log[:0], r.log[drop:]...)
		r.base += drop
	}
	return nil
}

// replay computes every setting's features over interval p.
func (r *pbaReplay) replay(p *pendingInterval) {
	if p.to == p.from || p.from == r.base {
		return // no measurements, or nothing before them to pace from
	}
	ns := r.settings()
	if r.backlog == nil {
		r.backlog = make([]float64, ns)
	}
	feat := make([]float64, nFeat*ns)
	z := make([]float64, len(PBAConfidence))
	for j, c := range PBAConfidence {
		z[j] = normalQuantile(c)
	}
	for pos := p.from; pos < p.to; pos++ {
		i := pos - r.base
		// What was available is judged in hindsight, averaging this and
		// the next replaySmooth measurements: one measurement's noise would
		// make cautious settings look lossy, and looking only forward
		// keeps a sudden drop sudden.
		avail, _ := meanSD(r.log[i:min(len(r.log), i+replaySmooth+1)])
		for a, wf := range PBAWindows {
			w := min(int(wf), i)
			mean, sd := meanSD(r.log[i-w : i])
			for b := range PBAConfidence {
				rate := math.Max(1, mean-z[b]*sd)
				k := nFeat * (a*len(PBAConfidence) + b)
				over := math.Max(0, 1-avail/rate)
				// A chunk of about 16 packets is lost with 1-(1-p)^16 and sent
				// again: what the link delivers shrinks with it.
				pc := 1 - math.Pow(1-over, 16)
				// Goodput: what is sent above what was available is lost.
				capacity := rate * math.Max(0.05, 1-over)
				eff := p.offered / capacity
				feat[k] += p.offered / rate
				feat[k+1] += over
				rho := math.Min(eff, 0.98)
				feat[k+2] += rho / (1 - rho)
				// Fluid backlog: what arrives beyond the goodput waits, and
				// drains when the rate recovers.
				bl := &r.backlog[a*len(PBAConfidence)+b]
				*bl = math.Max(0, *bl+p.offered-capacity)
				feat[k+3] += *bl / capacity
				feat[k+4] += pc
				feat[k+5] += pc * pc * pc
			}
		}
	}
	n := float64(p.to - p.from)
	for i := range feat {
		feat[i] /= n
	}
	k := nFeat * (p.actual[0]*len(PBAConfidence) + p.actual[1])
	r.rows = append(r.rows, feat)
	r.x = append(r.x, [7]float64{1, feat[k], feat[k+1], feat[k+2], feat[k+3], feat[k+4], feat[k+5]})
	r.net = append(r.net, p.netMs)
	r.rt = append(r.rt, p.rtMs)
	r.loss = append(r.loss, p.loss)
	r.act = append(r.act, p.actual[0]*len(PBAConfidence)+p.actual[1])
	if len(r.rows) > replayKeep {
		r.rows, r.x, r.net, r.rt, r.loss, r.act = r.rows[1:], r.x[1:], r.net[1:], r.rt[1:], r.loss[1:], r.act[1:]
	}
}

// predictNet applies the delay model to one setting's features.
func predictNet(b [7]float64, x []float64) float64 {
	v := 0.0
	for j := range nFeat {
		v += b[j+1] * x[j]
	}
	return v
}

// corrections are what the model got wrong about each setting where it
// actually ran: the mean residual, shrunk towards 0 by replayShrink
// intervals' worth of prior, so a setting measured a while is judged by what
// it did and one never run by the model alone.
func (r *pbaReplay) corrections(bn [7]float64) []float64 {
	ns := r.settings()
	sum, n := make([]float64, ns), make([]float64, ns)
	for i, s := range r.act {
		sum[s] += r.net[i] - predictNet(bn, r.x[i][1:1+nFeat])
		n[s]++
	}
	for s := range sum {
		sum[s] /= n[s] + replayShrink
	}
	return sum
}

// fit returns the delay model's coefficients over the features. With the
// retransmission waits reported apart, the queueing part (x1, x3, x4) and the
// loss part (x2) are fitted separately, so a backlog left by a burst of loss
// is not credited to queueing nor the reverse.
func (r *pbaReplay) fit() [7]float64 {
	split := false
	for _, v := range r.rt {
		if v > 0 {
			split = true
			break
		}
	}
	if !split {
		return nonNegative(r.x, r.net, []int{1, 2, 3, 4, 5, 6})
	}
	q := make([]float64, len(r.net))
	for i := range q {
		q[i] = r.net[i] - r.rt[i]
	}
	b := nonNegative(r.x, q, []int{1, 3, 4})
	l := nonNegative(r.x, r.rt, []int{2, 5, 6})
	b[2], b[5], b[6] = l[2], l[5], l[6]
	return b
}

// scores predicts every setting's mean net delay and loss over the
// remembered intervals; ok is false until the model has enough data.
func (r *pbaReplay) scores() (net, loss []float64, ok bool) {
	if len(r.rows) < replayMinRows {
		return nil, nil, false
	}
	bn := r.fit()
	ns := r.settings()
	net, loss = make([]float64, ns), make([]float64, ns)
	for _, f := range r.rows {
		for s := range ns {
			x := f[nFeat*s : nFeat*s+nFeat]
			net[s] += predictNet(bn, x)
			x2 := x[1]
			loss[s] += x2
		}
	}
	corr := r.corrections(bn)
	for s := range ns {
		net[s] = net[s]/float64(len(r.rows)) + corr[s]
		loss[s] /= float64(len(r.rows))
	}
	return net, loss, true
}

// best is the setting with the least predicted delay among those within the
// loss target (the least loss when none is).
func (r *pbaReplay) best(maxLoss float64) ([2]int, float64, bool) {
	net, loss, ok := r.scores()
	if !ok {
		return [2]int{}, 0, false
	}
	bi, br := 0, math.Inf(1)
	for s := range net {
		if v := rank(net[s], loss[s]/maxLoss-1); v < br {
			bi, br = s, v
		}
	}
	return [2]int{bi / len(PBAConfidence), bi % len(PBAConfidence)}, br, true
}

// lastScore is setting i's predicted rank in the latest interval alone: the
// counterfactual the rollback compares a change's measured outcome with.
func (r *pbaReplay) lastScore(i [2]int, maxLoss float64) (float64, bool) {
	if len(r.rows) < replayMinRows {
		return 0, false
	}
	bn := r.fit()
	f := r.rows[len(r.rows)-1]
	s := i[0]*len(PBAConfidence) + i[1]
	x := f[nFeat*s : nFeat*s+nFeat]
	return rank(predictNet(bn, x)+r.corrections(bn)[s], x[1]/maxLoss-1), true
}

// scoreOf is setting i's predicted rank.
func (r *pbaReplay) scoreOf(i [2]int, maxLoss float64) (float64, bool) {
	net, loss, ok := r.scores()
	if !ok {
		return 0, false
	}
	s := i[0]*len(PBAConfidence) + i[1]
	return rank(net[s], loss[s]/maxLoss-1), true
}

// leastSquares fits y on the columns cols of x (ridge-regularised normal
// equations); coefficients of other columns are 0.
func leastSquares(x [][7]float64, y []float64, cols []int) [7]float64 {
	n := len(cols)
	a := make([][]float64, n)
	for i := range a {
		a[i] = make([]float64, n+1)
	}
	for r, row := range x {
		for i, ci := range cols {
			for j, cj := range cols {
				a[i][j] += row[ci] * row[cj]
			}
			a[i][n] += row[ci] * y[r]
		}
	}
	for i := range n {
		a[i][i] += replayRidge * (1 + a[i][i])
	}
	// Gaussian elimination with partial pivoting.
	for c := range n {
		p := c
		for r := c + 1; r < n; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		if math.Abs(a[c][c]) < 1e-300 {
			continue
		}
		for r := range n {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k <= n; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var b [7]float64
	for i, ci := range cols {
		if a[i][i] != 0 {
			b[ci] = a[i][n] / a[i][i]
		}
	}
	return b
}

func meanSD(v []float64) (float64, float64) {
	if len(v) == 0 {
		return 0, 0
	}
	m := 0.0
	for _, x := range v {
		m += x
	}
	m /= float64(len(v))
	if len(v) < 2 {
		return m, 0
	}
	s := 0.0
	for _, x := range v {
		s += (x - m) * (x - m)
	}
	return m, math.Sqrt(s / float64(len(v)-1))
}

// normalQuantile is the standard normal quantile for p >= 0.5 (0 below),
// by bisection on erfc.
func normalQuantile(p float64) float64 {
	if p <= 0.5 {
		return 0
	}
	lo, hi := 0.0, 10.0
	for range 60 {
		mid := (lo + hi) / 2
		if 0.5*math.Erfc(-mid/math.Sqrt2) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// nonNegative fits y on cols with every coefficient >= 0 (a cost never
// falls as transmission, overshoot or backlog grows), dropping a column
// whose coefficient comes out negative and refitting.
func nonNegative(x [][7]float64, y []float64, cols []int) [7]float64 {
	for {
		b := leastSquares(x, y, cols)
		var keep []int
		for _, c := range cols {
			if b[c] > 0 {
				keep = append(keep, c)
			}
		}
		if len(keep) == len(cols) || len(keep) == 0 {
			if len(keep) == 0 {
				return [7]float64{}
			}
			return b
		}
		cols = keep
	}
}
