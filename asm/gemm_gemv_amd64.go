//go:build amd64 && !purego

package asm

// gemvAVX512 is Gemv for AVX-512 (gemm_gemv_amd64.s) on checked arguments.
//
//go:noescape
func gemvAVX512(k int, a *float32, lda int, x *float32, n int, alpha, beta float32, y *float32)

func gemvFor(l Level) gemvFunc {
	if l == AVX512 {
		return gemvAVX512
	}
	return nil
}
