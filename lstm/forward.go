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
// needs is kept; without, the pass is the evaluation one.
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
	for k := range s.cells {
		ws.bothDirs(k, false) // each direction applies its dropout columns
	}
	ws.ready = true
	return ws.layers[len(s.cells)-1].out, nil
}

// input is layer k's input [B*T, in] in the current pass.
func (ws *Workspace) input(k int) []float32 {
	if k == 0 {
		return ws.x
	}
	if ws.dropping() {
		return ws.layers[k-1].dropped
	}
	return ws.layers[k-1].out
}

// dirState is the buffer set that layer k, direction d uses in this pass:
// its own in training (Backward reads it), a shared one in evaluation.
func (ws *Workspace) dirState(k, d int) *dirBufs {
	if !ws.train {
		k = 0
	}
	return &ws.dirs[k][d]
}

// seedDropout draws, from the workspace's random source, the seeds of the
// streams that make the dropout masks: one per layer and direction, so that
// each direction's goroutine draws its own half of the mask and the result
// does not depend on which goroutine runs first.
func (ws *Workspace) seedDropout() {
	for k := range ws.dropSeeds {
		for d := range ws.dropSeeds[k] {
			ws.dropSeeds[k][d] = [2]uint64{ws.rng.Uint64(), ws.rng.Uint64()}
		}
	}
}

// dropout draws direction d's columns of the inverted-dropout mask of layer
// k's output and applies them: each value is kept with probability 1-p and
// scaled by 1/(1-p).
func (ws *Workspace) dropout(k, d int) {
	s := ws.stack
	p := s.cfg.Dropout
	H, DH := s.cfg.Hidden, s.dirs*s.cfg.Hidden
	lb := &ws.layers[k]
	var keep float32
	if p < 1 {
		keep = 1 / (1 - p)
	}
	src := &ws.dropSrc[d]
	src.Seed(ws.dropSeeds[k][d][0], ws.dropSeeds[k][d][1])
	// A value is dropped when a uniform 32-bit draw falls below p*2^32; one
	// 64-bit draw serves two values (H is rounded up to even draws per row).
	threshold := uint64(float64(p) * (1 << 32))
	for r := 0; r < ws.batch*ws.steps; r++ {
		o := r*DH + d*H
		mask, out, dropped := lb.mask[o:o+H], lb.out[o:o+H], lb.dropped[o:o+H]
		for j := 0; j < H; j += 2 {
			u := src.Uint64()
			mask[j] = keep
			if u&0xffffffff < threshold {
				mask[j] = 0
			}
			if j+1 < H {
				mask[j+1] = keep
				if u>>32 < threshold {
					mask[j+1] = 0
				}
			}
		}
		for j, v := range out {
			dropped[j] = v * mask[j]
		}
	}
}

// stepwiseBatch is the batch from which each time step's input projection
// is its own GEMM (with the recurrent one right after it, while that step's
// gates are in cache) instead of one GEMM over all steps up front: at large
// batches the all-steps gates no longer fit in the caches and would go
// through memory twice more. In evaluation the gates, cell states and
// tanh(c) then need only one step's rows.
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
	st := ws.dirState(k, d)
	out := ws.layers[k].out

	pw := &ws.weights[k][d]
	pw.refresh(c, H)
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
			asm.LSTMCellForward(g, cPrev, st.c[ci*H:(ci+1)*H], out[r*DH+d*H:], st.tanhC[ci*H:])
		}
	}
	if ws.dropping() && k < len(s.cells)-1 {
		ws.dropout(k, d)
	}
}

// dropping reports whether this pass applies dropout between layers.
func (ws *Workspace) dropping() bool { return ws.train && ws.stack.cfg.Dropout > 0 }
