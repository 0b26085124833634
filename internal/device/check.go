package device

import (
	"fmt"
	"math"
)

// The Check methods panic with a "device: " message when an operation's
// shapes, strides or buffers do not fit; every backend calls them before
// enqueuing, so a mistake fails the same way on every device.

// NeedMatrix panics unless b holds a rows x cols matrix with row stride ld
// (ld 0 allowed when broadcast, which reads only the first row).
func NeedMatrix(op, name string, b Buffer, rows, cols, ld int, broadcast bool) {
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("device: %s: %s has negative shape %dx%d", op, name, rows, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if b == nil {
		panic(fmt.Sprintf("device: %s: %s is nil", op, name))
	}
	if broadcast && ld == 0 {
		rows = 1
	} else if ld < cols {
		panic(fmt.Sprintf("device: %s: %s has row stride %d below its %d columns", op, name, ld, cols))
	}
	if need := (rows-1)*ld + cols; b.Len() < need {
		panic(fmt.Sprintf("device: %s: %s holds %d values, a %dx%d matrix with row stride %d needs %d",
			op, name, b.Len(), rows, cols, ld, need))
	}
}

// NeedLen panics unless b holds at least n values.
func NeedLen(op, name string, b Buffer, n int) {
	if n == 0 {
		return
	}
	if b == nil {
		panic(fmt.Sprintf("device: %s: %s is nil", op, name))
	}
	if b.Len() < n {
		panic(fmt.Sprintf("device: %s: %s holds %d values, want %d", op, name, b.Len(), n))
	}
}

// Batches is the number of products, Batch or 1 when it is 0.
func (g *GemmArgs) Batches() int {
	if g.Batch == 0 {
		return 1
	}
	return g.Batch
}

// stored returns the shapes of A and B as stored: A is ar x ac, B br x bc.
func (g *GemmArgs) stored() (ar, ac, br, bc int) {
	ar, ac = g.M, g.K
	if g.TransA {
		ar, ac = g.K, g.M
	}
	br, bc = g.K, g.N
	if g.TransB {
		br, bc = g.N, g.K
	}
	return ar, ac, br, bc
}

// span is the number of values a stored rows x cols operand with row stride
// ld and batch stride stride spans (0 when it is empty).
func (g *GemmArgs) span(rows, cols, ld, stride int) int {
	if rows == 0 || cols == 0 {
		return 0
	}
	return (g.Batches()-1)*stride + (rows-1)*ld + cols
}

// Check panics if the operands do not fit the shape.
func (g *GemmArgs) Check() {
	if g.M < 0 || g.N < 0 || g.K < 0 || g.Batch < 0 {
		panic(fmt.Sprintf("device: Gemm: negative shape m=%d n=%d k=%d batch=%d", g.M, g.N, g.K, g.Batch))
	}
	nb := g.Batches()
	ar, ac, br, bc := g.stored()
	check := func(name string, b Buffer, rows, cols, ld, stride int, bf16 bool) {
		if nb > 1 && stride < 0 {
			panic(fmt.Sprintf("device: Gemm: %s has negative batch stride %d", name, stride))
		}
		if rows == 0 || cols == 0 {
			return
		}
		if ld < cols {
			panic(fmt.Sprintf("device: Gemm: %s has row stride %d below its %d columns", name, ld, cols))
		}
		n := g.span(rows, cols, ld, stride)
		if bf16 {
			n = BF16Len(n)
		}
		NeedLen("Gemm", name, b, n)
	}
	if g.Alpha != 0 && g.K > 0 {
		check("A", g.A, ar, ac, g.LDA, g.StrideA, g.BF16)
		check("B", g.B, br, bc, g.LDB, g.StrideB, g.BF16)
	}
	check("C", g.C, g.M, g.N, g.LDC, g.StrideC, false)
	if nb > 1 && g.M > 0 && g.N > 0 && g.StrideC < (g.M-1)*g.LDC+g.N {
		panic(fmt.Sprintf("device: Gemm: batch stride of C (%d) makes products overlap (each spans %d)", g.StrideC, (g.M-1)*g.LDC+g.N))
	}
}

// Check panics if the operands do not fit the shape.
func (a *CellArgs) Check() {
	if a.Batch <= 0 || a.Hidden <= 0 {
		panic(fmt.Sprintf("device: LSTMCellForward: batch %d and hidden %d must be positive", a.Batch, a.Hidden))
	}
	const op = "LSTMCellForward"
	B, H := a.Batch, a.Hidden
	NeedMatrix(op, "Gates", a.Gates, B, 4*H, a.LDGates, false)
	if a.Bias != nil {
		NeedLen(op, "Bias", a.Bias, 4*H)
	}
	if a.CPrev != nil {
		NeedMatrix(op, "CPrev", a.CPrev, B, H, a.LDCPrev, false)
	}
	NeedMatrix(op, "C", a.C, B, H, a.LDC, false)
	NeedMatrix(op, "H", a.H, B, H, a.LDH, false)
	NeedMatrix(op, "TanhC", a.TanhC, B, H, a.LDTanhC, false)
	if a.HBF16 != nil {
		if a.LDHBF16 < H {
			panic(fmt.Sprintf("device: %s: HBF16 has row stride %d below its %d columns", op, a.LDHBF16, H))
		}
		NeedLen(op, "HBF16", a.HBF16, BF16Len((B-1)*a.LDHBF16+H))
	}
}

// Check panics if the operands do not fit the shape.
func (a *CellGradArgs) Check() {
	if a.Batch <= 0 || a.Hidden <= 0 {
		panic(fmt.Sprintf("device: LSTMCellBackward: batch %d and hidden %d must be positive", a.Batch, a.Hidden))
	}
	const op = "LSTMCellBackward"
	B, H := a.Batch, a.Hidden
	NeedMatrix(op, "DGates", a.DGates, B, 4*H, a.LDDGates, false)
	NeedMatrix(op, "Act", a.Act, B, 4*H, a.LDAct, false)
	if a.CPrev != nil {
		NeedMatrix(op, "CPrev", a.CPrev, B, H, a.LDCPrev, false)
	}
	NeedMatrix(op, "TanhC", a.TanhC, B, H, a.LDTanhC, false)
	NeedLen(op, "DH", a.DH, B*H)
	NeedLen(op, "DC", a.DC, B*H)
	if a.DOut != nil {
		NeedMatrix(op, "DOut", a.DOut, B, H, a.LDDOut, false)
	}
}

// CheckForward panics if the forward operands do not fit the shape.
func (a *AttentionArgs) CheckForward() {
	const op = "AttentionForward"
	if a.Batch <= 0 || a.Steps <= 0 || a.Dim <= 0 {
		panic(fmt.Sprintf("device: %s: batch %d, steps %d and dim %d must be positive", op, a.Batch, a.Steps, a.Dim))
	}
	rows, d := a.Batch*a.Steps, a.Dim
	NeedLen(op, "H", a.H, rows*d)
	NeedLen(op, "ProjW", a.ProjW, d*d)
	NeedLen(op, "ProjB", a.ProjB, d)
	NeedLen(op, "ScoreW", a.ScoreW, d)
	NeedLen(op, "U", a.U, rows*d)
	NeedLen(op, "Weights", a.Weights, rows)
	NeedLen(op, "Context", a.Context, a.Batch*d)
}

// CheckBackward panics if the backward operands do not fit the shape.
func (a *AttentionArgs) CheckBackward() {
	a.CheckForward()
	const op = "AttentionBackward"
	rows, d := a.Batch*a.Steps, a.Dim
	NeedLen(op, "DContext", a.DContext, a.Batch*d)
	if a.DWeights != nil {
		NeedLen(op, "DWeights", a.DWeights, rows)
	}
	NeedLen(op, "DH", a.DH, rows*d)
	NeedLen(op, "DProjW", a.DProjW, d*d)
	NeedLen(op, "DProjB", a.DProjB, d)
	NeedLen(op, "DScoreW", a.DScoreW, d)
	NeedLen(op, "Scratch", a.Scratch, rows)
}

// CheckForward panics if the training-forward operands do not fit.
func (a *BatchNormArgs) CheckForward() {
	const op = "BatchNormTrain"
	if a.Batch < 2 || a.N <= 0 {
		panic(fmt.Sprintf("device: %s: batch %d (want >= 2) and n %d (want > 0)", op, a.Batch, a.N))
	}
	NeedLen(op, "X", a.X, a.Batch*a.N)
	NeedLen(op, "Y", a.Y, a.Batch*a.N)
	for _, v := range []struct {
		name string
		b    Buffer
	}{{"Gamma", a.Gamma}, {"Beta", a.Beta}, {"RunMean", a.RunMean}, {"RunVar", a.RunVar}, {"Mean", a.Mean}, {"InvStd", a.InvStd}} {
		NeedLen(op, v.name, v.b, a.N)
	}
}

// CheckBackward panics if the backward operands do not fit.
func (a *BatchNormArgs) CheckBackward() {
	const op = "BatchNormBackward"
	if a.Batch < 2 || a.N <= 0 {
		panic(fmt.Sprintf("device: %s: batch %d (want >= 2) and n %d (want > 0)", op, a.Batch, a.N))
	}
	NeedLen(op, "X", a.X, a.Batch*a.N)
	NeedLen(op, "DY", a.DY, a.Batch*a.N)
	NeedLen(op, "DX", a.DX, a.Batch*a.N)
	for _, v := range []struct {
		name string
		b    Buffer
	}{{"Gamma", a.Gamma}, {"Mean", a.Mean}, {"InvStd", a.InvStd}, {"DGamma", a.DGamma}, {"DBeta", a.DBeta}} {
		NeedLen(op, v.name, v.b, a.N)
	}
}

// Check panics unless the four tensors have one length; it returns it.
func (a *AdamArgs) Check() int {
	if a.Param == nil || a.Grad == nil || a.M == nil || a.V == nil {
		panic("device: Adam: Param, Grad, M and V must all be set")
	}
	n := a.Param.Len()
	if a.Grad.Len() != n || a.M.Len() != n || a.V.Len() != n {
		panic(fmt.Sprintf("device: Adam: lengths differ: param %d, grad %d, m %d, v %d", n, a.Grad.Len(), a.M.Len(), a.V.Len()))
	}
	if a.Step <= 0 {
		panic(fmt.Sprintf("device: Adam: step %d, want the 1-based count after this update", a.Step))
	}
	return n
}

// AdamScalars are the float32 constants of one Adam step, computed as nn.Adam
// does (bias corrections in float64), shared by every backend.
type AdamScalars struct {
	B1, B2, C1, C2, BC2Sqrt, NegStep, Eps float32
}

// Scalars computes the step's constants.
func (a *AdamArgs) Scalars() AdamScalars {
	t := float64(a.Step)
	bc1 := 1 - math.Pow(a.Beta1, t)
	return AdamScalars{
		B1: float32(a.Beta1), B2: float32(a.Beta2),
		C1: float32(1 - a.Beta1), C2: float32(1 - a.Beta2),
		BC2Sqrt: float32(math.Sqrt(1 - math.Pow(a.Beta2, t))),
		NegStep: float32(-a.LR / bc1),
		Eps:     float32(a.Eps),
	}
}
