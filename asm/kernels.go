package asm

// The exported kernels dispatch through these variables, installed by
// register for the active level (see cpu.go). Each one's reference loop is the
// doc comment of its Go implementation in kernels_generic.go. The Generic
// level computes sigmoid and tanh with the float32 twins of the vector code
// (kernels_fast_generic.go) rather than the float64 references.
var (
	dotImpl     = dotGeneric
	axpyImpl    = axpyGeneric
	scaleImpl   = scaleGeneric
	sigmoidImpl = sigmoidFastGeneric
	tanhImpl    = tanhFastGeneric
	cellFwdImpl = lstmCellForwardFastGeneric
	cellBwdImpl = lstmCellBackwardGeneric
)

// Dot returns the sum of x[i]*y[i] over i < len(x). It panics if y is shorter
// than x.
func Dot(x, y []float32) float32 {
	if len(y) < len(x) {
		panic("asm: Dot: len(y) < len(x)")
	}
	return dotImpl(x, y[:len(x)])
}

// Axpy adds alpha*x[i] to y[i] for i < len(x). It panics if y is shorter than x.
func Axpy(alpha float32, x, y []float32) {
	if len(y) < len(x) {
		panic("asm: Axpy: len(y) < len(x)")
	}
	axpyImpl(alpha, x, y[:len(x)])
}

// Scale multiplies every x[i] by alpha.
func Scale(alpha float32, x []float32) { scaleImpl(alpha, x) }

// Sigmoid sets dst[i] = 1/(1+exp(-x[i])) for i < len(x); dst may be x.
// It panics if dst is shorter than x.
func Sigmoid(dst, x []float32) {
	if len(dst) < len(x) {
		panic("asm: Sigmoid: len(dst) < len(x)")
	}
	sigmoidImpl(dst[:len(x)], x)
}

// Tanh sets dst[i] = tanh(x[i]) for i < len(x); dst may be x.
// It panics if dst is shorter than x.
func Tanh(dst, x []float32) {
	if len(dst) < len(x) {
		panic("asm: Tanh: len(dst) < len(x)")
	}
	tanhImpl(dst[:len(x)], x)
}

// LSTMCellForward is one LSTM cell step for one batch row with H = len(c).
//
// gates holds the 4H pre-activations in PyTorch's order i, f, g, o
// (x W_ih^T + b_ih + h W_hh^T + b_hh) and is overwritten with the activations
// sigmoid(i), sigmoid(f), tanh(g), sigmoid(o), which the backward pass needs.
// It writes c = f*cPrev + i*g, tanhC = tanh(c) and h = o*tanhC.
// cPrev may alias c (in-place update); h and tanhC must not alias the others.
func LSTMCellForward(gates, cPrev, c, h, tanhC []float32) {
	n := len(c)
	if len(gates) < 4*n || len(cPrev) < n || len(h) < n || len(tanhC) < n {
		panic("asm: LSTMCellForward: slice shorter than 4H / H")
	}
	cellFwdImpl(gates[:4*n], cPrev[:n], c, h[:n], tanhC[:n])
}

// LSTMCellBackward is the backward pass of LSTMCellForward for one batch row
// with H = len(dh).
//
// act holds the 4H activations that LSTMCellForward left in gates, cPrev the
// previous cell state and tanhC = tanh(c). dh is the gradient of the loss with
// respect to h, dc on entry the gradient with respect to c arriving from the
// next time step; on return dc holds the gradient with respect to cPrev.
// dGates receives the 4H gradients of the pre-activations (order i, f, g, o);
// it may be act itself (the activations are then replaced by the gradients).
func LSTMCellBackward(dGates, act, cPrev, tanhC, dh, dc []float32) {
	n := len(dh)
	if len(dGates) < 4*n || len(act) < 4*n || len(cPrev) < n || len(tanhC) < n || len(dc) < n {
		panic("asm: LSTMCellBackward: slice shorter than 4H / H")
	}
	cellBwdImpl(dGates[:4*n], act[:4*n], cPrev[:n], tanhC[:n], dh, dc[:n])
}
