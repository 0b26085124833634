package integration

import (
	"fmt"
	"math"
)

// PBA replay: PBA v3 paces each epoch at mean - z(confidence)*sd of its last
// window bandwidth measurements. The measurements do not depend on the
// settings, so from the measurement log the tuner can compute the rate every
// grid setting would have paced, epoch by epoch, over the same history, and
// score every setting on every remembered interval: one bandwidth regime
// change informs all 49 settings at once, where measuring each setting in
// turn would need hundreds of regime changes per setting.
//
// What was available is judged in hindsight (this and the next replaySmooth
// measurements; an interval waits for them), overshoot is
// max(0, 1 - available/rate), and the replay's loss estimate is its mean.
//
// When PBA reports what it sends (PBATelemetry's EpochMs, MessageRate,
// RetransmitTimeoutMs, PacketsPerMessage) the features are the parts of the
// delay in milliseconds (physEpoch): transmission of a message at the paced
// rate, M/D/1 queueing behind other messages on the goodput, the fluid
// backlog's wait where the goodput falls short of the offered load (carried
// from interval to interval per setting: what a sustained shortfall queues),
// and the timeouts of messages with a lost packet; the goodput is the rate
// times the share of messages that get through. Each part counts once.
// Without that report the features are unit-free (offered/rate, overshoot,
// rho/(1-rho), backlog in epochs, chunk loss and its cube for a 16-packet
// chunk) and their costs are fitted on the intervals actually run by least
// squares with every cost >= 0.
//
// Two corrections keep the replay honest:
//   - Noise. The hindsight bandwidth averages noisy measurements, and the
//     loss a message suffers is convex in the overshoot, so noise alone makes
//     a setting paced just below the available bandwidth look lossy (the
//     retransmission waits came out 70 times too high for a setting
//     that lost nothing: 0.21 ms replayed against 0.003 ms measured).
//     The features are computed for several scales of the hindsight
//     bandwidth, and calibrate keeps the one whose replay matches what the
//     settings actually run measured (their retransmission waits, else their
//     loss).
//   - Measurement. Each setting's prediction is corrected by its own
//     measured residuals as a Bayesian posterior (see estimate); a setting
//     never run keeps the model's value with an uncertainty of
//     replayPriorRel of it. The tuner heads for the setting whose optimistic
//     score (replayOptimism deviations better) is best, and recommends the
//     one whose pessimistic score (replayPessimism deviations worse) is.
//
// The first interval after a change still carries the old setting's backlog
// and informs neither fit nor corrections; intervals before the widest
// window has filled are not replayed. Telemetry without measurements falls
// back to the generic learner.

const (
	nFeat         = 6   // features per setting and interval
	replaySmooth  = 5   // later measurements averaged into the hindsight bandwidth
	replayKeep    = 600 // intervals remembered
	replayMinRows = 20  // intervals before the replay model is trusted
	replayRidge   = 1e-6
	// replayPriorRel is the prior standard deviation of the model's error
	// for a setting, relative to its prediction: the physical model is
	// trusted to about a tenth until a setting's own measurements say
	// otherwise.
	replayPriorRel = 0.1
	replayMaxRho   = 0.95 // cap on the residuals' lag-1 autocorrelation
	// replayNoisePrior is how many intervals' worth of the pooled residual
	// variance a setting's own variance starts from.
	replayNoisePrior = 5.0
	// replayOptimism is how many standard deviations the tuner takes off
	// each setting's delay when choosing where to head: a setting the model
	// rates close to the best is worth measuring, one it rates far worse is
	// not (optimism bounded by the model).
	replayOptimism = 1
	// replayPessimism is how many standard deviations the recommendation
	// adds to each setting's delay, so it names a setting measured to be
	// good over one the model merely expects to be.
	replayPessimism = 1
)

