package lstm

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/blas"
)

// gemmFunc is blas.Sgemm's signature; the serial or the parallel variant is
// chosen per pass.
type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// gemmPackedFunc is blas.SgemmPackedB's signature.
type gemmPackedFunc func(m int, alpha float32, a []float32, lda int, pb *blas.PackedB, beta float32, c []float32, ldc int)

// gemms is a set of GEMM entry points, all serial or all parallel.
type gemms struct {
	plain  gemmFunc
	packed gemmPackedFunc
}

var (
	gemmSerial   = gemms{blas.SgemmSerial, blas.SgemmPackedBSerial}
	gemmParallel = gemms{blas.Sgemm, blas.SgemmPackedB}
)

// Forward runs the stack over x [batch, steps, Input] and returns the output
// [batch, steps, OutputSize()], which ws owns until its next Forward. With
// train, dropout (if any) is applied between layers and everything Backward
// needs is kept, in float32; without, the pass is the evaluation one, in the
// stack's Precision.
//
// A batch or steps that is not positive, or an x whose length is not
// batch*steps*Input, is an error. NaN and Inf in x propagate as in PyTorch.
func (s *Stack) Forward(ws *Workspace, x []float32, batch, steps int, train bool) ([]float32, error) {
	if ws == nil || ws.stack != s {
		panic("lstm: Forward with a Workspace from another Stack")
	}
	if batch <= 0 || steps <= 0 {
		return nil, fmt.Errorf("lstm: batch (%d) and steps (%d) must be positive", batch, steps)
	}
	if want := batch * steps * s.cfg.Input; len(x) != want {
		return nil, fmt.Errorf("lstm: input has %d values, want batch*steps*features = %d*%d*%d = %d", len(x), batch, steps, s.cfg.Input, want)
	}
	ws.ready = false
	ws.prepare(batch, steps, train)
	copy(ws.x, x) // Backward needs it; the caller may reuse x
	if ws.dropping() {
		ws.seedDropout()
	}
	ws.prec = FP32
	if !train {
		ws.prec = s.Precision()
	}
	for k := range s.cells {
		if k > 0 && ws.dropping() {
			ws.applyDropout(k - 1)
		}
		if ws.prec != FP32 {
			ws.convertInput(k) // once for both directions
		}
		ws.bothDirs(k, jobForward) // each direction draws its dropout bits
	}
	ws.ready, ws.doneBwd = train, false
	return ws.output(len(s.cells) - 1), nil
}

// input is layer k's input [B*T, in] in the current pass.
func (ws *Workspace) input(k int) []float32 {
	if k == 0 {
		return ws.x
	}
	if ws.dropping() {
		if ws.droppedOf != k-1 {
			panic("lstm: internal error: dropped-out input not materialised")
		}
		return ws.dropped
	}
	return ws.output(k - 1)
}

// stepwiseBatch is the batch from which each time step's input projection
// is its own GEMM (with the recurrent one right after it, while that step's
// gates are in cache) instead of one GEMM over all steps up front: at large
// batches the all-steps gates no longer fit in the caches and would go
// through memory twice more. In evaluation the gates and cell states then
// need only one step's rows.
const stepwiseBatch = 64

// timeMajorTraining lets a test run a stepwise training pass in [B, T]
// order, to check that the time-major buffers change no bit.
var timeMajorTraining = true

// compact reports whether this pass keeps only one time step of gates and
// two of cell states per direction (evaluation at large batch).
func (ws *Workspace) compact() bool { return !ws.train && ws.batch >= stepwiseBatch }

