package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// forEachGemmLevel runs f as one subtest per level this machine supports.
func forEachGemmLevel(t *testing.T, f func(t *testing.T)) {
	for _, l := range Supported() {
		t.Run(l.String(), func(t *testing.T) {
			prev, err := SetLevel(l)
			if err != nil {
				t.Fatal(err)
			}
			defer SetLevel(prev)
			f(t)
		})
	}
}

const gemmGuard = float32(-12345.5)

// gemmCase builds packed panels and a C with guard cells around and between
// its rows for one micro-kernel call.
type gemmCase struct {
	mr, n, k, ldc int
	a, b          []float32
	c             []float32 // guard cells, then the C rows, then guard cells
	off           int       // start of C in c
}

func newGemmCase(rng *rand.Rand, nr, mr, n, k, ldc int, cNaN bool) *gemmCase {
	np := (n + nr - 1) / nr
	g := &gemmCase{mr: mr, n: n, k: k, ldc: ldc, off: 5}
	g.a = make([]float32, k*mr)
	g.b = make([]float32, np*k*nr)
	for i := range g.a {
		g.a[i] = rng.Float32()*2 - 1
	}
	for i := range g.b {
		g.b[i] = rng.Float32()*2 - 1
	}
	g.c = make([]float32, g.off+(mr-1)*ldc+n+7)
	for i := range g.c {
		g.c[i] = gemmGuard
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < n; j++ {
			v := rng.Float32()*2 - 1
			if cNaN {
				v = float32(math.NaN())
			}
			g.c[g.off+i*ldc+j] = v
		}
	}
	return g
}

// check compares got with want (both whole buffers including guards).
func (g *gemmCase) check(t *testing.T, nr int, want, got []float32, what string) {
	t.Helper()
	for idx := range got {
		r := idx - g.off
		inC := r >= 0 && r/g.ldc < g.mr && r%g.ldc < g.n
		if g.mr == 1 {
			inC = r >= 0 && r < g.n
		}
		if !inC {
			if got[idx] != gemmGuard {
				t.Fatalf("%s: guard cell %d overwritten: %v", what, idx, got[idx])
			}
			continue
		}
		i, j := r/g.ldc, r%g.ldc
		if g.mr == 1 {
			i, j = 0, r
		}
		// Tolerance: k*eps*Σ|a||b| (plus |beta c| scale).
		var mag float64
		for p := 0; p < g.k; p++ {
			mag += math.Abs(float64(g.a[p*g.mr+i] * g.b[j/nr*g.k*nr+p*nr+j%nr]))
		}
		tol := float64(g.k+2)*1.2e-7*(2*mag+2) + 1e-7
		if d := math.Abs(float64(got[idx] - want[idx])); !(d <= tol) {
			t.Fatalf("%s: C[%d][%d] = %v, want %v (tol %g)", what, i, j, got[idx], want[idx], tol)
		}
	}
}

func TestGemmMicroAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	forEachGemmLevel(t, func(t *testing.T) {
		mrMax, nr := GemmTile()
		for mr := 1; mr <= mrMax; mr++ {
			for _, n := range []int{1, 3, nr - 1, nr, nr + 1, 2*nr + 5, 3 * nr} {
				if n < 1 {
					continue
				}
				for _, k := range []int{0, 1, 3, 4, 5, 8, 17, 64} {
					for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, 0}, {0.75, -1}} {
						alpha, beta := ab[0], ab[1]
						ldc := n + rng.IntN(3)
						g := newGemmCase(rng, nr, mr, n, k, ldc, beta == 0 && k%2 == 1)
						want := append([]float32(nil), g.c...)
						got := append([]float32(nil), g.c...)
						GemmMicroRef(nr, mr, n, k, alpha, g.a, g.b, beta, want[g.off:], ldc)
						GemmMicro(mr, n, k, alpha, g.a, g.b, beta, got[g.off:g.off+(mr-1)*ldc+n], ldc)
						g.check(t, nr, want, got, fmt.Sprintf("mr=%d n=%d k=%d ldc=%d alpha=%v beta=%v", mr, n, k, ldc, alpha, beta))
					}
				}
			}
		}
	})
}

// TestGemmMicroRefLoop pins the reference itself to a hand-computed product.
func TestGemmMicroRefLoop(t *testing.T) {
	// A = [[1 2] [3 4]] (2x2), B = [[1 0 2] [0 1 3]] (2x3), panel width 2.
	a := []float32{1, 3, 2, 4}             // column after column
	b := []float32{1, 0, 0, 1, 2, 0, 3, 0} // panel 0: cols 0,1; panel 1: col 2 padded
	c := []float32{1, 1, 1, 9, 1, 1, 1}    // ldc 4, guard at index 3
	GemmMicroRef(2, 2, 3, 2, 2, a, b, 1, c, 4)
	want := []float32{3, 5, 17, 9, 7, 9, 37}
	for i := range want {
		if c[i] != want[i] {
			t.Fatalf("got %v, want %v", c, want)
		}
	}
}

