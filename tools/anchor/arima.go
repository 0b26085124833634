package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/novacron/perfpredict/baseline"
)

// autoARIMA is Hyndman and Khandakar's (2008) automatic ARIMA, as
// statsforecast's AutoARIMA runs it on long series (its approximation):
// the number of differences d by repeated KPSS tests (5%), the number of
// seasonal differences D (0 or 1) by the seasonal strength of a
// decomposition (over 0.64), then the stepwise search over
// (p, q)(P, Q) from the four starting models, each fitted by conditional
// sum of squares and compared by AICc, with a constant (mean or drift)
// when d + D <= 1. For the protocol's rolling evaluation
// (baseline.Forecaster).
//
// What differs from statsforecast: the chosen model is not refitted by
// exact maximum likelihood, and the seasonal strength is that of the
// classical decomposition (decompose), not of STL.
type autoARIMA struct {
	period int
	// Chosen.
	order   arimaOrder
	fit     arimaFit
	models  int // fitted in the search
	expand  expanded
	history []float64
	resid   []float64
}

// arimaOrder is (p, d, q)(P, D, Q)_m and whether a constant is fitted.
type arimaOrder struct {
	p, d, q, P, D, Q int
	constant         bool
}

func (o arimaOrder) String() string {
	c := ""
	if o.constant {
		c = " with constant"
	}
	return fmt.Sprintf("(%d,%d,%d)(%d,%d,%d)%s", o.p, o.d, o.q, o.P, o.D, o.Q, c)
}

// arimaFit is a fitted model: its coefficients and information criterion.
type arimaFit struct {
	ar, ma, sar, sma []float64
	mean             float64 // of the differenced series
	sigma2, aicc     float64
}

// expanded is the model over y itself: y_t = c + sum a_i y_{t-i} + e_t +
// sum b_j e_{t-j}, with a and b sparse (lag, coefficient) lists.
type expanded struct {
	c          float64
	aLag, bLag []int
	a, b       []float64
	maxLag     int
}

func newAutoARIMA(period int) *autoARIMA { return &autoARIMA{period: period} }

func (f *autoARIMA) Name() string { return "auto_arima" }

func (f *autoARIMA) describe() string {
	return fmt.Sprintf("ARIMA%s, %d models fitted", f.order, f.models)
}

// polyMul multiplies polynomials in B given by their coefficients from
// B^0.
func polyMul(x, y []float64) []float64 {
	out := make([]float64, len(x)+len(y)-1)
	for i, a := range x {
		if a == 0 {
			continue
		}
		for j, b := range y {
			out[i+j] += a * b
		}
	}
	return out
}

// lagPoly is 1 + sign*sum c_i B^{i*step}.
func lagPoly(c []float64, step int, sign float64) []float64 {
	out := make([]float64, len(c)*step+1)
	out[0] = 1
	for i, v := range c {
		out[(i+1)*step] = sign * v
	}
	return out
}

// expand writes the model over y of order o and fit ft.
func expand(o arimaOrder, ft arimaFit, m int) expanded {
	phi := polyMul(lagPoly(ft.ar, 1, -1), lagPoly(ft.sar, m, -1))
	c := 0.0
	if o.constant {
		var s float64
		for _, v := range phi {
			s += v
		}
		c = ft.mean * s
	}
	for range o.d {
		phi = polyMul(phi, []float64{1, -1})
	}
	for range o.D {
		d := make([]float64, m+1)
		d[0], d[m] = 1, -1
		phi = polyMul(phi, d)
	}
	theta := polyMul(lagPoly(ft.ma, 1, 1), lagPoly(ft.sma, m, 1))
	e := expanded{c: c}
	for i := 1; i < len(phi); i++ {
		if phi[i] != 0 {
			e.aLag, e.a = append(e.aLag, i), append(e.a, -phi[i])
		}
	}
	for j := 1; j < len(theta); j++ {
		if theta[j] != 0 {
			e.bLag, e.b = append(e.bLag, j), append(e.b, theta[j])
		}
	}
	e.maxLag = len(phi) - 1
	return e
}