// forwardDir runs layer k, direction d over all time steps, with the
// products and the cell of the pass's precision (dirProducts): one loop for
// the float32 passes and the reduced-precision evaluation ones.
func (ws *Workspace) forwardDir(k, d int, gm gemms) {
	s := ws.stack
	c := s.cells[k][d]
	B, T, H := ws.batch, ws.steps, s.cfg.Hidden
	G, DH := 4*H, s.dirs*H
	st := ws.slot(k, d)
	out := ws.output(k)

	var p dirProducts
	ws.products(&p, k, d, gm)
	gates := st.gates
	stepwise := B >= stepwiseBatch

	// Row of (b, t) in gates is b*gsb + t*gst; in the cell states it is
	// b*csb + t*cst + (step&1)*csp: [B, T, ...] buffers in full, [T, B, ...]
	// in a stepwise training pass (see dirBufs.timeMajor), one step's rows
	// (two, alternating, for c) when compact.
	gsb, gst, csb, cst, csp := T, 1, T, 1, 0
	st.timeMajor = ws.train && stepwise && timeMajorTraining
	if st.timeMajor {
		gsb, gst, csb, cst = 1, B, 1, B
	} else if ws.compact() {
		gsb, gst, csb, cst, csp = 1, 0, 1, 0, B
	}
	ldg := gsb * G

	if !stepwise {
		// Input projection of every time step at once, both biases folded in.
		for r := 0; r < B*T; r++ {
			copy(gates[r*G:(r+1)*G], p.bias)
		}
		p.input(B*T, 0, gates, G)
	} else if p.reset != nil {
		// The reduced cell puts the bias back into its row (the same rows
		// every step: a stepwise evaluation pass is compact) as it reads it.
		for b := 0; b < B; b++ {
			copy(gates[b*ldg:b*ldg+G], p.bias)
		}
	}

	for step := 0; step < T; step++ {
		t, prev := step, step-1
		if c.reverse {
			t, prev = T-1-step, T-step
		}
		gt := gates[t*gst*G:]
		if stepwise {
			if p.reset == nil {
				for b := 0; b < B; b++ {
					copy(gt[b*ldg:b*ldg+G], p.bias)
				}
			}
			p.input(B, t, gt, ldg)
		}
		if step > 0 {
			// gates[:, t] += h[:, prev] W_hh^T over the whole batch.
			p.recurrent(prev, gt, ldg)
		}
		for b := 0; b < B; b++ {
			r := b*T + t
			g := gt[b*ldg : b*ldg+G]
			ci := b*csb + t*cst + (step&1)*csp
			cPrev := ws.zero
			if step > 0 {
				cPrev = st.c[(b*csb+prev*cst+((step-1)&1)*csp)*H:]
			}
			p.cell(b, g, cPrev, st.c[ci*H:(ci+1)*H], out[r*DH+d*H:])
		}
	}
	if ws.dropping() && k < len(s.cells)-1 {
		ws.drawMask(k, d)
	}
}

// dirProducts is one layer direction's work per time step in one pass's
// precision: input adds the input projection of m rows of the layer input
// starting at row t0 (all B*T rows when m is B*T, else one time step's B
// rows, T rows apart), recurrent adds h_{t-1} W_hh^T for time step prev,
// cell runs the cell on batch row b. In float32 the products are the packed
// SGEMMs and the cell asm.LSTMCellForward; in bf16 and int8 (set up by
// Workspace.products) asm.GemmBF16 or asm.GemmInt8 and
// asm.LSTMCellForwardReduced, which
// also writes h_t in bf16 for the next recurrent product and, when reset is
// set, puts the bias back into its gate row.
type dirProducts struct {
	prec  Precision
	gm    gemms
	pw    *packedCell
	bias  []float32 // b_ih + b_hh
	reset []float32 // the bias, when the cell resets its gate row; else nil

	in      []float32 // the layer input [B*T, inW] (float32 passes)
	out     []float32 // the layer output [B*T, DH]
	tanhC   []float32 // [H] scratch of the float32 cell
	sc      *dirScratch
	ws      *Workspace
	B, T    int
	H, DH   int
	d, inW  int
	inE, HE int // bf16: row widths of the input and of h (even)
	inQ, HQ int // int8: the same in bytes (quads)
}

func (p *dirProducts) input(m, t0 int, gt []float32, ldg int) {
	B, T := p.B, p.T
	switch p.prec {
	case FP32:
		lda := p.inW
		if m < B*T {
			lda = T * p.inW
		}
		p.gm.packed(m, 1, p.in[t0*p.inW:], lda, &p.pw.wihT, 1, gt, ldg)
	case BF16:
		lda := p.inE
		if m < B*T {
			lda = T * p.inE
		}
		asm.GemmBF16(m, 4*p.H, p.inE, p.ws.inB[t0*p.inE:], lda, p.pw.wihB, gt, ldg)
	case INT8:
		ws := p.ws
		if m == B*T {
			asm.GemmInt8(m, ws.inQ, p.inQ, ws.inS, &p.pw.wihQ, gt, ldg)
			return
		}
		// One time step: its rows, and their scales gathered, T apart.
		sc := p.sc
		for b := range sc.tS {
			sc.tS[b] = ws.inS[b*T+t0]
		}
		asm.GemmInt8(m, ws.inQ[t0*p.inQ:], T*p.inQ, sc.tS, &p.pw.wihQ, gt, ldg)
	}
}

