package asm

import (
	"fmt"
	"math"
	"unsafe"
)

// Reduced precision: int8 products with int32 sums.
//
// The weights B (k×n) are quantized once per output column j: scale
// w_j = max_p |B[p][j]| / 127 and bytes round(B[p][j]/w_j) in -127..127
// (PackInt8B). The activations A are quantized per row, for each product
// (QuantizeU8): scale s_i = max_p |A[i][p]| / 127 and unsigned bytes
// round(A[i][p]/s_i) + 128 in 1..255. GemmInt8 sums the byte products in
// int32 (VPDPBUSD), exactly, removes the +128 (128 times the column's sum
// of bytes) and scales back to float32.
//
// Formats (kq = ceil(k/4) quads):
//
//   - A: row-major bytes, row i at a[i*lda:], lda >= 4*kq; the bytes past k
//     of a row may hold anything (B's pad rows are zero).
//   - B: panels of 32 columns, b[t*kq*128 + q*128 + 4j + e] =
//     B[4q+e][t*32+j], zero past k and n; with per column the scale and
//     128 times the sum of its bytes.
//
// With AVX512_VNNI (at the AVX-512 level) the kernels run VPDPBUSD;
// elsewhere the Go twins, which give the same bits. Int8Implementation
// names the path.

// int8KernelFunc computes mr rows of ng groups of consecutive panels (see
// gemm_asmgen.go's int8Kernel).
type int8KernelFunc func(kq int, a *uint8, lda int, b *int8, c *float32, ldc int, mask uint64, ng int, corr *int32, wsc, asc *float32)

type int8Impl struct {
	kern, wide *[bf16MR]int8KernelFunc
	wideN      *[bf16MR]int
	quant      func(rows, n int, src *float32, lds int, dst *uint8, ldd int, scales *float32)
}

var int8Active int8Impl

// int8Hardware reports whether the CPU has AVX512_VNNI (and this build its
// kernels), read once.
var int8Hardware = detectInt8()

func init() {
	register(func(l Level) { int8Active = int8For(l) })
}

// Int8Implementation names the int8 path now installed: "avx512vnni" (the
// VPDPBUSD kernels) or "generic" (the Go twins, bit-identical and much
// slower).
func Int8Implementation() string {
	if int8Active.kern != nil {
		return "avx512vnni"
	}
	return "generic"
}

// Int8Missing is empty when the int8 kernels are installed, and otherwise
// says what is missing, as BF16Missing does.
func Int8Missing() string {
	switch {
	case int8Active.kern != nil:
		return ""
	case !int8Hardware:
		return "AVX512_VNNI, which this CPU (or a purego build) lacks"
	}
	return fmt.Sprintf("AVX512_VNNI at the avx512 level, but the active level is %v (PERFPREDICT_CPU)", ActiveLevel())
}

// Int8B is a k×n B operand quantized and packed for GemmInt8. The zero
// value is empty; Pack fills it, reusing its storage.
type Int8B struct {
	k, n, kq int
	data     []int8
	corr     []int32   // per column: 128 times the sum of its bytes
	scale    []float32 // per column: w_j
}

// Bytes is the memory p holds.
func (p *Int8B) Bytes() int { return cap(p.data) + 4*cap(p.corr) + 4*cap(p.scale) }

