package blas

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
)

// PackedB is a k×n B operand packed once into the micro-kernel's panel
// format, for products that multiply many A by the same B (an LSTM's weights
// at every time step): SgemmPackedB then skips the packing of B, which for a
// few rows of A costs as much as the product.
//
// Layout: for each depth block p0 = 0, KC, 2KC, ... of kb = min(KC, k-p0)
// rows, ceil(n/NR) panels of kb×NR floats (asm.GemmMicro's B format, last
// panel zero-padded); block p0 starts at p0*nPad with nPad = n rounded up to
// NR. NR is the active asm level's; a PackedB used after asm.SetLevel
// switched to another panel width still gives correct results, slowly.
//
// A PackedB is read-only once packed and may be shared by goroutines.
type PackedB struct {
	k, n     int
	kc, nr   int
	nPad     int
	data     []float32
	hasValue bool
}

// PackB packs op(B), k×n (B itself when !transB, with row stride ldb; B^T
// when transB, B being n×k), into a new PackedB.
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	p := new(PackedB)
	p.Pack(transB, k, n, b, ldb)
	return p
}

// Pack packs op(B) into p as PackB does, reusing p's storage when it is large
// enough: re-packing weights after every optimiser step allocates nothing.
func (p *PackedB) Pack(transB bool, k, n int, b []float32, ldb int) {
	if k < 0 || n < 0 {
		panic(fmt.Sprintf("blas: PackB: negative dimension k=%d n=%d", k, n))
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("PackB", "B", br, bc, b, ldb)
	_, nr := asm.GemmTile()
	p.k, p.n, p.kc, p.nr = k, n, gemmKC, nr
	p.nPad = (n + nr - 1) / nr * nr
	p.data = grow(p.data, k*p.nPad)
	p.hasValue = true
	for pc := 0; pc < k; pc += p.kc {
		kcb := min(p.kc, k-pc)
		off := pc * ldb
		if transB {
			off = pc
		}
		asm.GemmPackB(transB, b[off:], ldb, kcb, n, p.data[pc*p.nPad:pc*p.nPad+kcb*p.nPad])
	}
}

// K and N are the shape of the packed op(B).
func (p *PackedB) K() int { return p.k }

// N is the number of columns of the packed op(B).
func (p *PackedB) N() int { return p.n }

// SgemmPackedB computes C = alpha*A*B + beta*C with B packed by PackB: A is
// m×k (row stride lda), C is m×n (row stride ldc), k and n are pb's. When
// beta is 0, C is not read. Large products run in parallel across
// GOMAXPROCS, split by rows; SgemmPackedBSerial never starts goroutines.
func SgemmPackedB(m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	checkPacked("SgemmPackedB", m, a, lda, pb, c, ldc)
	if gemmTrivial(m, pb.n, pb.k, alpha, beta, c, ldc) {
		return
	}
	if w := workers(m, pb.n, pb.k); w > 1 && m > 1 {
		// By rows: every goroutine reads the whole packed B.
		j := newJob(false, false, m, pb.n, pb.k, alpha, a, lda, nil, 0, pb, beta, c, ldc)
		j.run(w, false)
		return
	}
	sgemm(false, false, m, pb.n, pb.k, alpha, a, lda, nil, 0, pb, beta, c, ldc)
}

// SgemmPackedBSerial is SgemmPackedB on the calling goroutine only.
func SgemmPackedBSerial(m int, alpha float32, a []float32, lda int, pb *PackedB, beta float32, c []float32, ldc int) {
	checkPacked("SgemmPackedBSerial", m, a, lda, pb, c, ldc)
	if gemmTrivial(m, pb.n, pb.k, alpha, beta, c, ldc) {
		return
	}
	sgemm(false, false, m, pb.n, pb.k, alpha, a, lda, nil, 0, pb, beta, c, ldc)
}

func checkPacked(fn string, m int, a []float32, lda int, pb *PackedB, c []float32, ldc int) {
	if pb == nil || !pb.hasValue {
		panic(fmt.Sprintf("blas: %s: B not packed", fn))
	}
	if m < 0 {
		panic(fmt.Sprintf("blas: %s: negative dimension m=%d", fn, m))
	}
	checkMatrix(fn, "A", m, pb.k, a, lda)
	checkMatrix(fn, "C", m, pb.n, c, ldc)
}
