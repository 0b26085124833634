package lstm

import (
	"math/bits"

	"github.com/novacron/perfpredict/asm"
)

// Dropout between layers in training. Each layer and direction draws its
// columns of the mask from its own stream, seeded per pass from the
// workspace's random source, inside that direction's goroutine: the masks do
// not depend on which goroutine runs first, and the serial and parallel
// paths agree. The mask is kept as bits (1: kept); the dropped-out output,
// the next layer's input, is materialised into one scratch buffer when a
// layer needs it, in Forward and again in Backward.

// wyrand is Wang Yi's wyrand generator: a Weyl sequence hashed by one 64x64
// -> 128-bit multiply. Unlike PCG, whose 128-bit multiply is on the chain
// from one state to the next, only an addition is, so a mask row costs about
// a nanosecond per pair of values.
type wyrand uint64

func (w *wyrand) next() uint64 {
	*w += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(uint64(*w), uint64(*w)^0xe7037ed1a0b428db)
	return hi ^ lo
}

// seedDropout draws, from the workspace's random source, the seeds of this
// pass's mask streams, one per layer and direction.
func (ws *Workspace) seedDropout() {
	for k := range ws.dropSeeds {
		for d := range ws.dropSeeds[k] {
			ws.dropSeeds[k][d] = ws.rng.Uint64()
		}
	}
}

// dropThreshold is p*2^32: a value is dropped when its uniform 32-bit draw
// falls below it.
func dropThreshold(p float32) uint64 { return uint64(float64(p) * (1 << 32)) }

// drawMask draws direction d's columns of the inverted-dropout mask of layer
// k's output as bits (1: kept), each value kept with probability 1-p. Each
// 64-bit draw of the stream serves two values, low half first; a row of H
// values takes ceil(H/2) draws.
func (ws *Workspace) drawMask(k, d int) {
	H := ws.stack.cfg.Hidden
	W := maskWords(H)
	src := wyrand(ws.dropSeeds[k][d])
	threshold := dropThreshold(ws.stack.cfg.Dropout)
	mask := ws.masks[k][d]
	for r := 0; r < ws.batch*ws.steps; r++ {
		row := mask[r*W : (r+1)*W]
		for w := range row {
			// Without branches (a fifth of them would be mispredicted): for
			// u and the threshold below 2^32, u - threshold is negative
			// exactly when u is below it, so bit 63 of the difference is the
			// "dropped" bit.
			var dropped uint64
			n := min(64, H-64*w)
			for j := 0; j < n; j += 2 {
				u := src.next()
				dropped |= ((u&0xffffffff - threshold) >> 63) << j
				dropped |= ((u>>32 - threshold) >> 63) << (j + 1)
			}
			row[w] = ^dropped & (1<<n - 1)
		}
	}
}

// keepScale is the factor of a kept value: 1/(1-p), or 0 when p is 1.
func (ws *Workspace) keepScale() float32 {
	if p := ws.stack.cfg.Dropout; p < 1 {
		return 1 / (1 - p)
	}
	return 0
}

// applyDropout materialises the dropped-out output of layer k (the input of
// layer k+1) in ws.dropped, unless it is there already.
func (ws *Workspace) applyDropout(k int) {
	if ws.droppedOf == k {
		return
	}
	ws.droppedOf = -1
	ws.splitRows(k, jobDropout)
	ws.droppedOf = k
}

// dropoutRows sets rows [lo, hi) of ws.dropped to layer k's output times the
// mask: each value kept and scaled by 1/(1-p), or multiplied by 0 (NaN stays
// NaN, as in PyTorch). The block is scaled vectorised as a whole, then the
// dropped values (a fraction p) are fixed up one by one.
func (ws *Workspace) dropoutRows(k, lo, hi int) {
	DH := ws.stack.dirs * ws.stack.cfg.Hidden
	src, dst := ws.output(k)[lo*DH:hi*DH], ws.dropped[lo*DH:hi*DH]
	copy(dst, src)
	asm.Scale(ws.keepScale(), dst)
	ws.zeroDropped(k, src, dst, lo, hi)
}

// dropoutGrad multiplies rows [lo, hi) of g [B*T, H*dirs], the gradient of
// layer k's dropped-out output, by the mask, giving the gradient of the
// output itself.
func (ws *Workspace) dropoutGrad(k int, g []float32, lo, hi int) {
	DH := ws.stack.dirs * ws.stack.cfg.Hidden
	block := g[lo*DH : hi*DH]
	asm.Scale(ws.keepScale(), block)
	ws.zeroDropped(k, block, block, lo, hi)
}

// zeroDropped sets dst[i] = src[i]*0 for the values of rows [lo, hi) that
// layer k's mask drops (src and dst hold those rows only).
func (ws *Workspace) zeroDropped(k int, src, dst []float32, lo, hi int) {
	s := ws.stack
	H, DH := s.cfg.Hidden, s.dirs*s.cfg.Hidden
	W := maskWords(H)
	for d := 0; d < s.dirs; d++ {
		mask := ws.masks[k][d]
		for r := lo; r < hi; r++ {
			o := (r-lo)*DH + d*H
			for w, kept := range mask[r*W : (r+1)*W] {
				n := min(64, H-64*w)
				for z := ^kept & (1<<n - 1); z != 0; z &= z - 1 {
					j := o + 64*w + bits.TrailingZeros64(z)
					dst[j] = src[j] * 0
				}
			}
		}
	}
}
