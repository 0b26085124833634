//go:build amd64 && !purego

package asm

// Packing kernels (gemm_pack_amd64.s).

//go:noescape
func transpose8AVX2(n8 int, rows *[8]*float32, dst *float32, ldd int)

//go:noescape
func copyRowsAVX512(n int, src *float32, lds int, dst *float32, ldd int, load, store uint64)

func packFor(l Level) (transpose8Func, copyRowsFunc, copyPanelsFunc) {
	switch l {
	case AVX512:
		return transpose8AVX2, copyRowsAVX512, copyPanelsAVX512
	case AVX2:
		return transpose8AVX2, nil, nil
	}
	return nil, nil, nil
}

// gemmScratch computes a whole tile into t with a direct call to the level's
// scratch kernel (t stays on the caller's stack).
func gemmScratch(g *gemmImpl, mr, k int, a, b *float32, t *[gemmMaxMR * gemmMaxNR]float32, alpha float32) {
	switch g.nr {
	case 16:
		gemm256Scratch(mr, k, a, b, &t[0], g.nr, alpha, 0, 1, 0)
	default:
		panic("asm: no scratch kernel for this level")
	}
}

// transpose8 calls the transpose kernel directly (rows stays on the
// caller's stack).
func transpose8(n8 int, rows *[8]*float32, dst *float32, ldd int) {
	transpose8AVX2(n8, rows, dst, ldd)
}

//go:noescape
func copyPanelsAVX512(k int, src *float32, lds int, dst *float32, np, w, ldd, panel int, mask uint64)