// css returns the conditional sum of squares of the model over y, the
// number of errors it sums, and writes the errors to resid (zero before
// the first step with every lag of the expanded model).
func (e *expanded) css(y, resid []float64) (float64, int) {
	var sse float64
	n := 0
	for t := range y {
		if t < e.maxLag {
			resid[t] = 0
			continue
		}
		p := e.c
		for i, l := range e.aLag {
			p += e.a[i] * y[t-l]
		}
		for j, l := range e.bLag {
			if t-l >= 0 {
				p += e.b[j] * resid[t-l]
			}
		}
		r := y[t] - p
		resid[t] = r
		sse += r * r
		n++
	}
	return sse, n
}

// fromPACF maps unconstrained values to the coefficients of a stationary
// (or, for moving averages, invertible) polynomial: each through tanh to a
// partial autocorrelation in (-1, 1), then by the Durbin-Levinson
// recursion, as R's arima transforms its parameters.
func fromPACF(u []float64) []float64 {
	c := make([]float64, len(u))
	prev := make([]float64, len(u))
	for k, v := range u {
		r := math.Tanh(v)
		copy(prev, c[:k])
		for i := range k {
			c[i] = prev[i] - r*prev[k-1-i]
		}
		c[k] = r
	}
	return c
}

// rootsOutside reports whether every root of 1 - sum a_i B^i has a
// modulus above r: whether 1 - sum a_i r^i B^i is stationary, by the
// reverse Durbin-Levinson recursion (its partial autocorrelations inside
// (-1, 1)).
func rootsOutside(a []float64, r float64) bool {
	a = slices.Clone(a)
	for i := range a {
		a[i] *= math.Pow(r, float64(i+1))
	}
	for k := len(a) - 1; k >= 0; k-- {
		rk := a[k]
		if math.Abs(rk) >= 1 {
			return false
		}
		b := make([]float64, k)
		for i := range k {
			b[i] = (a[i] + rk*a[k-1-i]) / (1 - rk*rk)
		}
		a = b
	}
	return true
}

func negate(c []float64) []float64 {
	out := make([]float64, len(c))
	for i, v := range c {
		out[i] = -v
	}
	return out
}

// maFromPACF maps unconstrained values to the coefficients of an
// invertible moving average 1 + sum c_i B^i: the negated coefficients of
// fromPACF's stationary autoregression 1 - sum a_i B^i.
func maFromPACF(u []float64) []float64 { return negate(fromPACF(u)) }

