package asm

import (
	"fmt"
	"math"
	"unsafe"
)

// Reduced precision: bfloat16 (bf16) products with float32 sums.
//
// A bf16 value is the upper half of a float32 (sign, 8-bit exponent, 7-bit
// mantissa), stored as a uint16. GemmBF16 multiplies a bf16 A (activations,
// converted by ToBF16 for each product) by a bf16 B packed once by
// GemmBF16PackB (weights), adding to a float32 C. Products of two bf16 are
// exact in float32; only the float32 sums round.
//
// Formats (k, the depth of the product, is even; kp = k/2 pairs):
//
//   - A: row-major bf16, row i at a[i*lda:], element p of the row at
//     a[i*lda+p]. A pair (A[i][2q], A[i][2q+1]) is one 32-bit word.
//   - B panels: panel t holds columns t*32 ... t*32+31 of the k×n B as kp
//     rows of 32 pairs, b[t*kp*64 + q*64 + 2j + e] = B[2q+e][t*32+j]; the
//     last panel is padded with zero columns. The format does not depend on
//     the CPU level.
//
// With AVX512_BF16 (at the AVX-512 level) the micro-kernels run VDPBF16PS,
// one float32 accumulator per output; elsewhere GemmBF16 runs its Go twin,
// which gives the same bits. BF16Implementation names the path.

// bf16NR is the width of the B panels of GemmBF16 and GemmInt8.
const bf16NR = 32

// bf16MR is the most rows one micro-kernel call computes.
const bf16MR = 14

// bf16KernelFunc computes mr rows of ng groups of consecutive panels (see
// gemm_asmgen.go's bf16Kernel).
type bf16KernelFunc func(kp int, a *uint16, lda int, b *uint16, c *float32, ldc int, mask uint64, ng int)

// bf16Active is the level's kernel family; nil kernels mean the Go twin.
type bf16Impl struct {
	kern, wide *[bf16MR]bf16KernelFunc
	wideN      *[bf16MR]int
	convert    func(n int, src *float32, dst *uint16)
}

var bf16Active bf16Impl

// bf16Hardware reports whether the CPU has AVX512_BF16 (and this build its
// kernels), read once.
var bf16Hardware = detectBF16()

func init() {
	register(func(l Level) { bf16Active = bf16For(l) })
}

// BF16Implementation names the bf16 path now installed: "avx512bf16" (the
// VDPBF16PS kernels) or "generic" (the Go twins, bit-identical and much
// slower).
func BF16Implementation() string {
	if bf16Active.kern != nil {
		return "avx512bf16"
	}
	return "generic"
}

// BF16Missing is empty when the bf16 kernels are installed, and otherwise
// says what is missing: "AVX512_BF16, which this CPU lacks", or the level
// that PERFPREDICT_CPU or SetLevel lowered.
func BF16Missing() string {
	switch {
	case bf16Active.kern != nil:
		return ""
	case !bf16Hardware:
		return "AVX512_BF16, which this CPU (or a purego build) lacks"
	}
	return fmt.Sprintf("AVX512_BF16 at the avx512 level, but the active level is %v (PERFPREDICT_CPU)", ActiveLevel())
}

