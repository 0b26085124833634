// Package devicetest is the conformance suite every device.Device must pass:
// buffers and host copies, each queue operation against a plain reference,
// the LSTM stack against the lstm package and PyTorch's parity fixtures
// (values and gradients), attention against the attention package, the
// head's layers and Adam against internal/nn, and graph capture and replay.
//
// A backend's test calls Run(t, dev); the CPU device runs it in
// internal/device, the CUDA device in internal/device/cuda when a GPU is
// present. Tolerances are those the issue sets for fp32 (1e-4, relative to
// max(1, |reference|)), so a GPU's different summation order and math
// library pass while a wrong index or a missing term does not.
package devicetest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	perfpredict "github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/attention"
	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/internal/nn"
	"github.com/novacron/perfpredict/internal/safetensors"
	"github.com/novacron/perfpredict/lstm"
)

// Tol is the tolerance of every comparison: |got-want| <= Tol*max(1, |want|).
const Tol = 1e-4

// Run runs the whole suite on dev.
func Run(t *testing.T, dev device.Device) {
	t.Logf("device: %s", dev.Name())
	t.Run("Buffers", func(t *testing.T) { testBuffers(t, dev) })
	t.Run("Gemm", func(t *testing.T) { testGemm(t, dev) })
	t.Run("Elementwise", func(t *testing.T) { testElementwise(t, dev) })
	t.Run("Cell", func(t *testing.T) { testCell(t, dev) })
	t.Run("LSTM", func(t *testing.T) { testLSTM(t, dev) })
	t.Run("LSTMParityFixtures", func(t *testing.T) { testLSTMFixtures(t, dev) })
	t.Run("Attention", func(t *testing.T) { testAttention(t, dev) })
	t.Run("Head", func(t *testing.T) { testHead(t, dev) })
	t.Run("Adam", func(t *testing.T) { testAdam(t, dev) })
	t.Run("Graph", func(t *testing.T) { testGraph(t, dev) })
	t.Run("Model", func(t *testing.T) { testModel(t, dev) })
	t.Run("BF16", func(t *testing.T) { testBF16(t, dev) })
}

// helpers

type env struct {
	t   *testing.T
	dev device.Device
	q   device.Queue
	rng *rand.Rand
}

func newEnv(t *testing.T, dev device.Device, seed uint64) *env {
	t.Helper()
	return &env{t: t, dev: dev, q: dev.Queue(0), rng: rand.New(rand.NewPCG(seed, 7))}
}

func (e *env) random(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(e.rng.Float64()*2 - 1)
	}
	return v
}

// buf allocates a device buffer holding v, freed when the test ends.
func (e *env) buf(v []float32) device.Buffer {
	e.t.Helper()
	b := e.alloc(len(v))
	if err := e.q.Upload(b, v); err != nil {
		e.t.Fatal(err)
	}
	return b
}

func (e *env) alloc(n int) device.Buffer {
	e.t.Helper()
	b, err := e.dev.Alloc(n)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := e.dev.Free(b); err != nil {
			e.t.Error(err)
		}
	})
	return b
}

// get synchronises and downloads b.
func (e *env) get(b device.Buffer) []float32 {
	e.t.Helper()
	if err := e.dev.Sync(); err != nil {
		e.t.Fatal(err)
	}
	v := make([]float32, b.Len())
	if err := e.q.Download(v, b); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// CloseTo reports an error unless |got-want| <= tol*max(1, |want|)
// everywhere (NaN counts as a mismatch unless both are NaN).
func CloseTo(t testing.TB, what string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	worst, at := 0.0, -1
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) && math.IsNaN(w) {
			continue
		}
		d := math.Abs(g-w) / math.Max(1, math.Abs(w))
		if !(d <= worst) {
			worst, at = d, i
		}
	}
	if worst > tol || math.IsNaN(worst) {
		t.Errorf("%s: worst error %.3g at %d (got %v, want %v), tolerance %g", what, worst, at, got[at], want[at], tol)
	}
}

func clone(v []float32) []float32 { return append([]float32(nil), v...) }

// tests

func testBuffers(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 1)
	b := e.alloc(1000)
	for i, v := range e.get(b) {
		if v != 0 {
			t.Fatalf("Alloc: element %d is %v, want a zeroed buffer", i, v)
		}
	}
	v := e.random(1000)
	if err := e.q.Upload(b, v); err != nil {
		t.Fatal(err)
	}
	CloseTo(t, "round trip", e.get(b), v, 0)
	part := make([]float32, 10)
	if err := e.q.Download(part, b.Slice(500, 10)); err != nil {
		t.Fatal(err)
	}
	CloseTo(t, "slice", part, v[500:510], 0)
	if err := e.q.Upload(b.Slice(990, 10), make([]float32, 10)); err != nil {
		t.Fatal(err)
	}
	got := e.get(b)
	CloseTo(t, "upload into a slice", got[990:], make([]float32, 10), 0)
	CloseTo(t, "upload into a slice leaves the rest", got[:990], v[:990], 0)
	if _, err := dev.Alloc(-1); err == nil {
		t.Error("Alloc(-1) returned no error")
	}
	mustPanic(t, "Slice beyond the end", func() { b.Slice(995, 10) })
	mustPanic(t, "Upload beyond the end", func() { _ = e.q.Upload(b.Slice(0, 5), make([]float32, 6)) })
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", what)
		}
	}()
	fn()
}

