package device

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/attention"
	"github.com/novacron/perfpredict/internal/blas"
	"github.com/novacron/perfpredict/internal/nn"
)

// hostBuffer is a CPU buffer: plain Go memory.
type hostBuffer []float32

func (b hostBuffer) Len() int { return len(b) }

func (b hostBuffer) Slice(off, n int) Buffer {
	if off < 0 || n < 0 || off+n > len(b) {
		panic(fmt.Sprintf("device: Slice(%d, %d) of a buffer of %d values", off, n, len(b)))
	}
	return b[off : off+n : off+n]
}

// HostData returns the memory of a CPU buffer (nil for another device's), so
// that a caller on the CPU can read and write it without copies.
func HostData(b Buffer) []float32 {
	if h, ok := b.(hostBuffer); ok {
		return h
	}
	return nil
}

// host returns b's memory; b must be a CPU buffer or nil.
func host(b Buffer) []float32 {
	if b == nil {
		return nil
	}
	h, ok := b.(hostBuffer)
	if !ok {
		panic(fmt.Sprintf("device: a %T passed to the CPU device", b))
	}
	return h
}

// cpuDevice runs every operation on the calling goroutine (the GEMMs spread
// over GOMAXPROCS as blas.Sgemm does). Queues are views of the device: work
// is done when the call returns, so ordering is the caller's order and WaitFor
// has nothing to do.
type cpuDevice struct {
	mu        sync.Mutex
	recording *cpuGraph // not nil while capturing
	recQueue  int
	queues    [2]cpuQueue
}

var cpuSingleton = newCPU()

func newCPU() *cpuDevice {
	d := &cpuDevice{}
	for i := range d.queues {
		d.queues[i] = cpuQueue{dev: d, id: i}
	}
	return d
}

// CPU returns the CPU device. It is safe for concurrent use: different
// goroutines may drive different queues on different buffers.
func CPU() Device { return cpuSingleton }

func (d *cpuDevice) Name() string { return "cpu (" + asm.Implementation() + ")" }

func (d *cpuDevice) Alloc(n int) (Buffer, error) {
	if n < 0 {
		return nil, fmt.Errorf("device: Alloc(%d): negative size", n)
	}
	return make(hostBuffer, n), nil
}

func (d *cpuDevice) Free(b Buffer) error {
	host(b)
	return nil
}

func (d *cpuDevice) Queues() int { return len(d.queues) }

func (d *cpuDevice) Queue(i int) Queue {
	if i < 0 || i >= len(d.queues) {
		panic(fmt.Sprintf("device: Queue(%d) of %d", i, len(d.queues)))
	}
	return &d.queues[i]
}

func (d *cpuDevice) Sync() error  { return nil }
func (d *cpuDevice) Close() error { return nil }

func (d *cpuDevice) queueID(q Queue) int {
	cq, ok := q.(*cpuQueue)
	if !ok || cq.dev != d {
		panic(fmt.Sprintf("device: a %T passed to the CPU device", q))
	}
	return cq.id
}

func (d *cpuDevice) BeginCapture(q Queue) error {
	id := d.queueID(q)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recording != nil {
		return errors.New("device: BeginCapture: already capturing")
	}
	d.recording, d.recQueue = &cpuGraph{dev: d}, id
	return nil
}

func (d *cpuDevice) EndCapture(q Queue) (Graph, error) {
	id := d.queueID(q)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.recording == nil {
		return nil, errors.New("device: EndCapture without BeginCapture")
	}
	if id != d.recQueue {
		return nil, fmt.Errorf("device: EndCapture on queue %d, capture began on queue %d", id, d.recQueue)
	}
	g := d.recording
	d.recording = nil
	return g, nil
}

// exec runs fn now, or records it while capturing.
func (d *cpuDevice) exec(fn func()) {
	d.mu.Lock()
	if g := d.recording; g != nil {
		g.ops = append(g.ops, fn)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	fn()
}

func (d *cpuDevice) capturing() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recording != nil
}

// cpuGraph is recorded work: the closures, in the order they were enqueued.
type cpuGraph struct {
	dev *cpuDevice
	ops []func()
}

func (g *cpuGraph) Launch(q Queue) error {
	if g.ops == nil {
		return errors.New("device: Launch of a closed graph")
	}
	g.dev.queueID(q)
	g.dev.exec(func() {
		for _, op := range g.ops {
			op()
		}
	})
	return nil
}

