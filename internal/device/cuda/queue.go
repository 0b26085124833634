//go:build cuda && cgo

package cuda

/*
#include "capi.h"
*/
import "C"

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/novacron/perfpredict/internal/device"
)

// queue is a CUDA stream with its own cuBLAS handle and an event that
// WaitFor records on it.
type queue struct {
	dev       *Device
	id        int
	stream    C.uint64_t
	event     C.uint64_t
	blas      C.uint64_t
	workspace C.uint64_t

	mu        sync.Mutex
	err       error // first failure of enqueued work (sticky)
	capturing bool
}

// fail records err as the queue's error if it is the first; it returns err.
func (q *queue) fail(err error) error {
	if err != nil {
		q.mu.Lock()
		if q.err == nil {
			q.err = err
		}
		q.mu.Unlock()
	}
	return err
}

// failed returns the queue's sticky error.
func (q *queue) failed() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

func (q *queue) isCapturing() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.capturing
}

func (q *queue) Upload(dst device.Buffer, src []float32) error {
	if q.isCapturing() {
		return device.ErrCapturing
	}
	device.NeedLen("Upload", "dst", dst, len(src))
	if len(src) == 0 {
		return nil
	}
	return q.fail(check("cudaMemcpy (host to device)",
		C.pp_h2d(q.dev.ptr(dst), unsafe.Pointer(&src[0]), C.size_t(4*len(src)), q.stream)))
}

func (q *queue) Download(dst []float32, src device.Buffer) error {
	if q.isCapturing() {
		return device.ErrCapturing
	}
	device.NeedLen("Download", "src", src, len(dst))
	if len(dst) > 0 {
		if err := q.fail(check("cudaMemcpy (device to host)",
			C.pp_d2h(unsafe.Pointer(&dst[0]), q.dev.ptr(src), C.size_t(4*len(dst)), q.stream))); err != nil {
			return err
		}
	}
	return q.failed()
}

func (q *queue) Sync() error {
	q.fail(check("cudaStreamSynchronize", C.pp_stream_sync(q.stream)))
	return q.failed()
}

func (q *queue) WaitFor(other device.Queue) {
	o := q.dev.queue(other)
	if o == q {
		return
	}
	q.fail(check("cudaStreamWaitEvent", C.pp_wait(q.stream, o.stream, o.event)))
}

// launch runs kernel k over a grid of blocks of bx*by threads, with args
// packed into 8-byte slots: ints, float32s and buffers (nil is NULL).
func (q *queue) launch(k int, grid, bx, by int, args ...any) {
	var slots [32]uint64
	if len(args) > len(slots) {
		panic("cuda: too many kernel arguments")
	}
	for i, a := range args {
		switch v := a.(type) {
		case int:
			if v != int(int32(v)) {
				panic(fmt.Sprintf("device: %s: argument %d (%d) exceeds 32 bits", kernelNames[k], i, v))
			}
			slots[i] = uint64(uint32(int32(v)))
		case float32:
			slots[i] = uint64(math.Float32bits(v))
		case device.Buffer:
			slots[i] = uint64(q.dev.ptr(v))
		case nil:
			slots[i] = 0
		default:
			panic(fmt.Sprintf("cuda: kernel argument of type %T", a))
		}
	}
	if grid <= 0 {
		return
	}
	code := C.pp_launch(q.dev.fns[k], C.uint(grid), C.uint(bx), C.uint(by), q.stream, (*C.uint64_t)(unsafe.Pointer(&slots[0])), C.int(len(args)))
	if code != 0 { // the call's name is built only on failure: launches are the hot path
		q.fail(check("cuLaunchKernel "+kernelNames[k], code))
	}
}

// grid1D is the number of blocks of a grid-stride kernel over n items.
func grid1D(n int) int { return min((n+blockSize-1)/blockSize, maxGrid) }

// buf turns a possibly nil Buffer into a kernel argument that is a typed
// nil-able Buffer (a nil interface packs as NULL).
func buf(b device.Buffer) any {
	if b == nil {
		return nil
	}
	return b
}

