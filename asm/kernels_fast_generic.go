package asm

import "math"

// Pure-Go twins of the vector activations: the same float32 algorithm as the
// assembly (see EXP in kernels_avx512_amd64.s), a few times faster than the
// float64 math references in kernels_generic.go. They are what the Generic
// level installs (with -tags purego and on other architectures); the math
// versions remain the references the tests measure every level against.

// Constants of the vector exp, as in the assembly.
const (
	expLog2E = float32(math.Log2E)
	expMagic = float32(1.5 * (1 << 23)) // adding it rounds to an integer in the low mantissa bits
	expC1    = float32(0.693359375)     // ln 2 = expC1 + expC2, expC1 exact in 9 bits
	expC2    = float32(-2.12194440e-4)
	expP0    = float32(1.9875691500e-4)
	expP1    = float32(1.3981999507e-3)
	expP2    = float32(8.3334519073e-3)
	expP3    = float32(4.1665795894e-2)
	expP4    = float32(1.6666665459e-1)
	expP5    = float32(5.0000001201e-1)
	expFloor = float32(-88) // exp(-88) is below the smallest normal float32
)

// expq32 returns s = 2^n and q = exp(r) - 1 with exp(y) = s*(1+q), for
// y <= 0 (NaN passes through): n = round(y/ln2), r = y - n*ln2, q = r +
// r^2*p(r) with Cephes' expf polynomial p, and s put straight into the
// exponent bits (n = -127 gives 0).
func expq32(y float32) (s, q float32) {
	if y < expFloor {
		y = expFloor
	}
	t := y*expLog2E + expMagic
	n := t - expMagic
	r := y - n*expC1
	r -= n * expC2
	p := ((((expP0*r+expP1)*r+expP2)*r+expP3)*r+expP4)*r + expP5
	q = p*(r*r) + r
	s = math.Float32frombits(math.Float32bits(t)<<23 + 0x3f800000)
	return s, q
}

// expNeg32 returns exp(y) for y <= 0: s*q + s rounded once, like the
// assembly's FMA (exact in float64).
func expNeg32(y float32) float32 {
	s, q := expq32(y)
	return float32(float64(s)*float64(q) + float64(s))
}

// sigmoidFast32 is 1/(1+exp(-x)) as num/(1+e) with e = exp(-|x|) and num = 1
// for x >= 0, e for x < 0, so that exp never overflows.
func sigmoidFast32(x float32) float32 {
	b := math.Float32bits(x)
	e := expNeg32(math.Float32frombits(b | 0x80000000))
	// Branch-free choice (the sign of x is unpredictable): all ones if x < 0.
	neg := uint32(int32(b) >> 31)
	num := math.Float32frombits(math.Float32bits(e)&neg | 0x3f800000&^neg)
	return num / (1 + e)
}

// tanhFast32 is sign(x)*|m/(2+m)| with m = expm1(-2|x|) in (-1, 0]; m =
// s*q + (s-1) and 2+m = s*q + (s+1) are each rounded once (exact in float64),
// which keeps relative accuracy near 0 and near saturation.
func tanhFast32(x float32) float32 {
	b := math.Float32bits(x)
	s, q := expq32(-2 * math.Float32frombits(b&^0x80000000))
	sq := float64(s) * float64(q)
	m := float32(sq + float64(s-1))
	t := m / float32(sq+float64(s+1))
	return math.Float32frombits(math.Float32bits(t)&^0x80000000 | b&0x80000000)
}

// sigmoidFastGeneric is sigmoidGeneric with sigmoidFast32.
func sigmoidFastGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = sigmoidFast32(v)
	}
}

// tanhFastGeneric is tanhGeneric with tanhFast32.
func tanhFastGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = tanhFast32(v)
	}
}

// lstmCellForwardFastGeneric is lstmCellForwardGeneric with the fast
// activations.
func lstmCellForwardFastGeneric(gates, cPrev, c, h, tanhC []float32) {
	n := len(c)
	gates = gates[:4*n]
	cPrev, h, tanhC = cPrev[:n], h[:n], tanhC[:n]
	for j := 0; j < n; j++ {
		i := sigmoidFast32(gates[j])
		f := sigmoidFast32(gates[n+j])
		g := tanhFast32(gates[2*n+j])
		o := sigmoidFast32(gates[3*n+j])
		cj := f*cPrev[j] + i*g
		t := tanhFast32(cj)
		c[j] = cj
		tanhC[j] = t
		h[j] = o * t
		gates[j], gates[n+j], gates[2*n+j], gates[3*n+j] = i, f, g, o
	}
}