func (g *cpuGraph) Close() error { g.ops = nil; return nil }

type cpuQueue struct {
	dev *cpuDevice
	id  int
}

func (q *cpuQueue) Upload(dst Buffer, src []float32) error {
	if q.dev.capturing() {
		return ErrCapturing
	}
	NeedLen("Upload", "dst", dst, len(src))
	copy(host(dst), src)
	return nil
}

func (q *cpuQueue) Download(dst []float32, src Buffer) error {
	if q.dev.capturing() {
		return ErrCapturing
	}
	NeedLen("Download", "src", src, len(dst))
	copy(dst, host(src))
	return nil
}

func (q *cpuQueue) Sync() error { return nil }

func (q *cpuQueue) WaitFor(other Queue) { q.dev.queueID(other) }

func (q *cpuQueue) Copy2D(rows, cols int, dst Buffer, ldDst int, src Buffer, ldSrc int) {
	NeedMatrix("Copy2D", "dst", dst, rows, cols, ldDst, false)
	NeedMatrix("Copy2D", "src", src, rows, cols, ldSrc, true)
	d, s := host(dst), host(src)
	q.dev.exec(func() {
		for r := 0; r < rows; r++ {
			copy(d[r*ldDst:r*ldDst+cols], s[r*ldSrc:r*ldSrc+cols])
		}
	})
}

func (q *cpuQueue) Fill2D(rows, cols int, dst Buffer, ld int, v float32) {
	NeedMatrix("Fill2D", "dst", dst, rows, cols, ld, false)
	d := host(dst)
	q.dev.exec(func() {
		for r := 0; r < rows; r++ {
			row := d[r*ld : r*ld+cols]
			for j := range row {
				row[j] = v
			}
		}
	})
}

func (q *cpuQueue) Add(dst, a, b Buffer) {
	n := dst.Len()
	NeedLen("Add", "a", a, n)
	NeedLen("Add", "b", b, n)
	d, x, y := host(dst), host(a)[:n], host(b)[:n]
	q.dev.exec(func() {
		for i := range d {
			d[i] = x[i] + y[i]
		}
	})
}

func (q *cpuQueue) Mul(dst, a, b Buffer) {
	n := dst.Len()
	NeedLen("Mul", "a", a, n)
	NeedLen("Mul", "b", b, n)
	d, x, y := host(dst), host(a)[:n], host(b)[:n]
	q.dev.exec(func() {
		for i := range d {
			d[i] = x[i] * y[i]
		}
	})
}

func (q *cpuQueue) Gemm(g GemmArgs) {
	g.Check()
	a, b, c := host(g.A), host(g.B), host(g.C)
	if g.BF16 {
		// The reference: unpack the operands, then the float32 product.
		q.dev.exec(func() {
			// Unpacked per run (a replayed graph sees the operands' new
			// values), as far as the operands reach.
			var ua, ub []float32
			if g.Alpha != 0 && g.K > 0 {
				ar, ac, br, bc := g.stored()
				ua, ub = UnpackBF16(a, g.span(ar, ac, g.LDA, g.StrideA)), UnpackBF16(b, g.span(br, bc, g.LDB, g.StrideB))
			}
			for i := 0; i < g.Batches(); i++ {
				var ai, bi []float32
				if g.Alpha != 0 && g.K > 0 {
					ai, bi = ua[i*g.StrideA:], ub[i*g.StrideB:]
				}
				blas.Sgemm(g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, ai, g.LDA, bi, g.LDB, g.Beta, c[i*g.StrideC:], g.LDC)
			}
		})
		return
	}
	q.dev.exec(func() {
		for i := 0; i < g.Batches(); i++ {
			var ai, bi []float32
			if g.Alpha != 0 && g.K > 0 {
				ai, bi = a[i*g.StrideA:], b[i*g.StrideB:]
			}
			blas.Sgemm(g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, ai, g.LDA, bi, g.LDB, g.Beta, c[i*g.StrideC:], g.LDC)
		}
	})
}

