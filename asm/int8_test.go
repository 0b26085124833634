package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// TestQuantizeU8 compares QuantizeU8 with its Go twin for every row length
// up to 200, several source offsets and row gaps, with guard bytes around
// and between the rows, at every level; and checks the twin's bytes against
// their definition (within one step of the scaled value, 1..255).
func TestQuantizeU8(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	forEachLevel(t, func(t *testing.T) {
		t.Logf("int8 path %s", Int8Implementation())
		for n := 0; n <= 200; n++ {
			for _, off := range []int{0, 1, 3} {
				rows, lds, ldd := 1+n%3, max(n+off%2, 1), n+1+off
				src := bf16Input(rng, off+rows*lds+1, false)[off:]
				if n%17 == 5 {
					clear(src[:n]) // a row of zeros: scale 0, bytes 128
				}
				want := make([]uint8, rows*ldd+2)
				got := make([]uint8, rows*ldd+2)
				for i := range want {
					want[i], got[i] = 0xa5, 0xa5
				}
				ws, gs := make([]float32, rows+1), make([]float32, rows+1)
				quantizeU8Go(rows, n, src, lds, want, ldd, ws)
				QuantizeU8(rows, n, src, lds, got, ldd, gs)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("n=%d off=%d rows=%d: byte %d = %d, want %d", n, off, rows, i, got[i], want[i])
					}
				}
				for r := 0; r < rows; r++ {
					if math.Float32bits(gs[r]) != math.Float32bits(ws[r]) {
						t.Fatalf("n=%d: scale %d = %v, want %v", n, r, gs[r], ws[r])
					}
					for p := 0; p < n; p++ {
						x := float64(src[r*lds+p])
						q := float64(want[r*ldd+p]) - 128
						if want[r*ldd+p] == 0 || (ws[r] != 0 && math.Abs(q-x/float64(ws[r])) > 0.5001) {
							t.Fatalf("n=%d: byte %d of row %d is %d for %v (scale %v)", n, p, r, want[r*ldd+p], x, ws[r])
						}
					}
				}
				if gs[rows] != 0 {
					t.Fatalf("n=%d: scale past the rows written", n)
				}
			}
		}
	})
}

// int8Case is one GemmInt8 call: A's bytes with gap bytes (random: B's pad
// rows are zero, so they must not matter), B packed, C with guard cells.
type int8Case struct {
	m, lda, ldc int
	a           []uint8
	as          []float32
	b           Int8B
	c           []float32
	off         int
}

func newInt8Case(rng *rand.Rand, m, n, k, gapA, gapC int) *int8Case {
	kq := (k + 3) / 4
	g := &int8Case{m: m, lda: max(4*kq+gapA, 1), ldc: n + gapC, off: 1 + rng.IntN(7)}
	aOff := rng.IntN(4)
	g.a = make([]uint8, aOff+max(m*g.lda, 1))
	for i := range g.a {
		g.a[i] = uint8(rng.IntN(256))
	}
	g.a = g.a[aOff:]
	g.as = make([]float32, m)
	for i := range g.as {
		g.as[i] = float32(math.Exp(rng.NormFloat64()))
	}
	g.b.Pack(false, bf16Input(rng, max(k*n, 1), false), max(n, 1), k, n)
	g.c = make([]float32, g.off+max(m-1, 0)*g.ldc+n+9)
	for i := range g.c {
		g.c[i] = gemmGuard
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			g.c[g.off+i*g.ldc+j] = float32(rng.NormFloat64())
		}
	}
	return g
}

func (g *int8Case) check(t *testing.T, what string) {
	t.Helper()
	want := append([]float32(nil), g.c...)
	gemmInt8Go(g.m, g.a, g.lda, g.as, &g.b, want[g.off:], g.ldc)
	got := append([]float32(nil), g.c...)
	GemmInt8(g.m, g.a, g.lda, g.as, &g.b, got[g.off:], g.ldc)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			r, j := (i-g.off)/g.ldc, (i-g.off)%g.ldc
			t.Fatalf("%s: c[%d] (row %d, col %d) = %v, want %v", what, i, r, j, got[i], want[i])
		}
	}
}

