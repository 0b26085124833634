package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/novacron/perfpredict/asm"
)

// forEachLevel runs f as one subtest per asm level this machine supports.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	for _, l := range asm.Supported() {
		t.Run(l.String(), func(t *testing.T) {
			prev, err := asm.SetLevel(l)
			if err != nil {
				t.Fatal(err)
			}
			defer asm.SetLevel(prev)
			f(t)
		})
	}
}

const guard = float32(-7777.25)

// problem is one GEMM call with its operands surrounded by guard cells: the
// strides leave gaps after every row and the slices end with extra cells.
type problem struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
}

func newProblem(rng *rand.Rand, transA, transB bool, m, n, k int, alpha, beta float32, pad int) *problem {
	p := &problem{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, beta: beta}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = max(ac, 1)+rng.IntN(pad+1), max(bc, 1)+rng.IntN(pad+1), max(n, 1)+rng.IntN(pad+1)
	fill := func(rows, cols, ld int, val func() float32) []float32 {
		s := make([]float32, rows*ld+3)
		for i := range s {
			s[i] = guard
		}
		for i := 0; i < rows; i++ {
			for j := 0; j < cols; j++ {
				s[i*ld+j] = val()
			}
		}
		return s
	}
	uni := func() float32 { return rng.Float32()*2 - 1 }
	p.a = fill(ar, ac, p.lda, uni)
	p.b = fill(br, bc, p.ldb, uni)
	cval := uni
	if beta == 0 {
		cval = func() float32 { return float32(math.NaN()) }
	}
	p.c = fill(m, n, p.ldc, cval)
	return p
}

func (p *problem) opA(i, q int) float32 {
	if p.transA {
		return p.a[q*p.lda+i]
	}
	return p.a[i*p.lda+q]
}

func (p *problem) opB(q, j int) float32 {
	if p.transB {
		return p.b[j*p.ldb+q]
	}
	return p.b[q*p.ldb+j]
}

func (p *problem) String() string {
	return fmt.Sprintf("transA=%v transB=%v m=%d n=%d k=%d alpha=%v beta=%v lda=%d ldb=%d ldc=%d",
		p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.beta, p.lda, p.ldb, p.ldc)
}

// check compares got (a C buffer after the call under test) against the
// reference applied to the original C: values within k*eps*Σ|a||b| (plus
// the beta term), guard cells untouched.
func (p *problem) check(t testing.TB, got []float32, what string) {
	t.Helper()
	want := append([]float32(nil), p.c...)
	sgemmRef(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, want, p.ldc)
	for idx := range got {
		i, j := idx/p.ldc, idx%p.ldc
		if i >= p.m || j >= p.n {
			if got[idx] != guard {
				t.Fatalf("%s %v: guard cell %d (row %d col %d) overwritten: %v", what, p, idx, i, j, got[idx])
			}
			continue
		}
		var mag float64
		for q := 0; q < p.k; q++ {
			mag += math.Abs(float64(p.opA(i, q)) * float64(p.opB(q, j)))
		}
		tol := 2*float64(p.k+1)*float64(float32(1.19e-7))*(math.Abs(float64(p.alpha))*mag) + 1e-30
		if p.beta != 0 {
			tol += 4e-7 * math.Abs(float64(p.beta*p.c[idx]))
		}
		if d := math.Abs(float64(got[idx] - want[idx])); !(d <= tol) {
			t.Fatalf("%s %v: C[%d][%d] = %v, want %v (tol %g)", what, p, i, j, got[idx], want[idx], tol)
		}
	}
}

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

var alphaBetas = [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, 0}, {0, 0.5}, {0.75, -1}}

func runProblem(t *testing.T, f gemmFunc, what string, p *problem) {
	t.Helper()
	got := append([]float32(nil), p.c...)
	f(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	p.check(t, got, what)
}

func TestSgemmShapes(t *testing.T) {
	sizes := []int{1, 2, 7, 16, 33, 129}
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		n := 0
		for _, m := range sizes {
			for _, nn := range sizes {
				for _, k := range sizes {
					if m*nn*k > 40000 && !(m == nn && nn == k) {
						continue
					}
					for tr := range 4 {
						ab := alphaBetas[n%len(alphaBetas)]
						n++
						p := newProblem(rng, tr&1 != 0, tr&2 != 0, m, nn, k, ab[0], ab[1], 3)
						runProblem(t, SgemmSerial, "SgemmSerial", p)
					}
				}
			}
		}
	})
}

// TestSgemmLarge crosses the cache blocks (k > KC, n > NC), the parallel
// threshold and the 513 sizes of the issue.
func TestSgemmLarge(t *testing.T) {
	shapes := [][3]int{{513, 7, 33}, {7, 513, 300}, {33, 600, 513}, {129, 129, 129}, {200, 1100, 20}, {1, 513, 513}, {513, 1, 70}, {2100, 1, 2100}}
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for i, s := range shapes {
			for tr := range 4 {
				ab := alphaBetas[(i+tr)%len(alphaBetas)]
				p := newProblem(rng, tr&1 != 0, tr&2 != 0, s[0], s[1], s[2], ab[0], ab[1], 2)
				runProblem(t, Sgemm, "Sgemm", p)
				if tr == 0 {
					runProblem(t, SgemmSerial, "SgemmSerial", p)
				}
			}
		}
	})
}

