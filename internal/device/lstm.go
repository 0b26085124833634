package device

import (
	"errors"
	"fmt"

	"github.com/novacron/perfpredict/internal/nn"
)

// LSTMConfig describes a stacked LSTM as lstm.Config does (without dropout,
// which LSTM does not apply yet).
type LSTMConfig struct {
	Input, Hidden, Layers int
	Bidirectional         bool
}

// Tensor is a parameter's value and gradient on a device.
type Tensor struct {
	Name       string
	Data, Grad Buffer
}

// LSTM runs a stacked (bidirectional) LSTM with PyTorch's nn.LSTM semantics,
// batch first, on a device, through Queue operations only: the computation of
// the lstm package, laid out the same way ([B, T, ...] row-major buffers).
//
// Per layer and direction, the input projection of every time step is one
// GEMM over [B*T, in] (onto the broadcast bias b_ih + b_hh); each step is then
// one GEMM of the batch's previous h against W_hh^T plus one fused cell
// launch. Direction d runs on queue d mod Queues(), so on a GPU both
// directions of a layer run concurrently; layers are joined with WaitFor.
// Forward and Backward leave their results ready on queue 0.
//
// With SetBF16, evaluation passes (not training) run the matrix products in
// bfloat16: the input is rounded to a bfloat16 copy at the start of each pass,
// the weights' copies are made by the first such Prepare and kept up to date
// by WeightsChanged, each cell also writes its h in bfloat16, and the
// products sum in float32. The cell arithmetic and the outputs stay float32.
//
// An LSTM holds the parameters, their gradients and one pass's activations
// on the device; it is used by one goroutine at a time.
type LSTM struct {
	dev     Device
	cfg     LSTMConfig
	dirs    int
	cells   [][]devCell // [layer][direction]
	tensors []Tensor

	batch, steps int
	train, ready bool

	x    Buffer       // [B*T, Input]
	out  []Buffer     // [layer] [B*T, dirs*H]
	act  [][]actBufs  // [layer][direction]; evaluation uses [0]
	bwd  []bwdDevBufs // [direction]
	grad [2]Buffer    // ping-pong input gradients [B*T, max(Input, dirs*H)]
	bufs slots        // every buffer above and in cells; bufs.gen tells callers they moved

	bf16  bool     // evaluation passes multiply in bfloat16
	xBF   Buffer   // x in bfloat16 (packed)
	outBF []Buffer // [layer] each layer's h in bfloat16 (packed)
}

type devCell struct {
	in                       int
	reverse                  bool
	wih, whh, bih, bhh, bias Buffer
	dwih, dwhh, dbih, dbhh   Buffer
	wihBF, whhBF             Buffer // bfloat16 copies, for bf16 evaluation
}

// SetBF16 switches bfloat16 matrix products in evaluation passes on or off
// (see LSTM); the next Prepare allocates what they need. The hidden size
// must be even, so that each step's h starts a float32 element.
func (l *LSTM) SetBF16(on bool) { l.bf16 = on }

// BF16 reports whether evaluation passes multiply in bfloat16.
func (l *LSTM) BF16() bool { return l.bf16 }

// useBF16 reports whether the prepared pass multiplies in bfloat16.
func (l *LSTM) useBF16() bool { return l.bf16 && !l.train }

type actBufs struct{ gates, c, tanhC Buffer }

type bwdDevBufs struct{ dGates, hPrev, dh, dc Buffer }