func (q *cpuQueue) ColumnSum(rows, cols int, dst Buffer, beta float32, src Buffer, ld int) {
	NeedLen("ColumnSum", "dst", dst, cols)
	NeedMatrix("ColumnSum", "src", src, rows, cols, ld, false)
	d, s := host(dst)[:cols], host(src)
	q.dev.exec(func() {
		if beta == 0 {
			clear(d)
		} else if beta != 1 {
			asm.Scale(beta, d)
		}
		for r := 0; r < rows; r++ {
			asm.Axpy(1, s[r*ld:r*ld+cols], d)
		}
	})
}

func (q *cpuQueue) LSTMCellForward(a CellArgs) {
	a.Check()
	B, H := a.Batch, a.Hidden
	gates, cPrev, c, h, tanhC, hb := host(a.Gates), host(a.CPrev), host(a.C), host(a.H), host(a.TanhC), host(a.HBF16)
	bias := host(a.Bias)
	q.dev.exec(func() {
		zero := make([]float32, H)
		for b := 0; b < B; b++ {
			cp := zero
			if cPrev != nil {
				cp = cPrev[b*a.LDCPrev : b*a.LDCPrev+H]
			}
			hRow := h[b*a.LDH : b*a.LDH+H]
			if bias != nil {
				asm.Axpy(1, bias[:4*H], gates[b*a.LDGates:b*a.LDGates+4*H])
			}
			asm.LSTMCellForward(gates[b*a.LDGates:b*a.LDGates+4*H], cp, c[b*a.LDC:b*a.LDC+H], hRow, tanhC[b*a.LDTanhC:b*a.LDTanhC+H])
			if hb != nil {
				for j, v := range hRow {
					setBF16(hb, b*a.LDHBF16+j, BF16Bits(v))
				}
			}
		}
	})
}

func (q *cpuQueue) LSTMCellBackward(a CellGradArgs) {
	a.Check()
	B, H := a.Batch, a.Hidden
	dGates, act, cPrev, tanhC := host(a.DGates), host(a.Act), host(a.CPrev), host(a.TanhC)
	dh, dOut, dc := host(a.DH), host(a.DOut), host(a.DC)
	q.dev.exec(func() {
		zero := make([]float32, H)
		for b := 0; b < B; b++ {
			dhb := dh[b*H : (b+1)*H]
			if dOut != nil {
				asm.Axpy(1, dOut[b*a.LDDOut:b*a.LDDOut+H], dhb)
			}
			cp := zero
			if cPrev != nil {
				cp = cPrev[b*a.LDCPrev : b*a.LDCPrev+H]
			}
			asm.LSTMCellBackward(dGates[b*a.LDDGates:b*a.LDDGates+4*H], act[b*a.LDAct:b*a.LDAct+4*H], cp,
				tanhC[b*a.LDTanhC:b*a.LDTanhC+H], dhb, dc[b*H:(b+1)*H])
		}
	})
}

// AttentionForward runs attention.ForwardSlices, the arithmetic of
// attention.Attention.Forward.
func (q *cpuQueue) AttentionForward(a AttentionArgs) {
	a.CheckForward()
	s := attentionSlices(&a)
	q.dev.exec(func() { attention.ForwardSlices(blas.Sgemm, s) })
}

// AttentionBackward runs attention.BackwardSlices, the arithmetic of
// attention.Attention.Backward.
func (q *cpuQueue) AttentionBackward(a AttentionArgs) {
	a.CheckBackward()
	s := attentionSlices(&a)
	q.dev.exec(func() { attention.BackwardSlices(blas.Sgemm, s) })
}

// attentionSlices views the CPU buffers of a as attention.Slices.
func attentionSlices(a *AttentionArgs) *attention.Slices {
	return &attention.Slices{
		Batch: a.Batch, Steps: a.Steps, Dim: a.Dim,
		H:     host(a.H),
		ProjW: host(a.ProjW), ProjB: host(a.ProjB), ScoreW: host(a.ScoreW),
		U: host(a.U), Weights: host(a.Weights), Context: host(a.Context),
		DContext: host(a.DContext), DWeights: host(a.DWeights),
		DH: host(a.DH), DScores: host(a.Scratch),
		DProjW: host(a.DProjW), DProjB: host(a.DProjB), DScoreW: host(a.DScoreW),
	}
}