func (q *queue) Copy2D(rows, cols int, dst device.Buffer, ldDst int, src device.Buffer, ldSrc int) {
	device.NeedMatrix("Copy2D", "dst", dst, rows, cols, ldDst, false)
	device.NeedMatrix("Copy2D", "src", src, rows, cols, ldSrc, true)
	q.launch(kCopy2D, grid1D(rows*cols), blockSize, 1, rows, cols, dst, ldDst, src, ldSrc)
}

func (q *queue) Fill2D(rows, cols int, dst device.Buffer, ld int, v float32) {
	device.NeedMatrix("Fill2D", "dst", dst, rows, cols, ld, false)
	q.launch(kFill2D, grid1D(rows*cols), blockSize, 1, rows, cols, dst, ld, v)
}

func (q *queue) Add(dst, a, b device.Buffer) {
	n := dst.Len()
	device.NeedLen("Add", "a", a, n)
	device.NeedLen("Add", "b", b, n)
	q.launch(kAdd, grid1D(n), blockSize, 1, n, dst, a, b)
}

func (q *queue) Mul(dst, a, b device.Buffer) {
	n := dst.Len()
	device.NeedLen("Mul", "a", a, n)
	device.NeedLen("Mul", "b", b, n)
	q.launch(kMul, grid1D(n), blockSize, 1, n, dst, a, b)
}

// Gemm maps the row-major product onto column-major cuBLAS: a row-major
// matrix is its transpose in column-major order, so C^T = op(B)^T op(A)^T is
// computed with B first, M and N swapped and the same transposition flags.
func (q *queue) Gemm(g device.GemmArgs) {
	g.Check()
	if g.M == 0 || g.N == 0 {
		return
	}
	op := func(t bool) C.int {
		if t {
			return 1 // CUBLAS_OP_T
		}
		return 0 // CUBLAS_OP_N
	}
	a, b := q.dev.ptr(g.A), q.dev.ptr(g.B)
	lda, ldb := g.LDA, g.LDB
	abType := C.int(0) // float32: cublasSgemmStridedBatched
	if g.BF16 {
		abType = 14 // CUDA_R_16BF
	}
	if g.Alpha == 0 || g.K == 0 {
		// A and B are not read: give cuBLAS valid leading dimensions.
		a, b, lda, ldb = 0, 0, max(lda, g.M, g.K, 1), max(ldb, g.N, g.K, 1)
	}
	q.fail(check("cublasSgemmStridedBatched", C.pp_sgemm(q.blas, op(g.TransB), op(g.TransA), C.int(g.N), C.int(g.M), C.int(g.K),
		C.float(g.Alpha), b, C.int(ldb), C.longlong(g.StrideB), a, C.int(lda), C.longlong(g.StrideA),
		C.float(g.Beta), q.dev.ptr(g.C), C.int(g.LDC), C.longlong(g.StrideC), C.int(g.Batches()), abType)))
}

// colSumRows is PP_COLSUM_ROWS in kernels.cu: the block is 32 x colSumRows.
const colSumRows = 8

func (q *queue) ColumnSum(rows, cols int, dst device.Buffer, beta float32, src device.Buffer, ld int) {
	device.NeedLen("ColumnSum", "dst", dst, cols)
	device.NeedMatrix("ColumnSum", "src", src, rows, cols, ld, false)
	q.launch(kColSum, (cols+31)/32, 32, colSumRows, rows, cols, dst, beta, src, ld)
}

func (q *queue) LSTMCellForward(a device.CellArgs) {
	a.Check()
	q.launch(kLSTMFwd, grid1D(a.Batch*a.Hidden), blockSize, 1, a.Batch, a.Hidden, a.Gates, a.LDGates, buf(a.Bias),
		buf(a.CPrev), a.LDCPrev, a.C, a.LDC, a.H, a.LDH, a.TanhC, a.LDTanhC, buf(a.HBF16), a.LDHBF16)
}

func (q *queue) LSTMCellBackward(a device.CellGradArgs) {
	a.Check()
	q.launch(kLSTMBwd, grid1D(a.Batch*a.Hidden), blockSize, 1, a.Batch, a.Hidden, a.DGates, a.LDDGates, a.Act, a.LDAct,
		buf(a.CPrev), a.LDCPrev, a.TanhC, a.LDTanhC, a.DH, buf(a.DOut), a.LDDOut, a.DC)
}

