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

// compact reports whether this pass keeps only one time step of gates and
// two of cell states per direction (evaluation at large batch).
func (ws *Workspace) compact() bool { return !ws.train && ws.batch >= stepwiseBatch }

// forwardDir runs layer k, direction d over all time steps.
func (ws *Workspace) forwardDir(k, d int, gm gemms) {
	s := ws.stack
	c := s.cells[k][d]
	B, T, H := ws.batch, ws.steps, s.cfg.Hidden
	G, DH := 4*H, s.dirs*H
	in := ws.input(k)
	st := ws.slot(k, d)
	out := ws.output(k)
	tanhC := ws.scratch[d].tanhC // not needed: Backward recomputes tanh(c)

	pw := s.forwardWeights(k, d)
	whhT := &pw.whhT
	gates := st.gates
	stepwise := B >= stepwiseBatch

	// Row of (b, t) in gates is b*gsb + t*gst; in the cell states it is
	// b*csb + t*cst + (step&1)*csp: [B, T, ...] buffers in full, one step's
	// rows (two, alternating, for c) when compact.
	gsb, gst, csb, cst, csp := T, 1, T, 1, 0
	if ws.compact() {
		gsb, gst, csb, cst, csp = 1, 0, 1, 0, B
	}
	ldg := gsb * G

	if !stepwise {
		// Input projection of every time step at once, both biases folded in.
		for r := 0; r < B*T; r++ {
			copy(gates[r*G:(r+1)*G], pw.bias)
		}
		gm.packed(B*T, 1, in, c.in, &pw.wihT, 1, gates, G)
	}

	for step := 0; step < T; step++ {
		t, prev := step, step-1
		if c.reverse {
			t, prev = T-1-step, T-step
		}
		gt := gates[t*gst*G:]
		if stepwise {
			for b := 0; b < B; b++ {
				copy(gt[b*ldg:b*ldg+G], pw.bias)
			}
			gm.packed(B, 1, in[t*c.in:], T*c.in, &pw.wihT, 1, gt, ldg)
		}
		if step > 0 {
			// gates[:, t] += h[:, prev] W_hh^T over the whole batch; rows of
			// one time step are T rows apart in out.
			gm.packed(B, 1, out[prev*DH+d*H:], T*DH, whhT, 1, gt, ldg)
		}
		for b := 0; b < B; b++ {
			r := b*T + t
			g := gt[b*ldg : b*ldg+G]
			ci := b*csb + t*cst + (step&1)*csp
			cPrev := ws.zero
			if step > 0 {
				cPrev = st.c[(b*csb+prev*cst+((step-1)&1)*csp)*H:]
			}
			asm.LSTMCellForward(g, cPrev, st.c[ci*H:(ci+1)*H], out[r*DH+d*H:], tanhC)
		}
	}
	if ws.dropping() && k < len(s.cells)-1 {
		ws.drawMask(k, d)
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