// Pack quantizes op(B), k×n, into p: op(B)[p][j] is b[p*ldb+j], or
// b[j*ldb+p] when transB. Column j's scale is max|B[.][j]|/127 (0 for a zero
// column), its bytes round(B[p][j]*(127/max)) to nearest even. It panics if
// b is too short for the shape.
func (p *Int8B) Pack(transB bool, b []float32, ldb, k, n int) {
	rows, cols := k, n
	if transB {
		rows, cols = n, k
	}
	if k < 0 || n < 0 || ld(ldb, cols) || short(b, rows, cols, ldb) {
		panic(fmt.Sprintf("asm: Int8B.Pack: bad shape k=%d n=%d ldb=%d len(b)=%d", k, n, ldb, len(b)))
	}
	kq := (k + 3) / 4
	np := (n + bf16NR - 1) / bf16NR
	p.k, p.n, p.kq = k, n, kq
	p.data = growSlice(p.data, np*kq*4*bf16NR)
	p.corr = growSlice(p.corr, np*bf16NR)
	p.scale = growSlice(p.scale, np*bf16NR)
	clear(p.data)
	clear(p.corr)
	clear(p.scale)
	at := func(r, j int) float32 {
		if transB {
			return b[j*ldb+r]
		}
		return b[r*ldb+j]
	}
	for j := 0; j < n && k > 0; j++ {
		var m float32
		for r := 0; r < k; r++ {
			m = max(m, abs32(at(r, j)))
		}
		s, inv := quantScale(m)
		p.scale[j] = s
		col := p.data[j/bf16NR*kq*4*bf16NR+4*(j%bf16NR):]
		var sum int32
		for r := 0; r < k; r++ {
			q := int32(math.RoundToEven(float64(at(r, j) * inv)))
			col[r/4*4*bf16NR+r%4] = int8(q)
			sum += q
		}
		p.corr[j] = 128 * sum
	}
}

// quantScale is the scale m/127 of values of largest magnitude m, and the
// factor 127/m that takes them to -127..127 (0 when m is 0).
func quantScale(m float32) (scale, inv float32) {
	scale = m / 127
	if m != 0 {
		inv = 127 / m
	}
	return scale, inv
}

func abs32(x float32) float32 { return math.Float32frombits(math.Float32bits(x) &^ (1 << 31)) }