// refGemm is the float64 loop of GemmArgs on host slices.
func refGemm(g device.GemmArgs, a, b, c []float32) []float32 {
	c = clone(c)
	for i := 0; i < g.Batches(); i++ {
		for r := 0; r < g.M; r++ {
			for col := 0; col < g.N; col++ {
				var s float64
				for p := 0; p < g.K; p++ {
					ai, bi := i*g.StrideA+r*g.LDA+p, i*g.StrideB+p*g.LDB+col
					if g.TransA {
						ai = i*g.StrideA + p*g.LDA + r
					}
					if g.TransB {
						bi = i*g.StrideB + col*g.LDB + p
					}
					av, bv := a[ai], b[bi]
					s += float64(av) * float64(bv)
				}
				ci := i*g.StrideC + r*g.LDC + col
				old := float64(0)
				if g.Beta != 0 {
					old = float64(g.Beta) * float64(c[ci])
				}
				c[ci] = float32(float64(g.Alpha)*s + old)
			}
		}
	}
	return c
}

func testGemm(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 2)
	shapes := [][3]int{{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 512, 128}, {120, 10, 1}}
	for _, s := range shapes {
		for _, batch := range []int{1, 3} {
			for tr := 0; tr < 4; tr++ {
				m, n, k := s[0], s[1], s[2]
				g := device.GemmArgs{TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: k, Alpha: 0.5, Beta: 0, Batch: batch}
				ar, ac := m, k
				if g.TransA {
					ar, ac = k, m
				}
				br, bc := k, n
				if g.TransB {
					br, bc = n, k
				}
				// Strides with padding, so a kernel that ignores them fails.
				g.LDA, g.LDB, g.LDC = ac+3, bc+1, n+2
				g.StrideA, g.StrideB, g.StrideC = ar*g.LDA+5, br*g.LDB+2, m*g.LDC+1
				if tr == 3 {
					g.Beta = 1.5
				}
				av, bv := e.random(batch*g.StrideA), e.random(batch*g.StrideB)
				cv := e.random(batch * g.StrideC)
				if g.Beta == 0 {
					for i := range cv {
						cv[i] = float32(math.NaN()) // beta 0 must not read C
					}
				}
				want := refGemm(g, av, bv, cv)
				if g.Beta == 0 {
					// Padding between rows and products must stay as it was.
					for i := range want {
						if math.IsNaN(float64(want[i])) {
							want[i] = cv[i]
						}
					}
				}
				g.A, g.B, g.C = e.buf(av), e.buf(bv), e.buf(cv)
				e.q.Gemm(g)
				CloseTo(t, fmt.Sprintf("gemm %dx%dx%d batch %d transA=%v transB=%v beta=%v", m, n, k, batch, g.TransA, g.TransB, g.Beta),
					e.get(g.C), want, Tol)
			}
		}
	}
	mustPanic(t, "Gemm with a short A", func() {
		e.q.Gemm(device.GemmArgs{M: 4, N: 4, K: 4, Alpha: 1, A: e.alloc(15), LDA: 4, B: e.alloc(16), LDB: 4, C: e.alloc(16), LDC: 4})
	})
}