type pbaReplay struct {
	backlog [][]float64 // per hindsight scale and setting: fluid backlog, in Mbps-epochs, had it run all along
	rowsK   [][][]float64
	xK      [][][7]float64
	scale   int // index into replayScales chosen by calibrate
	// physical: the latest interval came with what PBA sends (physics), so
	// the features are delay parts in milliseconds with known coefficients.
	physical bool
	log      []float64 // measurements, oldest first; log[i] is measurement base+i
	base     int
	pend     []*pendingInterval // intervals waiting for the measurements after them (replaySmooth) that judge their bandwidth
	started  bool
	rows     [][]float64 // per interval: nFeat features per grid setting
	// Actual features and outcomes of the intervals run.
	x    [][7]float64
	net  []float64
	rt   []float64 // retransmission waits, part of net
	loss []float64
	act  []int // setting index actually run
	// fresh marks an interval that was the first after a change of
	// settings: its delay still carries the previous setting's backlog, so
	// it informs neither the fit nor any setting's correction.
	fresh   []bool
	lastAct int // setting index of the latest interval added
	// epochMs converts the backlog feature (in epochs) to milliseconds when
	// the engine reports its period; 0 leaves its coefficient to the fit.
	epochMs float64
}

// pendingInterval is an interval waiting for later measurements, which the
// hindsight bandwidth of its last epochs needs.
type pendingInterval struct {
	from, to          int // measurement positions [from, to)
	offered           float64
	actual            [2]int
	netMs, rtMs, loss float64
	fresh             bool
	phys              physics
}

// physics is what PBA reported of what it sends; with all of it known the
// features are the delay's parts in milliseconds (see pba_replay.go's doc).
type physics struct {
	msgRate, rtoMs, packets, epochMs float64
	maxRounds                        int // 0: no limit known
}

func (p physics) known() bool {
	return p.msgRate > 0 && p.rtoMs > 0 && p.packets > 0 && p.epochMs > 0
}

func (r *pbaReplay) settings() int { return len(pbaWindows) * len(pbaConfidence) }

// add records one interval's measurements and outcome, and replays the
// intervals before it whose hindsight bandwidth is now complete.
func (r *pbaReplay) add(meas []float64, offeredMbps float64, actual [2]int, netMs, rtMs, loss float64, phys physics) error {
	for i, m := range meas {
		if !(m > 0) || math.IsInf(m, 0) {
			return fmt.Errorf("integration: PBA telemetry: measurement %d must be positive and finite, got %v (a gap?)", i, m)
		}
	}
	r.log = append(r.log, meas...)
	end := r.base + len(r.log)
	for len(r.pend) > 0 && end-r.pend[0].to >= replaySmooth {
		r.replay(r.pend[0])
		r.pend = r.pend[1:]
	}
	idx := actual[0]*len(pbaConfidence) + actual[1]
	fresh := !r.started || idx != r.lastAct
	r.started, r.lastAct = true, idx
	r.pend = append(r.pend, &pendingInterval{from: end - len(meas), to: end, offered: offeredMbps, actual: actual, netMs: netMs, rtMs: rtMs, loss: loss, fresh: fresh, phys: phys})
	// Keep what the widest window of the oldest pending epoch needs.
	maxW := int(pbaWindows[len(pbaWindows)-1])
	if drop := r.pend[0].from - maxW - r.base; drop > len(r.log)/2 {
		r.log = append(r.log[:0], r.log[drop:]...)
		r.base += drop
	}
	return nil
}

// replayScales are the candidate corrections of the hindsight bandwidth: it
// averages noisy measurements, and overshoot max(0, 1-avail/rate) is convex,
// so noise alone makes a setting paced just below the available bandwidth
// look lossy (about twice the loss it has, in the simulator). The features are
// computed for each scale, and calibrate picks the one whose replay of the
// settings actually run matches what they measured.
var replayScales = []float64{1, 1.01, 1.02, 1.03, 1.04, 1.05, 1.06, 1.07, 1.08, 1.09, 1.10, 1.12, 1.14, 1.17, 1.20, 1.25}

