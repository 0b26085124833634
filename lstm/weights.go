package lstm

import (
	"math"
	"sync"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/blas"
)

// packedCell is one layer and direction's weights packed for the GEMM
// micro-kernels. It belongs to the Stack and is shared by all its
// workspaces (concurrent predictors read it at the same time). Packing costs
// about as much as a batch-1 forward pass, so it is redone only when the
// weights changed: when the owner said so (Stack.WeightsChanged bumps the
// stack's generation), when the kernel level changed the panel width, or
// when a fixed sample of the weights differs from its values at the last
// packing (the safety net for an owner that forgot to say so).
type packedCell struct {
	mu      sync.Mutex
	gen     uint64    // the stack generation packed at; 0: never packed
	nr      int       // micro-kernel panel width packed for
	version uint64    // counts packings, so that whh knows it is stale
	sample  []float32 // sampled weight values at the last packing
	bias    []float32 // b_ih + b_hh

	wihT blas.PackedB // W_ih^T, in x 4H: the input projection
	whhT blas.PackedB // W_hh^T, H x 4H: the forward recurrence

	// whh is W_hh, 4H x H, for the backward recurrence; packed on the first
	// Backward after each packing of the forward operands.
	whh        blas.PackedB
	whhVersion uint64

	// wihB and whhB are W_ih^T and W_hh^T in bf16 for asm.GemmBF16, packed
	// by the first bf16 evaluation pass after each packing of the float32
	// operands.
	wihB, whhB  []uint16
	bf16Version uint64

	// wihQ and whhQ are the same in int8 for asm.GemmInt8.
	wihQ, whhQ  asm.Int8B
	int8Version uint64
}

// samplesPerTensor is how many values of each of a cell's four tensors the
// safety net compares: enough that an optimiser step or a checkpoint load
// (which change every value) is always seen, few enough to cost a few
// microseconds per pass against the full comparison's 0.1 ms.
const samplesPerTensor = 32

// tensors lists c's parameter data in the order the sample takes them.
func (c *cell) tensors() [4][]float32 {
	return [4][]float32{c.wih.Data, c.whh.Data, c.bih.Data, c.bhh.Data}
}

// sampleAt is the i-th of n evenly spread indices (first and last included)
// into a tensor of length size.
func sampleAt(i, n, size int) int {
	if n <= 1 {
		return 0
	}
	return i * (size - 1) / (n - 1)
}

// sampleMatches reports whether c's sampled values are bit for bit those
// recorded at the last packing (NaN weights compare equal to themselves).
func (p *packedCell) sampleMatches(c *cell) bool {
	j := 0
	for _, v := range c.tensors() {
		n := min(len(v), samplesPerTensor)
		for i := 0; i < n; i++ {
			if j >= len(p.sample) || math.Float32bits(v[sampleAt(i, n, len(v))]) != math.Float32bits(p.sample[j]) {
				return false
			}
			j++
		}
	}
	return j == len(p.sample)
}

// takeSample records c's sampled values.
func (p *packedCell) takeSample(c *cell) {
	p.sample = p.sample[:0]
	for _, v := range c.tensors() {
		n := min(len(v), samplesPerTensor)
		for i := 0; i < n; i++ {
			p.sample = append(p.sample, v[sampleAt(i, n, len(v))])
		}
	}
}

// forwardWeights returns layer k, direction d's packed forward operands, packing
// them first if the weights changed since the last packing.
func (s *Stack) forwardWeights(k, d int) *packedCell {
	c, p := s.cells[k][d], &s.packed[k][d]
	_, nr := asm.GemmTile()
	gen := s.gen.Load()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen == gen && p.nr == nr && p.sampleMatches(c) {
		return p
	}
	G := 4 * s.cfg.Hidden
	p.bias = grow(p.bias, G)
	for j := range p.bias {
		p.bias[j] = c.bih.Data[j] + c.bhh.Data[j]
	}
	p.wihT.Pack(true, c.in, G, c.wih.Data, c.in)
	p.whhT.Pack(true, s.cfg.Hidden, G, c.whh.Data, s.cfg.Hidden)
	p.takeSample(c)
	p.gen, p.nr = gen, nr
	p.version++
	return p
}

// backwardWhh returns W_hh of layer k, direction d packed for
// dh = dGates W_hh, as of the forward operands' last packing.
func (s *Stack) backwardWhh(k, d int) *blas.PackedB {
	c, p := s.cells[k][d], &s.packed[k][d]
	H := s.cfg.Hidden
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.whhVersion != p.version {
		p.whh.Pack(false, 4*H, H, c.whh.Data, H)
		p.whhVersion = p.version
	}
	return &p.whh
}

// WeightsChanged tells the stack that its parameter values changed in place
// (an optimiser step, a checkpoint or snapshot copied into Params(), a manual
// edit), so that the next Forward re-packs them for the GEMMs. Call it after
// every such change and before the next Forward or Backward; like the change
// itself, it must not run concurrently with a Forward or Backward on this
// stack. InitUniform calls it itself, and a new Stack packs on first use.
//
// As a safety net, Forward also compares a fixed sample of 32 values per
// tensor with their values at the last packing: that catches changes that
// touch every weight (an optimiser step, a load) even without this call, but
// not an edit of a few values, so the call is the contract.
func (s *Stack) WeightsChanged() { s.gen.Add(1) }

// PackedBytes is the memory the stack holds in packed copies of its weights
// (shared by all its workspaces): W_ih^T and W_hh^T once packed by a
// Forward, W_hh once a Backward ran, and their bf16 (int8) copies once a
// bf16 (int8) evaluation pass ran.
func (s *Stack) PackedBytes() int {
	n := 0
	for k := range s.packed {
		for d := range s.packed[k] {
			p := &s.packed[k][d]
			p.mu.Lock()
			n += cap(p.bias) + cap(p.sample) + (cap(p.wihB)+cap(p.whhB)+1)/2 + (p.wihQ.Bytes()+p.whhQ.Bytes()+3)/4
			for _, pb := range []*blas.PackedB{&p.wihT, &p.whhT, &p.whh} {
				n += packedFloats(pb, p.nr)
			}
			p.mu.Unlock()
		}
	}
	return 4 * n
}

// packedFloats is the storage of a PackedB packed with panel width nr: k
// rows of n rounded up to nr (blas.PackedB's documented layout).
func packedFloats(pb *blas.PackedB, nr int) int {
	if nr == 0 {
		return 0
	}
	return pb.K() * ((pb.N() + nr - 1) / nr * nr)
}