func testElementwise(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 3)
	rows, cols, lds, ldd := 7, 5, 9, 6
	src := e.random(rows * lds)
	dstV := e.random(rows * ldd)
	want := clone(dstV)
	for r := 0; r < rows; r++ {
		copy(want[r*ldd:r*ldd+cols], src[r*lds:r*lds+cols])
	}
	dst := e.buf(dstV)
	e.q.Copy2D(rows, cols, dst, ldd, e.buf(src), lds)
	CloseTo(t, "Copy2D", e.get(dst), want, 0)

	row := e.random(cols)
	for r := 0; r < rows; r++ {
		copy(want[r*ldd:r*ldd+cols], row)
	}
	e.q.Copy2D(rows, cols, dst, ldd, e.buf(row), 0)
	CloseTo(t, "Copy2D broadcast", e.get(dst), want, 0)

	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			want[r*ldd+j] = 2.5
		}
	}
	e.q.Fill2D(rows, cols, dst, ldd, 2.5)
	CloseTo(t, "Fill2D", e.get(dst), want, 0)

	a, b := e.random(300), e.random(300)
	sum, prod := make([]float32, 300), make([]float32, 300)
	for i := range a {
		sum[i], prod[i] = a[i]+b[i], a[i]*b[i]
	}
	ab, bb := e.buf(a), e.buf(b)
	out := e.alloc(300)
	e.q.Add(out, ab, bb)
	CloseTo(t, "Add", e.get(out), sum, 0)
	e.q.Mul(ab, ab, bb) // in place
	CloseTo(t, "Mul in place", e.get(ab), prod, 0)

	m := e.random(rows * lds)
	for _, beta := range []float32{0, 1, 0.5} {
		d0 := e.random(cols)
		ws := make([]float32, cols)
		for j := range ws {
			s := float64(0)
			for r := 0; r < rows; r++ {
				s += float64(m[r*lds+j])
			}
			ws[j] = float32(s + float64(beta)*float64(d0[j]))
		}
		d := e.buf(d0)
		e.q.ColumnSum(rows, cols, d, beta, e.buf(m), lds)
		CloseTo(t, fmt.Sprintf("ColumnSum beta=%v", beta), e.get(d), ws, 1e-5)
	}

	x := e.random(rows * cols)
	scale, shift := e.random(cols), e.random(cols)
	for _, relu := range []bool{false, true} {
		for _, withScale := range []bool{false, true} {
			want := make([]float32, rows*cols)
			for r := 0; r < rows; r++ {
				for j := 0; j < cols; j++ {
					v := x[r*cols+j] + shift[j]
					if withScale {
						v = x[r*cols+j]*scale[j] + shift[j]
					}
					if relu && v < 0 {
						v = 0
					}
					want[r*cols+j] = v
				}
			}
			var sb device.Buffer
			if withScale {
				sb = e.buf(scale)
			}
			y := e.alloc(rows * cols)
			e.q.Affine(rows, cols, y, e.buf(x), sb, e.buf(shift), relu)
			CloseTo(t, fmt.Sprintf("Affine relu=%v scale=%v", relu, withScale), e.get(y), want, 1e-6)
		}
	}
	dy := e.random(rows * cols)
	wantDx := make([]float32, len(dy))
	nn.ReLUBackward(wantDx, dy, x)
	dx := e.alloc(len(dy))
	e.q.ReLUBackward(dx, e.buf(dy), e.buf(x))
	CloseTo(t, "ReLUBackward", e.get(dx), wantDx, 0)
}

// testCell checks the fused cell over a batch with strided rows against a
// float64 transcription of the cell.
func testCell(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 4)
	B, H := 5, 24
	G := 4 * H
	ld := G + 8 // strided rows, as in the LSTM's [B, T, 4H] layout
	ldh := H + 3
	gates := e.random(B * ld)
	for i := range gates {
		gates[i] *= 3
	}
	cPrev := e.random(B * ldh)
	sig := func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
	wantAct, wantC, wantH, wantTC := clone(gates), make([]float32, B*ldh), make([]float32, B*ldh), make([]float32, B*ldh)
	for b := 0; b < B; b++ {
		for j := 0; j < H; j++ {
			g := gates[b*ld:]
			i, f, gg, o := sig(float64(g[j])), sig(float64(g[H+j])), math.Tanh(float64(g[2*H+j])), sig(float64(g[3*H+j]))
			c := f*float64(cPrev[b*ldh+j]) + i*gg
			wantAct[b*ld+j], wantAct[b*ld+H+j], wantAct[b*ld+2*H+j], wantAct[b*ld+3*H+j] = float32(i), float32(f), float32(gg), float32(o)
			wantC[b*ldh+j], wantTC[b*ldh+j], wantH[b*ldh+j] = float32(c), float32(math.Tanh(c)), float32(o*math.Tanh(c))
		}
	}
	gb, cb, hb, tb := e.buf(gates), e.alloc(B*ldh), e.alloc(B*ldh), e.alloc(B*ldh)
	cpb := e.buf(cPrev)
	e.q.LSTMCellForward(device.CellArgs{Batch: B, Hidden: H, Gates: gb, LDGates: ld, CPrev: cpb, LDCPrev: ldh,
		C: cb, LDC: ldh, H: hb, LDH: ldh, TanhC: tb, LDTanhC: ldh})
	act := e.get(gb)
	CloseTo(t, "cell activations", act, wantAct, 1e-6)
	CloseTo(t, "cell c", e.get(cb), wantC, 1e-6)
	CloseTo(t, "cell h", e.get(hb), wantH, 1e-6)
	CloseTo(t, "cell tanh(c)", e.get(tb), wantTC, 1e-6)

	// Backward with DOut added to DH.
	dh, dOut, dc := e.random(B*H), e.random(B*ldh), e.random(B*H)
	tc := e.get(tb)
	wantDG, wantDC := make([]float32, B*ld), make([]float32, B*H)
	copy(wantDG, act) // padding columns keep the activations (DGates aliases Act)
	for b := 0; b < B; b++ {
		for j := 0; j < H; j++ {
			a := act[b*ld:]
			i, f, g, o := float64(a[j]), float64(a[H+j]), float64(a[2*H+j]), float64(a[3*H+j])
			th := float64(tc[b*ldh+j])
			dhv := float64(dh[b*H+j]) + float64(dOut[b*ldh+j])
			dcv := float64(dc[b*H+j]) + dhv*o*(1-th*th)
			wantDG[b*ld+j] = float32(dcv * g * i * (1 - i))
			wantDG[b*ld+H+j] = float32(dcv * float64(cPrev[b*ldh+j]) * f * (1 - f))
			wantDG[b*ld+2*H+j] = float32(dcv * i * (1 - g*g))
			wantDG[b*ld+3*H+j] = float32(dhv * th * o * (1 - o))
			wantDC[b*H+j] = float32(dcv * f)
		}
	}
	dhb, dcb := e.buf(dh), e.buf(dc)
	e.q.LSTMCellBackward(device.CellGradArgs{Batch: B, Hidden: H, DGates: gb, LDDGates: ld, Act: gb, LDAct: ld,
		CPrev: cpb, LDCPrev: ldh, TanhC: tb, LDTanhC: ldh, DH: dhb, DOut: e.buf(dOut), LDDOut: ldh, DC: dcb})
	CloseTo(t, "cell dGates", e.get(gb), wantDG, 1e-5)
	CloseTo(t, "cell dc", e.get(dcb), wantDC, 1e-5)

	// The zero initial state.
	g0 := e.random(B * G)
	want0 := clone(g0)
	for i := range want0 {
		want0[i] = 0
	}
	for b := 0; b < B; b++ {
		for j := 0; j < H; j++ {
			i, gg, o := sig(float64(g0[b*G+j])), math.Tanh(float64(g0[b*G+2*H+j])), sig(float64(g0[b*G+3*H+j]))
			want0[b*H+j] = float32(o * math.Tanh(i*gg))
		}
	}
	hb0 := e.alloc(B * H)
	e.q.LSTMCellForward(device.CellArgs{Batch: B, Hidden: H, Gates: e.buf(g0), LDGates: G, C: e.alloc(B * H), LDC: H,
		H: hb0, LDH: H, TanhC: e.alloc(B * H), LDTanhC: H})
	CloseTo(t, "cell h from the zero state", e.get(hb0), want0[:B*H], 1e-6)

	// A bias added to every row's pre-activations: the same as adding it
	// to the gates first.
	bias := e.random(G)
	withBias := clone(g0)
	for b := 0; b < B; b++ {
		for j := range bias {
			withBias[b*G+j] += bias[j]
		}
	}
	hWant, hGot := e.alloc(B*H), e.alloc(B*H)
	e.q.LSTMCellForward(device.CellArgs{Batch: B, Hidden: H, Gates: e.buf(withBias), LDGates: G, C: e.alloc(B * H), LDC: H,
		H: hWant, LDH: H, TanhC: e.alloc(B * H), LDTanhC: H})
	e.q.LSTMCellForward(device.CellArgs{Batch: B, Hidden: H, Gates: e.buf(g0), LDGates: G, Bias: e.buf(bias), C: e.alloc(B * H), LDC: H,
		H: hGot, LDH: H, TanhC: e.alloc(B * H), LDTanhC: H})
	CloseTo(t, "cell h with a bias", e.get(hGot), e.get(hWant), 1e-6)
	mustPanic(t, "a cell with a short bias", func() {
		e.q.LSTMCellForward(device.CellArgs{Batch: B, Hidden: H, Gates: e.buf(g0), LDGates: G, Bias: e.alloc(G - 1), C: e.alloc(B * H), LDC: H,
			H: hGot, LDH: H, TanhC: e.alloc(B * H), LDTanhC: H})
	})
}