// NewLSTM allocates the parameters (zero) and their gradients on dev.
func NewLSTM(dev Device, cfg LSTMConfig) (*LSTM, error) {
	if cfg.Input <= 0 || cfg.Hidden <= 0 || cfg.Layers <= 0 {
		return nil, fmt.Errorf("device: LSTM: input %d, hidden %d and layers %d must be positive", cfg.Input, cfg.Hidden, cfg.Layers)
	}
	l := &LSTM{dev: dev, cfg: cfg, dirs: 1, bufs: newSlots(dev)}
	if cfg.Bidirectional {
		l.dirs = 2
	}
	H, G := cfg.Hidden, 4*cfg.Hidden
	l.cells = make([][]devCell, cfg.Layers)
	for k := range l.cells {
		l.cells[k] = make([]devCell, l.dirs)
		in := cfg.Input
		if k > 0 {
			in = l.dirs * H
		}
		for d := range l.cells[k] {
			c := &l.cells[k][d]
			c.in, c.reverse = in, d == 1
			suffix := fmt.Sprintf("_l%d", k)
			if c.reverse {
				suffix += "_reverse"
			}
			for _, t := range []struct {
				name       string
				n          int
				data, grad *Buffer
			}{
				{"weight_ih" + suffix, G * in, &c.wih, &c.dwih},
				{"weight_hh" + suffix, G * H, &c.whh, &c.dwhh},
				{"bias_ih" + suffix, G, &c.bih, &c.dbih},
				{"bias_hh" + suffix, G, &c.bhh, &c.dbhh},
			} {
				if err := l.bufs.grow(t.data, t.n); err != nil {
					return nil, errors.Join(err, l.Close())
				}
				if err := l.bufs.grow(t.grad, t.n); err != nil {
					return nil, errors.Join(err, l.Close())
				}
				l.tensors = append(l.tensors, Tensor{Name: t.name, Data: *t.data, Grad: *t.grad})
			}
			if err := l.bufs.grow(&c.bias, G); err != nil {
				return nil, errors.Join(err, l.Close())
			}
		}
	}
	return l, nil
}

// Tensors lists the parameters in lstm.Stack.Params' order and names.
func (l *LSTM) Tensors() []Tensor { return l.tensors }

// OutputSize is the width of each output step: Hidden * directions.
func (l *LSTM) OutputSize() int { return l.dirs * l.cfg.Hidden }

// Close frees everything the LSTM allocated.
func (l *LSTM) Close() error {
	l.ready = false
	return l.bufs.free()
}

// Upload copies the parameters, given in lstm.Stack.Params' order and names,
// to the device and zeroes the device gradients.
func (l *LSTM) Upload(params []*nn.Param) error {
	if len(params) != len(l.tensors) {
		return fmt.Errorf("device: LSTM.Upload: %d parameters, want %d", len(params), len(l.tensors))
	}
	q := l.dev.Queue(0)
	for i, p := range params {
		t := l.tensors[i]
		if p.Name != t.Name || len(p.Data) != t.Data.Len() {
			return fmt.Errorf("device: LSTM.Upload: parameter %d is %s with %d values, want %s with %d", i, p.Name, len(p.Data), t.Name, t.Data.Len())
		}
		if err := q.Upload(t.Data, p.Data); err != nil {
			return fmt.Errorf("device: LSTM.Upload %s: %w", p.Name, err)
		}
	}
	l.ZeroGrad()
	l.WeightsChanged()
	return q.Sync()
}

// WeightsChanged recomputes, on queue 0, what is derived from the
// parameters: the folded bias b_ih + b_hh of every cell and, once a
// bfloat16 pass has been prepared, the bfloat16 copies of the weights. Call
// it after changing the parameters on the device (an Adam step).
func (l *LSTM) WeightsChanged() {
	q := l.dev.Queue(0)
	for k := range l.cells {
		for d := range l.cells[k] {
			c := &l.cells[k][d]
			q.Add(c.bias, c.bih, c.bhh)
		}
	}
	l.convertWeightsBF16(q)
}

// convertWeightsBF16 enqueues the bfloat16 copies of the weights on q, if
// they are allocated.
func (l *LSTM) convertWeightsBF16(q Queue) {
	for k := range l.cells {
		for d := range l.cells[k] {
			c := &l.cells[k][d]
			if c.wihBF != nil {
				q.ConvertBF16(c.wih.Len(), c.wihBF, c.wih)
				q.ConvertBF16(c.whh.Len(), c.whhBF, c.whh)
			}
		}
	}
}

// ZeroGrad clears the device gradients on queue 0.
func (l *LSTM) ZeroGrad() {
	q := l.dev.Queue(0)
	for _, t := range l.tensors {
		q.Fill2D(1, t.Grad.Len(), t.Grad, t.Grad.Len(), 0)
	}
}

// AddGradsTo downloads the device gradients and adds them to each
// Param.Grad (params in lstm.Stack.Params' order).
func (l *LSTM) AddGradsTo(params []*nn.Param) error {
	if len(params) != len(l.tensors) {
		return fmt.Errorf("device: LSTM.AddGradsTo: %d parameters, want %d", len(params), len(l.tensors))
	}
	q := l.dev.Queue(0)
	for i, p := range params {
		t := l.tensors[i]
		if len(p.Grad) != t.Grad.Len() {
			return fmt.Errorf("device: LSTM.AddGradsTo: %s has a gradient of %d values, want %d", p.Name, len(p.Grad), t.Grad.Len())
		}
		g := make([]float32, len(p.Grad))
		if err := q.Download(g, t.Grad); err != nil {
			return fmt.Errorf("device: LSTM.AddGradsTo %s: %w", p.Name, err)
		}
		for j, v := range g {
			p.Grad[j] += v
		}
	}
	return nil
}

