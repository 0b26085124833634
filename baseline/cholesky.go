package baseline

import "math"

// symmetric is a dense n×n matrix in row-major order, of which the solvers
// below read the upper triangle (i <= j).
type symmetric struct {
	n int
	a []float64
}

func newSymmetric(n int) *symmetric { return &symmetric{n: n, a: make([]float64, n*n)} }

// set sets element (i, j) and its mirror.
func (s *symmetric) set(i, j int, v float64) { s.a[i*s.n+j], s.a[j*s.n+i] = v, v }

func (s *symmetric) at(i, j int) float64 { return s.a[i*s.n+j] }

// cholesky is the factor L of a symmetric positive definite matrix A = L Lᵀ,
// lower triangular, row-major (the upper triangle is unused).
type cholesky struct {
	n int
	l []float64
}

// factorize computes the Cholesky factor of s into c and reports whether s
// is positive definite (every pivot positive and finite). s is not modified.
//
// Row by row (the Cholesky-Banachiewicz order), so that each element's sum
// is a dot product of two contiguous row prefixes of L.
func (c *cholesky) factorize(s *symmetric) bool {
	n := s.n
	c.n = n
	if cap(c.l) < n*n {
		c.l = make([]float64, n*n)
	}
	l := c.l[:n*n]
	for i := 0; i < n; i++ {
		li := l[i*n : i*n+i]
		for j := 0; j < i; j++ {
			lj := l[j*n : j*n+j]
			// A is symmetric: A[i][j] = A[j][i], read from the upper triangle.
			l[i*n+j] = (s.a[j*n+i] - dot(li[:j], lj)) / l[j*n+j]
		}
		d := s.a[i*n+i] - dot(li, li)
		if !(d > 0) || math.IsInf(d, 0) {
			return false
		}
		l[i*n+i] = math.Sqrt(d)
	}
	return true
}

// solve sets x to the solution of L Lᵀ x = b; x may be b.
func (c *cholesky) solve(x, b []float64) {
	n, l := c.n, c.l
	copy(x, b[:n])
	for i := 0; i < n; i++ { // L y = b
		x[i] = (x[i] - dot(l[i*n:i*n+i], x[:i])) / l[i*n+i]
	}
	for i := n - 1; i >= 0; i-- { // Lᵀ x = y, column i of L read down
		v := x[i]
		for k := i + 1; k < n; k++ {
			v -= l[k*n+i] * x[k]
		}
		x[i] = v / l[i*n+i]
	}
}

// dot is the inner product of a and b[:len(a)], in four running sums.
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}
