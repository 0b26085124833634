package asm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

const bf16Guard = uint16(0xdead)

// TestBF16Rounding checks BF16 on the cases VCVTNE2PS2BF16 defines: ties to
// even, carries into the exponent, overflow to infinity, subnormals to zero,
// NaN kept quiet.
func TestBF16Rounding(t *testing.T) {
	f := math.Float32frombits
	for _, c := range []struct {
		in   float32
		want uint16
	}{
		{1, 0x3f80},
		{-2, 0xc000},
		{f(0x3f808000), 0x3f80},         // tie, even below
		{f(0x3f818000), 0x3f82},         // tie, odd below: up
		{f(0x3f808001), 0x3f81},         // above the tie
		{f(0x3f807fff), 0x3f80},         // below the tie
		{f(0x3fffffff), 0x4000},         // carry into the exponent
		{f(0x7f7fffff), 0x7f80},         // largest float32: infinity
		{float32(math.Inf(-1)), 0xff80}, // -Inf
		{f(0x00400000), 0x0000},         // subnormal: +0
		{f(0x80000001), 0x8000},         // negative subnormal: -0
		{f(0x00800000), 0x0080},         // smallest normal stays
		{f(0x7f800001), 0x7fc0},         // signalling NaN: quiet
		{f(0xffc12345), 0xffc1},         // quiet NaN keeps its top bits
		{float32(math.Copysign(0, -1)), 0x8000},
	} {
		if got := BF16(c.in); got != c.want {
			t.Errorf("BF16(%#08x) = %#04x, want %#04x", math.Float32bits(c.in), got, c.want)
		}
	}
	// Every bf16 value converts back to itself.
	for h := 0; h < 1<<16; h++ {
		v := BF16ToFloat32(uint16(h))
		if v != v || math.Float32bits(v)&0x7f800000 == 0 {
			continue // NaNs get quieted, subnormals flushed
		}
		if got := BF16(v); got != uint16(h) {
			t.Fatalf("BF16(BF16ToFloat32(%#04x)) = %#04x", h, got)
		}
	}
}

// bf16Input draws float32 values of mixed magnitudes with the special
// cases among them (when special): zeros, subnormals, halfway values,
// infinities and NaNs.
func bf16Input(rng *rand.Rand, n int, special bool) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * math.Exp(rng.NormFloat64()*3))
		if special && rng.IntN(8) == 0 {
			v[i] = []float32{0, float32(math.Copysign(0, -1)), math.Float32frombits(0x00012345), math.Float32frombits(0x80400000),
				math.Float32frombits(0x3f818000), math.Float32frombits(0x7f7fffff), float32(math.Inf(1)), float32(math.NaN())}[rng.IntN(8)]
		}
	}
	return v
}

// TestToBF16 compares ToBF16 with the Go twin at every length up to 200 and
// several offsets, with guard cells after dst, at every level.
func TestToBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	forEachLevel(t, func(t *testing.T) {
		t.Logf("bf16 path %s", BF16Implementation())
		for n := 0; n <= 200; n++ {
			for _, off := range offsets {
				src := bf16Input(rng, off+n, true)[off:]
				want := make([]uint16, n)
				toBF16Go(want, src)
				buf := make([]uint16, off+n+9)
				for i := range buf {
					buf[i] = bf16Guard
				}
				ToBF16(buf[off:off+n], src)
				for i, g := range buf {
					switch {
					case i < off || i >= off+n:
						if g != bf16Guard {
							t.Fatalf("n=%d off=%d: guard cell %d overwritten: %#04x", n, off, i, g)
						}
					case g != want[i-off]:
						t.Fatalf("n=%d off=%d: dst[%d] = %#04x, want %#04x (src %#08x)", n, off, i-off, g, want[i-off], math.Float32bits(src[i-off]))
					}
				}
			}
		}
	})
}

// bf16Case is one GemmBF16 call: A in bf16 with gap cells between its rows,
// B packed, C with guard cells around and between its rows.
type bf16Case struct {
	m, n, k, lda, ldc int
	a, b              []uint16 // a starts at an offset of 0..3 elements into its array
	c                 []float32
	off               int // start of C in c (1..7: any alignment)
}

