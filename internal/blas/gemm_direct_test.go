package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/novacron/perfpredict/asm"
)

// sgemmPacked runs SgemmSerial with every block packing A (no direct
// kernels): the path the direct kernels must match bit for bit.
func sgemmPacked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	defer func(d int) { gemmDirectPanels = d }(gemmDirectPanels)
	gemmDirectPanels = 0
	SgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmDirect runs SgemmSerial with every block reading A in place.
func sgemmDirect(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	defer func(d int) { gemmDirectPanels = d }(gemmDirectPanels)
	gemmDirectPanels = 1 << 20
	SgemmSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// exactSame fails unless the direct and packed paths give the same bits
// everywhere in C, guard cells included, and agree with the reference.
func exactSame(t *testing.T, p *problem) {
	t.Helper()
	want := append([]float32(nil), p.c...)
	got := append([]float32(nil), p.c...)
	sgemmPacked(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, want, p.ldc)
	sgemmDirect(p.transA, p.transB, p.m, p.n, p.k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, got, p.ldc)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s %v: c[%d] = %v direct, %v packed", asm.Implementation(), p, i, got[i], want[i])
		}
	}
	p.check(t, got, "direct")
}

// TestSgemmDirectBitIdentical: m, n, k across 1..70 (every row remainder of
// every level's tile), strides wider than the rows, both layouts of A and
// B, beta 0, 1 and others.
func TestSgemmDirectBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	forEachLevel(t, func(t *testing.T) {
		var sizes []int
		for s := 2; s <= 70; s += 1 + s/8 {
			sizes = append(sizes, s)
		}
		for _, m := range sizes {
			for _, n := range []int{2, 5, 17, 32, 33, 64, 70} {
				for _, k := range []int{1, 3, 4, 9, 32, 33, 70} {
					for _, ta := range []bool{false, true} {
						tb := rng.IntN(2) == 0
						ab := alphaBetas[rng.IntN(len(alphaBetas))]
						if ab[0] == 0 {
							ab[0] = 1.25
						}
						exactSame(t, newProblem(rng, ta, tb, m, n, k, ab[0], ab[1], 3))
					}
				}
			}
		}
	})
}

// TestSgemmDirectDeep crosses the depth block gemmKC (later blocks add to C
// with beta 1) and the column block gemmNC.
func TestSgemmDirectDeep(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	forEachLevel(t, func(t *testing.T) {
		for _, s := range [][3]int{{29, 40, 300}, {64, 32, 513}, {15, 600, 20}, {3, 100, 257}} {
			for _, ta := range []bool{false, true} {
				for _, beta := range []float32{0, 1, 0.5} {
					exactSame(t, newProblem(rng, ta, false, s[0], s[1], s[2], 1, beta, 2))
				}
			}
		}
	})
}

// TestSgemmDirectPackedB covers products against a PackedB (the recurrent
// weights), whose blocks also read A in place.
func TestSgemmDirectPackedB(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	forEachLevel(t, func(t *testing.T) {
		for _, s := range [][3]int{{64, 128, 32}, {64, 32, 128}, {17, 45, 300}} {
			p := newProblem(rng, false, false, s[0], s[1], s[2], 1, 0.5, 2)
			pb := PackB(false, p.k, p.n, p.b, p.ldb)
			want := append([]float32(nil), p.c...)
			got := append([]float32(nil), p.c...)
			func() {
				defer func(d int) { gemmDirectPanels = d }(gemmDirectPanels)
				gemmDirectPanels = 0
				SgemmPackedBSerial(p.m, p.alpha, p.a, p.lda, pb, p.beta, want, p.ldc)
				gemmDirectPanels = 1 << 20
				SgemmPackedBSerial(p.m, p.alpha, p.a, p.lda, pb, p.beta, got, p.ldc)
			}()
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s %v: c[%d] = %v direct, %v packed", asm.Implementation(), p, i, got[i], want[i])
				}
			}
		}
	})
}

// BenchmarkSgemmDirect compares the packed and direct paths on the
// training's per-step products (batch 64, hidden 32: 4H = 128), to choose
// gemmDirectPanels. The ns/op figures are CPU time per call.
func BenchmarkSgemmDirect(b *testing.B) {
	for _, s := range [][5]int{
		// m, n, k, transA, transB
		{64, 128, 32, 0, 0}, {64, 32, 128, 0, 1}, {32, 128, 64, 1, 0}, {128, 32, 64, 1, 0},
		{64, 256, 64, 0, 0}, {64, 512, 32, 0, 0}, {256, 512, 128, 0, 0}, {128, 512, 64, 1, 0},
		{512, 512, 512, 0, 0}, {512, 512, 512, 1, 0},
	} {
		m, n, k, ta, tb := s[0], s[1], s[2], s[3] == 1, s[4] == 1
		a, bm, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		lda, ldb := k, n
		if ta {
			lda = m
		}
		if tb {
			ldb = k
		}
		for _, d := range []int{0, 1 << 20} {
			name := fmt.Sprintf("m=%d/n=%d/k=%d/tA=%v/tB=%v/direct=%v", m, n, k, ta, tb, d > 0)
			b.Run(name, func(b *testing.B) {
				defer func(old int) { gemmDirectPanels = old }(gemmDirectPanels)
				gemmDirectPanels = d
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				b.ResetTimer()
				t0 := cpuTime()
				for range b.N {
					SgemmSerial(ta, tb, m, n, k, 1, a, lda, bm, ldb, 0, c, n)
				}
				b.ReportMetric(float64(cpuTime()-t0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
