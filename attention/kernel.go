package attention

import (
	"math"

	"github.com/novacron/perfpredict/asm"
)

// Gemm is a row-major matrix product with blas.Sgemm's signature:
// C = alpha*op(A)*op(B) + beta*C.
type Gemm func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// Slices names the plain memory of one forward and backward pass, so that a
// caller holding its own buffers (the CPU device in internal/device) runs the
// arithmetic of Attention.Forward and Backward bit for bit. Shapes are those
// of Attention; rows = Batch*Steps.
type Slices struct {
	Batch, Steps, Dim    int
	H                    []float32 // input [rows, Dim]
	ProjW, ProjB, ScoreW []float32 // [Dim, Dim], [Dim], [Dim]
	// U holds tanh(H ProjW^T + ProjB) [rows, Dim] after the forward pass;
	// the backward pass overwrites it with the gradient of the
	// pre-activation.
	U       []float32
	Weights []float32 // softmax over time [Batch, Steps]
	Context []float32 // [Batch, Dim]
	// Backward only: DWeights may be nil (the weights feed no loss); DScores
	// is scratch [rows]; DProjW, DProjB, DScoreW are accumulated into.
	DContext, DWeights      []float32
	DH                      []float32 // written [rows, Dim]
	DScores                 []float32
	DProjW, DProjB, DScoreW []float32
}

// ForwardSlices writes s.U, s.Weights and s.Context from s.H and the
// parameters, as Attention.Forward.
func ForwardSlices(gemm Gemm, s *Slices) {
	batch, steps, d := s.Batch, s.Steps, s.Dim
	rows := batch * steps
	h, u, bias, v := s.H, s.U, s.ProjB, s.ScoreW[:d]
	gemm(false, true, rows, d, d, 1, h, d, s.ProjW, d, 0, u, d)
	for r := 0; r < rows; r++ {
		row := u[r*d : (r+1)*d]
		asm.Axpy(1, bias, row)
		asm.Tanh(row, row)
	}
	for r := 0; r < rows; r++ {
		s.Weights[r] = asm.Dot(u[r*d:(r+1)*d], v)
	}
	for b := 0; b < batch; b++ {
		softmax(s.Weights[b*steps : (b+1)*steps])
		ctx := s.Context[b*d : (b+1)*d]
		clear(ctx)
		for t := 0; t < steps; t++ {
			r := b*steps + t
			asm.Axpy(s.Weights[r], h[r*d:(r+1)*d], ctx)
		}
	}
}

// softmax replaces e with exp(e - max)/sum, as torch.softmax.
func softmax(e []float32) {
	m := e[0]
	for _, v := range e[1:] {
		m = max(m, v)
	}
	var s float32
	for i, v := range e {
		x := float32(math.Exp(float64(v - m)))
		e[i] = x
		s += x
	}
	for i := range e {
		e[i] /= s
	}
}

// BackwardSlices (after ForwardSlices on the same s) writes s.DH,
// accumulates into s.DProjW, s.DProjB and s.DScoreW, and overwrites s.U, as
// Attention.Backward.
func BackwardSlices(gemm Gemm, s *Slices) {
	batch, steps, d := s.Batch, s.Steps, s.Dim
	rows := batch * steps
	h, u, w := s.H, s.U, s.Weights
	dh, du, de := s.DH, s.U, s.DScores
	dWeights := s.DWeights
	v, dv := s.ScoreW, s.DScoreW[:d]

	for b := 0; b < batch; b++ {
		dc := s.DContext[b*d : (b+1)*d]
		// da_t = dContext . h_t (+ dWeights); de_t = a_t (da_t - sum_s a_s da_s).
		var sum float32
		for t := 0; t < steps; t++ {
			r := b*steps + t
			da := asm.Dot(dc, h[r*d:(r+1)*d])
			if dWeights != nil {
				da += dWeights[r]
			}
			de[r] = da
			sum += w[r] * da
		}
		for t := 0; t < steps; t++ {
			r := b*steps + t
			de[r] = w[r] * (de[r] - sum)
			// Direct path: context = sum_t a_t h_t.
			hr := dh[r*d : (r+1)*d]
			copy(hr, dc)
			asm.Scale(w[r], hr)
			// Score path: e = v . u, u = tanh(pre); the gradient of pre
			// replaces u in place.
			ur := u[r*d : (r+1)*d]
			dr, vr := de[r], v[:len(ur)] // hoisted: no reload or bounds check per element
			asm.Axpy(dr, ur, dv)
			for j, uj := range ur {
				ur[j] = dr * vr[j] * (1 - uj*uj)
			}
		}
	}
	// Projection: pre = h W^T + b.
	gemm(true, false, d, d, rows, 1, du, d, h, d, 1, s.DProjW, d)
	gb := s.DProjB
	for r := 0; r < rows; r++ {
		asm.Axpy(1, du[r*d:(r+1)*d], gb) // 1*g is exact: the same sums as gb[j] += g
	}
	gemm(false, false, rows, d, d, 1, du, d, s.ProjW, d, 1, dh, d)
}
