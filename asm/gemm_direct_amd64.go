//go:build amd64 && !purego

package asm

// gemmDirectScratch computes a whole tile into t with a direct call to the
// level's direct kernel (t stays on the caller's stack), as gemmScratch.
func gemmDirectScratch(g *gemmImpl, transA bool, mr, k int, a, b *float32, lda int, t *[gemmMaxMR * gemmMaxNR]float32, alpha float32) {
	switch g.nr {
	case 16:
		gemm256DirectScratch(transA, mr, k, a, b, &t[0], g.nr, alpha, 0, 1, lda)
	default:
		panic("asm: no direct scratch kernel for this level")
	}
}
