package devicetest

import (
	"fmt"
	"math"
	"testing"

	"github.com/novacron/perfpredict"
	"github.com/novacron/perfpredict/internal/device"
	"github.com/novacron/perfpredict/lstm"
)

// TolBF16 bounds the error of a bfloat16 pass against float32, relative to
// the largest value compared (bfloat16 keeps 8 significant bits).
const TolBF16 = 2e-2

// testBF16 checks the bfloat16 operations exactly where they are exact
// (rounding, products of rounded values, the cell's rounded h) and the
// bfloat16 LSTM and model passes within TolBF16 of float32.
func testBF16(t *testing.T, dev device.Device) {
	e := newEnv(t, dev, 13)
	t.Run("Convert", func(t *testing.T) {
		src := e.random(37) // odd: the last element holds one value
		special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
			float32(math.NaN()), 1e-40, math.MaxFloat32, 1 + 1.0/256, 1 + 3.0/256, -(1 + 1.0/256), 3.0000002}
		copy(src, special)
		dst := e.alloc(device.BF16Len(len(src)))
		e.q.ConvertBF16(len(src), dst, e.buf(src))
		got := device.UnpackBF16(e.get(dst), len(src))
		for i, v := range src {
			want := device.BF16Bits(v)
			if g := math.Float32bits(got[i]) >> 16; g != uint32(want) {
				t.Errorf("ConvertBF16(%v) = %#04x, want %#04x", v, g, want)
			}
		}
		// Ties go to even: 1+1/256 lies halfway between 1 and 1+1/128.
		if device.RoundBF16(1+1.0/256) != 1 || device.RoundBF16(1+3.0/256) != 1+1.0/64 {
			t.Errorf("RoundBF16 ties: %v, %v", device.RoundBF16(1+1.0/256), device.RoundBF16(1+3.0/256))
		}
	})
	t.Run("Gemm", func(t *testing.T) {
		for _, s := range [][3]int{{1, 1, 1}, {5, 7, 9}, {33, 64, 30}, {64, 512, 128}} {
			for tr := 0; tr < 4; tr++ {
				m, n, k := s[0], s[1], s[2]
				g := device.GemmArgs{TransA: tr&1 != 0, TransB: tr&2 != 0, M: m, N: n, K: k, Alpha: 1, Beta: 1, Batch: 2, BF16: true}
				ar, ac := m, k
				if g.TransA {
					ar, ac = k, m
				}
				br, bc := k, n
				if g.TransB {
					br, bc = n, k
				}
				g.LDA, g.LDB, g.LDC = ac+1, bc+3, n+2
				g.StrideA, g.StrideB, g.StrideC = ar*g.LDA+1, br*g.LDB, m*g.LDC
				av, bv, cv := e.random(2*g.StrideA), e.random(2*g.StrideB), e.random(2*g.StrideC)
				ra, rb := make([]float32, len(av)), make([]float32, len(bv))
				for i, v := range av {
					ra[i] = device.RoundBF16(v)
				}
				for i, v := range bv {
					rb[i] = device.RoundBF16(v)
				}
				want := refGemm(g, ra, rb, cv)
				g.A, g.B, g.C = e.alloc(device.BF16Len(len(av))), e.alloc(device.BF16Len(len(bv))), e.buf(cv)
				e.q.ConvertBF16(len(av), g.A, e.buf(av))
				e.q.ConvertBF16(len(bv), g.B, e.buf(bv))
				e.q.Gemm(g)
				// The products of bfloat16 values are exact in float32:
				// only the order of the float32 sums differs.
				CloseTo(t, fmt.Sprintf("bf16 gemm %dx%dx%d transA=%v transB=%v", m, n, k, g.TransA, g.TransB), e.get(g.C), want, Tol)
			}
		}
		mustPanic(t, "a bf16 Gemm with a short A", func() {
			e.q.Gemm(device.GemmArgs{M: 4, N: 4, K: 4, Alpha: 1, BF16: true, A: e.alloc(7), LDA: 4, B: e.alloc(8), LDB: 4, C: e.alloc(16), LDC: 4})
		})
	})
	t.Run("Cell", func(t *testing.T) {
		B, H, ld := 3, 6, 9
		gates := e.random(B * 4 * H)
		for i := range gates {
			gates[i] *= 3
		}
		h, hb := e.alloc(B*H), e.alloc(device.BF16Len((B-1)*ld+H))
		e.q.LSTMCellForward(device.CellArgs{Batch: B, Hidden: H, Gates: e.buf(gates), LDGates: 4 * H,
			C: e.alloc(B * H), LDC: H, H: h, LDH: H, TanhC: e.alloc(B * H), LDTanhC: H, HBF16: hb, LDHBF16: ld})
		hv := e.get(h)
		got := device.UnpackBF16(e.get(hb), (B-1)*ld+H)
		for b := 0; b < B; b++ {
			for j := 0; j < H; j++ {
				if w := device.RoundBF16(hv[b*H+j]); got[b*ld+j] != w {
					t.Errorf("HBF16[%d][%d] = %v, want %v (h %v)", b, j, got[b*ld+j], w, hv[b*H+j])
				}
			}
		}
	})
	t.Run("LSTM", func(t *testing.T) {
		cfg := lstm.Config{Input: 30, Hidden: 16, Layers: 3, Bidirectional: true}
		batch, steps := 5, 20
		s, dl := lstmCase(e, cfg)
		x := e.random(batch * steps * cfg.Input)
		want, err := s.Forward(s.NewWorkspace(), x, batch, steps, false)
		if err != nil {
			t.Fatal(err)
		}
		dl.SetBF16(true)
		out, err := dl.Forward(x, batch, steps, false)
		if err != nil {
			t.Fatal(err)
		}
		CloseRelative(t, "bf16 LSTM output", e.get(out), want, TolBF16, true)
		// Training passes stay float32.
		out, err = dl.Forward(x, batch, steps, true)
		if err != nil {
			t.Fatal(err)
		}
		CloseTo(t, "bf16 LSTM's training pass", e.get(out), want, Tol)
		_, odd := lstmCase(e, lstm.Config{Input: 2, Hidden: 3, Layers: 1})
		odd.SetBF16(true)
		if _, err := odd.Forward(make([]float32, 2*2*2), 2, 2, false); err == nil {
			t.Error("a bf16 pass with an odd hidden size returned no error")
		}
	})
	t.Run("Model", func(t *testing.T) {
		cfg := perfpredict.Config{Hidden: 16, Layers: 2, Head: []int{10, 6}, Dropout: -1, Seed: 9}
		rm, err := perfpredict.New(cfg, 5, 2)
		if err != nil {
			t.Fatal(err)
		}
		dm, err := device.NewModel(dev, device.ModelConfig{Features: 5, Hidden: cfg.Hidden, Layers: cfg.Layers, Outputs: 2, Head: cfg.Head})
		if err != nil {
			t.Fatal(err)
		}
		defer dm.Close()
		if err := dm.Load(checkpointTensors(t, rm)); err != nil {
			t.Fatal(err)
		}
		batch, steps := 6, 15
		x := e.random(batch * steps * 5)
		for i := range x {
			x[i] *= 2
		}
		want, _, err := rm.Predict(x, batch, steps)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(want))
		dm.SetBF16(true)
		for call := 1; call <= 2; call++ { // capture, then replay
			if err := dm.Predict(got, nil, x, batch, steps); err != nil {
				t.Fatal(err)
			}
			CloseRelative(t, fmt.Sprintf("bf16 predictions (call %d)", call), got, want, TolBF16, true)
		}
		dm.SetBF16(false)
		if err := dm.Predict(got, nil, x, batch, steps); err != nil {
			t.Fatal(err)
		}
		CloseTo(t, "predictions after SetBF16(false)", got, want, Tol)
	})
}

// CloseRelative reports an error unless max|got-want| <= tol*max|want|
// (and logs the ratio); with differ, also unless got differs from want
// somewhere (the reduced precision took effect).
func CloseRelative(t testing.TB, what string, got, want []float32, tol float64, differ bool) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	scale, worst := 0.0, 0.0
	for i := range want {
		scale = math.Max(scale, math.Abs(float64(want[i])))
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if !(d <= worst) {
			worst = d
		}
	}
	t.Logf("%s: worst error %.3g of the largest value %.3g", what, worst/scale, scale)
	if !(worst <= tol*scale) {
		t.Errorf("%s: worst error %.3g of the largest value %.3g, tolerance %g", what, worst/scale, scale, tol)
	}
	if differ && worst == 0 {
		t.Errorf("%s: equal to float32 everywhere: bfloat16 was not used", what)
	}
}