// lstmCase builds an lstm.Stack with random weights and the same stack on dev.
func lstmCase(e *env, cfg lstm.Config) (*lstm.Stack, *device.LSTM) {
	e.t.Helper()
	s, err := lstm.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	s.InitUniform(e.rng)
	dl, err := device.NewLSTM(e.dev, device.LSTMConfig{Input: cfg.Input, Hidden: cfg.Hidden, Layers: cfg.Layers, Bidirectional: cfg.Bidirectional})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		if err := dl.Close(); err != nil {
			e.t.Error(err)
		}
	})
	if err := dl.Upload(s.Params()); err != nil {
		e.t.Fatal(err)
	}
	return s, dl
}

// compareLSTM runs both stacks forward (evaluation and training) and
// backward with the same gradient, comparing output, input gradient and
// every parameter gradient.
func compareLSTM(e *env, s *lstm.Stack, dl *device.LSTM, x, dOut []float32, batch, steps int, tol float64) {
	t := e.t
	t.Helper()
	ws := s.NewWorkspace()
	for _, train := range []bool{false, true} {
		want, err := s.Forward(ws, x, batch, steps, train)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dl.Forward(x, batch, steps, train)
		if err != nil {
			t.Fatal(err)
		}
		CloseTo(t, fmt.Sprintf("LSTM output (train=%v)", train), e.get(got), want, tol)
	}
	wantDx := clone(s.Backward(ws, dOut))
	dx := dl.Backward(e.buf(dOut))
	CloseTo(t, "LSTM input gradient", e.get(dx), wantDx, tol)
	params := s.Params()
	got := make([]*nn.Param, len(params))
	for i, p := range params {
		got[i] = &nn.Param{Name: p.Name, Data: p.Data, Grad: make([]float32, len(p.Grad))}
	}
	if err := dl.AddGradsTo(got); err != nil {
		t.Fatal(err)
	}
	for i, p := range params {
		CloseTo(t, "LSTM gradient of "+p.Name, got[i].Grad, p.Grad, tol)
	}
}