// BF16 converts x to bfloat16, rounding to nearest even as VCVTNE2PS2BF16
// does: zero and subnormal inputs become a zero of their sign, infinities
// stay infinite, a NaN stays a (quiet) NaN, and a normal value too large
// for bf16 rounds to infinity.
func BF16(x float32) uint16 {
	u := math.Float32bits(x)
	switch {
	case u&0x7f800000 == 0: // zero or subnormal
		return uint16(u>>16) & 0x8000
	case u&0x7fffffff == 0x7f800000: // infinity
		return uint16(u >> 16)
	case u&0x7fffffff > 0x7f800000: // NaN
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16ToFloat32 is the float32 value of the bf16 h (exact).
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// ToBF16 sets dst[i] = BF16(src[i]) for i < len(src). It panics if dst is
// shorter than src.
func ToBF16(dst []uint16, src []float32) {
	if len(dst) < len(src) {
		panic("asm: ToBF16: len(dst) < len(src)")
	}
	if len(src) == 0 {
		return
	}
	if c := bf16Active.convert; c != nil {
		c(len(src), &src[0], &dst[0])
		return
	}
	toBF16Go(dst, src)
}

// toBF16Go is ToBF16's Go twin:
//
//	for i := range src { dst[i] = BF16(src[i]) }
func toBF16Go(dst []uint16, src []float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = BF16(v)
	}
}

// GemmBF16PackedLen is the length of the packed B of a k×n product:
// ceil(k/2) pairs of ceil(n/32) panels 32 columns wide.
func GemmBF16PackedLen(k, n int) int {
	return (k + 1) / 2 * 2 * (n + bf16NR - 1) / bf16NR * bf16NR
}

// GemmBF16PackB rounds op(B), k×n, to bf16 and packs it into dst in the B
// panel format (see above): op(B)[p][j] is b[p*ldb+j], or b[j*ldb+p] when
// transB. An odd k gets a zero row k, so that the product takes k+1 (with A
// a zero column k). dst must hold GemmBF16PackedLen(k, n) values. It panics
// if a slice is too short for the shape.
func GemmBF16PackB(transB bool, b []float32, ldb, k, n int, dst []uint16) {
	rows, cols := k, n
	if transB {
		rows, cols = n, k
	}
	if k < 0 || n < 0 || ld(ldb, cols) || short(b, rows, cols, ldb) || len(dst) < GemmBF16PackedLen(k, n) {
		panic(fmt.Sprintf("asm: GemmBF16PackB: bad shape k=%d n=%d ldb=%d len(b)=%d len(dst)=%d", k, n, ldb, len(b), len(dst)))
	}
	kp := (k + 1) / 2
	dst = dst[:GemmBF16PackedLen(k, n)]
	clear(dst)
	for p := 0; p < k; p++ {
		q, e := p/2, p%2
		for j := 0; j < n; j++ {
			v := b[p*ldb+j]
			if transB {
				v = b[j*ldb+p]
			}
			dst[j/bf16NR*kp*2*bf16NR+q*2*bf16NR+2*(j%bf16NR)+e] = BF16(v)
		}
	}
}

// GemmBF16 computes, for i < m and j < n,
//
//	C[i][j] += Σ_{p<k} A[i][p]*B[p][j]
//
// with A in bf16 (row stride lda), B packed by GemmBF16PackB for this k and
// n, and C float32 (row stride ldc). k must be even (pad an odd depth with a
// zero column of A; GemmBF16PackB pads B). The sum of each output is the
// float32 one of gemmBF16Go, and the same bits on every path. It panics if k
// is odd or a slice is too short for the shape.
func GemmBF16(m, n, k int, a []uint16, lda int, b []uint16, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 || k%2 != 0 || ld(lda, k) || ld(ldc, n) {
		panic(fmt.Sprintf("asm: GemmBF16: bad shape m=%d n=%d k=%d (even) lda=%d ldc=%d", m, n, k, lda, ldc))
	}
	if m == 0 || n == 0 || k == 0 {
		return
	}
	if len(a) < (m-1)*lda+k || len(b) < GemmBF16PackedLen(k, n) || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("asm: GemmBF16: slices too short for m=%d n=%d k=%d: len(a)=%d len(b)=%d len(c)=%d", m, n, k, len(a), len(b), len(c)))
	}
	g := bf16Active
	if g.kern == nil {
		gemmBF16Go(m, n, k, a, lda, b, c, ldc)
		return
	}
	kp := k / 2
	np := (n + bf16NR - 1) / bf16NR
	last := gemmMask(n - (np-1)*bf16NR)
	pa, pb, pc := unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c)
	panel := func(t int) *uint16 { return (*uint16)(unsafe.Add(unsafe.Pointer(pb), 2*t*kp*2*bf16NR)) }
	nb := (m + bf16MR - 1) / bf16MR
	for q, i0 := 0, 0; q < nb; q, i0 = q+1, i0+rowBlock(q, nb, m) {
		mr := rowBlock(q, nb, m)
		ai := (*uint16)(unsafe.Add(unsafe.Pointer(pa), 2*i0*lda))
		ci := unsafe.Add(unsafe.Pointer(pc), 4*i0*ldc)
		t := 0
		if w := g.wideN[mr-1]; w > 1 && np >= w {
			// Groups of w panels; the mask applies when they end the row.
			ng := np / w
			m := uint64(1<<bf16NR - 1)
			if ng*w == np {
				m = last
			}
			g.wide[mr-1](kp, ai, lda, panel(0), (*float32)(ci), ldc, m, ng)
			t = ng * w
		}
		if t < np {
			g.kern[mr-1](kp, ai, lda, panel(t), (*float32)(unsafe.Add(ci, 4*t*bf16NR)), ldc, last, np-t)
		}
	}
}