func (q *cpuQueue) Affine(rows, cols int, y, x, scale, shift Buffer, relu bool) {
	NeedLen("Affine", "y", y, rows*cols)
	NeedLen("Affine", "x", x, rows*cols)
	if scale != nil {
		NeedLen("Affine", "scale", scale, cols)
	}
	NeedLen("Affine", "shift", shift, cols)
	yd, xd, sc, sh := host(y), host(x), host(scale), host(shift)
	q.dev.exec(func() {
		for r := 0; r < rows; r++ {
			yr, xr := yd[r*cols:(r+1)*cols], xd[r*cols:(r+1)*cols]
			for j, xv := range xr {
				var v float32
				if sc != nil {
					v = xv*sc[j] + sh[j]
				} else {
					v = xv + sh[j]
				}
				if relu && !(v > 0) {
					v = 0
				}
				yr[j] = v
			}
		}
	})
}

func (q *cpuQueue) ReLUBackward(dx, dy, y Buffer) {
	n := dx.Len()
	NeedLen("ReLUBackward", "dy", dy, n)
	NeedLen("ReLUBackward", "y", y, n)
	d, g, yd := host(dx), host(dy)[:n], host(y)[:n]
	q.dev.exec(func() { nn.ReLUBackward(d, g, yd) })
}

// batchNorm wraps the buffers as an nn.BatchNorm1d, whose arithmetic the CPU
// device uses.
func batchNorm(a *BatchNormArgs) *nn.BatchNorm1d {
	return &nn.BatchNorm1d{
		N: a.N, Eps: a.Eps, Momentum: a.Momentum,
		Weight:      &nn.Param{Data: host(a.Gamma), Grad: host(a.DGamma)},
		Bias:        &nn.Param{Data: host(a.Beta), Grad: host(a.DBeta)},
		RunningMean: &nn.Param{Data: host(a.RunMean)},
		RunningVar:  &nn.Param{Data: host(a.RunVar)},
	}
}

func (q *cpuQueue) BatchNormTrain(a BatchNormArgs) {
	a.CheckForward()
	x, y, mean, invStd := host(a.X), host(a.Y), host(a.Mean), host(a.InvStd)
	q.dev.exec(func() {
		bn := batchNorm(&a)
		cache := &nn.BatchNormCache{Mean: make([]float64, a.N), InvStd: make([]float64, a.N)}
		bn.ForwardTrain(y, x, a.Batch, cache)
		for j := 0; j < a.N; j++ {
			mean[j], invStd[j] = float32(cache.Mean[j]), float32(cache.InvStd[j])
		}
	})
}

func (q *cpuQueue) BatchNormBackward(a BatchNormArgs) {
	a.CheckBackward()
	x, dy, dx := host(a.X), host(a.DY), host(a.DX)
	q.dev.exec(func() {
		bn := batchNorm(&a)
		// The float64 statistics are recomputed from X rather than read back
		// from the float32 Mean and InvStd, so that the gradients are those
		// of nn.BatchNorm1d bit for bit.
		cache := &nn.BatchNormCache{Mean: make([]float64, a.N), InvStd: make([]float64, a.N)}
		bn.BatchStats(x, a.Batch, cache)
		bn.Backward(dx, dy, a.Batch, cache)
	})
}

// Adam is the loop of nn.Adam.Step for one tensor.
func (q *cpuQueue) Adam(a AdamArgs) {
	n := a.Check()
	s := a.Scalars()
	p, g, m, v := host(a.Param)[:n], host(a.Grad)[:n], host(a.M)[:n], host(a.V)[:n]
	q.dev.exec(func() {
		for j := range p {
			gj := g[j]
			mj := m[j]*s.B1 + s.C1*gj
			vj := v[j]*s.B2 + s.C2*gj*gj
			m[j], v[j] = mj, vj
			denom := float32(math.Sqrt(float64(vj)))/s.BC2Sqrt + s.Eps
			p[j] += s.NegStep * mj / denom
		}
	})
}

func (q *cpuQueue) ConvertBF16(n int, dst, src Buffer) {
	NeedLen("ConvertBF16", "dst", dst, BF16Len(n))
	NeedLen("ConvertBF16", "src", src, n)
	d, x := host(dst), host(src)
	q.dev.exec(func() {
		for i, v := range x[:n] {
			setBF16(d, i, BF16Bits(v))
		}
	})
}