func newBF16Case(rng *rand.Rand, m, n, k, gapA, gapC int, special bool) *bf16Case {
	g := &bf16Case{m: m, n: n, k: k, lda: max(k+gapA, 2), ldc: n + gapC, off: 1 + rng.IntN(7)}
	aOff := rng.IntN(4)
	af := bf16Input(rng, aOff+max(m*g.lda, 1), special)
	g.a = make([]uint16, len(af))
	toBF16Go(g.a, af)
	g.a = g.a[aOff:]
	for i := 0; i < m; i++ {
		for p := k; p < g.lda; p++ {
			g.a[i*g.lda+p] = 0x7fc0 // NaN in the gaps: a kernel reading them would show it
		}
	}
	bm := bf16Input(rng, max(k*n, 1), special)
	g.b = make([]uint16, GemmBF16PackedLen(k, n))
	GemmBF16PackB(false, bm, max(n, 1), k, n, g.b)
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

// check runs GemmBF16 and compares the whole of C, guards included, bit for
// bit with the twin's result.
func (g *bf16Case) check(t *testing.T, what string) {
	t.Helper()
	want := append([]float32(nil), g.c...)
	gemmBF16Go(g.m, g.n, g.k, g.a, g.lda, g.b, want[g.off:], g.ldc)
	got := append([]float32(nil), g.c...)
	GemmBF16(g.m, g.n, g.k, g.a, g.lda, g.b, got[g.off:], g.ldc)
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
			r, j := (i-g.off)/g.ldc, (i-g.off)%g.ldc
			t.Fatalf("%s: c[%d] (row %d, col %d) = %v (%#08x), want %v (%#08x)", what, i, r, j, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// TestGemmBF16 compares GemmBF16 bit for bit with its Go twin over every
// row count of the kernels (and several blocks of them), column counts
// around the panel width and its groups, depths around the unrolling, row
// strides with gaps, and guard cells, at every level.
func TestGemmBF16(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ms := []int{1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 14, 15, 17, 28, 29, 33}
	ns := []int{1, 5, 31, 32, 33, 64, 95, 128, 160, 255, 256, 257, 512}
	ks := []int{0, 2, 4, 6, 8, 10, 18, 30, 64}
	if testing.Short() {
		ms, ns, ks = []int{1, 3, 6, 14, 17}, []int{1, 33, 128, 257}, []int{2, 10, 30}
	}
	forEachLevel(t, func(t *testing.T) {
		for _, m := range ms {
			for _, n := range ns {
				for _, k := range ks {
					gap := rng.IntN(3) * 2
					newBF16Case(rng, m, n, k, gap, rng.IntN(5), false).check(t, fmt.Sprintf("m=%d n=%d k=%d gap=%d", m, n, k, gap))
				}
			}
		}
	})
}

// TestGemmBF16Special: subnormal, infinite and NaN inputs and sums, which
// VDPBF16PS reads as zero (DAZ), flushes (FTZ) or propagates; the twin must
// agree bit for bit (NaNs as NaNs).
func TestGemmBF16Special(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	forEachLevel(t, func(t *testing.T) {
		for _, m := range []int{1, 2, 5, 14} {
			for _, n := range []int{7, 40, 256} {
				for _, k := range []int{2, 8, 14} {
					newBF16Case(rng, m, n, k, 2, 3, true).check(t, fmt.Sprintf("m=%d n=%d k=%d", m, n, k))
				}
			}
		}
		// Tiny values whose products and sums are subnormal.
		tiny := math.Float32frombits(0x20000000) // 2^-63: products 2^-126 and below
		g := newBF16Case(rng, 3, 40, 6, 0, 0, false)
		for i := range g.a {
			g.a[i] = BF16(tiny * float32(1+i%3))
		}
		for i := range g.b {
			if g.b[i] != 0 {
				g.b[i] = BF16(tiny * float32(-1+i%2*2) / 2)
			}
		}
		g.check(t, "subnormal sums")
	})
}

// TestGemmBF16Twin checks the twin itself against a float64 product of the
// bf16 values: a float32 sum of k exact products errs by at most about
// k*2^-24 of the sum of their magnitudes.
func TestGemmBF16Twin(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m, n, k := 5, 70, 48
	g := newBF16Case(rng, m, n, k, 0, 0, false)
	bm := bf16Input(rng, k*n, false)
	GemmBF16PackB(false, bm, n, k, n, g.b)
	c := make([]float32, m*n)
	gemmBF16Go(m, n, k, g.a, k, g.b, c, n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s, mag float64
			for p := 0; p < k; p++ {
				x := float64(BF16ToFloat32(g.a[i*k+p])) * float64(BF16ToFloat32(BF16(bm[p*n+j])))
				s += x
				mag += math.Abs(x)
			}
			if d := math.Abs(float64(c[i*n+j]) - s); d > float64(k)*0x1p-24*mag {
				t.Fatalf("C[%d][%d] = %v, float64 %v (|diff| %g > %g)", i, j, c[i*n+j], s, d, float64(k)*0x1p-24*mag)
			}
		}
	}
}

// TestGemmBF16PackB checks the panel layout for both orientations and an
// odd depth (zero pad row).
func TestGemmBF16PackB(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, s := range [][2]int{{1, 1}, {3, 33}, {8, 64}, {7, 100}} {
		k, n := s[0], s[1]
		b := bf16Input(rng, k*n, false)
		bt := make([]float32, n*k)
		for p := 0; p < k; p++ {
			for j := 0; j < n; j++ {
				bt[j*k+p] = b[p*n+j]
			}
		}
		kp := (k + 1) / 2
		for _, trans := range []bool{false, true} {
			dst := make([]uint16, GemmBF16PackedLen(k, n)+3)
			for i := range dst {
				dst[i] = bf16Guard
			}
			if trans {
				GemmBF16PackB(true, bt, k, k, n, dst[:len(dst)-3])
			} else {
				GemmBF16PackB(false, b, n, k, n, dst[:len(dst)-3])
			}
			for t0 := 0; t0*bf16NR < n; t0++ {
				for q := 0; q < kp; q++ {
					for j := 0; j < bf16NR; j++ {
						for e := 0; e < 2; e++ {
							want := uint16(0)
							if p, col := 2*q+e, t0*bf16NR+j; p < k && col < n {
								want = BF16(b[p*n+col])
							}
							if got := dst[t0*kp*2*bf16NR+q*2*bf16NR+2*j+e]; got != want {
								t.Fatalf("k=%d n=%d trans=%v: panel %d pair %d col %d elem %d = %#04x, want %#04x", k, n, trans, t0, q, j, e, got, want)
							}
						}
					}
				}
			}
			for _, g := range dst[len(dst)-3:] {
				if g != bf16Guard {
					t.Fatalf("k=%d n=%d: guard overwritten", k, n)
				}
			}
		}
	}
}

// TestGemmBF16Panics: odd depths and short slices are programming errors.
func TestGemmBF16Panics(t *testing.T) {
	b := make([]uint16, GemmBF16PackedLen(4, 3))
	for name, f := range map[string]func(){
		"odd k":   func() { GemmBF16(1, 3, 3, make([]uint16, 4), 4, b, make([]float32, 3), 3) },
		"short a": func() { GemmBF16(2, 3, 4, make([]uint16, 7), 4, b, make([]float32, 6), 3) },
		"short b": func() { GemmBF16(1, 3, 4, make([]uint16, 4), 4, b[:10], make([]float32, 3), 3) },
		"short c": func() { GemmBF16(2, 3, 4, make([]uint16, 8), 4, b, make([]float32, 5), 3) },
		"pack":    func() { GemmBF16PackB(false, make([]float32, 11), 3, 4, 3, b) },
		"convert": func() { ToBF16(make([]uint16, 2), make([]float32, 3)) },
	} {
		func() {
			defer func() {
				if r := recover(); r == nil {
					t.Errorf("%s: no panic", name)
				} else if s, _ := r.(string); len(s) < 5 || s[:5] != "asm: " {
					t.Errorf("%s: panic %v without the asm: prefix", name, r)
				}
			}()
			f()
		}()
	}
}

// BenchmarkGemmBF16 compares GemmBF16 with the float32 micro-kernels on the
// LSTM's products (n = 4H = 512 gates, k = H = 128 or 2H = 256 inputs) at
// batch 1 and 256: sub-benchmarks m=M/k=K/fp32 (GemmMicro over packed
// panels of the active level, the anchor) and .../bf16 (A's conversion
// included), reporting GFLOP/s and the thread's CPU time.
func BenchmarkGemmBF16(b *testing.B) {
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
			b.Run(fmt.Sprintf("m=%d/k=%d/bf16", m, k), func(b *testing.B) {
				b.Logf("bf16 path %s", BF16Implementation())
				ab := make([]uint16, m*k)
				pb := make([]uint16, GemmBF16PackedLen(k, n))
				GemmBF16PackB(false, bm, n, k, n, pb)
				run(b, func() {
					ToBF16(ab, a)
					GemmBF16(m, n, k, ab, k, pb, c, n)
				})
			})
		}
	}
}

// TestBF16Implementation: the bf16 kernels are installed exactly at the
// AVX-512 level of a CPU with AVX512_BF16, and BF16Missing says why not
// otherwise.
func TestBF16Implementation(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		want := "generic"
		if ActiveLevel() == AVX512 && bf16Hardware {
			want = "avx512bf16"
		}
		if got := BF16Implementation(); got != want {
			t.Fatalf("BF16Implementation() = %q at level %v, want %q", got, ActiveLevel(), want)
		}
		miss := BF16Missing()
		if (want == "generic") != (miss != "") {
			t.Fatalf("BF16Missing() = %q with the %s path", miss, want)
		}
		if miss != "" && !strings.Contains(miss, "AVX512_BF16") {
			t.Fatalf("BF16Missing() = %q does not name AVX512_BF16", miss)
		}
	})
}