func (p *dirProducts) recurrent(prev int, gt []float32, ldg int) {
	B, T, H, DH := p.B, p.T, p.H, p.DH
	switch p.prec {
	case FP32:
		// Rows of one time step are T rows apart in out.
		p.gm.packed(B, 1, p.out[prev*DH+p.d*H:], T*DH, &p.pw.whhT, 1, gt, ldg)
	case BF16:
		// h_{t-1} in bf16, as the cells of the previous step wrote it.
		asm.GemmBF16(B, 4*H, p.HE, p.sc.hB, p.HE, p.pw.whhB, gt, ldg)
	case INT8:
		sc := p.sc
		asm.QuantizeU8(B, H, p.out[prev*DH+p.d*H:], T*DH, sc.hQ, p.HQ, sc.hS)
		asm.GemmInt8(B, sc.hQ, p.HQ, sc.hS, &p.pw.whhQ, gt, ldg)
	}
}

func (p *dirProducts) cell(b int, g, cPrev, c, h []float32) {
	switch p.prec {
	case FP32:
		asm.LSTMCellForward(g, cPrev, c, h, p.tanhC)
	case BF16:
		asm.LSTMCellForwardReduced(g, p.reset, cPrev, c, h, p.sc.hB[b*p.HE:b*p.HE+p.H])
	default:
		asm.LSTMCellForwardReduced(g, p.reset, cPrev, c, h, nil)
	}
}

// recomputeDir rebuilds, in Backward, the gate activations and cell states
// of layer k, direction d, whose buffers a layer above reused. The layer's
// outputs are known, so unlike forwardDir it needs no product per time step:
// the recurrent term of every row is one GEMM over all rows, pairing gate row
// r with output row r-1 (r+1 in reverse), the first processed step's rows set
// aside since their h_{t-1} is zero. Only the element-wise cell runs step by
// step. That halves the cost of the recomputation; the GEMM kernels for a
// few rows and for many may round differently, so a recomputed gate can
// differ from Forward's in the last bit.
func (ws *Workspace) recomputeDir(k, d int, gm gemms) {
	s := ws.stack
	c := s.cells[k][d]
	B, T, H := ws.batch, ws.steps, s.cfg.Hidden
	G, DH := 4*H, s.dirs*H
	bt := B * T
	in := ws.input(k)
	st := ws.slot(k, d)
	out := ws.output(k)
	sc := &ws.scratch[d]
	pw := s.forwardWeights(k, d)
	gates := st.gates
	st.timeMajor = false

	for r := 0; r < bt; r++ {
		copy(gates[r*G:(r+1)*G], pw.bias)
	}
	gm.packed(bt, 1, in, c.in, &pw.wihT, 1, gates, G)
	if T > 1 {
		t0 := 0
		if c.reverse {
			t0 = T - 1
		}
		for b := 0; b < B; b++ {
			copy(sc.first[b*G:(b+1)*G], gates[(b*T+t0)*G:])
		}
		if c.reverse {
			gm.packed(bt-1, 1, out[DH+d*H:], DH, &pw.whhT, 1, gates, G)
		} else {
			gm.packed(bt-1, 1, out[d*H:], DH, &pw.whhT, 1, gates[G:], G)
		}
		for b := 0; b < B; b++ {
			copy(gates[(b*T+t0)*G:(b*T+t0+1)*G], sc.first[b*G:(b+1)*G])
		}
	}
	for step := 0; step < T; step++ {
		t, prev := step, step-1
		if c.reverse {
			t, prev = T-1-step, T-step
		}
		for b := 0; b < B; b++ {
			r := b*T + t
			cPrev := ws.zero
			if step > 0 {
				cPrev = st.c[(b*T+prev)*H:]
			}
			// h is known (and stays as Forward wrote it).
			asm.LSTMCellForward(gates[r*G:(r+1)*G], cPrev, st.c[r*H:(r+1)*H], sc.h, sc.tanhC)
		}
	}
}

// dropping reports whether this pass applies dropout between layers.
func (ws *Workspace) dropping() bool { return ws.train && ws.stack.cfg.Dropout > 0 }