// Prepare sizes the activation buffers for a pass of this shape (Forward
// does it too); call it before capturing a pass as a graph, since a
// capture must not allocate.
func (l *LSTM) Prepare(batch, steps int, train bool) error {
	if batch <= 0 || steps <= 0 {
		return fmt.Errorf("device: LSTM: batch (%d) and steps (%d) must be positive", batch, steps)
	}
	H, G, DH := l.cfg.Hidden, 4*l.cfg.Hidden, l.dirs*l.cfg.Hidden
	bt := batch * steps
	if l.out == nil {
		l.out = make([]Buffer, l.cfg.Layers)
		l.act = make([][]actBufs, l.cfg.Layers)
		for k := range l.act {
			l.act[k] = make([]actBufs, l.dirs)
		}
		l.bwd = make([]bwdDevBufs, l.dirs)
	}
	if err := l.bufs.grow(&l.x, bt*l.cfg.Input); err != nil {
		return err
	}
	for k := range l.out {
		if err := l.bufs.grow(&l.out[k], bt*DH); err != nil {
			return err
		}
	}
	sets := 1
	if train {
		sets = l.cfg.Layers
	}
	for k := 0; k < sets; k++ {
		for d := range l.act[k] {
			a := &l.act[k][d]
			for _, s := range []struct {
				b *Buffer
				n int
			}{{&a.gates, bt * G}, {&a.c, bt * H}, {&a.tanhC, bt * H}} {
				if err := l.bufs.grow(s.b, s.n); err != nil {
					return err
				}
			}
		}
	}
	if train {
		widest := max(l.cfg.Input, DH)
		for d := range l.bwd {
			b := &l.bwd[d]
			for _, s := range []struct {
				b *Buffer
				n int
			}{{&b.dGates, bt * G}, {&b.hPrev, bt * H}, {&b.dh, batch * H}, {&b.dc, batch * H}} {
				if err := l.bufs.grow(s.b, s.n); err != nil {
					return err
				}
			}
		}
		for i := range l.grad {
			if err := l.bufs.grow(&l.grad[i], bt*widest); err != nil {
				return err
			}
		}
	}
	if l.bf16 && !train {
		if H%2 != 0 {
			return fmt.Errorf("device: LSTM: bfloat16 passes need an even hidden size, not %d", H)
		}
		if l.outBF == nil {
			l.outBF = make([]Buffer, l.cfg.Layers)
		}
		if err := l.bufs.grow(&l.xBF, BF16Len(bt*l.cfg.Input)); err != nil {
			return err
		}
		for k := range l.outBF {
			if err := l.bufs.grow(&l.outBF[k], BF16Len(bt*DH)); err != nil {
				return err
			}
		}
		if l.cells[0][0].wihBF == nil {
			// The weights' copies, made once here and then kept up to
			// date by WeightsChanged.
			for k := range l.cells {
				for d := range l.cells[k] {
					c := &l.cells[k][d]
					if err := l.bufs.grow(&c.wihBF, BF16Len(G*c.in)); err != nil {
						return err
					}
					if err := l.bufs.grow(&c.whhBF, BF16Len(G*H)); err != nil {
						return err
					}
				}
			}
			l.convertWeightsBF16(l.dev.Queue(0))
		}
	}
	l.batch, l.steps, l.train = batch, steps, train
	return nil
}

// Input is the device buffer Forward reads x from: callers that keep their
// input on the device (a captured graph) upload into it and call Forward
// with a nil x.
func (l *LSTM) Input() Buffer { return l.x }

// Output is the last layer's output of the prepared shape
// [batch, steps, OutputSize()], where Forward and Enqueue leave it.
func (l *LSTM) Output() Buffer { return l.out[len(l.out)-1] }