// TestGemmInt8 compares GemmInt8 bit for bit with its Go twin over every
// row count of the kernels, column counts around the panel width and its
// groups, depths around the quads and the unrolling, row gaps, alignments
// and guard cells, at every level.
func TestGemmInt8(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	ms := []int{1, 2, 3, 4, 5, 6, 7, 9, 11, 14, 15, 17, 28, 33}
	ns := []int{1, 5, 31, 32, 33, 64, 95, 128, 255, 257, 512}
	ks := []int{0, 1, 3, 4, 5, 8, 17, 30, 64}
	if testing.Short() {
		ms, ns, ks = []int{1, 3, 6, 14, 17}, []int{1, 33, 128, 257}, []int{3, 8, 30}
	}
	forEachLevel(t, func(t *testing.T) {
		for _, m := range ms {
			for _, n := range ns {
				for _, k := range ks {
					gap := rng.IntN(5)
					newInt8Case(rng, m, n, k, gap, rng.IntN(5)).check(t, fmt.Sprintf("m=%d n=%d k=%d gap=%d", m, n, k, gap))
				}
			}
		}
	})
}

// TestGemmInt8Approximates: quantizing both operands and multiplying
// approximates the float product within the quantization steps: each term
// errs by at most half a step of either operand times the other's size.
func TestGemmInt8Approximates(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	m, n, k := 6, 70, 45
	a := bf16Input(rng, m*k, false)
	bm := bf16Input(rng, k*n, false)
	lda := 48
	qa, as := make([]uint8, m*lda), make([]float32, m)
	QuantizeU8(m, k, a, k, qa, lda, as)
	var pb Int8B
	pb.Pack(false, bm, n, k, n)
	c := make([]float32, m*n)
	GemmInt8(m, qa, lda, as, &pb, c, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, bound float64
			for p := 0; p < k; p++ {
				x, y := float64(a[i*k+p]), float64(bm[p*n+j])
				s += x * y
				bound += math.Abs(x)*float64(pb.scale[j])/2 + math.Abs(y)*float64(as[i])/2 + float64(as[i]*pb.scale[j])/4
			}
			if d := math.Abs(float64(c[i*n+j]) - s); d > bound*1.001+1e-6 {
				t.Fatalf("C[%d][%d] = %v, float %v: |diff| %g > %g", i, j, c[i*n+j], s, d, bound)
			}
		}
	}
}

// TestInt8Pack checks the layout, scales and corrections of Int8B.Pack for
// both orientations.
func TestInt8Pack(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, s := range [][2]int{{1, 1}, {5, 33}, {8, 64}, {7, 100}} {
		k, n := s[0], s[1]
		b := bf16Input(rng, k*n, false)
		clear(b[:k]) // B[0][0..k) when n >= k: some zero columns below
		bt := make([]float32, n*k)
		for p := 0; p < k; p++ {
			for j := 0; j < n; j++ {
				bt[j*k+p] = b[p*n+j]
			}
		}
		var x, y Int8B
		x.Pack(false, b, n, k, n)
		y.Pack(true, bt, k, k, n)
		if fmt.Sprint(x) != fmt.Sprint(y) {
			t.Fatalf("k=%d n=%d: transposed packing differs", k, n)
		}
		kq := (k + 3) / 4
		for j := 0; j < n; j++ {
			var m float32
			for p := 0; p < k; p++ {
				m = max(m, abs32(b[p*n+j]))
			}
			if x.scale[j] != m/127 {
				t.Fatalf("k=%d n=%d: scale %d = %v, want %v", k, n, j, x.scale[j], m/127)
			}
			var sum int32
			for p := 0; p < 4*kq; p++ {
				q := x.data[j/bf16NR*kq*128+p/4*128+4*(j%bf16NR)+p%4]
				if p >= k {
					if q != 0 {
						t.Fatalf("pad byte %d of column %d = %d", p, j, q)
					}
					continue
				}
				if m != 0 && math.Abs(float64(q)-float64(b[p*n+j])*127/float64(m)) > 0.5001 {
					t.Fatalf("k=%d n=%d: byte (%d, %d) = %d for %v (max %v)", k, n, p, j, q, b[p*n+j], m)
				}
				sum += int32(q)
			}
			if x.corr[j] != 128*sum {
				t.Fatalf("corr %d = %d, want %d", j, x.corr[j], 128*sum)
			}
		}
	}
}

// TestInt8Implementation: the int8 kernels are installed exactly at the
// AVX-512 level of a CPU with AVX512_VNNI, and Int8Missing says why not.
func TestInt8Implementation(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		want := "generic"
		if ActiveLevel() == AVX512 && int8Hardware {
			want = "avx512vnni"
		}
		if got := Int8Implementation(); got != want {
			t.Fatalf("Int8Implementation() = %q at level %v, want %q", got, ActiveLevel(), want)
		}
		miss := Int8Missing()
		if (want == "generic") != (miss != "") || (miss != "" && !strings.Contains(miss, "AVX512_VNNI")) {
			t.Fatalf("Int8Missing() = %q with the %s path", miss, want)
		}
	})
}