func growSlice[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// QuantizeU8 quantizes rows rows of n values (row r at src[r*lds:]) into
// bytes (row r at dst[r*ldd:]) and their scales, as quantizeU8Go does. A
// row holding a NaN gets a NaN scale, one holding an infinity an infinite
// scale, so that GemmInt8's outputs from it are NaN (or, for an infinity,
// NaN or infinite), as float32 products would be; its bytes are then
// meaningless, and may differ between the paths. It panics if a slice is too
// short for the shape.
func QuantizeU8(rows, n int, src []float32, lds int, dst []uint8, ldd int, scales []float32) {
	if rows < 0 || n < 0 || ld(lds, n) || ld(ldd, n) || short(src, rows, n, lds) || len(dst) < (rows-1)*ldd+n || len(scales) < rows {
		panic(fmt.Sprintf("asm: QuantizeU8: bad shape rows=%d n=%d lds=%d ldd=%d len(src)=%d len(dst)=%d len(scales)=%d", rows, n, lds, ldd, len(src), len(dst), len(scales)))
	}
	if rows == 0 || n == 0 {
		return
	}
	if q := int8Active.quant; q != nil {
		q(rows, n, &src[0], lds, &dst[0], ldd, &scales[0])
		return
	}
	quantizeU8Go(rows, n, src, lds, dst, ldd, scales)
}

// quantizeU8Go is QuantizeU8's Go twin:
//
//	for r < rows:
//		m := max_p |src[r*lds+p]|
//		scales[r], inv := m/127, 127/m (0 when m is 0)
//		for p < n: dst[r*ldd+p] = roundEven(src[r*lds+p]*inv) + 128
//
// with every product rounded to float32 first.
func quantizeU8Go(rows, n int, src []float32, lds int, dst []uint8, ldd int, scales []float32) {
	for r := 0; r < rows; r++ {
		row := src[r*lds : r*lds+n]
		var m float32
		for _, v := range row {
			m = max(m, abs32(v))
		}
		s, inv := quantScale(m)
		scales[r] = s
		d := dst[r*ldd : r*ldd+n]
		for p, v := range row {
			d[p] = uint8(int32(math.RoundToEven(float64(v*inv))) + 128)
		}
	}
}

// GemmInt8 computes, for i < m and j < n (b's columns),
//
//	C[i][j] += float32(Σ_p A[i][p]*B[p][j] - corr_j) * w_j * s_i
//
// with A the bytes of QuantizeU8 (row stride lda >= 4*ceil(k/4)) and s_i
// their scales (ascale[i]), B packed by Int8B.Pack (bytes B, corr_j 128
// times column j's sum of bytes, scale w_j); the sum is exact in int32, the
// two products round in that order (gemmInt8Go). It panics if a slice is
// too short for the shape.
func GemmInt8(m int, a []uint8, lda int, ascale []float32, b *Int8B, c []float32, ldc int) {
	n, kq := b.n, b.kq
	if m < 0 || lda < max(4*kq, 1) || ld(ldc, n) {
		panic(fmt.Sprintf("asm: GemmInt8: bad shape m=%d n=%d k=%d lda=%d (>= %d) ldc=%d", m, n, b.k, lda, 4*kq, ldc))
	}
	if m == 0 || n == 0 || kq == 0 {
		return
	}
	if len(a) < (m-1)*lda+4*kq || len(ascale) < m || len(c) < (m-1)*ldc+n {
		panic(fmt.Sprintf("asm: GemmInt8: slices too short for m=%d n=%d k=%d: len(a)=%d len(ascale)=%d len(c)=%d", m, n, b.k, len(a), len(ascale), len(c)))
	}
	g := int8Active
	if g.kern == nil {
		gemmInt8Go(m, a, lda, ascale, b, c, ldc)
		return
	}
	np := (n + bf16NR - 1) / bf16NR
	last := gemmMask(n - (np-1)*bf16NR)
	pa, pc := unsafe.SliceData(a), unsafe.SliceData(c)
	nb := (m + bf16MR - 1) / bf16MR
	for q, i0 := 0, 0; q < nb; q, i0 = q+1, i0+rowBlock(q, nb, m) {
		mr := rowBlock(q, nb, m)
		ai := (*uint8)(unsafe.Add(unsafe.Pointer(pa), i0*lda))
		ci := unsafe.Add(unsafe.Pointer(pc), 4*i0*ldc)
		asc := &ascale[i0]
		t := 0
		if w := g.wideN[mr-1]; w > 1 && np >= w {
			ng := np / w
			mk := uint64(1<<bf16NR - 1)
			if ng*w == np {
				mk = last
			}
			g.wide[mr-1](kq, ai, lda, &b.data[0], (*float32)(ci), ldc, mk, ng, &b.corr[0], &b.scale[0], asc)
			t = ng * w
		}
		if t < np {
			g.kern[mr-1](kq, ai, lda, &b.data[t*kq*4*bf16NR], (*float32)(unsafe.Add(ci, 4*t*bf16NR)), ldc, last, np-t,
				&b.corr[t*bf16NR], &b.scale[t*bf16NR], asc)
		}
	}
}

// gemmInt8Go is GemmInt8's Go twin, the loop the kernels compute:
//
//	for i < m, j < n:
//		acc := int32(0)
//		for p < 4*kq: acc += int32(A[i][p]) * int32(B[p][j])   (B zero past k)
//		t := float32(acc - corr[j])
//		t = t * w[j]
//		t = t * s[i]
//		C[i][j] += t
func gemmInt8Go(m int, a []uint8, lda int, ascale []float32, b *Int8B, c []float32, ldc int) {
	kq := b.kq
	if kq == 0 {
		return // as GemmInt8: C untouched
	}
	for i := 0; i < m; i++ {
		row := a[i*lda : i*lda+4*kq]
		for j := 0; j < b.n; j++ {
			col := b.data[j/bf16NR*kq*4*bf16NR+4*(j%bf16NR):]
			var acc int32
			for q := 0; q < kq; q++ {
				bq := col[q*4*bf16NR : q*4*bf16NR+4]
				for e, v := range bq {
					acc += int32(row[4*q+e]) * int32(v)
				}
			}
			t := float32(acc - b.corr[j])
			t = float32(t * b.scale[j])
			t = float32(t * ascale[i])
			c[i*ldc+j] += t
		}
	}
}