// fitOrder fits o to y by conditional sum of squares (Nelder-Mead over the
// transformed coefficients and the constant); ok is false when y is too
// short for the order.
func fitOrder(y []float64, o arimaOrder, m int) (arimaFit, bool) {
	np := o.p + o.q + o.P + o.Q
	w := slices.Clone(y)
	for range o.d {
		for t := len(w) - 1; t >= 1; t-- {
			w[t] -= w[t-1]
		}
		w = w[1:]
	}
	for range o.D {
		for t := len(w) - 1; t >= m; t-- {
			w[t] -= w[t-m]
		}
		w = w[m:]
	}
	lags := o.p + o.P*m + o.d + o.D*m
	if len(y)-lags < 3*(np+2) {
		return arimaFit{}, false
	}
	wm, wv := meanVariance(w)
	ws := math.Sqrt(wv) + 1e-12
	k := np
	if o.constant {
		k++
	}
	resid := make([]float64, len(y))
	decode := func(u []float64) arimaFit {
		ft := arimaFit{
			ar: fromPACF(u[:o.p]), ma: maFromPACF(u[o.p : o.p+o.q]),
			sar: fromPACF(u[o.p+o.q : o.p+o.q+o.P]), sma: maFromPACF(u[o.p+o.q+o.P : np]),
		}
		if o.constant {
			ft.mean = wm + ws*u[np]
		}
		return ft
	}
	cost := func(u []float64) float64 {
		ft := decode(u)
		e := expand(o, ft, m)
		sse, n := e.css(y, resid)
		if n == 0 || math.IsNaN(sse) {
			return math.Inf(1)
		}
		return sse / float64(n)
	}
	u := make([]float64, k)
	if k > 0 {
		u = nelderMead(cost, u, 0.5, 2000)
	}
	ft := decode(u)
	e := expand(o, ft, m)
	sse, n := e.css(y, resid)
	// auto.arima's rule: a model with an autoregressive or moving-average
	// root within 1.01 of the unit circle is not a candidate (a moving
	// average at the boundary, such as one over-differencing, carries
	// the errors' sum forward as a bias; an autoregression there is a
	// difference the tests did not call for). A seasonal polynomial in
	// B^m has roots within 1.01 when its roots in B^m are within 1.01^m.
	if !rootsOutside(ft.ar, 1.01) || !rootsOutside(negate(ft.ma), 1.01) ||
		!rootsOutside(ft.sar, math.Pow(1.01, float64(m))) || !rootsOutside(negate(ft.sma), math.Pow(1.01, float64(m))) {
		return arimaFit{}, false
	}
	ft.sigma2 = sse / float64(n)
	// The likelihood over the whole differenced series (as auto.arima's
	// approximation offsets it), not over the errors summed: those are
	// fewer the longer the model's lags, which would favour long seasonal
	// lags for having less to explain.
	nw := float64(len(w))
	ll := -0.5 * nw * (math.Log(2*math.Pi*ft.sigma2) + 1)
	kk := float64(k + 1) // the variance too
	if nw-kk-1 <= 0 {
		return arimaFit{}, false
	}
	ft.aicc = -2*ll + 2*kk + 2*kk*(kk+1)/(nw-kk-1)
	return ft, true
}

// nelderMead minimises f from x0 with initial simplex steps of step, for
// at most maxEval evaluations (the standard reflection 1, expansion 2,
// contraction and shrink 1/2).
func nelderMead(f func([]float64) float64, x0 []float64, step float64, maxEval int) []float64 {
	k := len(x0)
	pts := make([][]float64, k+1)
	val := make([]float64, k+1)
	for i := range pts {
		pts[i] = slices.Clone(x0)
		if i > 0 {
			pts[i][i-1] += step
		}
		val[i] = f(pts[i])
	}
	evals := k + 1
	cent, xr, xe, xc := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	order := make([]int, k+1)
	for evals < maxEval {
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int { return cmp.Compare(val[a], val[b]) })
		best, worst, second := order[0], order[k], order[k-1]
		if math.Abs(val[worst]-val[best]) <= 1e-10*(math.Abs(val[best])+1e-20) {
			break
		}
		for j := range cent {
			cent[j] = 0
			for i := range pts {
				if i != worst {
					cent[j] += pts[i][j] / float64(k)
				}
			}
		}
		for j := range xr {
			xr[j] = cent[j] + (cent[j] - pts[worst][j])
		}
		fr := f(xr)
		evals++
		switch {
		case fr < val[best]:
			for j := range xe {
				xe[j] = cent[j] + 2*(cent[j]-pts[worst][j])
			}
			fe := f(xe)
			evals++
			if fe < fr {
				copy(pts[worst], xe)
				val[worst] = fe
			} else {
				copy(pts[worst], xr)
				val[worst] = fr
			}
		case fr < val[second]:
			copy(pts[worst], xr)
			val[worst] = fr
		default:
			for j := range xc {
				xc[j] = cent[j] + 0.5*(pts[worst][j]-cent[j])
			}
			fc := f(xc)
			evals++
			if fc < val[worst] {
				copy(pts[worst], xc)
				val[worst] = fc
				break
			}
			for i := range pts {
				if i == best {
					continue
				}
				for j := range pts[i] {
					pts[i][j] = pts[best][j] + 0.5*(pts[i][j]-pts[best][j])
				}
				val[i] = f(pts[i])
				evals++
			}
		}
	}
	b := 0
	for i := range val {
		if val[i] < val[b] {
			b = i
		}
	}
	return pts[b]
}