func TestSgemmRandomShapes(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for range 150 {
			m, n, k := 1+rng.IntN(70), 1+rng.IntN(100), rng.IntN(90)
			ab := alphaBetas[rng.IntN(len(alphaBetas))]
			p := newProblem(rng, rng.IntN(2) == 0, rng.IntN(2) == 0, m, n, k, ab[0], ab[1], 4)
			runProblem(t, Sgemm, "Sgemm", p)
		}
	})
}

// TestSgemmNoMultiply: k == 0 or alpha == 0 scales C by beta without reading
// A or B (NaN there does not propagate); beta == 0 clears C even if it is NaN.
func TestSgemmNoMultiply(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		k            int
		alpha, beta  float32
		c, want, a_b float32
	}{
		{0, 1, 0, nan, 0, 1},
		{0, 1, 2, 3, 6, 1},
		{3, 0, 0.5, 4, 2, nan},
		{3, 0, 0, nan, 0, nan},
	} {
		a := []float32{tc.a_b, tc.a_b, tc.a_b, tc.a_b, tc.a_b, tc.a_b}
		c := []float32{tc.c, tc.c, tc.c, tc.c, guard}
		Sgemm(false, false, 2, 2, tc.k, tc.alpha, a, max(tc.k, 1), a, 2, tc.beta, c, 2)
		for i, v := range c[:4] {
			if v != tc.want {
				t.Fatalf("k=%d alpha=%v beta=%v: C[%d] = %v, want %v", tc.k, tc.alpha, tc.beta, i, v, tc.want)
			}
		}
		if c[4] != guard {
			t.Fatalf("guard overwritten")
		}
	}
}

func TestPackedB(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 10))
		var reused PackedB
		for _, s := range [][3]int{{1, 512, 128}, {32, 512, 30}, {33, 77, 300}, {1, 5, 1}, {256, 64, 256}, {15, 513, 600}, {5, 40, 0}} {
			for _, transB := range []bool{false, true} {
				for i, ab := range alphaBetas {
					if i%2 == 1 && s[0] > 100 {
						continue
					}
					p := newProblem(rng, false, transB, s[0], s[1], s[2], ab[0], ab[1], 3)
					pb := PackB(transB, p.k, p.n, p.b, p.ldb)
					if pb.K() != p.k || pb.N() != p.n {
						t.Fatalf("PackB shape %d×%d, want %d×%d", pb.K(), pb.N(), p.k, p.n)
					}
					got := append([]float32(nil), p.c...)
					SgemmPackedB(p.m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc)
					p.check(t, got, "SgemmPackedB")
					reused.Pack(transB, p.k, p.n, p.b, p.ldb)
					got = append(got[:0], p.c...)
					SgemmPackedBSerial(p.m, p.alpha, p.a, p.lda, &reused, p.beta, got, p.ldc)
					p.check(t, got, "SgemmPackedBSerial (re-packed)")
				}
			}
		}
	})
}

// TestPackedBOtherLevel: a B packed under one level stays usable after
// asm.SetLevel switched to a level with another panel width.
func TestPackedBOtherLevel(t *testing.T) {
	levels := asm.Supported()
	rng := rand.New(rand.NewPCG(11, 12))
	for _, from := range levels {
		for _, to := range levels {
			prev, _ := asm.SetLevel(from)
			p := newProblem(rng, false, true, 20, 70, 40, 1.5, 0.5, 2)
			pb := PackB(true, p.k, p.n, p.b, p.ldb)
			asm.SetLevel(to)
			got := append([]float32(nil), p.c...)
			SgemmPackedB(p.m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc)
			asm.SetLevel(prev)
			p.check(t, got, fmt.Sprintf("packed %v, run %v", from, to))
		}
	}
}

