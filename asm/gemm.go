package asm

import (
	"fmt"
	"unsafe"
)

// GEMM micro-kernels.
//
// A micro-kernel multiplies one packed row panel of A by one or more packed
// column panels of B, keeping an MR×NR tile of C in registers for the whole k
// loop. The tile of the active level is GemmTile(): 14×32 for AVX-512, 6×16
// for AVX2, 4×16 for the Go kernel. The blocking, packing and threading
// around it live in internal/blas.
//
// Packing formats (k is the depth of the product, mr ≤ MR the rows of the
// panel, NR the panel width of the active level):
//
//   - A panel, mr rows: a[p*mr+i] = A[i][p] for p < k, i < mr (column after
//     column of the mr×k block, mr values each).
//   - B panels: panel t holds columns t*NR ... t*NR+NR-1 of the k×n block,
//     b[t*k*NR + p*NR + j] = B[p][t*NR+j]; the last panel is padded with
//     zeros (its values are read but only the first n-t*NR columns are
//     stored).

type gemmKernelFunc func(k int, a, b, c *float32, ldc int, alpha, beta float32, np int, mask uint64)

// gemmImpl is the micro-kernel family of one level.
type gemmImpl struct {
	mr, nr int
	// kern[mr-1] handles mr rows; nil means the Go kernel.
	kern []gemmKernelFunc
	// masked kernels store a partial last tile themselves (mask argument);
	// the others store whole tiles only and GemmMicro finishes through a
	// scratch tile, calling scratch(mr, ...) for it.
	masked  bool
	scratch func(mr, k int, a, b, c *float32, ldc int, alpha, beta float32, np int, mask uint64)
}

var gemmActive = gemmImplFor(Generic)

// gemvFunc is a level's Gemv on checked arguments; nil means a loop of Dot.
type gemvFunc func(k int, a *float32, lda int, x *float32, n int, alpha, beta float32, y *float32)

var gemvActive gemvFunc

func init() {
	register(func(l Level) {
		gemmActive = gemmImplFor(l)
		gemvActive = gemvFor(l)
	})
}

// gemmGoNR is the panel width of the Go kernel (the generic level).
const gemmGoNR = 16

// Largest tile of any level, for the scratch tile.
const (
	gemmMaxMR = 16
	gemmMaxNR = 64
)

// GemmTile returns the register tile MR×NR of the active level: GemmMicro
// takes up to MR rows, and B panels are NR columns wide.
func GemmTile() (mr, nr int) { return gemmActive.mr, gemmActive.nr }

// GemmMicro computes, with the active level's kernel,
//
//	C[i][j] = alpha * Σ_p A[i][p]*B[p][j] + beta*C[i][j]   for i < mr, j < n, p < k
//
// where a is a packed A panel of mr ≤ MR rows and b holds ceil(n/NR)
// consecutive packed B panels (formats above; MR and NR from GemmTile). C is
// row-major with row stride ldc; only its mr×n elements are written. When
// beta is 0, C is not read. It panics if a slice is shorter than the shape
// needs.
func GemmMicro(mr, n, k int, alpha float32, a, b []float32, beta float32, c []float32, ldc int) {
	g := &gemmActive
	np := gemmCheck("GemmMicro", g.mr, g.nr, mr, n, k, a, b, c, ldc)
	if np == 0 {
		return
	}
	if g.kern == nil {
		gemmGo(mr, n, k, alpha, a, b, beta, c, ldc)
		return
	}
	kern := g.kern[mr-1]
	pa, pb, pc := unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c)
	rem := n - (np-1)*g.nr
	if g.masked {
		kern(k, pa, pb, pc, ldc, alpha, beta, np, gemmMask(rem))
		return
	}
	full := np
	if rem < g.nr {
		full--
	}
	if full > 0 {
		kern(k, pa, pb, pc, ldc, alpha, beta, full, 0)
	}
	if rem == g.nr {
		return
	}
	// Partial last tile: compute it whole into scratch, then merge.
	var t [gemmMaxMR * gemmMaxNR]float32
	gemmScratch(g, mr, k, pa, unsafe.SliceData(b[full*k*g.nr:]), &t, alpha)
	c0 := full * g.nr
	for i := 0; i < mr; i++ {
		row := c[i*ldc+c0 : i*ldc+c0+rem]
		tr := t[i*g.nr : i*g.nr+rem]
		if beta == 0 {
			copy(row, tr)
			continue
		}
		for j := range row {
			row[j] = tr[j] + beta*row[j]
		}
	}
}