// Forward runs the stack over x [batch, steps, Input] (uploaded to Input();
// nil x means Input() already holds it) and returns the output
// [batch, steps, OutputSize()] on the device, valid until the next pass.
// With train, everything Backward needs is kept.
func (l *LSTM) Forward(x []float32, batch, steps int, train bool) (Buffer, error) {
	if x != nil && len(x) != batch*steps*l.cfg.Input {
		return nil, fmt.Errorf("device: LSTM: input has %d values, want batch*steps*features = %d*%d*%d", len(x), batch, steps, l.cfg.Input)
	}
	l.ready = false
	if err := l.Prepare(batch, steps, train); err != nil {
		return nil, err
	}
	q0 := l.dev.Queue(0)
	if x != nil {
		if err := q0.Upload(l.x, x); err != nil {
			return nil, err
		}
	}
	l.Enqueue()
	l.ready = true
	return l.out[len(l.out)-1], nil
}

// Enqueue enqueues the forward pass of the prepared shape on the input
// already in Input(), without host copies: between BeginCapture and
// EndCapture on queue 0 it records the pass as a graph.
func (l *LSTM) Enqueue() {
	q0 := l.dev.Queue(0)
	qs := l.queues()
	if l.useBF16() {
		// The input changes every pass; the weights' copies are kept up
		// to date by WeightsChanged.
		q0.ConvertBF16(l.batch*l.steps*l.cfg.Input, l.xBF, l.x)
	}
	for _, q := range qs[1:] {
		q.WaitFor(q0)
	}
	for k := range l.cells {
		if k > 0 {
			l.join(qs)
		}
		for d := range l.cells[k] {
			l.forwardDir(qs[d], k, d)
		}
	}
	for _, q := range qs[1:] {
		q0.WaitFor(q)
	}
	l.ready = true
}

// queues returns the queue of each direction.
func (l *LSTM) queues() []Queue {
	qs := make([]Queue, l.dirs)
	for d := range qs {
		qs[d] = l.dev.Queue(d % l.dev.Queues())
	}
	return qs
}

// join makes every direction's queue wait for the others.
func (l *LSTM) join(qs []Queue) {
	if len(qs) < 2 || qs[0] == qs[1] {
		return
	}
	qs[0].WaitFor(qs[1])
	qs[1].WaitFor(qs[0])
}

// from is the view of b from offset off to its end.
func from(b Buffer, off int) Buffer { return b.Slice(off, b.Len()-off) }

func (l *LSTM) input(k int) Buffer {
	if k == 0 {
		return l.x
	}
	return l.out[k-1]
}

func (l *LSTM) actBufs(k, d int) *actBufs {
	if !l.train {
		k = 0
	}
	return &l.act[k][d]
}

func (l *LSTM) forwardDir(q Queue, k, d int) {
	c := &l.cells[k][d]
	B, T, H := l.batch, l.steps, l.cfg.Hidden
	G, DH := 4*H, l.dirs*H
	a := l.actBufs(k, d)
	out := l.out[k]
	bf := l.useBF16()
	// The bias b_ih + b_hh is added by each cell, not broadcast into the
	// gates first: that pass would write and read every gate once more.
	proj := GemmArgs{TransB: true, M: B * T, N: G, K: c.in, Alpha: 1,
		A: l.input(k), LDA: c.in, B: c.wih, LDB: c.in, C: a.gates, LDC: G}
	if bf {
		proj.BF16, proj.A, proj.B = true, l.xBF, c.wihBF
		if k > 0 {
			proj.A = l.outBF[k-1]
		}
	}
	q.Gemm(proj)
	for step := 0; step < T; step++ {
		t, prev := step, step-1
		if c.reverse {
			t, prev = T-1-step, T-step
		}
		gt := from(a.gates, t*G)
		cell := CellArgs{Batch: B, Hidden: H,
			Gates: gt, LDGates: T * G, Bias: c.bias,
			C: from(a.c, t*H), LDC: T * H,
			H: from(out, t*DH+d*H), LDH: T * DH,
			TanhC: from(a.tanhC, t*H), LDTanhC: T * H}
		if bf {
			// H is even: every step's h starts a float32 element.
			cell.HBF16, cell.LDHBF16 = from(l.outBF[k], (t*DH+d*H)/2), T*DH
		}
		if step > 0 {
			rec := GemmArgs{TransB: true, M: B, N: G, K: H, Alpha: 1, Beta: 1,
				A: from(out, prev*DH+d*H), LDA: T * DH, B: c.whh, LDB: H, C: gt, LDC: T * G}
			if bf {
				rec.BF16, rec.A, rec.B = true, from(l.outBF[k], (prev*DH+d*H)/2), c.whhBF
			}
			q.Gemm(rec)
			cell.CPrev, cell.LDCPrev = from(a.c, prev*H), T*H
		}
		q.LSTMCellForward(cell)
	}
}

