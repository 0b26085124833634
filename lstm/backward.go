package lstm

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
)

// Backward propagates dOut, the gradient of the loss with respect to the
// output of the last Forward(train=true) on ws ([batch, steps, OutputSize()]),
// back through time and the layers. It ADDS the parameter gradients to each
// Param.Grad and returns the gradient of the input [batch, steps, Input],
// which ws owns until its next Backward (nil with ws.ParamGradsOnly). dOut
// is not modified.
//
// Backward overwrites the activations it consumes, so each training Forward
// supports one Backward. Calling it without a preceding Forward(train=true)
// on ws, a second time for the same Forward, or with a dOut of the wrong
// length is a programming error and panics.
func (s *Stack) Backward(ws *Workspace, dOut []float32) []float32 {
	if ws == nil || ws.stack != s {
		panic("lstm: Backward with a Workspace from another Stack")
	}
	if ws.doneBwd {
		panic("lstm: Backward called twice for one Forward(train=true) (it consumes the activations)")
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
	ws.doneBwd = true
	ws.dOut = dOut
	for k := len(s.cells) - 1; k >= 0; k-- {
		if k > 0 && ws.dropping() {
			ws.applyDropout(k - 1) // layer k's input, for dW_ih (and a recomputation)
		}
		if !ws.kept(k) {
			ws.bothDirs(k, jobRecompute)
		}
		ws.bothDirs(k, jobBackward)
		if k == 0 && ws.ParamGradsOnly {
			ws.dOut = nil
			return nil
		}
		// Layer k's output gradient is consumed: overwrite it with the
		// gradient of its input, the output gradient of layer k-1.
		ws.splitRows(k, jobInputGrad)
		ws.dOut = ws.grad[:bt*s.cells[k][0].in]
	}
	ws.dOut = nil
	return ws.grad[:bt*s.cfg.Input]
}

// inputGradRows computes rows [lo, hi) of layer k's input gradient into
// ws.grad: the directions' dGates W_ih summed in a fixed order (so the serial
// and the concurrent paths agree bit for bit), then through the dropout that
// made the input from layer k-1's output.
func (ws *Workspace) inputGradRows(k, lo, hi int, gm gemms) {
	s := ws.stack
	G := 4 * s.cfg.Hidden
	in := s.cells[k][0].in
	dst := ws.grad[lo*in:]
	for d, c := range s.cells[k] {
		beta := float32(1)
		if d == 0 {
			beta = 0
		}
		gm.plain(false, false, hi-lo, in, G, 1, ws.slot(k, d).gates[lo*G:], G, c.wih.Data, in, beta, dst, in)
	}
	if k > 0 && ws.dropping() {
		ws.dropoutGrad(k-1, ws.grad, lo, hi)
	}
}

// backwardDir runs layer k, direction d backwards through time with ws.dOut
// as the gradient of the layer's output, replacing the gate activations with
// their gradients and accumulating the parameter gradients.
func (ws *Workspace) backwardDir(k, d int, gm gemms) {
	gemm := gm.plain
	s := ws.stack
	c := s.cells[k][d]
	B, T, H := ws.batch, ws.steps, s.cfg.Hidden
	G, DH := 4*H, s.dirs*H
	st := ws.slot(k, d)
	sc := &ws.scratch[d]
	out := ws.output(k)
	dOut := ws.dOut
	dGates := st.gates // the activations become their gradients in place
	dh, dc, tanhC, dBias := sc.dh, sc.dc, sc.tanhC, sc.dBias
	clear(dh)
	clear(dc)
	clear(dBias)
	whh := s.backwardWhh(k, d)

	// Row of (b, t) in the gates and cell states is b*sb + t*stp (see
	// dirBufs.timeMajor).
	sb, stp := T, 1
	if st.timeMajor {
		sb, stp = 1, B
	}
	for step := T - 1; step >= 0; step-- {
		t, prev := step, step-1
		if c.reverse {
			t, prev = T-1-step, T-step
		}
		for b := 0; b < B; b++ {
			r := b*T + t
			rs := b*sb + t*stp
			// dh holds the recurrent gradient from the step after this one;
			// add the gradient arriving at this step's output.
			dhb := dh[b*H : (b+1)*H]
			asm.Axpy(1, dOut[r*DH+d*H:r*DH+d*H+H], dhb)
			cPrev := ws.zero
			if step > 0 {
				cPrev = st.c[(b*sb+prev*stp)*H:]
			}
			asm.Tanh(tanhC, st.c[rs*H:(rs+1)*H])
			g := dGates[rs*G : (rs+1)*G]
			asm.LSTMCellBackward(g, g, cPrev, tanhC, dhb, dc[b*H:(b+1)*H])
			asm.Axpy(1, g, dBias) // while the row is in L1
		}
		if step > 0 {
			// dh[:, prev] = dGates[:, t] W_hh over the whole batch.
			gm.packed(B, 1, dGates[t*stp*G:], sb*G, whh, 0, dh, H)
		}
	}
	if st.timeMajor {
		// The products below pair gate rows with the layer's [B, T] input
		// and output rows: put the gradients in that order.
		for b := 0; b < B; b++ {
			for t := 0; t < T; t++ {
				copy(st.spare[(b*T+t)*G:(b*T+t+1)*G], dGates[(t*B+b)*G:(t*B+b+1)*G])
			}
		}
		st.gates, st.spare = st.spare, st.gates
		st.timeMajor = false
		dGates = st.gates
	}

	in := ws.input(k)
	bt := B * T
	gemm(true, false, G, c.in, bt, 1, dGates, G, in, c.in, 1, c.wih.Grad, c.in)
	asm.Axpy(1, dBias, c.bih.Grad)
	asm.Axpy(1, dBias, c.bhh.Grad)

	// dW_hh = sum over (b, t) of dGates[b, t]^T h_{t-1}: one GEMM over all
	// rows, pairing gate row r with output row r-1 (r+1 in reverse). The
	// pairs that cross from one sequence to the next fall on the first
	// processed step of each sequence, whose h_{t-1} is zero: those gate rows
	// are set aside and zeroed for the product, then put back for the input
	// gradient.
	if T == 1 {
		return
	}
	t0 := 0
	if c.reverse {
		t0 = T - 1
	}
	for b := 0; b < B; b++ {
		row := dGates[(b*T+t0)*G : (b*T+t0+1)*G]
		copy(sc.first[b*G:], row)
		clear(row)
	}
	if c.reverse {
		gemm(true, false, G, H, bt-1, 1, dGates, G, out[DH+d*H:], DH, 1, c.whh.Grad, H)
	} else {
		gemm(true, false, G, H, bt-1, 1, dGates[G:], G, out[d*H:], DH, 1, c.whh.Grad, H)
	}
	for b := 0; b < B; b++ {
		copy(dGates[(b*T+t0)*G:(b*T+t0+1)*G], sc.first[b*G:(b+1)*G])
	}
}
