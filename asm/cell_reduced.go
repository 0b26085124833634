package asm

import (
	"fmt"
	"math"
)

// The LSTM cell of a reduced-precision evaluation pass (bf16 or int8
// products): the gates' activations with cheaper approximations than
// LSTMCellForward's (their error, a few parts in 10^6, is far below that of
// the bf16 or int8 products that feed them), the cell state in float32,
// and, in the same pass, h rounded to bf16 for the next step's recurrent
// product and the gate row reset to the bias for the next step's products.
// Nothing is kept for a backward pass: the pre-activations are not replaced
// by the activations, and tanh(c) is not stored.

// Constants of the reduced activations: 2^f on [-1/2, 1/2] is
// 1 + f*(c1 + f*(c2 + f*(c3 + f*c4))) (a minimax fit of the relative error,
// 2.9e-6 in float32); exponents are clamped to ±126 so that 2^t and 1 + 2^t
// stay finite and infinite inputs saturate.
const (
	redLog2E = float32(math.Log2E)
	redC1    = float32(6.931241751e-01)
	redC2    = float32(2.402409911e-01)
	redC3    = float32(5.590650067e-02)
	redC4    = float32(9.582871571e-03)
	redClamp = float32(126)
)

// cellRedAVX512 is the assembly kernel (nil where there is none): n units,
// reset and hB may be nil.
var cellRedAVX512 func(n int, gates, reset, cPrev, c, h *float32, hB *uint16)

// cellRedActive is whether the assembly kernel is installed at this level.
var cellRedActive bool

// LSTMCellForwardReduced is one LSTM cell step for one batch row with
// H = len(c), for an evaluation pass whose products ran in reduced
// precision.
//
// gates holds the 4H pre-activations in PyTorch's order i, f, g, o; they
// are read, not replaced by the activations. It writes c = f*cPrev + i*g
// and h = o*tanh(c), and, when hB is not nil, hB[j] = BF16(h[j]) for j < H.
// When reset is not nil it then copies reset[:4H] (the bias) over
// gates[:4H], so that the row is ready for the next step's products. The
// activations are sigmoidReduced and tanhReduced, within 2e-6 of the exact
// functions (lstmCellReducedGo is the reference loop; the assembly computes
// each 1/(1+e) with VRCP14PS and one Newton step instead of a division,
// which moves a result by a few ulp, and fuses some of the Go twin's
// multiplications and additions). cPrev may alias c; the others must not
// alias.
func LSTMCellForwardReduced(gates, reset, cPrev, c, h []float32, hB []uint16) {
	n := len(c)
	if len(gates) < 4*n || len(cPrev) < n || len(h) < n || (reset != nil && len(reset) < 4*n) || (hB != nil && len(hB) < n) {
		panic(fmt.Sprintf("asm: LSTMCellForwardReduced: slice shorter than 4H / H (H=%d, len(gates)=%d, len(reset)=%d, len(cPrev)=%d, len(h)=%d, len(hB)=%d)",
			n, len(gates), len(reset), len(cPrev), len(h), len(hB)))
	}
	if n == 0 {
		return
	}
	if cellRedActive {
		var pr *float32
		if reset != nil {
			pr = &reset[0]
		}
		if hB == nil {
			cellRedAVX512(n, &gates[0], pr, &cPrev[0], &c[0], &h[0], nil)
			return
		}
		if bf16Hardware {
			cellRedAVX512(n, &gates[0], pr, &cPrev[0], &c[0], &h[0], &hB[0])
			return
		}
		// AVX-512 without AVX512_BF16 (an int8-only CPU): round apart.
		cellRedAVX512(n, &gates[0], pr, &cPrev[0], &c[0], &h[0], nil)
		toBF16Go(hB[:n], h[:n])
		return
	}
	lstmCellReducedGo(gates[:4*n], reset, cPrev[:n], c, h[:n], hB)
}

// lstmCellReducedGo is LSTMCellForwardReduced's Go twin, the reference loop,
// with H = len(c):
//
//	for j < H:
//		i, f := sigmoidReduced(gates[j]), sigmoidReduced(gates[H+j])
//		g, o := tanhReduced(gates[2H+j]), sigmoidReduced(gates[3H+j])
//		c[j] = f*cPrev[j] + i*g
//		h[j] = o*tanhReduced(c[j])
//		if hB != nil { hB[j] = BF16(h[j]) }
//	if reset != nil { copy(gates[:4H], reset[:4H]) }
func lstmCellReducedGo(gates, reset, cPrev, c, h []float32, hB []uint16) {
	n := len(c)
	gates = gates[:4*n]
	cPrev, h = cPrev[:n], h[:n]
	for j := 0; j < n; j++ {
		i := sigmoidReduced(gates[j])
		f := sigmoidReduced(gates[n+j])
		g := tanhReduced(gates[2*n+j])
		o := sigmoidReduced(gates[3*n+j])
		cj := fma32(f, cPrev[j], i*g)
		c[j] = cj
		h[j] = o * tanhReduced(cj)
	}
	if hB != nil {
		toBF16Go(hB[:n], h)
	}
	if reset != nil {
		copy(gates, reset[:4*n])
	}
}

// fma32 is x*y + z rounded once to float32, as VFMADD does.
func fma32(x, y, z float32) float32 {
	return float32(math.FMA(float64(x), float64(y), float64(z)))
}

// exp2Reduced is 2^t for t clamped to [-126, 126] (NaN passes): n =
// round(t) (to even), f = t - n in [-1/2, 1/2], p(f) the polynomial above
// (Horner, one rounding per step as the FMAs), times 2^n (VSCALEFPS, exact).
func exp2Reduced(t float32) float32 {
	if t > redClamp {
		t = redClamp
	} else if t < -redClamp {
		t = -redClamp
	}
	n := float32(math.RoundToEven(float64(t)))
	f := t - n
	p := fma32(redC4, f, redC3)
	p = fma32(p, f, redC2)
	p = fma32(p, f, redC1)
	p = fma32(p, f, 1)
	if n != n {
		return n
	}
	return float32(math.Ldexp(float64(p), int(n)))
}

// sigmoidReduced is 1/(1+2^(-x*log2(e))).
func sigmoidReduced(x float32) float32 {
	return 1 / (1 + exp2Reduced(x*-redLog2E))
}

// tanhReduced is (1-e)/(1+e) with e = 2^(-2x*log2(e)): absolute error
// below 2e-6, relative below 4e-5 for |x| >= 0.01 (below that, 1-e loses
// the digits that e's rounding near 1 drops).
func tanhReduced(x float32) float32 {
	e := exp2Reduced(x * (-2 * redLog2E))
	return (1 - e) * (1 / (1 + e))
}
