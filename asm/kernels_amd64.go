//go:build amd64 && !purego

package asm

// Assembly implementations (kernels_avx2_amd64.s, kernels_avx512_amd64.s).
// Each has its Go reference's signature and semantics; the exported wrappers
// in kernels.go have already checked and trimmed the lengths.

//go:noescape
func dotAVX2(x, y []float32) float32

//go:noescape
func axpyAVX2(alpha float32, x, y []float32)

//go:noescape
func scaleAVX2(alpha float32, x []float32)

//go:noescape
func sigmoidAVX2(dst, x []float32)

//go:noescape
func tanhAVX2(dst, x []float32)

//go:noescape
func lstmCellForwardAVX2(gates, cPrev, c, h, tanhC []float32)

//go:noescape
func lstmCellBackwardAVX2(dGates, act, cPrev, tanhC, dh, dc []float32)

//go:noescape
func dotAVX512(x, y []float32) float32

//go:noescape
func axpyAVX512(alpha float32, x, y []float32)

//go:noescape
func scaleAVX512(alpha float32, x []float32)

//go:noescape
func sigmoidAVX512(dst, x []float32)

//go:noescape
func tanhAVX512(dst, x []float32)

//go:noescape
func lstmCellForwardAVX512(gates, cPrev, c, h, tanhC []float32)

//go:noescape
func lstmCellBackwardAVX512(dGates, act, cPrev, tanhC, dh, dc []float32)

func init() {
	register(func(l Level) {
		switch l {
		case AVX2:
			dotImpl = dotAVX2
			axpyImpl = axpyAVX2
			scaleImpl = scaleAVX2
			sigmoidImpl = sigmoidAVX2
			tanhImpl = tanhAVX2
			cellFwdImpl = lstmCellForwardAVX2
			cellBwdImpl = lstmCellBackwardAVX2
		case AVX512:
			dotImpl = dotAVX512
			axpyImpl = axpyAVX512
			scaleImpl = scaleAVX512
			sigmoidImpl = sigmoidAVX512
			tanhImpl = tanhAVX512
			cellFwdImpl = lstmCellForwardAVX512
			cellBwdImpl = lstmCellBackwardAVX512
		default:
			dotImpl = dotGeneric
			axpyImpl = axpyGeneric
			scaleImpl = scaleGeneric
			sigmoidImpl = sigmoidGeneric
			tanhImpl = tanhGeneric
			cellFwdImpl = lstmCellForwardGeneric
			cellBwdImpl = lstmCellBackwardGeneric
		}
	})
}
