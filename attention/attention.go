// Package attention holds additive (Bahdanau) attention over time steps, the
// layer between the LSTM stack and the model's head.
//
// Data flow: the LSTM's output h [B, T, D] is projected and squashed,
// u_t = tanh(W h_t + b); each step gets a score e_t = v . u_t; the scores of a
// sequence are normalised with a softmax over time, a = softmax_t(e); the
// context vector is the weighted sum context = sum_t a_t h_t [B, D]. Backward
// runs the same chain in reverse and accumulates into the parameters'
// gradients. Parameter names are those of the reference's Attention module:
// proj.weight [D, D], proj.bias [D], score.weight [1, D].
package attention

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/novacron/perfpredict/internal/blas"
	"github.com/novacron/perfpredict/internal/nn"
)

// Attention holds the parameters; per-call state lives in a Workspace, so one
// Attention serves concurrent forward passes with one Workspace each.
type Attention struct {
	Dim       int
	ProjW     *nn.Param // proj.weight [Dim, Dim]
	ProjB     *nn.Param // proj.bias [Dim]
	ScoreW    *nn.Param // score.weight [1, Dim]
	paramList []*nn.Param
}

// New makes zero-initialised attention over vectors of size dim.
func New(dim int) *Attention {
	if dim <= 0 {
		panic(fmt.Sprintf("attention: New(%d): dimension must be positive", dim))
	}
	a := &Attention{
		Dim:    dim,
		ProjW:  nn.NewParam("proj.weight", dim, dim),
		ProjB:  nn.NewParam("proj.bias", dim),
		ScoreW: nn.NewParam("score.weight", 1, dim),
	}
	a.paramList = []*nn.Param{a.ProjW, a.ProjB, a.ScoreW}
	return a
}

// Params lists proj.weight, proj.bias, score.weight (state_dict order).
func (a *Attention) Params() []*nn.Param { return a.paramList }

// Init draws every parameter from U(-1/sqrt(Dim), 1/sqrt(Dim)), PyTorch's
// nn.Linear initialisation for both linear maps (fan-in Dim).
func (a *Attention) Init(rng *rand.Rand) {
	bound := float32(1 / math.Sqrt(float64(a.Dim)))
	for _, p := range a.paramList {
		nn.Uniform(rng, p.Data, -bound, bound)
	}
}

// Workspace holds the activations of one forward pass and the buffers of its
// backward pass. Buffers grow to the largest shape seen and are then reused:
// after the first call of a shape nothing is allocated.
type Workspace struct {
	// Serial keeps the projection's matrix products on the calling goroutine,
	// for callers that already run one pass per core.
	Serial bool

	batch, steps int
	h            []float32 // the Forward input [B*T, D] (not copied)
	u            []float32 // tanh(W h + b) [B*T, D]
	weights      []float32 // softmax over time [B, T]
	context      []float32 // [B, D]
	// backward (the projection's gradient overwrites u, which only the
	// score gradient needs)
	dh      []float32 // [B*T, D]
	dscores []float32 // [B, T]
}

// NewWorkspace returns an empty workspace.
func (a *Attention) NewWorkspace() *Workspace { return &Workspace{} }

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Forward computes the context [batch, Dim] and the attention weights
// [batch, steps] of h [batch, steps, Dim]. Both results belong to ws and stay
// valid until its next Forward; h must not change before Backward.
func (a *Attention) Forward(ws *Workspace, h []float32, batch, steps int) (context, weights []float32) {
	d := a.Dim
	if batch <= 0 || steps <= 0 || len(h) != batch*steps*d {
		panic(fmt.Sprintf("attention: Forward: h has %d values, want batch %d x steps %d x dim %d", len(h), batch, steps, d))
	}
	rows := batch * steps
	ws.batch, ws.steps, ws.h = batch, steps, h
	ws.u = grow(ws.u, rows*d)
	ws.weights = grow(ws.weights, rows)
	ws.context = grow(ws.context, batch*d)

	ForwardSlices(ws.gemm(), &Slices{
		Batch: batch, Steps: steps, Dim: d,
		H: h, ProjW: a.ProjW.Data, ProjB: a.ProjB.Data, ScoreW: a.ScoreW.Data,
		U: ws.u, Weights: ws.weights, Context: ws.context,
	})
	return ws.context, ws.weights
}

// Backward takes the gradient of the loss with respect to the context
// [batch, Dim] and, optionally (nil when the weights feed no loss), with
// respect to the weights [batch, steps]; it accumulates into the parameters'
// gradients and returns the gradient with respect to h [batch, steps, Dim],
// owned by ws. It runs once per Forward: it reuses the forward activations'
// memory.
func (a *Attention) Backward(ws *Workspace, dContext, dWeights []float32) []float32 {
	d, batch, steps := a.Dim, ws.batch, ws.steps
	if len(dContext) != batch*d || (dWeights != nil && len(dWeights) != batch*steps) {
		panic(fmt.Sprintf("attention: Backward: dContext has %d values, want %d", len(dContext), batch*d))
	}
	rows := batch * steps
	ws.dh = grow(ws.dh, rows*d)
	ws.dscores = grow(ws.dscores, rows)
	BackwardSlices(ws.gemm(), &Slices{
		Batch: batch, Steps: steps, Dim: d,
		H: ws.h, ProjW: a.ProjW.Data, ScoreW: a.ScoreW.Data,
		U: ws.u, Weights: ws.weights,
		DContext: dContext, DWeights: dWeights, DH: ws.dh, DScores: ws.dscores,
		DProjW: a.ProjW.Grad, DProjB: a.ProjB.Grad, DScoreW: a.ScoreW.Grad,
	})
	return ws.dh
}

// gemm picks the matrix product: blas.Sgemm splits large products across
// GOMAXPROCS (by output blocks, so results do not depend on the split).
func (ws *Workspace) gemm() Gemm {
	if ws.Serial {
		return blas.SgemmSerial
	}
	return blas.Sgemm
}
