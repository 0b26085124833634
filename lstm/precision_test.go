package lstm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/novacron/perfpredict/asm"
)

// bf16Round is x rounded to bf16 and back.
func bf16Round(x float32) float64 { return float64(asm.BF16ToFloat32(asm.BF16(x))) }

// quantRound is the row v quantized as asm.QuantizeU8 and Int8B.Pack do
// (127 steps of max|v|, rounded to nearest even) and scaled back.
func quantRound(v []float64) []float64 {
	var m float64
	for _, x := range v {
		m = max(m, math.Abs(x))
	}
	out := make([]float64, len(v))
	if m == 0 {
		return out
	}
	for i, x := range v {
		out[i] = math.RoundToEven(x*127/m) * m / 127
	}
	return out
}

// refForward is the reduced-precision evaluation pass written out plainly
// in float64: every product multiplies the roundings (bf16) or
// quantizations (int8: weights per gate unit, activations per row) of the
// weights, of the layer input and of h_{t-1}; bias, activations and cell
// state exact.
func refForward(s *Stack, x []float32, B, T int, prec Precision) []float64 {
	cfg := s.cfg
	H, D := cfg.Hidden, s.dirs
	in := make([]float64, len(x))
	for i, v := range x {
		in[i] = float64(v)
	}
	round := func(v []float64) []float64 {
		if prec == INT8 {
			return quantRound(v)
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = bf16Round(float32(x))
		}
		return out
	}
	width := cfg.Input
	sig := func(v float64) float64 { return 1 / (1 + math.Exp(-v)) }
	for k := range s.cells {
		out := make([]float64, B*T*D*H)
		for d, c := range s.cells[k] {
			wih, whh := make([][]float64, 4*H), make([][]float64, 4*H)
			for j := range wih {
				wih[j], whh[j] = make([]float64, width), make([]float64, H)
				for p := range wih[j] {
					wih[j][p] = float64(c.wih.Data[j*width+p])
				}
				for p := range whh[j] {
					whh[j][p] = float64(c.whh.Data[j*H+p])
				}
				wih[j], whh[j] = round(wih[j]), round(whh[j])
			}
			for b := 0; b < B; b++ {
				h, cs := make([]float64, H), make([]float64, H)
				for step := 0; step < T; step++ {
					t := step
					if c.reverse {
						t = T - 1 - step
					}
					xr := round(in[(b*T+t)*width : (b*T+t+1)*width])
					hr := round(h)
					g := make([]float64, 4*H)
					for j := range g {
						g[j] = float64(c.bih.Data[j] + c.bhh.Data[j])
						for p, v := range xr {
							g[j] += v * wih[j][p]
						}
						for p, v := range hr {
							g[j] += v * whh[j][p]
						}
					}
					for j := 0; j < H; j++ {
						cs[j] = sig(g[H+j])*cs[j] + sig(g[j])*math.Tanh(g[2*H+j])
						h[j] = sig(g[3*H+j]) * math.Tanh(cs[j])
						out[(b*T+t)*D*H+d*H+j] = h[j]
					}
				}
			}
		}
		in, width = out, D*H
	}
	return in
}

// TestForwardBF16 checks the bf16 evaluation pass against its plain
// reference (within 2e-3: the float32 sums round, which may move an h
// across a bf16 rounding boundary, one bf16 ulp of at most 2^-8 for |h| < 1,
// reaching the next gates times a weight below 1/sqrt(H)), against the float32 pass (within
// 3e-2, and not equal: the products did run in bf16), for odd and even
// widths, batches below and above stepwiseBatch, one and two directions.
// Training passes stay float32, and switching back to FP32 restores the
// float32 results bit for bit.
func TestForwardBF16(t *testing.T) {
	t.Logf("bf16 path %s", asm.BF16Implementation())
	testForwardReduced(t, BF16, 2e-3, 3e-2)
}

// TestForwardInt8 is TestForwardBF16 in int8: within 1e-2 of the plain
// reference (a quantization step, 1/127 of a row's largest |h| < 1, moved
// by a rounding, times a weight below 1/sqrt(H)), within 3e-2 of fp32.
func TestForwardInt8(t *testing.T) {
	t.Logf("int8 path %s", asm.Int8Implementation())
	testForwardReduced(t, INT8, 1e-2, 3e-2)
}