func (q *queue) AttentionForward(a device.AttentionArgs) {
	a.CheckForward()
	rows, d := a.Batch*a.Steps, a.Dim
	q.Gemm(device.GemmArgs{TransB: true, M: rows, N: d, K: d, Alpha: 1, A: a.H, LDA: d, B: a.ProjW, LDB: d, C: a.U, LDC: d})
	q.launch(kAttScore, (rows*32+blockSize-1)/blockSize, blockSize, 1, rows, d, a.U, a.ProjB, a.ScoreW, a.Weights)
	q.launch(kAttSoftmaxCtx, a.Batch, blockSize, 1, a.Batch, a.Steps, d, a.Weights, a.H, a.Context)
}

func (q *queue) AttentionBackward(a device.AttentionArgs) {
	a.CheckBackward()
	rows, d := a.Batch*a.Steps, a.Dim
	q.launch(kAttBwdScores, a.Batch, blockSize, 1, a.Batch, a.Steps, d, a.DContext, buf(a.DWeights), a.H, a.Weights, a.Scratch)
	// dv += u^T de, before u is overwritten with the projection's gradient.
	q.Gemm(device.GemmArgs{TransA: true, M: 1, N: d, K: rows, Alpha: 1, Beta: 1, A: a.Scratch, LDA: 1, B: a.U, LDB: d, C: a.DScoreW, LDC: d})
	q.launch(kAttBwdElem, grid1D(rows*d), blockSize, 1, rows, a.Steps, d, a.DContext, a.Weights, a.Scratch, a.ScoreW, a.U, a.DH)
	du := a.U
	q.Gemm(device.GemmArgs{TransA: true, M: d, N: d, K: rows, Alpha: 1, Beta: 1, A: du, LDA: d, B: a.H, LDB: d, C: a.DProjW, LDC: d})
	q.ColumnSum(rows, d, a.DProjB, 1, du, d)
	q.Gemm(device.GemmArgs{M: rows, N: d, K: d, Alpha: 1, Beta: 1, A: du, LDA: d, B: a.ProjW, LDB: d, C: a.DH, LDC: d})
}

func (q *queue) Affine(rows, cols int, y, x, scale, shift device.Buffer, relu bool) {
	device.NeedLen("Affine", "y", y, rows*cols)
	device.NeedLen("Affine", "x", x, rows*cols)
	if scale != nil {
		device.NeedLen("Affine", "scale", scale, cols)
	}
	device.NeedLen("Affine", "shift", shift, cols)
	r := 0
	if relu {
		r = 1
	}
	q.launch(kAffine, grid1D(rows*cols), blockSize, 1, rows, cols, y, x, buf(scale), shift, r)
}

func (q *queue) ReLUBackward(dx, dy, y device.Buffer) {
	n := dx.Len()
	device.NeedLen("ReLUBackward", "dy", dy, n)
	device.NeedLen("ReLUBackward", "y", y, n)
	q.launch(kReLUBwd, grid1D(n), blockSize, 1, n, dx, dy, y)
}

func (q *queue) BatchNormTrain(a device.BatchNormArgs) {
	a.CheckForward()
	q.launch(kBNTrain, a.N, blockSize, 1, a.Batch, a.N, a.X, a.Y, a.Gamma, a.Beta, a.RunMean, a.RunVar, a.Mean, a.InvStd,
		a.Momentum, a.Eps)
}

func (q *queue) BatchNormBackward(a device.BatchNormArgs) {
	a.CheckBackward()
	q.launch(kBNBwd, a.N, blockSize, 1, a.Batch, a.N, a.X, a.DY, a.DX, a.Gamma, a.DGamma, a.DBeta, a.Eps)
}

func (q *queue) Adam(a device.AdamArgs) {
	n := a.Check()
	s := a.Scalars()
	q.launch(kAdam, grid1D(n), blockSize, 1, n, a.Param, a.Grad, a.M, a.V, s.B1, s.B2, s.C1, s.C2, s.BC2Sqrt, s.NegStep, s.Eps)
}

func (q *queue) ConvertBF16(n int, dst, src device.Buffer) {
	device.NeedLen("ConvertBF16", "dst", dst, device.BF16Len(n))
	device.NeedLen("ConvertBF16", "src", src, n)
	q.launch(kToBF16, grid1D(n), blockSize, 1, n, dst, src)
}
