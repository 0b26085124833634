package blas

import (
	"sync"

	"github.com/novacron/perfpredict/asm"
)

// Cache blocking (this machine: 48 KiB L1d, 1 MiB L2 per core). A packed B
// block of gemmKC×gemmNC floats (512 KiB) stays in L2 while one packed A panel
// of MR×gemmKC floats (14 KiB for MR 14) stays in L1 and the micro-kernel
// sweeps the block's columns with it. BenchmarkGemmBlocking: at 512³ every
// KC in 128..512 and NC in 256..1024 is within 3% (about 250 GFLOP/s); at
// 1024³ KC 256 with NC 512 is among the best, larger blocks fall off.
//
// A is packed gemmMCPanels panels at a time: copying several panels per
// sweep over the rows of A^T is 4x faster than panel by panel.
//
// Blocks of at most gemmDirectPanels B panels skip packing A: the kernel
// reads A in place (asm.GemmMicroDirect, same result to the bit), since each
// packed A panel would serve only that many kernel calls. BenchmarkSgemmDirect
// (CPU time): the training's per-step products (n 32..128) take 5-40% less,
// n=512 is within 3% either way (transA at 512³ 1-3% slower, A itself 2%
// faster), hence 8 panels.
var (
	gemmKC           = 256
	gemmNC           = 512
	gemmMCPanels     = 8
	gemmDirectPanels = 8
)

// gemmBuf holds a goroutine's packing buffers; they are pooled so that a
// product of a size seen before allocates nothing.
type gemmBuf struct{ a, b []float32 }

var gemmPool = sync.Pool{New: func() any { return new(gemmBuf) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// sgemm is the blocked product on the calling goroutine, for validated
// arguments with m, n, k > 0 and alpha != 0. B comes from b or, when pb is
// not nil, from that packed operand (b, ldb and transB are then unused).
func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, pb *PackedB, beta float32, c []float32, ldc int) {
	if pb == nil && m == 1 {
		gemv(transA, transB, n, k, alpha, a, lda, b, ldb, beta, c)
		return
	}
	if pb == nil && n == 1 {
		gemvColumn(transA, transB, m, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	mr, nr := asm.GemmTile()
	kc, nc := gemmKC, gemmNC
	micro := asm.GemmMicro
	direct := asm.GemmDirect()
	if pb != nil {
		kc = pb.kc
		if pb.nr != nr {
			// Packed for another level (asm.SetLevel since): correct but slow.
			nr = pb.nr
			direct = false
			micro = func(mr, n, k int, alpha float32, a, b []float32, beta float32, c []float32, ldc int) {
				asm.GemmMicroRef(pb.nr, mr, n, k, alpha, a, b, beta, c, ldc)
			}
		}
	}
	nc = max(nc/nr, 1) * nr
	buf := gemmPool.Get().(*gemmBuf)
	defer gemmPool.Put(buf)
	for jc := 0; jc < n; jc += nc {
		ncb := min(nc, n-jc)
		ncPad := (ncb + nr - 1) / nr * nr
		for pc := 0; pc < k; pc += kc {
			kcb := min(kc, k-pc)
			var bp []float32
			if pb != nil {
				off := pc*pb.nPad + jc*kcb
				bp = pb.data[off : off+kcb*ncPad]
			} else {
				buf.b = grow(buf.b, kcb*ncPad)
				bp = buf.b
				off := pc*ldb + jc
				if transB {
					off = jc*ldb + pc
				}
				asm.GemmPackB(transB, b[off:], ldb, kcb, ncb, bp)
			}
			be := beta
			if pc > 0 {
				be = 1
			}
			if direct && ncPad <= gemmDirectPanels*nr {
				for i0 := 0; i0 < m; i0 += mr {
					mrb := min(mr, m-i0)
					co := i0*ldc + jc
					asm.GemmMicroDirect(transA, mrb, ncb, kcb, alpha, a[offA(transA, i0, lda)+offAK(transA, pc, lda):], lda, bp, be, c[co:co+(mrb-1)*ldc+ncb], ldc)
				}
				continue
			}
			mc := gemmMCPanels * mr
			for ic := 0; ic < m; ic += mc {
				mcb := min(mc, m-ic)
				var ablk []float32
				if mcb == 1 && !transA {
					ablk = a[ic*lda+pc : ic*lda+pc+kcb]
				} else {
					buf.a = grow(buf.a, mcb*kcb)
					ablk = buf.a
					off := ic*lda + pc
					if transA {
						off = pc*lda + ic
					}
					asm.GemmPackA(transA, a[off:], lda, mcb, kcb, ablk)
				}
				for ir := 0; ir < mcb; ir += mr {
					mrb := min(mr, mcb-ir)
					co := (ic+ir)*ldc + jc
					micro(mrb, ncb, kcb, alpha, ablk[ir*kcb:(ir+mrb)*kcb], bp, be, c[co:co+(mrb-1)*ldc+ncb], ldc)
				}
			}
		}
	}
}

// gemv is the product for a single row of C, where packing B would cost as
// much as the product itself: c = alpha*op(A)·op(B) + beta*c with op(A) 1×k.
func gemv(transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) {
	c = c[:n]
	var buf *gemmBuf
	x := a[:k]
	if transA && k > 1 {
		// A is k×1 with row stride lda: gather its column.
		buf = gemmPool.Get().(*gemmBuf)
		defer gemmPool.Put(buf)
		buf.a = grow(buf.a, k)
		for p := range buf.a {
			buf.a[p] = a[p*lda]
		}
		x = buf.a
	}
	if transB {
		// B is n×k: each output is a dot product with one row of b.
		asm.Gemv(alpha, b[:(n-1)*ldb+k], ldb, x, beta, c)
		return
	}
	if beta == 0 {
		clear(c)
	} else if beta != 1 {
		asm.Scale(beta, c)
	}
	for p, v := range x {
		asm.Axpy(alpha*v, b[p*ldb:p*ldb+n], c)
	}
}

// gemvColumn is the product for a single column of C (a linear layer with
// one output): c = alpha*op(A)·op(B) + beta*c with op(B) k×1, where a panel
// of B would be one useful column in NR.
func gemvColumn(transA, transB bool, m, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	buf := gemmPool.Get().(*gemmBuf)
	defer gemmPool.Put(buf)
	x := b[:k]
	if !transB && k > 1 {
		// op(B) is a column of b: gather it.
		buf.a = grow(buf.a, k)
		for p := range buf.a {
			buf.a[p] = b[p*ldb]
		}
		x = buf.a
	}
	y := c[:m]
	yBeta := beta
	if ldc != 1 {
		// C is a strided column: compute into a contiguous one, then merge.
		buf.b = grow(buf.b, m)
		y, yBeta = buf.b, 0
	}
	if !transA {
		asm.Gemv(alpha, a[:(m-1)*lda+k], lda, x, yBeta, y)
	} else {
		// A is k×m: op(A)·x is a sum of rows of a.
		if yBeta == 0 {
			clear(y)
		} else if yBeta != 1 {
			asm.Scale(yBeta, y)
		}
		for p, v := range x {
			asm.Axpy(alpha*v, a[p*lda:p*lda+m], y)
		}
	}
	if ldc != 1 {
		for i, v := range y {
			if beta == 0 {
				c[i*ldc] = v
			} else {
				c[i*ldc] = v + beta*c[i*ldc]
			}
		}
	}
}