func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 100)
	for name, f := range map[string]func(){
		"negative m":  func() { Sgemm(false, false, -1, 2, 2, 1, s, 2, s, 2, 0, s, 2) },
		"lda too low": func() { Sgemm(false, false, 2, 2, 3, 1, s, 2, s, 2, 0, s, 2) },
		"ldb transB":  func() { Sgemm(false, true, 2, 2, 3, 1, s, 3, s, 2, 0, s, 2) },
		"ldc too low": func() { SgemmSerial(false, false, 2, 3, 2, 1, s, 2, s, 3, 0, s, 2) },
		"short a":     func() { Sgemm(true, false, 4, 2, 3, 1, s[:11], 5, s, 2, 0, s, 2) },
		"short b":     func() { Sgemm(false, false, 2, 3, 4, 1, s, 4, s[:10], 3, 0, s, 3) },
		"short c":     func() { Sgemm(false, false, 3, 3, 1, 1, s, 1, s, 3, 0, s[:9], 4) },
		"nil packed":  func() { SgemmPackedB(1, 1, s, 1, nil, 0, s, 1) },
		"zero packed": func() { SgemmPackedB(1, 1, s, 1, &PackedB{}, 0, s, 1) },
		"packed a":    func() { SgemmPackedB(3, 1, s[:20], 10, PackB(false, 10, 2, s, 2), 0, s, 2) },
		"packed c":    func() { SgemmPackedBSerial(3, 1, s, 10, PackB(false, 10, 4, s, 4), 0, s[:11], 4) },
		"pack short":  func() { PackB(true, 10, 10, s[:99], 10) },
	} {
		func() {
			defer func() {
				r := recover()
				if msg, ok := r.(string); !ok || !strings.HasPrefix(msg, "blas: ") {
					t.Errorf("%s: recovered %v, want a \"blas: \" panic", name, r)
				}
			}()
			f()
		}()
	}
	// Slices exactly as long as the strides imply are accepted.
	Sgemm(false, false, 3, 2, 4, 1, s[:2*10+4], 10, s[:3*5+2], 5, 0, s[:2*7+2], 7)
}

// TestSteadyStateNoAlloc: a product of a size seen before allocates nothing,
// at every level (the AVX2 edge tiles go through a scratch tile).
func TestSteadyStateNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items; allocation counts mean nothing")
	}
	forEachLevel(t, func(t *testing.T) {
		a := make([]float32, 80*300)
		b := make([]float32, 300*96)
		c := make([]float32, 64*96)
		pb := PackB(true, 300, 70, a, 300)
		f := func() {
			SgemmSerial(false, true, 61, 93, 300, 1, a, 300, b, 300, 0, c, 96)
			SgemmSerial(true, false, 40, 96, 64, 1, a, 40, b, 96, 1, c, 96)
			SgemmSerial(false, false, 1, 96, 300, 1, a, 300, b, 96, 0, c, 96)
			SgemmSerial(false, false, 64, 1, 300, 1, a, 300, b, 96, 0, c, 96)
			SgemmSerial(true, true, 64, 1, 40, 1, a, 64, b, 40, 1, c, 1)
			SgemmPackedBSerial(64, 1, a, 300, pb, 1, c, 96)
			SgemmPackedBSerial(1, 1, a, 300, pb, 0, c, 96)
		}
		f()
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Fatalf("%v allocations per run, want 0", n)
		}
	})
}

func FuzzSgemm(f *testing.F) {
	f.Add(uint8(3), uint8(5), uint8(7), uint8(0), uint64(1))
	f.Add(uint8(1), uint8(40), uint8(0), uint8(3), uint64(2))
	f.Add(uint8(30), uint8(33), uint8(65), uint8(6), uint64(3))
	f.Fuzz(func(t *testing.T, m8, n8, k8, mode uint8, seed uint64) {
		m, n, k := int(m8)%48+1, int(n8)%80+1, int(k8)%100
		rng := rand.New(rand.NewPCG(seed, 13))
		ab := alphaBetas[int(mode/4)%len(alphaBetas)]
		p := newProblem(rng, mode&1 != 0, mode&2 != 0, m, n, k, ab[0], ab[1], 3)
		got := append([]float32(nil), p.c...)
		Sgemm(p.transA, p.transB, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
		p.check(t, got, "Sgemm")
		if !p.transA {
			pb := PackB(p.transB, k, n, p.b, p.ldb)
			got = append(got[:0], p.c...)
			SgemmPackedB(m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc)
			p.check(t, got, "SgemmPackedB")
		}
	})
}

// TestParallelNoAlloc: the parallel paths allocate nothing in steady state
// either (testing.AllocsPerRun would force GOMAXPROCS 1, hence MemStats).
func TestParallelNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items; allocation counts mean nothing")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	a := make([]float32, 256*512)
	b := make([]float32, 512*512)
	c := make([]float32, 256*512)
	pb := PackB(true, 128, 512, b, 128)
	f := func() {
		Sgemm(false, false, 256, 512, 64, 1, a, 64, b, 512, 0, c, 512)
		Sgemm(true, false, 256, 64, 256, 1, a, 256, b, 64, 1, c, 64)
		SgemmPackedB(256, 1, a, 128, pb, 1, c, 512)
	}
	if workers(256, 64, 256) < 2 {
		t.Fatal("test products below the parallel threshold")
	}
	for range 3 {
		f()
	}
	// No collection while counting: one would empty the pools (more often
	// when other test binaries load the machine), which is not a per-call
	// cost. The bound on what is left is unchanged.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 20
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	if n := after.Mallocs - before.Mallocs; n > runs/2 {
		t.Fatalf("%d allocations in %d runs of 3 parallel products", n, runs)
	}
}