// rowBlock is the number of rows of micro-kernel call q of the nb =
// ceil(m/bf16MR) that cover m rows: as equal as can be (64 rows as 13, 13,
// 13, 13, 12 rather than 14, 14, 14, 14, 8), since a call with few rows
// reads the same B panels for less work. Each output is one accumulator
// over k whatever the rows of its call, so the split does not change the
// results.
func rowBlock(q, nb, m int) int {
	if q < m%nb {
		return m/nb + 1
	}
	return m / nb
}

// gemmBF16Go is GemmBF16's Go twin, the loop the kernels compute (one
// float32 accumulator per output, pairs in order, the odd element of a pair
// first, as VDPBF16PS does; its products are exact):
//
//	for i < m, j < n:
//		s := float32(0)
//		for q < k/2:
//			s = ftz(float32(s + A[i][2q+1]*B[2q+1][j]))
//			s = ftz(float32(s + A[i][2q]*B[2q][j]))
//		C[i][j] += s
//
// where each sum is exact before its one rounding to float32 (a fused
// multiply-add), bf16 subnormal inputs read as zero and subnormal sums are
// flushed to zero (VDPBF16PS's DAZ and FTZ); the final addition to C is
// IEEE. The twin sums in float64, which is exact here: a product of two bf16
// has 16 significant bits, and a sum that float64 must round has a product
// below 2^-29 ulp of s, far from float32's rounding ties.
func gemmBF16Go(m, n, k int, a []uint16, lda int, b []uint16, c []float32, ldc int) {
	kp := k / 2
	if kp == 0 {
		return // as GemmBF16: C untouched (C += 0 would turn -0 into +0)
	}
	for i := 0; i < m; i++ {
		row := a[i*lda : i*lda+k]
		for j := 0; j < n; j++ {
			col := b[j/bf16NR*kp*2*bf16NR+2*(j%bf16NR):]
			var s float32
			for q := 0; q < kp; q++ {
				bq := col[q*2*bf16NR:]
				s = ftz(float32(float64(s) + float64(bf16DAZ(row[2*q+1]))*float64(bf16DAZ(bq[1]))))
				s = ftz(float32(float64(s) + float64(bf16DAZ(row[2*q]))*float64(bf16DAZ(bq[0]))))
			}
			c[i*ldc+j] += s
		}
	}
}

// bf16DAZ is the value of h with subnormals read as zero.
func bf16DAZ(h uint16) float32 {
	if h&0x7f80 == 0 {
		h &= 0x8000
	}
	return BF16ToFloat32(h)
}

// ftz flushes a subnormal x to a zero of its sign.
func ftz(x float32) float32 {
	if u := math.Float32bits(x); u&0x7f800000 == 0 {
		return math.Float32frombits(u & 0x80000000)
	}
	return x
}