func testLSTM(t *testing.T, dev device.Device) {
	for _, c := range []struct {
		cfg          lstm.Config
		batch, steps int
	}{
		{lstm.Config{Input: 3, Hidden: 5, Layers: 1}, 2, 4},
		{lstm.Config{Input: 4, Hidden: 8, Layers: 2, Bidirectional: true}, 3, 6},
		{lstm.Config{Input: 30, Hidden: 16, Layers: 3, Bidirectional: true}, 5, 20},
		{lstm.Config{Input: 7, Hidden: 32, Layers: 2, Bidirectional: true}, 70, 3}, // the lstm package's step-wise path
		{lstm.Config{Input: 2, Hidden: 4, Layers: 2, Bidirectional: true}, 3, 1},   // one step: no recurrence
	} {
		name := fmt.Sprintf("F%d_H%d_L%d_bi=%v_B%d_T%d", c.cfg.Input, c.cfg.Hidden, c.cfg.Layers, c.cfg.Bidirectional, c.batch, c.steps)
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, dev, 5)
			s, dl := lstmCase(e, c.cfg)
			x := e.random(c.batch * c.steps * c.cfg.Input)
			dOut := e.random(c.batch * c.steps * s.OutputSize())
			compareLSTM(e, s, dl, x, dOut, c.batch, c.steps, Tol)
			// A second pass of another shape reuses or regrows the buffers.
			x2 := e.random(2 * c.batch * (c.steps + 1) * c.cfg.Input)
			dOut2 := e.random(2 * c.batch * (c.steps + 1) * s.OutputSize())
			s2, dl2 := s, dl
			compareLSTM(e, s2, dl2, x2, dOut2, 2*c.batch, c.steps+1, Tol)
		})
	}
	t.Run("errors", func(t *testing.T) {
		e := newEnv(t, dev, 6)
		_, dl := lstmCase(e, lstm.Config{Input: 3, Hidden: 4, Layers: 1})
		if _, err := dl.Forward(make([]float32, 5), 2, 1, false); err == nil {
			t.Error("Forward with 5 values for 2x1x3 returned no error")
		}
		if _, err := dl.Forward(nil, 0, 1, false); err == nil {
			t.Error("Forward with batch 0 returned no error")
		}
		if _, err := device.NewLSTM(dev, device.LSTMConfig{Input: 0, Hidden: 1, Layers: 1}); err == nil {
			t.Error("NewLSTM with no input returned no error")
		}
		if err := dl.Upload(nil); err == nil {
			t.Error("Upload of no parameters returned no error")
		}
	})
}

// moduleRoot finds the directory holding go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("devicetest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// testLSTMFixtures runs PyTorch's nn.LSTM fixtures (tools/fixtures/lstm_fixture.py):
// output, input gradient and parameter gradients for the loss sum(out*r).
func testLSTMFixtures(t *testing.T, dev device.Device) {
	dir := filepath.Join(moduleRoot(t), "testdata", "fixtures", "lstm")
	for _, name := range []string{"bi_l2_f5_h16_b3_t7", "uni_l1_f4_h8_b2_t5", "uni_l2_f3_h6_b4_t9", "seed_l3_f30_h16_b2_t60"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, name+".safetensors")
			f, err := safetensors.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			meta := func(k string) int {
				v, err := strconv.Atoi(f.Metadata[k])
				if err != nil {
					t.Fatalf("%s: metadata %q: %v", path, k, err)
				}
				return v
			}
			get := func(name string) []float32 {
				v, _, err := f.Float32(name)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				return v
			}
			cfg := device.LSTMConfig{Input: meta("input"), Hidden: meta("hidden"), Layers: meta("layers"), Bidirectional: meta("bidirectional") == 1}
			batch, steps := meta("batch"), meta("steps")
			s, err := lstm.New(lstm.Config{Input: cfg.Input, Hidden: cfg.Hidden, Layers: cfg.Layers, Bidirectional: cfg.Bidirectional})
			if err != nil {
				t.Fatal(err)
			}
			params := s.Params()
			for _, p := range params {
				copy(p.Data, get(p.Name))
			}
			dl, err := device.NewLSTM(dev, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer dl.Close()
			if err := dl.Upload(params); err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, dev, 0)
			out, err := dl.Forward(get("x"), batch, steps, true)
			if err != nil {
				t.Fatal(err)
			}
			CloseTo(t, "out", e.get(out), get("out"), 1e-5)
			dx := dl.Backward(e.buf(get("r")))
			CloseTo(t, "grad.x", e.get(dx), get("grad.x"), Tol)
			for _, p := range params {
				clear(p.Grad)
			}
			if err := dl.AddGradsTo(params); err != nil {
				t.Fatal(err)
			}
			for _, p := range params {
				CloseTo(t, "grad."+p.Name, p.Grad, get("grad."+p.Name), Tol)
			}
		})
	}
}