// replay computes every setting's features over interval p.
func (r *pbaReplay) replay(p *pendingInterval) {
	if p.to == p.from || p.from-r.base < int(pbaWindows[len(pbaWindows)-1]) {
		// No measurements, or too few before them to fill the widest
		// window: a window still filling paces from a handful of
		// measurements, and its backlog would haunt every later interval.
		return
	}
	ns := r.settings()
	nk := len(replayScales)
	if r.backlog == nil {
		r.backlog = make([][]float64, nk)
		r.rowsK = make([][][]float64, nk)
		r.xK = make([][][7]float64, nk)
		for k := range nk {
			r.backlog[k] = make([]float64, ns)
		}
	}
	feats := make([][]float64, nk)
	for k := range nk {
		feats[k] = make([]float64, nFeat*ns)
	}
	z := make([]float64, len(pbaConfidence))
	for j, c := range pbaConfidence {
		z[j] = normalQuantile(c)
	}
	for pos := p.from; pos < p.to; pos++ {
		i := pos - r.base
		// What was available is judged in hindsight, averaging this and
		// the next replaySmooth measurements: one measurement's noise would
		// make cautious settings look lossy, and looking only forward
		// keeps a sudden drop sudden.
		avail0, _ := meanSD(r.log[i:min(len(r.log), i+replaySmooth+1)])
		for a, wf := range pbaWindows {
			w := min(int(wf), i)
			mean, sd := meanSD(r.log[i-w : i])
			for b := range pbaConfidence {
				rate := math.Max(1, mean-z[b]*sd)
				s := a*len(pbaConfidence) + b
				for kk, scale := range replayScales {
					feat := feats[kk]
					k := nFeat * s
					over := math.Max(0, 1-scale*avail0/rate)
					if p.phys.known() {
						r.physEpoch(feat[k:k+nFeat], &r.backlog[kk][s], p, rate, over)
						continue
					}
					// A chunk of about 16 packets is lost with 1-(1-p)^16
					// and sent again whole, so the link delivers the share of
					// chunks that got through.
					pc := 1 - math.Pow(1-over, 16)
					capacity := rate * math.Max(0.05, 1-pc)
					eff := p.offered / capacity
					feat[k] += p.offered / rate
					feat[k+1] += over
					rho := math.Min(eff, 0.98)
					feat[k+2] += rho / (1 - rho)
					// Fluid backlog: what arrives beyond the goodput waits,
					// and drains when the rate recovers.
					bl := &r.backlog[kk][s]
					*bl = math.Max(0, *bl+p.offered-capacity)
					feat[k+3] += *bl / capacity
					feat[k+4] += pc
					feat[k+5] += pc * pc * pc
				}
			}
		}
	}
	n := float64(p.to - p.from)
	k := nFeat * (p.actual[0]*len(pbaConfidence) + p.actual[1])
	for kk, feat := range feats {
		for i := range feat {
			feat[i] /= n
		}
		r.rowsK[kk] = append(r.rowsK[kk], feat)
		r.xK[kk] = append(r.xK[kk], [7]float64{1, feat[k], feat[k+1], feat[k+2], feat[k+3], feat[k+4], feat[k+5]})
	}
	r.net = append(r.net, p.netMs)
	r.rt = append(r.rt, p.rtMs)
	r.loss = append(r.loss, p.loss)
	r.act = append(r.act, p.actual[0]*len(pbaConfidence)+p.actual[1])
	r.fresh = append(r.fresh, p.fresh)
	r.physical = p.phys.known()
	if len(r.net) > replayKeep {
		for kk := range r.rowsK {
			r.rowsK[kk], r.xK[kk] = r.rowsK[kk][1:], r.xK[kk][1:]
		}
		r.net, r.rt, r.loss, r.act, r.fresh = r.net[1:], r.rt[1:], r.loss[1:], r.act[1:], r.fresh[1:]
	}
	r.calibrate()
}