// kpssLevel is the KPSS statistic for level stationarity with Bartlett
// weights over trunc(3 sqrt(n) / 13) lags, as auto.arima's ndiffs
// computes it.
func kpssLevel(y []float64) float64 {
	n := len(y)
	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	e := make([]float64, n)
	for i, v := range y {
		e[i] = v - mean
	}
	var s, eta float64
	for _, v := range e {
		s += v
		eta += s * s
	}
	var s2 float64
	for _, v := range e {
		s2 += v * v
	}
	l := int(3 * math.Sqrt(float64(n)) / 13)
	for lag := 1; lag <= l; lag++ {
		var c float64
		for t := lag; t < n; t++ {
			c += e[t] * e[t-lag]
		}
		s2 += 2 * (1 - float64(lag)/float64(l+1)) * c
	}
	s2 /= float64(n)
	if s2 <= 0 {
		return 0
	}
	return eta / (float64(n) * float64(n)) / s2
}

// kpssCritical5 is the KPSS test's 5% critical value for level
// stationarity.
const kpssCritical5 = 0.463

// ndiffs is the number of differences (at most 2) after which the KPSS
// test no longer rejects stationarity at 5%.
func ndiffs(y []float64) int {
	x := slices.Clone(y)
	for d := 0; d < 2; d++ {
		if constant(x) || kpssLevel(x) < kpssCritical5 {
			return d
		}
		for t := len(x) - 1; t >= 1; t-- {
			x[t] -= x[t-1]
		}
		x = x[1:]
	}
	return 2
}

func constant(x []float64) bool {
	for _, v := range x {
		if v != x[0] {
			return false
		}
	}
	return true
}

// seasonalStrength is max(0, 1 - var(remainder)/var(seasonal+remainder))
// of the additive classical decomposition of y at period m.
func seasonalStrength(y []float64, m int) float64 {
	n := len(y)
	idx := decompose(y, m, false)
	half := m / 2
	var sr, r []float64
	for t := half; t+half < n; t++ {
		detr := y[t] - centredMA(y, m, t)
		sr = append(sr, detr)
		r = append(r, detr-idx[t%m])
	}
	_, vr := meanVariance(r)
	_, vsr := meanVariance(sr)
	if vsr == 0 {
		return 0
	}
	return math.Max(0, 1-vr/vsr)
}

// meanVariance is the mean and the (population) variance of x.
func meanVariance(x []float64) (mean, variance float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		variance += (v - mean) * (v - mean)
	}
	return mean, variance / float64(len(x))
}

// Search limits, as auto.arima's defaults.
const (
	maxP, maxQ, maxSP, maxSQ, maxOrder, maxModels = 5, 5, 2, 2, 5, 94
)