func testAttention(t *testing.T, dev device.Device) {
	for _, c := range [][3]int{{1, 1, 4}, {3, 7, 10}, {4, 60, 32}} {
		batch, steps, dim := c[0], c[1], c[2]
		for _, withDW := range []bool{false, true} {
			t.Run(fmt.Sprintf("B%d_T%d_D%d_dWeights=%v", batch, steps, dim, withDW), func(t *testing.T) {
				e := newEnv(t, dev, 8)
				att := attention.New(dim)
				att.Init(e.rng)
				h := e.random(batch * steps * dim)
				for i := range h {
					h[i] *= 2
				}
				ws := att.NewWorkspace()
				wantCtx, wantW := att.Forward(ws, h, batch, steps)
				wantCtx, wantW = clone(wantCtx), clone(wantW)
				dCtx := e.random(batch * dim)
				var dW []float32
				if withDW {
					dW = e.random(batch * steps)
				}
				wantDh := clone(att.Backward(ws, dCtx, dW))

				a := device.AttentionArgs{Batch: batch, Steps: steps, Dim: dim,
					H: e.buf(h), ProjW: e.buf(att.ProjW.Data), ProjB: e.buf(att.ProjB.Data), ScoreW: e.buf(att.ScoreW.Data),
					U: e.alloc(batch * steps * dim), Weights: e.alloc(batch * steps), Context: e.alloc(batch * dim),
					DContext: e.buf(dCtx), DH: e.alloc(batch * steps * dim),
					DProjW: e.alloc(dim * dim), DProjB: e.alloc(dim), DScoreW: e.alloc(dim), Scratch: e.alloc(batch * steps)}
				if withDW {
					a.DWeights = e.buf(dW)
				}
				e.q.AttentionForward(a)
				CloseTo(t, "context", e.get(a.Context), wantCtx, Tol)
				CloseTo(t, "weights", e.get(a.Weights), wantW, Tol)
				e.q.AttentionBackward(a)
				CloseTo(t, "dh", e.get(a.DH), wantDh, Tol)
				CloseTo(t, "dProjW", e.get(a.DProjW), att.ProjW.Grad, Tol)
				CloseTo(t, "dProjB", e.get(a.DProjB), att.ProjB.Grad, Tol)
				CloseTo(t, "dScoreW", e.get(a.DScoreW), att.ScoreW.Grad, Tol)
			})
		}
	}
}

// testHead runs one head layer as the model does (Linear as Gemm plus bias,
// BatchNorm1d in training and evaluation, ReLU) against internal/nn.
func testHead(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 9)
	batch, in, out := 32, 24, 16
	lin := nn.NewLinear("fc.", in, out, true)
	lin.Init(e.rng)
	bn := nn.NewBatchNorm1d("bn.", out)
	nn.Uniform(e.rng, bn.Weight.Data, 0.5, 1.5)
	nn.Uniform(e.rng, bn.Bias.Data, -0.5, 0.5)
	x := e.random(batch * in)

	// Reference: Linear, BatchNorm (train), ReLU, then backward.
	z := make([]float32, batch*out)
	lin.Forward(z, x, batch)
	y := make([]float32, batch*out)
	cache := &nn.BatchNormCache{Mean: make([]float64, out), InvStd: make([]float64, out)}
	rm0, rv0 := clone(bn.RunningMean.Data), clone(bn.RunningVar.Data)
	bn.ForwardTrain(y, z, batch, cache)
	nn.ReLU(y, y)
	dy := e.random(batch * out)
	dz := make([]float32, batch*out)
	nn.ReLUBackward(dz, dy, y)
	bn.Backward(dz, dz, batch, cache)
	dx := make([]float32, batch*in)
	lin.Backward(dx, dz, x, batch)

	// Device.
	xb, wb, bb := e.buf(x), e.buf(lin.Weight.Data), e.buf(lin.Bias.Data)
	zb := e.alloc(batch * out)
	e.q.Copy2D(batch, out, zb, out, bb, 0)
	e.q.Gemm(device.GemmArgs{TransB: true, M: batch, N: out, K: in, Alpha: 1, Beta: 1, A: xb, LDA: in, B: wb, LDB: in, C: zb, LDC: out})
	CloseTo(t, "linear", e.get(zb), z, Tol)
	a := device.BatchNormArgs{Batch: batch, N: out, Eps: bn.Eps, Momentum: bn.Momentum, X: zb, Y: e.alloc(batch * out),
		Gamma: e.buf(bn.Weight.Data), Beta: e.buf(bn.Bias.Data), RunMean: e.buf(rm0), RunVar: e.buf(rv0),
		Mean: e.alloc(out), InvStd: e.alloc(out), DGamma: e.alloc(out), DBeta: e.alloc(out)}
	e.q.BatchNormTrain(a)
	e.q.Affine(batch, out, a.Y, a.Y, nil, e.alloc(out), true) // ReLU
	CloseTo(t, "batchnorm+relu (train)", e.get(a.Y), y, Tol)
	CloseTo(t, "running mean", e.get(a.RunMean), bn.RunningMean.Data, Tol)
	CloseTo(t, "running var", e.get(a.RunVar), bn.RunningVar.Data, Tol)
	a.DY = e.buf(dy)
	a.DX = e.alloc(batch * out)
	e.q.ReLUBackward(a.DY, a.DY, a.Y)
	e.q.BatchNormBackward(a)
	CloseTo(t, "batchnorm dx", e.get(a.DX), dz, Tol)
	CloseTo(t, "batchnorm dGamma", e.get(a.DGamma), bn.Weight.Grad, Tol)
	CloseTo(t, "batchnorm dBeta", e.get(a.DBeta), bn.Bias.Grad, Tol)
	dW, dB, dxb := e.alloc(out*in), e.alloc(out), e.alloc(batch*in)
	e.q.Gemm(device.GemmArgs{TransA: true, M: out, N: in, K: batch, Alpha: 1, Beta: 1, A: a.DX, LDA: out, B: xb, LDB: in, C: dW, LDC: in})
	e.q.ColumnSum(batch, out, dB, 1, a.DX, out)
	e.q.Gemm(device.GemmArgs{M: batch, N: in, K: out, Alpha: 1, A: a.DX, LDA: out, B: wb, LDB: in, C: dxb, LDC: in})
	CloseTo(t, "linear dW", e.get(dW), lin.Weight.Grad, Tol)
	CloseTo(t, "linear db", e.get(dB), lin.Bias.Grad, Tol)
	CloseTo(t, "linear dx", e.get(dxb), dx, Tol)

	// Evaluation: BatchNorm folded into Affine's scale and shift.
	ye := make([]float32, batch*out)
	bn.ForwardEval(ye, z, batch)
	nn.ReLU(ye, ye)
	scale, shift := make([]float32, out), make([]float32, out)
	for j := range scale {
		scale[j] = bn.Weight.Data[j] / float32(math.Sqrt(float64(bn.RunningVar.Data[j]+bn.Eps)))
		shift[j] = bn.Bias.Data[j] - bn.RunningMean.Data[j]*scale[j]
	}
	yb := e.alloc(batch * out)
	e.q.Affine(batch, out, yb, zb, e.buf(scale), e.buf(shift), true)
	CloseTo(t, "batchnorm+relu (eval)", e.get(yb), ye, Tol)
}