// GemmMicroRef is the reference of GemmMicro for B panels of any width
// panelNR: the plain loop it computes, with no blocking or SIMD. Besides
// serving the tests, it runs products whose B was packed for another level.
func GemmMicroRef(panelNR, mr, n, k int, alpha float32, a, b []float32, beta float32, c []float32, ldc int) {
	if gemmCheck("GemmMicroRef", gemmMaxMR, panelNR, mr, n, k, a, b, c, ldc) == 0 {
		return
	}
	for i := 0; i < mr; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				s += a[p*mr+i] * b[j/panelNR*k*panelNR+p*panelNR+j%panelNR]
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// gemmCheck validates the arguments of a micro-kernel call and returns the
// number of B panels.
func gemmCheck(fn string, maxMR, nr, mr, n, k int, a, b, c []float32, ldc int) int {
	if mr < 1 || mr > maxMR || n < 0 || k < 0 || nr < 1 {
		panic(fmt.Sprintf("asm: %s: bad shape mr=%d (MR %d) n=%d k=%d NR=%d", fn, mr, maxMR, n, k, nr))
	}
	if n == 0 {
		return 0
	}
	np := (n + nr - 1) / nr
	if len(a) < k*mr || len(b) < np*k*nr {
		panic(fmt.Sprintf("asm: %s: packed panels too short: len(a)=%d < %d or len(b)=%d < %d", fn, len(a), k*mr, len(b), np*k*nr))
	}
	if (mr > 1 && ldc < n) || len(c) < (mr-1)*ldc+n {
		panic(fmt.Sprintf("asm: %s: C too short or ldc %d < n %d: len(c)=%d, need %d", fn, ldc, n, len(c), (mr-1)*ldc+n))
	}
	return np
}

// gemmMask has one bit set per column to store in a tile rem columns wide.
func gemmMask(rem int) uint64 {
	if rem >= 64 {
		return ^uint64(0)
	}
	return 1<<uint(rem) - 1
}

// gemmGo is the Go kernel of the generic level (panels gemmGoNR wide): the
// loop of GemmMicroRef with one row of the tile accumulated in an array the
// compiler can keep free of bounds checks.
func gemmGo(mr, n, k int, alpha float32, a, b []float32, beta float32, c []float32, ldc int) {
	const nr = gemmGoNR
	for t := 0; t*nr < n; t++ {
		bp := b[t*k*nr : (t+1)*k*nr]
		w := min(nr, n-t*nr)
		for i := 0; i < mr; i++ {
			var acc [nr]float32
			for p := 0; p < k; p++ {
				av := a[p*mr+i]
				row := (*[nr]float32)(bp[p*nr : p*nr+nr])
				for j := range acc {
					acc[j] += av * row[j]
				}
			}
			cr := c[i*ldc+t*nr : i*ldc+t*nr+w]
			if beta == 0 {
				for j := range cr {
					cr[j] = alpha * acc[j]
				}
			} else {
				for j := range cr {
					cr[j] = alpha*acc[j] + beta*cr[j]
				}
			}
		}
	}
}

// Gemv computes y = alpha*A·x + beta*y for the row-major len(y)×len(x)
// matrix A with row stride lda:
//
//	y[j] = alpha * Σ_p a[j*lda+p]*x[p] + beta*y[j]
//
// When beta is 0, y is not read. It is the one-row GEMM C = x^T·A^T that
// needs no packing (an LSTM step with batch 1 against W_hh). It panics if lda
// is less than len(x) or a is too short.
func Gemv(alpha float32, a []float32, lda int, x []float32, beta float32, y []float32) {
	n, k := len(y), len(x)
	if n == 0 {
		return
	}
	if (n > 1 && lda < k) || len(a) < (n-1)*lda+k {
		panic(fmt.Sprintf("asm: Gemv: A too short or lda %d < len(x) %d: len(a)=%d, need %d", lda, k, len(a), (n-1)*lda+k))
	}
	if k == 0 {
		for j := range y {
			if beta == 0 {
				y[j] = 0
			} else {
				y[j] *= beta
			}
		}
		return
	}
	if g := gemvActive; g != nil {
		g(k, &a[0], lda, &x[0], n, alpha, beta, &y[0])
		return
	}
	for j := range y {
		d := alpha * dotImpl(x, a[j*lda:j*lda+k])
		if beta == 0 {
			y[j] = d
		} else {
			y[j] = d + beta*y[j]
		}
	}
}