// Fit chooses and fits the model on the whole history (train and
// validation, as the protocol fits a baseline), then leaves the state
// after its last step.
func (f *autoARIMA) Fit(history baseline.Series, nTrain int) error {
	y := history.Values
	m := f.period
	if len(y) < 30 {
		return fmt.Errorf("auto_arima: %d steps: %w", len(y), baseline.ErrShortHistory)
	}
	D := 0
	seasonal := m > 1 && len(y) >= 2*m
	if seasonal && seasonalStrength(y, m) > 0.64 {
		D = 1
	}
	x := y
	if D == 1 {
		x = make([]float64, len(y)-m)
		for t := range x {
			x[t] = y[t+m] - y[t]
		}
	}
	d := ndiffs(x)
	allowConst := d+D <= 1
	tried := map[arimaOrder]arimaFit{}
	best := arimaOrder{}
	bestAICc := math.Inf(1)
	try := func(o arimaOrder) bool {
		if o.p < 0 || o.q < 0 || o.P < 0 || o.Q < 0 || o.p > maxP || o.q > maxQ || o.P > maxSP || o.Q > maxSQ ||
			o.p+o.q+o.P+o.Q > maxOrder || (o.constant && !allowConst) || (!seasonal && (o.P > 0 || o.Q > 0)) {
			return false
		}
		if _, ok := tried[o]; ok || len(tried) >= maxModels {
			return false
		}
		ft, ok := fitOrder(y, o, m)
		if !ok {
			ft.aicc = math.Inf(1)
		}
		tried[o] = ft
		if ft.aicc < bestAICc {
			best, bestAICc = o, ft.aicc
			return true
		}
		return false
	}
	sp, sq := 0, 0
	if seasonal {
		sp, sq = 1, 1
	}
	for _, o := range []arimaOrder{{p: 2, q: 2, P: sp, Q: sq}, {}, {p: 1, P: sp}, {q: 1, Q: sq}} {
		o.d, o.D, o.constant = d, D, allowConst
		try(o)
	}
	if allowConst {
		try(arimaOrder{d: d, D: D})
	}
	for improved := true; improved && len(tried) < maxModels; {
		improved = false
		b := best
		for _, step := range [][4]int{
			{0, 0, -1, 0}, {0, 0, 1, 0}, {0, 0, 0, -1}, {0, 0, 0, 1}, {0, 0, -1, -1}, {0, 0, 1, 1},
			{0, 0, -1, 1}, {0, 0, 1, -1},
			{-1, 0, 0, 0}, {1, 0, 0, 0}, {0, -1, 0, 0}, {0, 1, 0, 0},
			{-1, -1, 0, 0}, {1, 1, 0, 0}, {-1, 1, 0, 0}, {1, -1, 0, 0},
		} {
			o := b
			o.p, o.q, o.P, o.Q = b.p+step[0], b.q+step[1], b.P+step[2], b.Q+step[3]
			if try(o) {
				improved = true
				break
			}
		}
		if !improved && allowConst {
			o := b
			o.constant = !o.constant
			improved = try(o)
		}
	}
	if math.IsInf(bestAICc, 1) {
		return fmt.Errorf("auto_arima: no model could be fitted to %d steps", len(y))
	}
	f.order, f.fit, f.models = best, tried[best], len(tried)
	f.expand = expand(best, f.fit, m)
	f.Reset()
	for _, v := range y {
		f.Update(v)
	}
	return nil
}

func (f *autoARIMA) Reset() { f.history, f.resid = f.history[:0], f.resid[:0] }

// Update appends v and its one-step error (zero until every lag exists).
func (f *autoARIMA) Update(v float64) {
	t := len(f.history)
	f.history = append(f.history, v)
	r := 0.0
	if t >= f.expand.maxLag {
		p, _ := f.predict(t, nil)
		r = v - p
	}
	f.resid = append(f.resid, r)
}

// predict is the model's prediction of step t from the steps before it,
// future values (t and after len(history)) read from ahead.
func (f *autoARIMA) predict(t int, ahead []float64) (float64, bool) {
	e := &f.expand
	n := len(f.history)
	p := e.c
	for i, l := range e.aLag {
		j := t - l
		switch {
		case j < 0:
			return 0, false
		case j < n && j < t:
			p += e.a[i] * f.history[j]
		default:
			p += e.a[i] * ahead[j-n]
		}
	}
	for i, l := range e.bLag {
		if j := t - l; j >= 0 && j < n && j < t {
			p += e.b[i] * f.resid[j]
		}
	}
	return p, true
}

func (f *autoARIMA) Forecast(h int) (float64, error) {
	n := len(f.history)
	if n < f.expand.maxLag || n == 0 {
		return 0, baseline.ErrShortHistory
	}
	ahead := make([]float64, h)
	for k := range h {
		p, ok := f.predict(n+k, ahead)
		if !ok {
			return 0, baseline.ErrShortHistory
		}
		ahead[k] = p
	}
	return ahead[h-1], nil
}
