package baseline

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomSPD is B Bᵀ + n I for a random n×n B: symmetric positive definite.
func randomSPD(r *rand.Rand, n int) *symmetric {
	b := make([]float64, n*n)
	for i := range b {
		b[i] = r.NormFloat64()
	}
	s := newSymmetric(n)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			v := dot(b[i*n:(i+1)*n], b[j*n:(j+1)*n])
			if i == j {
				v += float64(n)
			}
			s.set(i, j, v)
		}
	}
	return s
}

// TestCholeskySolve: for every size up to 40 the factor reproduces A and the
// solution satisfies A x = b, in place or not.
func TestCholeskySolve(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 1; n <= 40; n++ {
		s := randomSPD(r, n)
		var ch cholesky
		if !ch.factorize(s) {
			t.Fatalf("n=%d: a positive definite matrix reported as not", n)
		}
		for i := 0; i < n; i++ {
			for j := 0; j <= i; j++ {
				got := dot(ch.l[i*n:i*n+j+1], ch.l[j*n:j*n+j+1])
				if want := s.at(i, j); math.Abs(got-want) > 1e-12*math.Abs(want)+1e-12 {
					t.Fatalf("n=%d: (L Lᵀ)[%d][%d] = %v, A = %v", n, i, j, got, want)
				}
			}
		}
		b := make([]float64, n)
		for i := range b {
			b[i] = r.NormFloat64()
		}
		x := make([]float64, n)
		ch.solve(x, b)
		for i := 0; i < n; i++ {
			if ax := dot(s.a[i*n:(i+1)*n], x); math.Abs(ax-b[i]) > 1e-10 {
				t.Fatalf("n=%d: (A x)[%d] = %v, b = %v", n, i, ax, b[i])
			}
		}
		inPlace := append([]float64(nil), b...)
		ch.solve(inPlace, inPlace)
		for i := range x {
			if inPlace[i] != x[i] {
				t.Fatalf("n=%d: in-place solve differs at %d: %v, %v", n, i, inPlace[i], x[i])
			}
		}
	}
}

// TestCholeskyNotPositiveDefinite: indefinite, singular and non-finite
// matrices are refused.
func TestCholeskyNotPositiveDefinite(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct {
		name   string
		modify func(s *symmetric)
	}{
		{"negative diagonal", func(s *symmetric) { s.set(2, 2, -1) }},
		{"singular", func(s *symmetric) { // row 3 = row 1
			for j := 0; j < s.n; j++ {
				s.a[3*s.n+j], s.a[j*s.n+3] = s.at(1, j), s.at(1, j)
			}
			s.set(3, 3, s.at(1, 1))
			s.set(1, 3, s.at(1, 1))
		}},
		{"NaN", func(s *symmetric) { s.set(0, 4, math.NaN()) }},
		{"Inf", func(s *symmetric) { s.set(4, 4, math.Inf(1)) }},
	} {
		s := randomSPD(r, 6)
		tc.modify(s)
		var ch cholesky
		if ch.factorize(s) {
			t.Errorf("%s: factorised", tc.name)
		}
	}
}

func TestDot(t *testing.T) {
	for n := 0; n <= 9; n++ {
		a, b := make([]float64, n), make([]float64, n+3)
		want := 0.0
		for i := range a {
			a[i], b[i] = float64(i+1), float64(2*i-3)
			want += a[i] * b[i]
		}
		if got := dot(a, b); got != want {
			t.Errorf("n=%d: dot = %v, want %v", n, got, want)
		}
	}
}
