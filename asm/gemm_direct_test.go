package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmMicroDirectBitIdentical checks GemmMicroDirect against GemmPackA
// followed by GemmMicro for exact equality, guard cells included, over every
// row count, widths around the panel edges, depths across the unrolling,
// strides wider than the rows, both layouts of A and several betas.
func TestGemmMicroDirectBitIdentical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	forEachGemmLevel(t, func(t *testing.T) {
		mrMax, nr := GemmTile()
		for mr := 1; mr <= mrMax; mr++ {
			for _, n := range []int{1, 2, 7, nr - 1, nr, nr + 1, 2*nr + 3, 3*nr - 1} {
				if n < 1 {
					continue
				}
				for _, k := range []int{0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 32, 33, 64, 70} {
					for _, transA := range []bool{false, true} {
						for _, ab := range [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {0.75, -1}} {
							lda := mr + rng.IntN(5)
							if !transA {
								lda = max(k, 1) + rng.IntN(5)
							}
							ldc := n + rng.IntN(3)
							directCase(t, rng, transA, mr, n, k, lda, ldc, ab[0], ab[1], nr)
						}
					}
				}
			}
		}
	})
}

// directCase runs one comparison of GemmMicroDirect with the packed path.
func directCase(t *testing.T, rng *rand.Rand, transA bool, mr, n, k, lda, ldc int, alpha, beta float32, nr int) {
	t.Helper()
	rows, cols := mr, k
	if transA {
		rows, cols = k, mr
	}
	// A with guard values in its padding: they must not be read.
	a := make([]float32, max((rows-1)*lda+cols, 0))
	for i := range a {
		a[i] = float32(math.NaN())
	}
	for r := 0; r < rows; r++ {
		for q := 0; q < cols; q++ {
			a[r*lda+q] = rng.Float32()*2 - 1
		}
	}
	np := (n + nr - 1) / nr
	b := make([]float32, np*k*nr)
	for i := range b {
		b[i] = rng.Float32()*2 - 1
	}
	g := newGemmCase(rng, nr, mr, n, 0, ldc, beta == 0 && k%2 == 1)
	g.k = k
	want := append([]float32(nil), g.c...)
	got := append([]float32(nil), g.c...)
	ap := make([]float32, mr*k)
	GemmPackA(transA, a, lda, mr, k, ap)
	end := g.off + (mr-1)*ldc + n
	GemmMicro(mr, n, k, alpha, ap, b, beta, want[g.off:end], ldc)
	GemmMicroDirect(transA, mr, n, k, alpha, a, lda, b, beta, got[g.off:end], ldc)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s transA=%v mr=%d n=%d k=%d lda=%d ldc=%d alpha=%v beta=%v: c[%d] = %v, packed path %v",
				Implementation(), transA, mr, n, k, lda, ldc, alpha, beta, i, got[i], want[i])
		}
	}
}

// TestGemmMicroDirectLongK crosses the blocked GEMM's depth block (256) and
// goes beyond, on the full tile and a remainder.
func TestGemmMicroDirectLongK(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forEachGemmLevel(t, func(t *testing.T) {
		mrMax, nr := GemmTile()
		for _, mr := range []int{1, mrMax/2 + 1, mrMax} {
			for _, k := range []int{255, 256, 257, 300, 513} {
				for _, transA := range []bool{false, true} {
					lda := mr + 3
					if !transA {
						lda = k + 1
					}
					directCase(t, rng, transA, mr, 2*nr+5, k, lda, 2*nr+5, 1, 0.5, nr)
				}
			}
		}
	})
}

func TestGemmMicroDirectPanics(t *testing.T) {
	mr, nr := GemmTile()
	b := make([]float32, 3*nr)
	for name, f := range map[string]func(){
		"mr 0":       func() { GemmMicroDirect(false, 0, 1, 1, 1, make([]float32, 1), 1, b, 0, make([]float32, 1), 1) },
		"mr too big": func() { GemmMicroDirect(true, mr+1, 1, 1, 1, make([]float32, 64), 64, b, 0, make([]float32, 64), 1) },
		"short a":    func() { GemmMicroDirect(false, 2, 1, 3, 1, make([]float32, 5), 3, b, 0, make([]float32, 2), 1) },
		"short aT":   func() { GemmMicroDirect(true, 2, 1, 3, 1, make([]float32, 9), 4, b, 0, make([]float32, 2), 1) },
		"lda low":    func() { GemmMicroDirect(false, 2, 1, 3, 1, make([]float32, 20), 2, b, 0, make([]float32, 2), 1) },
		"ldaT low":   func() { GemmMicroDirect(true, 3, 1, 2, 1, make([]float32, 20), 2, b, 0, make([]float32, 3), 1) },
		"short b": func() {
			GemmMicroDirect(false, 1, nr+1, 1, 1, make([]float32, 1), 1, b[:nr], 0, make([]float32, nr+1), nr+1)
		},
		"short c": func() { GemmMicroDirect(false, 2, 4, 1, 1, make([]float32, 2), 1, b, 0, make([]float32, 7), 4) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, ok := r.(string); !ok || s[:5] != "asm: " {
					t.Errorf("%s: panic %v, want an asm: message", name, r)
				}
			}()
			f()
		}()
	}
}

func FuzzGemmMicroDirect(f *testing.F) {
	f.Add(uint8(3), uint8(20), uint8(7), uint8(2), uint64(1), false)
	f.Add(uint8(14), uint8(64), uint8(33), uint8(0), uint64(3), true)
	f.Fuzz(func(t *testing.T, mr8, n8, k8, pad uint8, seed uint64, transA bool) {
		mrMax, nr := GemmTile()
		mr := int(mr8)%mrMax + 1
		n := int(n8)%(3*nr) + 1
		k := int(k8) % 90
		rng := rand.New(rand.NewPCG(seed, 9))
		lda := max(k, 1) + int(pad%5)
		if transA {
			lda = mr + int(pad%5)
		}
		directCase(t, rng, transA, mr, n, k, lda, n+int(seed%3), 1.5, float32(seed%3)/2, nr)
	})
}

// BenchmarkGemmMicroDirect compares the packed path (GemmPackA, then
// GemmMicro) with GemmMicroDirect on the LSTM's per-step products: a full
// tile of rows, k 32 or 128, n 32 or 128.
func BenchmarkGemmMicroDirect(b *testing.B) {
	mr, nr := GemmTile()
	for _, s := range [][2]int{{32, 128}, {128, 32}, {128, 128}, {32, 512}} {
		k, n := s[0], s[1]
		for _, transA := range []bool{false, true} {
			lda := k
			if transA {
				lda = 64
			}
			a := make([]float32, max(mr, k)*max(lda, k))
			bp := make([]float32, (n+nr-1)/nr*nr*k)
			c := make([]float32, mr*n)
			ap := make([]float32, mr*k)
			name := fmt.Sprintf("k=%d/n=%d/transA=%v", k, n, transA)
			b.Run(name+"/packed", func(b *testing.B) {
				for range b.N {
					GemmPackA(transA, a, lda, mr, k, ap)
					GemmMicro(mr, n, k, 1, ap, bp, 0, c, n)
				}
			})
			b.Run(name+"/direct", func(b *testing.B) {
				for range b.N {
					GemmMicroDirect(transA, mr, n, k, 1, a, lda, bp, 0, c, n)
				}
			})
		}
	}
}
