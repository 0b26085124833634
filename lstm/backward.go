package lstm

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/blas"
)

// Backward propagates dOut, the gradient of the loss with respect to the
// output of the last Forward(train=true) on ws ([batch, steps, OutputSize()]),
// back through time and the layers. It ADDS the parameter gradients to each
// Param.Grad and returns the gradient of the input [batch, steps, Input],
// which ws owns until its next Backward. dOut is not modified.
//
// Calling it without a preceding Forward(train=true) on ws, or with a dOut of
// the wrong length, is a programming error and panics.
func (s *Stack) Backward(ws *Workspace, dOut []float32) []float32 {
	if ws == nil || ws.stack != s {
		panic("lstm: Backward with a Workspace from another Stack")
	}
	if !ws.ready || !ws.train {
		panic("lstm: Backward without a preceding Forward(train=true) on this Workspace")
	}
	bt := ws.batch * ws.steps
	if want := bt * s.OutputSize(); len(dOut) != want {
		panic(fmt.Sprintf("lstm: Backward: dOut has %d values, want batch*steps*outputs = %d*%d*%d = %d",
			len(dOut), ws.batch, ws.steps, s.OutputSize(), want))
	}
	ws.prepareBackward()
	ws.dOut = dOut
	for k := len(s.cells) - 1; k >= 0; k-- {
		ws.bothDirs(k, true)
		// Sum the directions' input gradients in a fixed order, so the serial
		// and the concurrent paths agree bit for bit.
		in := s.cells[k][0].in
		sum := ws.grad[k%2][:bt*in]
		copy(sum, ws.bwd[0].dIn[:bt*in])
		for d := 1; d < s.dirs; d++ {
			asm.Axpy(1, ws.bwd[d].dIn[:bt*in], sum)
		}
		if k > 0 && ws.dropping() {
			mask := ws.layers[k-1].mask
			for i := range sum {
				sum[i] *= mask[i]
			}
		}
		ws.dOut = sum // the gradient of layer k-1's output
	}
	ws.dOut = nil
	return ws.grad[0][:bt*s.cfg.Input]
}

// backwardDir runs layer k, direction d backwards through time with ws.dOut
// as the gradient of the layer's output, accumulating the parameter gradients
// and leaving this direction's input gradient in ws.bwd[d].dIn.
func (ws *Workspace) backwardDir(k, d int, gm gemms) {
	gemm := gm.plain
	s := ws.stack
	c := s.cells[k][d]
	B, T, H := ws.batch, ws.steps, s.cfg.Hidden
	G, DH := 4*H, s.dirs*H
	st := &ws.dirs[k][d]
	bw := &ws.bwd[d]
	out := ws.layers[k].out
	dOut := ws.dOut
	dGates := bw.dGates
	dh, dc := bw.dh, bw.dc
	clear(dh)
	clear(dc)
	var whh *blas.PackedB
	if T > 1 {
		whh = ws.weights[k][d].backwardWhh(c, H)
	}

	for step := T - 1; step >= 0; step-- {
		t, prev := step, step-1
		if c.reverse {
			t, prev = T-1-step, T-step
		}
		for b := 0; b < B; b++ {
			r := b*T + t
			// dh holds the recurrent gradient from the step after this one;
			// add the gradient arriving at this step's output.
			dhb := dh[b*H : (b+1)*H]
			asm.Axpy(1, dOut[r*DH+d*H:r*DH+d*H+H], dhb)
			cPrev := ws.zero
			if step > 0 {
				cPrev = st.c[(b*T+prev)*H:]
			}
			asm.LSTMCellBackward(dGates[r*G:(r+1)*G], st.gates[r*G:(r+1)*G], cPrev, st.tanhC[r*H:], dhb, dc[b*H:(b+1)*H])
		}
		if step > 0 {
			// dh[:, prev] = dGates[:, t] W_hh over the whole batch.
			gm.packed(B, 1, dGates[t*G:], T*G, whh, 0, dh, H)
		}
	}

	// h_{t-1} for every (b, t) in processing order, zero at the first step,
	// so that dW_hh is one GEMM over all time steps.
	hPrev := bw.hPrev
	for b := 0; b < B; b++ {
		for t := 0; t < T; t++ {
			dst := hPrev[(b*T+t)*H : (b*T+t+1)*H]
			prev := t - 1
			if c.reverse {
				prev = t + 1
			}
			if prev < 0 || prev >= T {
				clear(dst)
				continue
			}
			copy(dst, out[(b*T+prev)*DH+d*H:])
		}
	}
	in := ws.input(k)
	bt := B * T
	gemm(true, false, G, c.in, bt, 1, dGates, G, in, c.in, 1, c.wih.Grad, c.in)
	gemm(true, false, G, H, bt, 1, dGates, G, hPrev, H, 1, c.whh.Grad, H)
	dBias := bw.dBias
	clear(dBias)
	for r := 0; r < bt; r++ {
		asm.Axpy(1, dGates[r*G:(r+1)*G], dBias)
	}
	asm.Axpy(1, dBias, c.bih.Grad)
	asm.Axpy(1, dBias, c.bhh.Grad)
	gemm(false, false, bt, c.in, G, 1, dGates, G, c.wih.Data, c.in, 0, bw.dIn, c.in)
}