// TestGemmInt8Panics: short slices are programming errors.
func TestGemmInt8Panics(t *testing.T) {
	var b Int8B
	b.Pack(false, make([]float32, 12), 3, 4, 3)
	for name, f := range map[string]func(){
		"lda":      func() { GemmInt8(1, make([]uint8, 4), 3, []float32{1}, &b, make([]float32, 3), 3) },
		"short a":  func() { GemmInt8(2, make([]uint8, 7), 4, []float32{1, 1}, &b, make([]float32, 6), 3) },
		"scales":   func() { GemmInt8(2, make([]uint8, 8), 4, []float32{1}, &b, make([]float32, 6), 3) },
		"short c":  func() { GemmInt8(2, make([]uint8, 8), 4, []float32{1, 1}, &b, make([]float32, 5), 3) },
		"pack":     func() { b.Pack(false, make([]float32, 11), 3, 4, 3) },
		"quantize": func() { QuantizeU8(2, 3, make([]float32, 6), 3, make([]uint8, 5), 3, make([]float32, 2)) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, _ := r.(string); !strings.HasPrefix(s, "asm: ") {
					t.Errorf("%s: panic %v without the asm: prefix", name, r)
				}
			}()
			f()
		}()
	}
}

// BenchmarkGemmInt8 is BenchmarkGemmBF16's products in int8 (the
// activations' quantization included), beside the same fp32 anchor.
func BenchmarkGemmInt8(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 512
	for _, m := range []int{1, 256} {
		for _, k := range []int{128, 256} {
			a := bf16Input(rng, m*k, false)
			bm := bf16Input(rng, k*n, false)
			c := make([]float32, m*n)
			run := func(b *testing.B, f func()) {
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPUNanos()
				for b.Loop() {
					f()
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				if cpu0 >= 0 {
					b.ReportMetric(float64(threadCPUNanos()-cpu0)/float64(b.N), "cpu-ns/op")
				}
			}
			b.Run(fmt.Sprintf("m=%d/k=%d/fp32", m, k), func(b *testing.B) {
				mr, nr := GemmTile()
				pa := make([]float32, m*k)
				GemmPackA(false, a, k, m, k, pa)
				pb := make([]float32, (n+nr-1)/nr*nr*k)
				GemmPackB(false, bm, n, k, n, pb)
				run(b, func() {
					for i0 := 0; i0 < m; i0 += mr {
						GemmMicro(min(mr, m-i0), n, k, 1, pa[i0*k:], pb, 1, c[i0*n:], n)
					}
				})
			})
			b.Run(fmt.Sprintf("m=%d/k=%d/int8", m, k), func(b *testing.B) {
				b.Logf("int8 path %s", Int8Implementation())
				qa, as := make([]uint8, m*k), make([]float32, m)
				var pb Int8B
				pb.Pack(false, bm, n, k, n)
				run(b, func() {
					QuantizeU8(m, k, a, k, qa, k, as)
					GemmInt8(m, qa, k, as, &pb, c, n)
				})
			})
		}
	}
}

// TestInt8NaN: a NaN anywhere in a row of A makes that row's outputs NaN,
// an infinity makes them NaN or infinite (as float32 products would be),
// the other rows unaffected, at every level.
func TestInt8NaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	forEachLevel(t, func(t *testing.T) {
		const m, n, k = 4, 40, 37
		for _, inf := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
			for _, at := range []int{0, 15, 16, 33, 36} {
				a := bf16Input(rng, m*k, false)
				a[1*k+at] = inf
				qa, as := make([]uint8, m*40), make([]float32, m)
				QuantizeU8(m, k, a, k, qa, 40, as)
				var pb Int8B
				pb.Pack(false, bf16Input(rng, k*n, false), n, k, n)
				c := make([]float32, m*n)
				GemmInt8(m, qa, 40, as, &pb, c, n)
				for i := 0; i < m; i++ {
					for j := 0; j < n; j++ {
						v := float64(c[i*n+j])
						bad := math.IsNaN(v) || (math.IsInf(v, 0) && !math.IsNaN(float64(a[1*k+at])))
						if bad != (i == 1) {
							t.Fatalf("%v at %d: C[%d][%d] = %v", inf, at, i, j, c[i*n+j])
						}
					}
				}
			}
		}
	})
}
