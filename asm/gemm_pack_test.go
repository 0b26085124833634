package asm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// strided fills a rows×cols matrix with row stride ld (gap cells hold the
// guard value) and returns it.
func strided(rng *rand.Rand, rows, cols, ld int) []float32 {
	s := make([]float32, max(rows-1, 0)*ld+cols)
	for i := range s {
		s[i] = gemmGuard
		if i%ld < cols {
			s[i] = float32(rng.IntN(1000))
		}
	}
	return s
}

func TestGemmPackA(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	forEachGemmLevel(t, func(t *testing.T) {
		mr, _ := GemmTile()
		for _, m := range []int{0, 1, 2, 3, 5, 8, 9, 13, mr - 1, mr, mr + 1, 2*mr + 3, 3 * mr, 4*mr + 9, 9*mr + 3} {
			for _, k := range []int{0, 1, 7, 8, 9, 15, 16, 17, 24, 33, 64, 100} {
				for _, transA := range []bool{false, true} {
					rows, cols := m, k
					if transA {
						rows, cols = k, m
					}
					lda := max(cols, 1) + rng.IntN(3)
					a := strided(rng, rows, cols, lda)
					dst := make([]float32, m*k+9)
					for i := range dst {
						dst[i] = gemmGuard
					}
					GemmPackA(transA, a, lda, m, k, dst[:m*k])
					for idx, v := range dst {
						want := gemmGuard
						if idx < m*k {
							tt := idx / (mr * k)
							mrt := min(mr, m-tt*mr)
							r := idx - tt*mr*k
							p, i := r/mrt, tt*mr+r%mrt
							if transA {
								want = a[p*lda+i]
							} else {
								want = a[i*lda+p]
							}
						}
						if v != want {
							t.Fatalf("m=%d k=%d transA=%v lda=%d: dst[%d] = %v, want %v", m, k, transA, lda, idx, v, want)
						}
					}
				}
			}
		}
	})
}

func TestGemmPackB(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	forEachGemmLevel(t, func(t *testing.T) {
		_, nr := GemmTile()
		for _, n := range []int{0, 1, 5, 8, 9, nr - 1, nr, nr + 3, nr + 8, 2*nr + 17, 3 * nr, 7*nr + 5} {
			for _, k := range []int{0, 1, 7, 8, 9, 16, 23, 64, 100} {
				for _, transB := range []bool{false, true} {
					rows, cols := k, n
					if transB {
						rows, cols = n, k
					}
					ldb := max(cols, 1) + rng.IntN(3)
					b := strided(rng, rows, cols, ldb)
					np := (n + nr - 1) / nr
					dst := make([]float32, np*k*nr+9)
					for i := range dst {
						dst[i] = gemmGuard
					}
					GemmPackB(transB, b, ldb, k, n, dst[:np*k*nr])
					for idx, v := range dst {
						want := gemmGuard
						if idx < np*k*nr {
							tt, r := idx/(k*nr), idx%(k*nr)
							p, j := r/nr, tt*nr+r%nr
							want = 0
							if j < n {
								if transB {
									want = b[j*ldb+p]
								} else {
									want = b[p*ldb+j]
								}
							}
						}
						if v != want {
							t.Fatalf("n=%d k=%d transB=%v ldb=%d: dst[%d] = %v, want %v", n, k, transB, ldb, idx, v, want)
						}
					}
				}
			}
		}
	})
}

func TestGemmPackPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"A m < 0":     func() { GemmPackA(false, make([]float32, 10), 5, -1, 5, make([]float32, 10)) },
		"A short a":   func() { GemmPackA(false, make([]float32, 9), 5, 2, 5, make([]float32, 10)) },
		"A lda":       func() { GemmPackA(true, make([]float32, 10), 1, 2, 5, make([]float32, 10)) },
		"A short dst": func() { GemmPackA(true, make([]float32, 10), 2, 2, 5, make([]float32, 9)) },
		"B short b":   func() { GemmPackB(true, make([]float32, 10), 5, 5, 3, make([]float32, 1000)) },
		"B short dst": func() { GemmPackB(false, make([]float32, 10), 5, 2, 5, make([]float32, 9)) },
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

// BenchmarkGemmPack reports ns per packed element for a 256-deep block of
// 512 rows or columns.
func BenchmarkGemmPack(b *testing.B) {
	const k, n = 256, 512
	src := make([]float32, k*n)
	for _, l := range Supported() {
		for _, trans := range []bool{false, true} {
			b.Run(fmt.Sprintf("%v/B/trans=%v", l, trans), func(b *testing.B) {
				prev, _ := SetLevel(l)
				defer SetLevel(prev)
				_, nr := GemmTile()
				dst := make([]float32, k*(n+nr))
				ld := n
				if trans {
					ld = k
				}
				for range b.N {
					GemmPackB(trans, src, ld, k, n, dst)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*k*n), "ns/elem")
			})
			b.Run(fmt.Sprintf("%v/A/trans=%v", l, trans), func(b *testing.B) {
				prev, _ := SetLevel(l)
				defer SetLevel(prev)
				dst := make([]float32, n*k)
				ld := k
				if trans {
					ld = n
				}
				for range b.N {
					GemmPackA(trans, src, ld, n, k, dst)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n*k), "ns/elem")
			})
		}
	}
}
