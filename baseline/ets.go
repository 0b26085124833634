package baseline

import "math"

// Least-squares fitting of exponential smoothing without trend, with
// additive seasonality of period m (m = 1: simple smoothing, no seasonal
// terms). The state is theta = (level, s[0..m-1]) before the first
// observation; with e_t = z[t] - level - s[t mod m] the recursion is
//
//	level += alpha*e_t;  s[t mod m] += gamma*e_t
//
// For fixed (alpha, gamma) the errors are e(theta) = e(0) + F theta with F
// linear (the recursion run on a zero series from state theta), so the best
// theta solves the normal equations F^T F theta = -F^T e(0). The recursion
// does not depend on the phase, so the response to a unit initial seasonal
// term s[j] is the response h to s[0] delayed by j steps: the m seasonal
// columns of F are shifted copies of one vector and F^T F costs O(n m).
// F (1, -1, ..., -1) = 0 (a constant moved from the seasonal terms to the
// level changes no forecast); the solution is taken orthogonal to it.

// etsParams are fitted parameters.
type etsParams struct {
	alpha, gamma float64
	theta        []float64 // level, then m seasonal terms (none when m = 1)
	sse          float64
}

// etsProblem holds a series and the scratch of its fit.
type etsProblem struct {
	z     []float64
	m     int
	seas  bool
	e0    []float64 // errors from the zero state
	g, h  []float64 // responses to a unit initial level and s[0]
	state []float64
	theta []float64
}

func newETSProblem(z []float64, m int) *etsProblem {
	k := 1
	if m > 1 {
		k = m + 1
	}
	n := len(z)
	return &etsProblem{
		z: z, m: m, seas: m > 1,
		e0: make([]float64, n), g: make([]float64, n), h: make([]float64, n),
		state: make([]float64, max(m, 1)), theta: make([]float64, k),
	}
}

// forward runs the recursion from state theta over z (zeros when z is nil),
// writing the one-step errors to e, and returns their sum of squares.
func (pb *etsProblem) forward(z []float64, alpha, gamma float64, theta, e []float64) float64 {
	l := theta[0]
	var sse float64
	if !pb.seas {
		for t := range e {
			var v float64
			if z != nil {
				v = z[t]
			}
			et := v - l
			e[t] = et
			sse += et * et
			l += alpha * et
		}
		return sse
	}
	s := pb.state
	copy(s, theta[1:])
	m := pb.m
	k := 0
	for t := range e {
		var v float64
		if z != nil {
			v = z[t]
		}
		et := v - l - s[k]
		e[t] = et
		sse += et * et
		l += alpha * et
		s[k] += gamma * et
		if k++; k == m {
			k = 0
		}
	}
	return sse
}

// solve sets pb.theta to the best initial state for (alpha, gamma) and
// returns the least sum of squared errors.
func (pb *etsProblem) solve(alpha, gamma float64) float64 {
	n, th := len(pb.z), pb.theta
	clear(th)
	pb.forward(pb.z, alpha, gamma, th, pb.e0)
	th[0] = 1
	pb.forward(nil, alpha, gamma, th, pb.g)
	th[0] = 0
	if !pb.seas {
		gg, ge := dot(pb.g, pb.g), dot(pb.g, pb.e0)
		if gg > 0 {
			th[0] = -ge / gg
		}
		return pb.forward(pb.z, alpha, gamma, th, pb.e0)
	}
	m := pb.m
	th[1] = 1
	pb.forward(nil, alpha, gamma, th, pb.h)
	th[1] = 0
	g, h, e0 := pb.g, pb.h, pb.e0
	k := m + 1
	a := newSymmetric(k)
	b := make([]float64, k)
	a.set(0, 0, dot(g, g))
	b[0] = -dot(g, e0)
	for i := 0; i < m; i++ {
		// Column 1+i is h delayed by i: col[t] = h[t-i] for t >= i.
		a.set(0, 1+i, dot(g[i:], h[:n-i]))
		b[1+i] = -dot(e0[i:], h[:n-i])
	}
	for d := 0; d < m; d++ {
		// A[1+i][1+j] with j = i+d is sum_{u=0}^{n-1-j} h[u] h[u+d]:
		// P(K) = sum_{u<=K} h[u]h[u+d] for K = n-1-j, j = d..m-1.
		K := n - m // the smallest K, for j = m-1
		p := dot(h[:K+1], h[d:d+K+1])
		for j := m - 1; j >= d; j-- {
			if K < n-1-j { // extend to K = n-1-j
				K++
				p += h[K] * h[K+d]
			}
			a.set(1+j-d, 1+j, p)
		}
	}
	// Pin the null direction v = (1, -1, ..., -1): add c v v^T, c the mean
	// diagonal, which changes nothing along F's row space.
	var tr float64
	for i := 0; i < k; i++ {
		tr += a.at(i, i)
	}
	c := tr / float64(k) / float64(k)
	for i := 0; i < k; i++ {
		for j := i; j < k; j++ {
			vi, vj := -1.0, -1.0
			if i == 0 {
				vi = 1
			}
			if j == 0 {
				vj = 1
			}
			a.set(i, j, a.at(i, j)+c*vi*vj)
		}
	}
	var ch cholesky
	jitter := 1e-12 * tr / float64(k)
	for !ch.factorize(a) {
		// Numerically semidefinite (alpha near 1 leaves the seasonal terms
		// barely identified): regularise slightly and retry.
		for i := 0; i < k; i++ {
			a.set(i, i, a.at(i, i)+jitter)
		}
		jitter *= 10
	}
	ch.solve(th, b)
	return pb.forward(pb.z, alpha, gamma, th, pb.e0)
}

// fitETS minimises the sum of squared one-step errors of z over alpha in
// [0,1], gamma in [0,1-alpha] (gamma = 0 when m = 1) and the initial state.
func fitETS(z []float64, m int) etsParams {
	pb := newETSProblem(z, m)
	// (alpha, u) in the unit square, gamma = u(1-alpha): a box, so
	// projection is clamping.
	par := func(x [2]float64) (float64, float64) {
		a := clamp01(x[0])
		if !pb.seas {
			return a, 0
		}
		return a, clamp01(x[1]) * (1 - a)
	}
	f := func(x [2]float64) float64 { return pb.solve(par(x)) }
	var grid [][2]float64
	if pb.seas {
		for _, a := range []float64{0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 1} {
			for _, u := range []float64{0, 0.05, 0.2, 0.5} {
				grid = append(grid, [2]float64{a, u})
			}
		}
	} else {
		for i := 0; i <= 20; i++ {
			grid = append(grid, [2]float64{float64(i) / 20, 0})
		}
	}
	best, bestF := grid[0], math.Inf(1)
	for _, x := range grid {
		if v := f(x); v < bestF {
			best, bestF = x, v
		}
	}
	x := nelderMead2(f, best, 0.05)
	a, g := par(x)
	sse := pb.solve(a, g)
	return etsParams{alpha: a, gamma: g, theta: append([]float64(nil), pb.theta...), sse: sse}
}