// physEpoch adds one epoch's delay parts, in milliseconds, for a setting
// pacing at rate with overshoot over, when PBA reported what it sends:
//
//	x1 transmission of one message at the paced rate
//	x2 overshoot (the loss estimate; no delay of its own)
//	x3 queueing behind other messages, M/D/1: rho/(2(1-rho)) transmissions,
//	   rho the offered load over the goodput (capped at 0.98)
//	x4 the fluid backlog's wait: backlog over goodput, in epochs of EpochMs
//	x5 retransmission waits: a message with a lost packet (probability pm)
//	   waits a timeout and goes again; pm + pm^2 + ... rounds up to
//	   MaxRetransmits (pm/(1-pm) without a limit)
//	x6 pm^3 (a fitted extra for bursts of loss)
//
// The goodput is the rate over the transmissions a message takes (one plus
// its expected resends).
func (r *pbaReplay) physEpoch(f []float64, bl *float64, p *pendingInterval, rate, over float64) {
	ph := p.phys
	bits := p.offered * 1e6 / ph.msgRate
	tx := bits / (rate * 1e6) * 1000
	pm := 1 - math.Pow(1-over, ph.packets)
	rounds := 0.0
	if ph.maxRounds > 0 {
		for k, q := 0, pm; k < ph.maxRounds; k, q = k+1, q*pm {
			rounds += q
		}
	} else {
		rounds = math.Min(pm, 0.99) / (1 - math.Min(pm, 0.99))
	}
	capacity := rate / (1 + rounds)
	rho := math.Min(p.offered/capacity, 0.98)
	*bl = math.Max(0, *bl+p.offered-capacity)
	f[0] += tx
	f[1] += over
	f[2] += rho / (2 * (1 - rho)) * tx
	f[3] += *bl / capacity * ph.epochMs
	f[4] += ph.rtoMs * rounds
	f[5] += pm * pm * pm
}

// calibrate picks the hindsight scale whose replay best matches what was
// measured with the settings actually run: the retransmission waits when the
// features are physical and PBA reports them (they carry the loss's cost,
// and matching them matches its convex effect, not just its mean), else the
// loss rate. It points rows and x at that scale's features.
func (r *pbaReplay) calibrate() {
	col, target := 2, r.loss
	if r.physical {
		for _, v := range r.rt {
			if v > 0 {
				col, target = 5, r.rt
				break
			}
		}
	}
	measured := 0.0
	for i := range target {
		if !r.fresh[i] {
			measured += target[i]
		}
	}
	best, bestD := 0, math.Inf(1)
	for kk := range replayScales {
		replayed := 0.0
		for i := range r.xK[kk] {
			if !r.fresh[i] {
				replayed += r.xK[kk][i][col]
			}
		}
		if d := math.Abs(replayed - measured); d < bestD {
			best, bestD = kk, d
		}
	}
	r.scale = best
	r.rows, r.x = r.rowsK[best], r.xK[best]
}

// predictNet applies the delay model to one setting's features.
func predictNet(b [7]float64, x []float64) float64 {
	v := 0.0
	for j := range nFeat {
		v += b[j+1] * x[j]
	}
	return v
}

