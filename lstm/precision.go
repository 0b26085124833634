package lstm

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
)

// Precision is the arithmetic of an evaluation Forward's matrix products
// (the input projection and the recurrent product of every layer and
// direction). Training passes always run in float32; the cell state, the
// gates' activations and every sum stay float32 whatever the precision.
type Precision int32

const (
	// FP32 multiplies float32 weights and activations (the default).
	FP32 Precision = iota
	// BF16 multiplies bfloat16 copies of the weights (rounded once, when
	// they change) and of the activations (rounded for each product), with
	// float32 sums: asm.GemmBF16.
	BF16
	// INT8 multiplies int8 copies of the weights (one scale per gate
	// unit, quantized once, when they change) by the activations quantized
	// to bytes per row for each product, with exact int32 sums scaled back
	// to float32: asm.GemmInt8.
	INT8
)

// String names the precision as the root package's Config.Precision does.
func (p Precision) String() string {
	switch p {
	case FP32:
		return "fp32"
	case BF16:
		return "bf16"
	case INT8:
		return "int8"
	}
	return fmt.Sprintf("Precision(%d)", int32(p))
}

// SetPrecision sets the arithmetic of the evaluation passes; the weights
// keep their float32 values (and a checkpoint of them stays float32). The
// reduced-precision copies are made by the next evaluation Forward, and
// again after every WeightsChanged. BF16 runs on every CPU, through the Go
// twins of the kernels where asm.BF16Implementation is "generic" (much
// slower): callers that want it only where it is fast check that first; so
// does INT8 (asm.Int8Implementation). Like
// WeightsChanged, it must not run concurrently with a Forward.
func (s *Stack) SetPrecision(p Precision) error {
	if p != FP32 && p != BF16 && p != INT8 {
		return fmt.Errorf("lstm: unknown precision %v", p)
	}
	s.precision.Store(int32(p))
	return nil
}

// Precision is the arithmetic of the evaluation passes (SetPrecision).
func (s *Stack) Precision() Precision { return Precision(s.precision.Load()) }

// even rounds n up to an even number: the bf16 products take pairs.
func even(n int) int { return (n + 1) &^ 1 }

// bf16Weights returns layer k, direction d's operands with the bf16 copies
// of W_ih^T and W_hh^T packed for asm.GemmBF16 as of the last packing of
// the float32 ones (redone first if the weights changed).
func (s *Stack) bf16Weights(k, d int) *packedCell {
	p := s.forwardWeights(k, d)
	c := s.cells[k][d]
	H := s.cfg.Hidden
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bf16Version != p.version {
		// Odd depths get a zero row; the activations a zero column.
		G := 4 * H
		p.wihB = growU16(p.wihB, asm.GemmBF16PackedLen(c.in, G))
		asm.GemmBF16PackB(true, c.wih.Data, c.in, c.in, G, p.wihB)
		p.whhB = growU16(p.whhB, asm.GemmBF16PackedLen(H, G))
		asm.GemmBF16PackB(true, c.whh.Data, H, H, G, p.whhB)
		p.bf16Version = p.version
	}
	return p
}

// int8Weights returns layer k, direction d's operands with the int8 copies
// of W_ih^T and W_hh^T, as bf16Weights does.
func (s *Stack) int8Weights(k, d int) *packedCell {
	p := s.forwardWeights(k, d)
	c := s.cells[k][d]
	H := s.cfg.Hidden
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.int8Version != p.version {
		p.wihQ.Pack(true, c.wih.Data, c.in, c.in, 4*H)
		p.whhQ.Pack(true, c.whh.Data, H, H, 4*H)
		p.int8Version = p.version
	}
	return p
}

// quads rounds n up to a multiple of 4: the int8 products take quads.
func quads(n int) int { return (n + 3) &^ 3 }

func growU16(buf []uint16, n int) []uint16 {
	if cap(buf) < n {
		return make([]uint16, n)
	}
	return buf[:n]
}

// convertInput rounds (bf16) or quantizes (int8) layer k's input
// [B*T, in] once for both directions' input projections.
func (ws *Workspace) convertInput(k int) {
	if ws.prec == INT8 {
		in := ws.stack.cells[k][0].in
		rows := ws.batch * ws.steps
		ws.inQ = growSlice(ws.inQ, rows*quads(in))
		ws.inS = grow(ws.inS, rows)
		asm.QuantizeU8(rows, in, ws.input(k), in, ws.inQ, quads(in), ws.inS)
		return
	}
	ws.convertInputBF16(k)
}

func growSlice[T any](buf []T, n int) []T {
	if cap(buf) < n {
		return make([]T, n)
	}
	return buf[:n]
}

// convertInputBF16 rounds layer k's input [B*T, in] to bf16 in ws.inB, with
// rows of even(in) values (the pad column zero).
func (ws *Workspace) convertInputBF16(k int) {
	in := ws.stack.cells[k][0].in
	inE := even(in)
	rows := ws.batch * ws.steps
	x := ws.input(k)
	ws.inB = growU16(ws.inB, rows*inE)
	if in == inE {
		asm.ToBF16(ws.inB, x[:rows*in])
		return
	}
	for r := 0; r < rows; r++ {
		asm.ToBF16(ws.inB[r*inE:r*inE+in], x[r*in:(r+1)*in])
		ws.inB[r*inE+in] = 0
	}
}

// products sets p up for layer k, direction d in the current pass's
// precision (see dirProducts): in bf16 and int8 the reduced weights (packed
// again first if the weights changed) and h_{t-1}'s scratch.
func (ws *Workspace) products(p *dirProducts, k, d int, gm gemms) {
	s := ws.stack
	c := s.cells[k][d]
	B, T, H := ws.batch, ws.steps, s.cfg.Hidden
	sc := &ws.scratch[d]
	*p = dirProducts{prec: ws.prec, gm: gm, in: ws.input(k), out: ws.output(k), tanhC: sc.tanhC, sc: sc, ws: ws,
		B: B, T: T, H: H, DH: s.dirs * H, d: d, inW: c.in}
	switch ws.prec {
	case FP32:
		p.pw = s.forwardWeights(k, d)
	case BF16:
		p.pw = s.bf16Weights(k, d)
		p.inE, p.HE = even(c.in), even(H)
		sc.hB = growU16(sc.hB, B*p.HE)
		if p.HE > H {
			for b := 0; b < B; b++ {
				sc.hB[b*p.HE+H] = 0 // the pad column; the cells write the rest
			}
		}
	case INT8:
		p.pw = s.int8Weights(k, d)
		p.inQ, p.HQ = quads(c.in), quads(H)
		sc.hQ = growSlice(sc.hQ, B*p.HQ)
		sc.hS = grow(sc.hS, B)
		sc.tS = grow(sc.tS, B)
	}
	p.bias = p.pw.bias
	if ws.prec != FP32 && B >= stepwiseBatch {
		p.reset = p.bias
	}
}