// Backward propagates dOut, the gradient of the output of the last
// Forward(train=true) ([batch, steps, OutputSize()], on the device), through
// time and the layers; it adds the parameter gradients to the device
// gradients and returns the gradient of the input [batch, steps, Input], a
// device buffer valid until the next Backward.
func (l *LSTM) Backward(dOut Buffer) Buffer {
	if !l.ready || !l.train {
		panic("device: LSTM.Backward without a preceding Forward(train=true)")
	}
	B, T, H := l.batch, l.steps, l.cfg.Hidden
	G, DH := 4*H, l.dirs*H
	bt := B * T
	NeedLen("LSTM.Backward", "dOut", dOut, bt*DH)
	qs := l.queues()
	q0 := qs[0]
	for _, q := range qs[1:] {
		q.WaitFor(q0)
	}
	for k := len(l.cells) - 1; k >= 0; k-- {
		sum := l.grad[k%2]
		for d := range l.cells[k] {
			q := qs[d]
			c := &l.cells[k][d]
			a := &l.act[k][d]
			bw := &l.bwd[d]
			out := l.out[k]
			q.Fill2D(1, B*H, bw.dh, B*H, 0)
			q.Fill2D(1, B*H, bw.dc, B*H, 0)
			for step := T - 1; step >= 0; step-- {
				t, prev := step, step-1
				if c.reverse {
					t, prev = T-1-step, T-step
				}
				cg := CellGradArgs{Batch: B, Hidden: H,
					DGates: from(bw.dGates, t*G), LDDGates: T * G,
					Act: from(a.gates, t*G), LDAct: T * G,
					TanhC: from(a.tanhC, t*H), LDTanhC: T * H,
					DH: bw.dh, DOut: from(dOut, t*DH+d*H), LDDOut: T * DH, DC: bw.dc}
				if step > 0 {
					cg.CPrev, cg.LDCPrev = from(a.c, prev*H), T*H
				}
				q.LSTMCellBackward(cg)
				if step > 0 {
					q.Gemm(GemmArgs{M: B, N: H, K: G, Alpha: 1, Beta: 0,
						A: from(bw.dGates, t*G), LDA: T * G, B: c.whh, LDB: H, C: bw.dh, LDC: H})
				}
			}
			// h_{t-1} for every (b, t) in processing order, zero at the first
			// step: dW_hh is then one GEMM over all time steps.
			if T > 1 {
				if c.reverse {
					q.Copy2D(bt-1, H, bw.hPrev, H, from(out, DH+d*H), DH)
				} else {
					q.Copy2D(bt-1, H, from(bw.hPrev, H), H, from(out, d*H), DH)
				}
			}
			first := 0
			if c.reverse {
				first = (T - 1) * H
			}
			q.Fill2D(B, H, from(bw.hPrev, first), T*H, 0)
			in := l.input(k)
			q.Gemm(GemmArgs{TransA: true, M: G, N: c.in, K: bt, Alpha: 1, Beta: 1,
				A: bw.dGates, LDA: G, B: in, LDB: c.in, C: c.dwih, LDC: c.in})
			q.Gemm(GemmArgs{TransA: true, M: G, N: H, K: bt, Alpha: 1, Beta: 1,
				A: bw.dGates, LDA: G, B: bw.hPrev, LDB: H, C: c.dwhh, LDC: H})
			q.ColumnSum(bt, G, c.dbih, 1, bw.dGates, G)
			q.ColumnSum(bt, G, c.dbhh, 1, bw.dGates, G)
			// The directions' input gradients add up in sum: the first
			// direction writes it, the next ones accumulate after it.
			beta := float32(0)
			if d > 0 {
				q.WaitFor(qs[d-1])
				beta = 1
			}
			q.Gemm(GemmArgs{M: bt, N: c.in, K: G, Alpha: 1, Beta: beta,
				A: bw.dGates, LDA: G, B: c.wih, LDB: c.in, C: sum, LDC: c.in})
		}
		// The next layer down reads sum on every queue.
		for d := len(qs) - 2; d >= 0; d-- {
			qs[d].WaitFor(qs[len(qs)-1])
		}
		dOut = sum
	}
	return l.grad[0].Slice(0, bt*l.cfg.Input)
}