func testAdam(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 10)
	p := nn.NewParam("w", 1000)
	copy(p.Data, e.random(1000))
	opt := nn.NewAdam([]*nn.Param{p}, 1e-3)
	pb, mb, vb := e.buf(p.Data), e.alloc(1000), e.alloc(1000)
	for step := int64(1); step <= 3; step++ {
		copy(p.Grad, e.random(1000))
		gb := e.buf(p.Grad)
		opt.Step()
		e.q.Adam(device.AdamArgs{Param: pb, Grad: gb, M: mb, V: vb, LR: opt.LR, Beta1: opt.Beta1, Beta2: opt.Beta2, Eps: opt.Eps, Step: step})
		CloseTo(t, fmt.Sprintf("Adam step %d", step), e.get(pb), p.Data, 1e-6)
	}
}

// testGraph captures an LSTM forward pass and attention, replays it on new
// inputs and compares with eager runs.
func testGraph(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 11)
	cfg := lstm.Config{Input: 6, Hidden: 8, Layers: 2, Bidirectional: true}
	s, dl := lstmCase(e, cfg)
	batch, steps, dim := 4, 9, s.OutputSize()
	att := attention.New(dim)
	att.Init(e.rng)
	a := device.AttentionArgs{Batch: batch, Steps: steps, Dim: dim,
		ProjW: e.buf(att.ProjW.Data), ProjB: e.buf(att.ProjB.Data), ScoreW: e.buf(att.ScoreW.Data),
		U: e.alloc(batch * steps * dim), Weights: e.alloc(batch * steps), Context: e.alloc(batch * dim)}
	if err := dl.Prepare(batch, steps, false); err != nil {
		t.Fatal(err)
	}
	q := e.q
	if err := dev.BeginCapture(q); err != nil {
		t.Fatal(err)
	}
	if err := q.Upload(dl.Input(), make([]float32, batch*steps*cfg.Input)); !errors.Is(err, device.ErrCapturing) {
		t.Errorf("Upload while capturing: %v, want ErrCapturing", err)
	}
	dl.Enqueue()
	a.H = dl.Output()
	q.AttentionForward(a)
	g, err := dev.EndCapture(q)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := dev.BeginCapture(q); err != nil {
		t.Fatal(err)
	}
	if _, err := dev.EndCapture(dev.Queue(1)); err == nil {
		t.Error("EndCapture on another queue returned no error")
	}
	scratch := e.alloc(4)
	q.Fill2D(1, 4, scratch, 4, 3) // a graph of one operation
	fill, err := dev.EndCapture(q)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.get(scratch); got[0] != 0 {
		t.Errorf("a captured Fill2D ran before Launch: %v", got)
	}
	if err := fill.Launch(q); err != nil {
		t.Fatal(err)
	}
	CloseTo(t, "captured Fill2D after Launch", e.get(scratch), []float32{3, 3, 3, 3}, 0)
	if err := fill.Close(); err != nil {
		t.Error(err)
	}
	ws, aws := s.NewWorkspace(), att.NewWorkspace()
	for i := 0; i < 3; i++ {
		x := e.random(batch * steps * cfg.Input)
		if err := q.Upload(dl.Input(), x); err != nil {
			t.Fatal(err)
		}
		if err := g.Launch(q); err != nil {
			t.Fatal(err)
		}
		h, err := s.Forward(ws, x, batch, steps, false)
		if err != nil {
			t.Fatal(err)
		}
		ctx, w := att.Forward(aws, h, batch, steps)
		CloseTo(t, fmt.Sprintf("replay %d: LSTM output", i), e.get(a.H), h, Tol)
		CloseTo(t, fmt.Sprintf("replay %d: context", i), e.get(a.Context), ctx, Tol)
		CloseTo(t, fmt.Sprintf("replay %d: weights", i), e.get(a.Weights), w, Tol)
	}
}