func testForwardReduced(t *testing.T, prec Precision, refTol, fp32Tol float64) {
	for _, cfg := range []Config{
		{Input: 7, Hidden: 9, Layers: 2, Bidirectional: true},
		{Input: 30, Hidden: 32, Layers: 2, Bidirectional: true, Dropout: 0.2},
		{Input: 6, Hidden: 16, Layers: 1},
	} {
		for _, B := range []int{3, stepwiseBatch + 2} {
			t.Run(fmt.Sprintf("in=%d/H=%d/dirs=%v/B=%d", cfg.Input, cfg.Hidden, cfg.Bidirectional, B), func(t *testing.T) {
				T := 6
				s := newStack(t, cfg, 3)
				x := randVec(B*T*cfg.Input, 4, 1)
				ws := s.NewWorkspace()
				fp32, err := s.Forward(ws, x, B, T, false)
				if err != nil {
					t.Fatal(err)
				}
				fp32 = append([]float32(nil), fp32...)
				if err := s.SetPrecision(prec); err != nil {
					t.Fatal(err)
				}
				got, err := s.Forward(ws, x, B, T, false)
				if err != nil {
					t.Fatal(err)
				}
				got = append([]float32(nil), got...)
				ref := refForward(s, x, B, T, prec)
				var maxRef, maxF32 float64
				for i, v := range got {
					maxRef = max(maxRef, math.Abs(float64(v)-ref[i]))
					maxF32 = max(maxF32, math.Abs(float64(v-fp32[i])))
				}
				t.Logf("max |%[1]v - reference| %.2[2]g, max |%[1]v - fp32| %.2[3]g", prec, maxRef, maxF32)
				if maxRef > refTol {
					t.Errorf("%v pass differs from its reference by %g > %g", prec, maxRef, refTol)
				}
				if maxF32 > fp32Tol || maxF32 == 0 {
					t.Errorf("%v pass differs from the fp32 one by %g, want (0, %g]", prec, maxF32, fp32Tol)
				}

				train, err := s.Forward(ws, x, B, T, true)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Dropout == 0 {
					bitsEqual(t, "training pass with a reduced precision set vs fp32 evaluation", train, fp32)
				}
				if err := s.SetPrecision(FP32); err != nil {
					t.Fatal(err)
				}
				back, _ := s.Forward(ws, x, B, T, false)
				bitsEqual(t, "fp32 after a reduced precision", back, fp32)
			})
		}
	}
}

// TestBF16RowsIndependent: every output of the bf16 pass is one float32 sum
// in a fixed order whatever the batch (one accumulator per output in the
// kernels), and of the int8 pass an exact int32 sum scaled per row, so a
// sequence's output is bit for bit the same alone as in a batch below or
// above stepwiseBatch.
func TestBF16RowsIndependent(t *testing.T) {
	for _, prec := range []Precision{BF16, INT8} {
		t.Run(prec.String(), func(t *testing.T) { testRowsIndependent(t, prec) })
	}
}

func testRowsIndependent(t *testing.T, prec Precision) {
	cfg := Config{Input: 5, Hidden: 12, Layers: 2, Bidirectional: true}
	s := newStack(t, cfg, 5)
	if err := s.SetPrecision(prec); err != nil {
		t.Fatal(err)
	}
	T := 4
	B := stepwiseBatch + 1
	x := randVec(B*T*cfg.Input, 6, 1)
	ws, one := s.NewWorkspace(), s.NewWorkspace()
	all, err := s.Forward(ws, x, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	all = append([]float32(nil), all...)
	few, err := s.Forward(ws, x[:3*T*cfg.Input], 3, T, false)
	if err != nil {
		t.Fatal(err)
	}
	rowIn, rowOut := T*cfg.Input, T*s.OutputSize()
	bitsEqual(t, "3 sequences vs the batch of 65", few, all[:3*rowOut])
	for _, b := range []int{0, 17, B - 1} {
		out, err := s.Forward(one, x[b*rowIn:(b+1)*rowIn], 1, T, false)
		if err != nil {
			t.Fatal(err)
		}
		bitsEqual(t, fmt.Sprint("sequence ", b), out, all[b*rowOut:(b+1)*rowOut])
	}
}

// TestBF16WeightChanges: the bf16 copies follow the weights (a new
// initialisation, a WeightsChanged), as the float32 packing does, and a
// bf16 pass of a known shape allocates nothing.
func TestBF16WeightChanges(t *testing.T) {
	for _, prec := range []Precision{BF16, INT8} {
		t.Run(prec.String(), func(t *testing.T) { testWeightChanges(t, prec) })
	}
}

func testWeightChanges(t *testing.T, prec Precision) {
	cfg := Config{Input: 4, Hidden: 10, Layers: 2, Bidirectional: true}
	B, T := 2, 5
	x := randVec(B*T*cfg.Input, 7, 1)
	s := newStack(t, cfg, 1)
	s.SetPrecision(prec)
	ws := s.NewWorkspace()
	if _, err := s.Forward(ws, x, B, T, false); err != nil {
		t.Fatal(err)
	}
	s.InitUniform(rand.New(rand.NewPCG(9, 1)))
	got, _ := s.Forward(ws, x, B, T, false)
	fresh := newStack(t, cfg, 1)
	fresh.InitUniform(rand.New(rand.NewPCG(9, 1)))
	fresh.SetPrecision(prec)
	want, _ := fresh.Forward(fresh.NewWorkspace(), x, B, T, false)
	bitsEqual(t, "after InitUniform", got, want)
	f32 := newStack(t, cfg, 1)
	f32.Forward(f32.NewWorkspace(), x, B, T, false)
	if s.PackedBytes() != fresh.PackedBytes() || s.PackedBytes() <= f32.PackedBytes() {
		t.Errorf("PackedBytes %d, fresh bf16 stack %d, fp32 stack %d", s.PackedBytes(), fresh.PackedBytes(), f32.PackedBytes())
	}
	if raceEnabled {
		return
	}
	if n := testing.AllocsPerRun(5, func() { s.Forward(ws, x, B, T, false) }); n != 0 {
		t.Errorf("%v pass: %v allocations", prec, n)
	}
}

func TestPrecisionString(t *testing.T) {
	if FP32.String() != "fp32" || BF16.String() != "bf16" || INT8.String() != "int8" {
		t.Errorf("names %q %q %q", FP32, BF16, INT8)
	}
	s := newStack(t, Config{Input: 1, Hidden: 1, Layers: 1}, 1)
	if err := s.SetPrecision(Precision(7)); err == nil || s.Precision() != FP32 {
		t.Errorf("SetPrecision(7) = %v, precision %v", err, s.Precision())
	}
}
