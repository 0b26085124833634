//go:build amd64 && !purego

package asm

// lstmCellReducedAVX512 is LSTMCellForwardReduced's kernel
// (cell_reduced_amd64.s) for n > 0 units; reset and hB may be nil, and hB
// needs AVX512_BF16 (VCVTNE2PS2BF16).
//
//go:noescape
func lstmCellReducedAVX512(n int, gates, reset, cPrev, c, h *float32, hB *uint16)

func init() {
	cellRedAVX512 = lstmCellReducedAVX512
	register(func(l Level) { cellRedActive = l == AVX512 })
}
