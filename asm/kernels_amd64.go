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

// lstmCellStateAVX2 finishes a cell step from the activations in act:
// c = f*cPrev + i*g, tanhC = tanh(c), h = o*tanhC, with H = len(c).
//
//go:noescape
func lstmCellStateAVX2(act, cPrev, c, h, tanhC []float32)

// lstmCellForwardAVX2 activates the gates in three long passes (i and f are
// contiguous), which keep more independent work in flight than one fused
// loop, then updates the state; the data stays in L1.
func lstmCellForwardAVX2(gates, cPrev, c, h, tanhC []float32) {
	n := len(c)
	sigmoidAVX2(gates[:2*n], gates[:2*n])
	tanhAVX2(gates[2*n:3*n], gates[2*n:3*n])
	sigmoidAVX2(gates[3*n:4*n], gates[3*n:4*n])
	lstmCellStateAVX2(gates, cPrev, c, h, tanhC)
}

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

// lstmCellStateAVX512 finishes a cell step from the activations in act:
// c = f*cPrev + i*g, tanhC = tanh(c), h = o*tanhC, with H = len(c).
//
//go:noescape
func lstmCellStateAVX512(act, cPrev, c, h, tanhC []float32)

// lstmCellForwardAVX512 activates the gates in three long passes (i and f are
// contiguous), which keep more independent work in flight than one fused
// loop, then updates the state; the data stays in L1.
func lstmCellForwardAVX512(gates, cPrev, c, h, tanhC []float32) {
	n := len(c)
	sigmoidAVX512(gates[:2*n], gates[:2*n])
	tanhAVX512(gates[2*n:3*n], gates[2*n:3*n])
	sigmoidAVX512(gates[3*n:4*n], gates[3*n:4*n])
	lstmCellStateAVX512(gates, cPrev, c, h, tanhC)
}

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
			sigmoidImpl = sigmoidFastGeneric
			tanhImpl = tanhFastGeneric
			cellFwdImpl = lstmCellForwardFastGeneric
			cellBwdImpl = lstmCellBackwardGeneric
		}
	})
}