// checkpointTensors returns the tensors of m's checkpoint by name.
func checkpointTensors(t *testing.T, m *perfpredict.Model) func(string) ([]float32, error) {
	t.Helper()
	var buf bytes.Buffer
	if err := m.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.Parse(buf.Bytes(), "model")
	if err != nil {
		t.Fatal(err)
	}
	return func(name string) ([]float32, error) {
		v, _, err := f.Float32(name)
		return v, err
	}
}

// testModel runs the whole performance model on the device (device.Model)
// against the root package's Model built from the same checkpoint:
// predictions and attention weights, then training steps (loss, and every
// tensor after each Adam update), then predictions with the moved BatchNorm
// statistics. Dropout is off in both.
func testModel(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 12)
	cfg := perfpredict.Config{Hidden: 12, Layers: 2, Head: []int{10, 6}, Dropout: -1, Seed: 5}
	const features, outputs = 4, 2
	rm, err := perfpredict.New(cfg, features, outputs)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := device.NewModel(dev, device.ModelConfig{Features: features, Hidden: cfg.Hidden, Layers: cfg.Layers, Outputs: outputs, Head: cfg.Head})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := dm.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := dm.Load(checkpointTensors(t, rm)); err != nil {
		t.Fatal(err)
	}
	predict := func(what string, batch, steps int) {
		t.Helper()
		x := e.random(batch * steps * features)
		wantP, wantW, err := rm.Predict(x, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		p, w := make([]float32, batch*outputs), make([]float32, batch*steps)
		for i := 0; i < 2; i++ { // the second call replays the captured graph
			if err := dm.Predict(p, w, x, batch, steps); err != nil {
				t.Fatal(err)
			}
			CloseTo(t, fmt.Sprintf("%s: predictions (call %d)", what, i+1), p, wantP, Tol)
			CloseTo(t, fmt.Sprintf("%s: attention weights (call %d)", what, i+1), w, wantW, Tol)
		}
	}
	predict("initial weights B5 T8", 5, 8)
	predict("initial weights B3 T11", 3, 11)
	tr := rm.NewTrainer()
	batch, steps := 6, 9
	x := e.random(batch * steps * features)
	y := e.random(batch * outputs)
	lr := rm.Config().LearningRate
	for step := 1; step <= 3; step++ {
		if step == 3 {
			// An evaluation pass between training steps: the captured
			// training passes must still be right (replayed or recaptured).
			if err := dm.Predict(make([]float32, batch*outputs), nil, x, batch, steps); err != nil {
				t.Fatal(err)
			}
		}
		want, err := tr.Step(x, y, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dm.TrainStep(x, y, batch, steps, lr)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > Tol*math.Max(1, math.Abs(want)) {
			t.Errorf("step %d: loss %v, want %v", step, got, want)
		}
		ref := checkpointTensors(t, rm)
		if err := dm.Save(func(name string, v []float32) error {
			w, err := ref(name)
			if err != nil {
				return err
			}
			what := fmt.Sprintf("step %d: %s", step, name)
			switch {
			case strings.HasPrefix(name, "head.fc") && strings.HasSuffix(name, ".bias"):
				// A Linear's bias right before a BatchNorm has a zero
				// gradient in exact arithmetic (the normalisation removes
				// it), so its float32 gradient is rounding noise, which
				// Adam scales to steps of up to lr either way: only that
				// bound is comparable.
				CloseTo(t, what, v, w, 2*lr*float64(step))
			case step > 1 && strings.HasSuffix(name, ".running_mean"):
				// The batch means include those biases (momentum 0.1).
				CloseTo(t, what, v, w, 0.1*2*lr*float64(step))
			default:
				CloseTo(t, what, v, w, Tol)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Predictions with trained weights and moved BatchNorm statistics: the
	// root model's own, loaded into the device model.
	if err := dm.Load(checkpointTensors(t, rm)); err != nil {
		t.Fatal(err)
	}
	predict("trained B5 T8", 5, 8)
	if _, err := dm.TrainStep(x[:steps*features], y[:outputs], 1, steps, 1e-3); err == nil {
		t.Error("TrainStep with a batch of 1 returned no error")
	}
	if err := dm.Predict(make([]float32, 2), nil, make([]float32, 7), 1, 2); err == nil {
		t.Error("Predict with a wrong input length returned no error")
	}
}