// fit returns the delay model's coefficients over the features. With the
// retransmission waits reported apart, the queueing part (x1, x3, x4) and the
// loss part (x2) are fitted separately, so a backlog left by a burst of loss
// is not credited to queueing nor the reverse.
func (r *pbaReplay) fit() [7]float64 {
	if r.physical {
		return physicsPrior
	}
	var x [][7]float64
	var net, rt []float64
	for i := range r.x {
		if !r.fresh[i] {
			x, net, rt = append(x, r.x[i]), append(net, r.net[i]), append(rt, r.rt[i])
		}
	}
	// With the epoch known, the backlog's wait is fixed (x4 epochs of
	// EpochMs each) and the other terms are fitted to what it leaves.
	queueCols := []int{1, 3, 4}
	allCols := []int{1, 2, 3, 4, 5, 6}
	if r.epochMs > 0 {
		queueCols, allCols = []int{1, 3}, []int{1, 2, 3, 5, 6}
		for i := range net {
			net[i] -= r.epochMs * x[i][4]
		}
	}
	split := false
	for _, v := range rt {
		if v > 0 {
			split = true
			break
		}
	}
	var b [7]float64
	if !split {
		b = nonNegative(x, net, allCols)
	} else {
		q := make([]float64, len(net))
		for i := range q {
			q[i] = net[i] - rt[i]
		}
		b = nonNegative(x, q, queueCols)
		l := nonNegative(x, rt, []int{2, 5, 6})
		b[2], b[5], b[6] = l[2], l[5], l[6]
	}
	if r.epochMs > 0 {
		b[4] = r.epochMs
	}
	return b
}

// physicsPrior are the coefficients of the delay parts in milliseconds: each
// part counts once.
var physicsPrior = [7]float64{0, 1, 0, 1, 1, 1, 0}

// replayEstimate is every setting's predicted mean network delay over the
// remembered history with the standard deviation of that prediction, and its
// replayed loss.
type replayEstimate struct {
	net, sd, loss []float64
}

// estimate scores every setting: the fitted model's mean delay over the
// remembered intervals plus a correction learned from the setting's own
// measurements. The model alone misjudges settings far from those it was fitted on
// (at high load it underrates what sending above the available bandwidth
// costs), so the correction is a Bayesian posterior: the prior says the model
// is right give or take its own prediction (replayPriorRel times it), and
// each setting's measured residuals pull it towards what it actually did,
// weighted by their noise and counted by their effective number (residuals of
// consecutive intervals share a bandwidth regime, so they are discounted by
// their lag-1 autocorrelation). A setting never run keeps the model's value
// with a wide uncertainty; one run long enough is judged by its measurements.
func (r *pbaReplay) estimate() (replayEstimate, bool) {
	if len(r.rows) < replayMinRows {
		return replayEstimate{}, false
	}
	bn := r.fit()
	ns := r.settings()
	e := replayEstimate{net: make([]float64, ns), sd: make([]float64, ns), loss: make([]float64, ns)}
	for _, f := range r.rows {
		for s := range ns {
			x := f[nFeat*s : nFeat*s+nFeat]
			e.net[s] += predictNet(bn, x)
			e.loss[s] += x[1]
		}
	}
	for s := range ns {
		e.net[s] /= float64(len(r.rows))
		e.loss[s] /= float64(len(r.rows))
	}
	// What the model gets wrong about every setting alike moves them all and
	// changes no ranking: a common factor c (measured over predicted delay
	// of the intervals actually run, fresh ones excluded) scales every
	// prediction, and only a setting's departure from c times its
	// prediction is its own.
	pred := make([]float64, len(r.act))
	var sumY, sumM float64
	for i := range r.act {
		if r.fresh[i] {
			continue
		}
		pred[i] = predictNet(bn, r.x[i][1:1+nFeat])
		sumY += r.net[i]
		sumM += pred[i]
	}
	c := 1.0
	if sumM > 0 && sumY > 0 {
		c = sumY / sumM
	}
	res := make([]float64, len(r.act))
	sum, n := make([]float64, ns), make([]float64, ns)
	for i, s := range r.act {
		if r.fresh[i] {
			continue
		}
		res[i] = r.net[i] - c*pred[i]
		sum[s] += res[i]
		n[s]++
	}
	// Noise of one residual around its setting's mean, and the lag-1
	// autocorrelation of those deviations within runs of one setting.
	var ss, dof, c0, c1 float64
	ssOwn := make([]float64, ns)
	for i, s := range r.act {
		if r.fresh[i] {
			continue
		}
		d := res[i] - sum[s]/n[s]
		ss += d * d
		ssOwn[s] += d * d
		c0 += d * d
		dof++
		if i > 0 && !r.fresh[i-1] && r.act[i-1] == s {
			c1 += d * (res[i-1] - sum[s]/n[s])
		}
	}
	for s := range ns {
		if n[s] > 0 {
			dof--
		}
	}
	noise := 0.0
	if dof > 0 {
		noise = ss / dof
	}
	rho := 0.0
	if c0 > 0 {
		rho = math.Min(replayMaxRho, math.Max(0, c1/c0))
	}
	for s := range ns {
		model := c * e.net[s]
		tau := replayPriorRel * math.Abs(model)
		if !(tau > 0) {
			tau = 1e-9
		}
		prec := 1 / (tau * tau)
		corr := 0.0
		// A setting's own noise, pooled with everyone's as replayNoisePrior
		// intervals of prior: a steady setting is not blamed for the loss
		// bursts of a lossy one.
		own := (ssOwn[s] + replayNoisePrior*noise) / (math.Max(0, n[s]-1) + replayNoisePrior)
		if n[s] > 0 && own > 0 {
			neff := n[s] * (1 - rho) / (1 + rho)
			prec += neff / own
			corr = neff / own * (sum[s] / n[s]) / prec
		}
		e.net[s] = math.Max(0, model+corr)
		e.sd[s] = 1 / math.Sqrt(prec)
	}
	return e, true
}

