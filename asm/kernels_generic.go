package asm

import "math"

// dotGeneric is the reference loop:
//
//	for i := range x { s += x[i] * y[i] }
func dotGeneric(x, y []float32) float32 {
	var s float32
	for i, v := range x {
		s += v * y[i]
	}
	return s
}

// axpyGeneric is the reference loop:
//
//	for i := range x { y[i] += alpha * x[i] }
func axpyGeneric(alpha float32, x, y []float32) {
	for i, v := range x {
		y[i] += alpha * v
	}
}

// scaleGeneric is the reference loop:
//
//	for i := range x { x[i] *= alpha }
func scaleGeneric(alpha float32, x []float32) {
	for i := range x {
		x[i] *= alpha
	}
}

// sigmoid32 is the scalar reference: 1/(1+exp(-x)) computed in float64.
func sigmoid32(x float32) float32 {
	return float32(1 / (1 + math.Exp(-float64(x))))
}

// sigmoidGeneric is the reference loop:
//
//	for i := range x { dst[i] = 1 / (1 + exp(-x[i])) }
func sigmoidGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = sigmoid32(v)
	}
}

// tanhGeneric is the reference loop:
//
//	for i := range x { dst[i] = tanh(x[i]) }
func tanhGeneric(dst, x []float32) {
	for i, v := range x {
		dst[i] = float32(math.Tanh(float64(v)))
	}
}

// lstmCellForwardGeneric is the reference loop, with H = len(c):
//
//	i, f, g, o := sigmoid(gates[j]), sigmoid(gates[H+j]), tanh(gates[2H+j]), sigmoid(gates[3H+j])
//	c[j] = f*cPrev[j] + i*g; tanhC[j] = tanh(c[j]); h[j] = o*tanhC[j]
//	gates[j], gates[H+j], gates[2H+j], gates[3H+j] = i, f, g, o
func lstmCellForwardGeneric(gates, cPrev, c, h, tanhC []float32) {
	n := len(c)
	for j := 0; j < n; j++ {
		i := sigmoid32(gates[j])
		f := sigmoid32(gates[n+j])
		g := float32(math.Tanh(float64(gates[2*n+j])))
		o := sigmoid32(gates[3*n+j])
		cj := f*cPrev[j] + i*g
		t := float32(math.Tanh(float64(cj)))
		c[j] = cj
		tanhC[j] = t
		h[j] = o * t
		gates[j], gates[n+j], gates[2*n+j], gates[3*n+j] = i, f, g, o
	}
}

// lstmCellBackwardGeneric is the reference loop, with H = len(dh):
//
//	dcj := dh[j]*o*(1-tanhC[j]^2) + dc[j]
//	dGates[j]    = dcj*g*i*(1-i)          // input gate
//	dGates[H+j]  = dcj*cPrev[j]*f*(1-f)   // forget gate
//	dGates[2H+j] = dcj*i*(1-g*g)          // cell candidate
//	dGates[3H+j] = dh[j]*tanhC[j]*o*(1-o) // output gate
//	dc[j] = dcj*f
func lstmCellBackwardGeneric(dGates, act, cPrev, tanhC, dh, dc []float32) {
	n := len(dh)
	for j := 0; j < n; j++ {
		i, f, g, o := act[j], act[n+j], act[2*n+j], act[3*n+j]
		t := tanhC[j]
		dcj := dh[j]*o*(1-t*t) + dc[j]
		dGates[j] = dcj * g * i * (1 - i)
		dGates[n+j] = dcj * cPrev[j] * f * (1 - f)
		dGates[2*n+j] = dcj * i * (1 - g*g)
		dGates[3*n+j] = dh[j] * t * o * (1 - o)
		dc[j] = dcj * f
	}
}
