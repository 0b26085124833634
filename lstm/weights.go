package lstm

import (
	"bytes"
	"unsafe"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/blas"
)

// packedWeights is one layer and direction's weights packed for the GEMM
// micro-kernels, kept in the Workspace across passes. Packing costs about as
// much as a batch-1 forward pass, so it is redone only when the weights differ
// from the snapshot they were packed from (after an optimiser step, a
// checkpoint load) or the kernel level changed.
type packedWeights struct {
	snap []float32    // W_ih | W_hh | b_ih | b_hh as last packed
	bias []float32    // b_ih + b_hh
	wihT blas.PackedB // W_ih^T, in x 4H: the input projection
	whhT blas.PackedB // W_hh^T, H x 4H: the forward recurrence
	whh  blas.PackedB // W_hh, 4H x H: the backward recurrence, packed on demand
	nr   int          // micro-kernel panel width packed for
	// whhFresh says whh matches snap.
	whhFresh bool
}

// asBytes views a float32 slice as bytes, for a bit-exact comparison (NaN
// weights compare equal to themselves).
func asBytes(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
}

// refresh re-packs the weights of c if they changed since the last pass.
func (p *packedWeights) refresh(c *cell, hidden int) {
	_, nr := asm.GemmTile()
	parts := [4][]float32{c.wih.Data, c.whh.Data, c.bih.Data, c.bhh.Data}
	n := 0
	for _, v := range parts {
		n += len(v)
	}
	if len(p.snap) == n && p.nr == nr {
		off, same := 0, true
		for _, v := range parts {
			if !bytes.Equal(asBytes(p.snap[off:off+len(v)]), asBytes(v)) {
				same = false
				break
			}
			off += len(v)
		}
		if same {
			return
		}
	}
	p.snap = grow(p.snap, n)
	off := 0
	for _, v := range parts {
		copy(p.snap[off:], v)
		off += len(v)
	}
	G := 4 * hidden
	p.bias = grow(p.bias, G)
	for j := range p.bias {
		p.bias[j] = c.bih.Data[j] + c.bhh.Data[j]
	}
	p.wihT.Pack(true, c.in, G, c.wih.Data, c.in)
	p.whhT.Pack(true, hidden, G, c.whh.Data, hidden)
	p.nr = nr
	p.whhFresh = false
}

// backwardWhh returns W_hh packed for dh = dGates W_hh.
func (p *packedWeights) backwardWhh(c *cell, hidden int) *blas.PackedB {
	if !p.whhFresh {
		p.whh.Pack(false, 4*hidden, hidden, c.whh.Data, hidden)
		p.whhFresh = true
	}
	return &p.whh
}