// rankOf is setting s's rank with its delay shifted by k standard deviations.
func (e replayEstimate) rankOf(s int, k, maxLoss float64) float64 {
	return rank(e.net[s]+k*e.sd[s], e.loss[s]/maxLoss-1)
}

// best is the setting with the least delay shifted by k standard deviations
// among those within the loss target (the least loss when none is): k = 0
// is where the tuner heads (a setting never run counts at the model's
// value), k > 0 the recommendation, which only trusts what was measured.
func (r *pbaReplay) best(maxLoss, k float64) ([2]int, float64, bool) {
	e, ok := r.estimate()
	if !ok {
		return [2]int{}, 0, false
	}
	bi, br := 0, math.Inf(1)
	for s := range e.net {
		if v := e.rankOf(s, k, maxLoss); v < br {
			bi, br = s, v
		}
	}
	return [2]int{bi / len(pbaConfidence), bi % len(pbaConfidence)}, br, true
}

// lastScore is setting i's predicted rank in the latest interval alone: the
// counterfactual the rollback compares a change's measured outcome with. It
// is the model's prediction for that interval plus what the model got wrong
// about i where i ran (about every setting, where i never did), so a model
// that misjudges the current conditions misjudges both sides alike.
func (r *pbaReplay) lastScore(i [2]int, maxLoss float64) (float64, bool) {
	if len(r.rows) < replayMinRows {
		return 0, false
	}
	bn := r.fit()
	s := i[0]*len(pbaConfidence) + i[1]
	var own, all, nOwn, nAll float64
	for k, a := range r.act {
		if r.fresh[k] {
			continue
		}
		res := r.net[k] - predictNet(bn, r.x[k][1:1+nFeat])
		all, nAll = all+res, nAll+1
		if a == s {
			own, nOwn = own+res, nOwn+1
		}
	}
	bias := 0.0
	switch {
	case nOwn > 0:
		bias = own / nOwn
	case nAll > 0:
		bias = all / nAll
	}
	f := r.rows[len(r.rows)-1]
	x := f[nFeat*s : nFeat*s+nFeat]
	return rank(math.Max(0, predictNet(bn, x)+bias), x[1]/maxLoss-1), true
}

// scoreOf is setting i's predicted rank (posterior mean).
func (r *pbaReplay) scoreOf(i [2]int, maxLoss float64) (float64, bool) {
	e, ok := r.estimate()
	if !ok {
		return 0, false
	}
	return e.rankOf(i[0]*len(pbaConfidence)+i[1], 0, maxLoss), true
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
