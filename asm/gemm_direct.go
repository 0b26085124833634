package asm

import (
	"fmt"
	"unsafe"
)

// gemmDirectFunc is a micro-kernel that reads A in place (row stride lda)
// instead of from a packed panel; otherwise as gemmKernelFunc.
type gemmDirectFunc func(k int, a, b, c *float32, ldc int, alpha, beta float32, np int, mask uint64, lda int)

// GemmDirect reports whether the active level has micro-kernels that read A
// in place, so that GemmMicroDirect saves the packing of A. Without them
// GemmMicroDirect is correct but packs A itself (and allocates).
func GemmDirect() bool { return gemmActive.directT != nil || gemmActive.kern == nil }

// GemmMicroDirect is GemmMicro with A read where it lies instead of from a
// packed panel: op(A)[i][p] is a[i*lda+p], or a[p*lda+i] when transA, and
// it computes
//
//	for i < mr, j < n:
//		s := Σ_p op(A)[i][p]*B[p][j]   (p < k)
//		C[i][j] = alpha*s + beta*C[i][j]   (alpha*s when beta is 0)
//
// with B packed as for GemmMicro. Its result is bit-identical to GemmPackA
// followed by GemmMicro: the kernels run the same operations in the same
// order, only the loads of A differ. For small products (a few B panels),
// where each packed A panel would be read once or twice, packing A costs as
// much as the kernel. It panics if a slice is shorter than the shape needs.
func GemmMicroDirect(transA bool, mr, n, k int, alpha float32, a []float32, lda int, b []float32, beta float32, c []float32, ldc int) {
	g := &gemmActive
	rows, cols := mr, k
	if transA {
		rows, cols = k, mr
	}
	if mr >= 1 && k >= 0 && (ld(lda, cols) || short(a, rows, cols, lda)) {
		panic(fmt.Sprintf("asm: GemmMicroDirect: A too short or lda %d < %d: len(a)=%d, need %d", lda, cols, len(a), (rows-1)*lda+cols))
	}
	np := gemmCheck("GemmMicroDirect", g.mr, g.nr, mr, n, k, k*mr, b, c, ldc)
	if np == 0 {
		return
	}
	if g.kern == nil {
		gemmGoDirect(transA, mr, n, k, alpha, a, lda, b, beta, c, ldc)
		return
	}
	kerns := g.directN
	if transA {
		kerns = g.directT
	}
	if kerns == nil {
		// No direct kernel at this level: pack, then the packed kernel.
		ap := make([]float32, mr*k)
		GemmPackA(transA, a, lda, mr, k, ap)
		GemmMicro(mr, n, k, alpha, ap, b, beta, c, ldc)
		return
	}
	kern := kerns[mr-1]
	pa, pb, pc := unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c)
	rem := n - (np-1)*g.nr
	if g.masked {
		kern(k, pa, pb, pc, ldc, alpha, beta, np, gemmMask(rem), lda)
		return
	}
	// As GemmMicro: whole tiles in place, a partial last one through a
	// scratch tile.
	full := np
	if rem < g.nr {
		full--
	}
	if full > 0 {
		kern(k, pa, pb, pc, ldc, alpha, beta, full, 0, lda)
	}
	if rem == g.nr {
		return
	}
	var t [gemmMaxMR * gemmMaxNR]float32
	gemmDirectScratch(g, transA, mr, k, pa, unsafe.SliceData(b[full*k*g.nr:]), lda, &t, alpha)
	gemmMerge(g.nr, mr, full*g.nr, rem, &t, beta, c, ldc)
}

// gemmGoDirect is gemmGo reading op(A) in place: the same loop, so the same
// result as gemmGo on the packed panel.
func gemmGoDirect(transA bool, mr, n, k int, alpha float32, a []float32, lda int, b []float32, beta float32, c []float32, ldc int) {
	si, sp := lda, 1 // op(A)[i][p] = a[i*si+p*sp]
	if transA {
		si, sp = 1, lda
	}
	gemmGoStrided(mr, n, k, alpha, a, si, sp, b, beta, c, ldc)
}