func TestGemmMicroPanics(t *testing.T) {
	mr, nr := GemmTile()
	for name, f := range map[string]func(){
		"mr 0":       func() { GemmMicro(0, 1, 1, 1, make([]float32, 1), make([]float32, nr), 0, make([]float32, 1), 1) },
		"mr too big": func() { GemmMicro(mr+1, 1, 1, 1, make([]float32, 64), make([]float32, nr), 0, make([]float32, 64), 1) },
		"short a":    func() { GemmMicro(2, 1, 3, 1, make([]float32, 5), make([]float32, 3*nr), 0, make([]float32, 2), 1) },
		"short b": func() {
			GemmMicro(1, nr+1, 1, 1, make([]float32, 1), make([]float32, nr), 0, make([]float32, nr+1), nr+1)
		},
		"short c":     func() { GemmMicro(2, 4, 1, 1, make([]float32, 2), make([]float32, nr), 0, make([]float32, 7), 4) },
		"ldc too low": func() { GemmMicro(2, 4, 1, 1, make([]float32, 2), make([]float32, nr), 0, make([]float32, 20), 3) },
		"gemv lda":    func() { Gemv(1, make([]float32, 20), 3, make([]float32, 4), 0, make([]float32, 2)) },
		"gemv short":  func() { Gemv(1, make([]float32, 8), 5, make([]float32, 4), 0, make([]float32, 2)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func FuzzGemmMicro(f *testing.F) {
	f.Add(uint8(3), uint8(20), uint8(7), uint64(1), false)
	f.Add(uint8(1), uint8(1), uint8(0), uint64(2), true)
	f.Add(uint8(14), uint8(64), uint8(33), uint64(3), true)
	f.Fuzz(func(t *testing.T, mr8, n8, k8 uint8, seed uint64, betaZero bool) {
		mrMax, nr := GemmTile()
		mr := int(mr8)%mrMax + 1
		n := int(n8)%(3*nr) + 1
		k := int(k8) % 80
		rng := rand.New(rand.NewPCG(seed, 7))
		beta := float32(0.5)
		if betaZero {
			beta = 0
		}
		ldc := n + int(seed%3)
		g := newGemmCase(rng, nr, mr, n, k, ldc, betaZero)
		want := append([]float32(nil), g.c...)
		got := append([]float32(nil), g.c...)
		GemmMicroRef(nr, mr, n, k, 1.5, g.a, g.b, beta, want[g.off:], ldc)
		GemmMicro(mr, n, k, 1.5, g.a, g.b, beta, got[g.off:g.off+(mr-1)*ldc+n], ldc)
		g.check(t, nr, want, got, fmt.Sprintf("%s mr=%d n=%d k=%d", Implementation(), mr, n, k))
	})
}

// BenchmarkGemmKernel measures the micro-kernel alone on an L1/L2-resident
// A panel of MR rows times n=512 columns of B (what the blocked GEMM does).
func BenchmarkGemmKernel(b *testing.B) {
	for _, l := range Supported() {
		for _, k := range []int{128, 256} {
			b.Run(fmt.Sprintf("%v/k=%d", l, k), func(b *testing.B) {
				prev, _ := SetLevel(l)
				defer SetLevel(prev)
				mr, nr := GemmTile()
				const n = 512
				pa := make([]float32, mr*k)
				pb := make([]float32, n*k)
				c := make([]float32, mr*n)
				for i := range pb {
					pb[i] = float32(i%7) * 0.1
				}
				b.ResetTimer()
				for range b.N {
					GemmMicro(mr, n, k, 1, pa, pb, 1, c, n)
				}
				b.ReportMetric(2*float64(mr*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				_ = nr
			})
		}
	}
}

func TestGemv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forEachGemmLevel(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 13} {
			for _, k := range []int{0, 1, 5, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 128, 130} {
				for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, 0}} {
					alpha, beta := ab[0], ab[1]
					lda := max(k, 1) + rng.IntN(3)
					a := make([]float32, max(n-1, 0)*lda+k+5)
					for i := range a {
						a[i] = gemmGuard // gap cells: a kernel reading them would go wrong
						if i%lda < k {
							a[i] = rng.Float32()*2 - 1
						}
					}
					x := make([]float32, k)
					for i := range x {
						x[i] = rng.Float32()*2 - 1
					}
					y := make([]float32, n+3)
					for i := range y {
						y[i] = gemmGuard
						if i < n {
							y[i] = rng.Float32()
							if beta == 0 {
								y[i] = float32(math.NaN())
							}
						}
					}
					y0 := append([]float32(nil), y...)
					Gemv(alpha, a[:max(n-1, 0)*lda+k], lda, x, beta, y[:n])
					for j := range y {
						if j >= n {
							if y[j] != gemmGuard {
								t.Fatalf("n=%d k=%d: guard y[%d] overwritten", n, k, j)
							}
							continue
						}
						var s, mag float64
						for p := 0; p < k; p++ {
							s += float64(a[j*lda+p]) * float64(x[p])
							mag += math.Abs(float64(a[j*lda+p]) * float64(x[p]))
						}
						want := float64(alpha) * s
						if beta != 0 {
							want += float64(beta) * float64(y0[j])
						}
						tol := float64(k+2)*1.2e-7*math.Abs(float64(alpha))*mag + 1e-6*math.Abs(want) + 1e-30
						if d := math.Abs(float64(y[j]) - want); !(d <= tol) {
							t.Fatalf("n=%d k=%d lda=%d alpha=%v beta=%v: y[%d] = %v, want %v", n, k, lda, alpha, beta, j, y[j], want)
						}
					}
				}
			}
		}
	})
}
