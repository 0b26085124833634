package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// cellRedTwinTol bounds the kernel's distance from its Go twin: VRCP14PS
// and one Newton step against the twin's division (2 ulp), carried through
// c, tanh(c) and h.
const cellRedTwinTol = 1e-6

// cellRedRefTol bounds the reduced cell's distance from the exact one
// (lstmCellForwardGeneric, float64 activations): the activations' 2e-6
// through c and h, with room.
const cellRedRefTol = 2e-5

// guardedU16 is guarded for bf16 slices (guard bf16Guard).
func guardedU16(n, off int) (s, buf []uint16) {
	buf = make([]uint16, off+n+2*guardLen)
	for i := range buf {
		buf[i] = bf16Guard
	}
	return buf[off : off+n : off+n], buf
}

// TestLSTMCellForwardReduced runs the reduced cell at every level over
// lengths 0 to maxLen() and several offsets, with guard cells around every
// output, with and without the bias reset and the bf16 h, in place (cPrev
// aliasing c) and not: it must match its Go twin within cellRedTwinTol
// (bit for bit where the twin itself runs), the exact cell within
// cellRedRefTol, write hB = BF16(h) exactly, leave the gates as they were
// or set them to the reset values, and touch nothing else.
func TestLSTMCellForwardReduced(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(31, 32))
		for n := 0; n <= maxLen(); n++ {
			for k, off := range offsets {
				in := randCell(r, n)
				bias := randSlice(r, 4*n, -1, 1)
				withReset, withB := k%3 != 1, k%4 != 3

				twinG := append([]float32(nil), in.gates...)
				twinC, twinH, twinB := make([]float32, n), make([]float32, n), make([]uint16, n)
				var tr []float32
				if withReset {
					tr = bias
				}
				lstmCellReducedGo(twinG, tr, in.cPrev, twinC, twinH, twinB)
				refG := append([]float32(nil), in.gates...)
				refC, refH, refT := make([]float32, n), make([]float32, n), make([]float32, n)
				lstmCellForwardGeneric(refG, in.cPrev, refC, refH, refT)

				gates, gbuf := guarded(4*n, off)
				copy(gates, in.gates)
				var reset []float32
				if withReset {
					reset = append([]float32(nil), bias...)
				}
				c, cbuf := guarded(n, (off+1)%4)
				h, hbuf := guarded(n, (off+2)%4)
				var hB, bbuf []uint16
				if withB {
					hB, bbuf = guardedU16(n, (off+3)%4)
				}
				cPrev := in.cPrev
				if k%2 == 0 {
					copy(c, in.cPrev)
					cPrev = c
				}
				LSTMCellForwardReduced(gates, reset, cPrev, c, h, hB)
				checkGuards(t, "gates", gbuf, off, 4*n)
				checkGuards(t, "c", cbuf, (off+1)%4, n)
				checkGuards(t, "h", hbuf, (off+2)%4, n)
				if withB {
					for i, v := range bbuf {
						if (i < (off+3)%4 || i >= (off+3)%4+n) && v != bf16Guard {
							t.Fatalf("n=%d off=%d: hB guard cell %d overwritten with %#04x", n, off, i, v)
						}
					}
				}
				for j := range gates {
					want := in.gates[j]
					if withReset {
						want = bias[j]
					}
					if math.Float32bits(gates[j]) != math.Float32bits(want) {
						t.Fatalf("n=%d off=%d reset=%v: gates[%d] = %v, want %v", n, off, withReset, j, gates[j], want)
					}
				}
				for j := 0; j < n; j++ {
					if !closeTo(c[j], twinC[j], cellRedTwinTol) || !closeTo(h[j], twinH[j], cellRedTwinTol) {
						t.Fatalf("n=%d off=%d j=%d: c, h = %v %v, Go twin %v %v", n, off, j, c[j], h[j], twinC[j], twinH[j])
					}
					if !closeTo(c[j], refC[j], cellRedRefTol) || !closeTo(h[j], refH[j], cellRedRefTol) {
						t.Fatalf("n=%d off=%d j=%d: c, h = %v %v, exact cell %v %v", n, off, j, c[j], h[j], refC[j], refH[j])
					}
					if withB && hB[j] != BF16(h[j]) {
						t.Fatalf("n=%d off=%d j=%d: hB = %#04x, want BF16(%v) = %#04x", n, off, j, hB[j], h[j], BF16(h[j]))
					}
				}
			}
		}
	})
}

// TestLSTMCellForwardReducedTwin: where the Go twin runs (no assembly at
// the level), the exported function is the twin bit for bit.
func TestLSTMCellForwardReducedTwin(t *testing.T) {
	prev, err := SetLevel(Generic)
	if err != nil {
		t.Fatal(err)
	}
	defer SetLevel(prev)
	r := rand.New(rand.NewPCG(33, 34))
	const n = 37
	in := randCell(r, n)
	g1, g2 := append([]float32(nil), in.gates...), append([]float32(nil), in.gates...)
	c1, h1, c2, h2 := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	b1, b2 := make([]uint16, n), make([]uint16, n)
	LSTMCellForwardReduced(g1, nil, in.cPrev, c1, h1, b1)
	lstmCellReducedGo(g2, nil, in.cPrev, c2, h2, b2)
	for j := 0; j < n; j++ {
		if math.Float32bits(c1[j]) != math.Float32bits(c2[j]) || math.Float32bits(h1[j]) != math.Float32bits(h2[j]) || b1[j] != b2[j] {
			t.Fatalf("j=%d: %v %v %#x, twin %v %v %#x", j, c1[j], h1[j], b1[j], c2[j], h2[j], b2[j])
		}
	}
}

// TestReducedActivations measures the reduced sigmoid and tanh against
// float64 math over a dense grid and the special values: absolute error
// below 2e-6, relative below 4e-6 for sigmoid and, where |x| >= 0.01, 4e-5
// for tanh; exact saturation at ±Inf, NaN kept.
func TestReducedActivations(t *testing.T) {
	var maxS, maxSRel, maxT, maxTRel float64
	for i := -200000; i <= 200000; i++ {
		x := float32(i) * 1e-4 // [-20, 20]
		s := float64(sigmoidReduced(x))
		ws := 1 / (1 + math.Exp(-float64(x)))
		maxS = max(maxS, math.Abs(s-ws))
		maxSRel = max(maxSRel, math.Abs(s-ws)/ws)
		th, wt := float64(tanhReduced(x)), math.Tanh(float64(x))
		maxT = max(maxT, math.Abs(th-wt))
		if math.Abs(float64(x)) >= 0.01 {
			maxTRel = max(maxTRel, math.Abs(th-wt)/math.Abs(wt))
		}
	}
	t.Logf("sigmoid: max abs %.2g, max rel %.2g; tanh: max abs %.2g, max rel %.2g for |x| >= 0.01", maxS, maxSRel, maxT, maxTRel)
	if maxS > 2e-6 || maxSRel > 4e-6 || maxT > 2e-6 || maxTRel > 4e-5 {
		t.Errorf("reduced activations too far from the exact ones")
	}
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	for _, c := range []struct{ x, sig, tanh float32 }{
		{inf, 1, 1}, {-inf, 0, -1}, {1e30, 1, 1}, {-1e30, 0, -1}, {0, 0.5, 0},
	} {
		if s := sigmoidReduced(c.x); math.Abs(float64(s-c.sig)) > 1e-30 {
			t.Errorf("sigmoidReduced(%v) = %v, want %v", c.x, s, c.sig)
		}
		if th := tanhReduced(c.x); th != c.tanh {
			t.Errorf("tanhReduced(%v) = %v, want %v", c.x, th, c.tanh)
		}
	}
	if s, th := sigmoidReduced(nan), tanhReduced(nan); s == s || th == th {
		t.Errorf("NaN: sigmoid %v, tanh %v", s, th)
	}
}

// TestLSTMCellForwardReducedSpecial: NaN, infinities and huge values go
// through the kernel as through its twin.
func TestLSTMCellForwardReducedSpecial(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	forEachLevel(t, func(t *testing.T) {
		const n = 21
		gates := make([]float32, 4*n)
		cPrev := make([]float32, n)
		vals := []float32{nan, inf, -inf, 1e30, -1e30, 0, 100, -100}
		for j := range gates {
			gates[j] = vals[j%len(vals)]
		}
		for j := range cPrev {
			cPrev[j] = vals[(j+3)%len(vals)]
		}
		twinG := append([]float32(nil), gates...)
		wantC, wantH, wantB := make([]float32, n), make([]float32, n), make([]uint16, n)
		lstmCellReducedGo(twinG, nil, cPrev, wantC, wantH, wantB)
		c, h, hB := make([]float32, n), make([]float32, n), make([]uint16, n)
		LSTMCellForwardReduced(gates, nil, cPrev, c, h, hB)
		for j := 0; j < n; j++ {
			same := func(got, want float32) bool { return got == want || closeTo(got, want, cellRedTwinTol) }
			if !same(c[j], wantC[j]) || !same(h[j], wantH[j]) || hB[j] != BF16(h[j]) {
				t.Fatalf("j=%d: c, h, hB = %v %v %#04x, twin %v %v %#04x", j, c[j], h[j], hB[j], wantC[j], wantH[j], wantB[j])
			}
		}
	})
}

func TestLSTMCellForwardReducedPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"gates": func() {
			LSTMCellForwardReduced(make([]float32, 7), nil, make([]float32, 2), make([]float32, 2), make([]float32, 2), nil)
		},
		"reset": func() {
			LSTMCellForwardReduced(make([]float32, 8), make([]float32, 7), make([]float32, 2), make([]float32, 2), make([]float32, 2), nil)
		},
		"hB": func() {
			LSTMCellForwardReduced(make([]float32, 8), nil, make([]float32, 2), make([]float32, 2), make([]float32, 2), make([]uint16, 1))
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// BenchmarkLSTMCellForwardReduced is the reduced cell on one row of H = 128
// with the reset and the bf16 h, beside LSTMCellForward (which also keeps
// the activations and tanh(c)) and a separate ToBF16.
func BenchmarkLSTMCellForwardReduced(b *testing.B) {
	const n = 128
	in := randCell(rand.New(rand.NewPCG(1, 2)), n)
	bias := make([]float32, 4*n)
	c, h, tc := make([]float32, n), make([]float32, n), make([]float32, n)
	hB := make([]uint16, n)
	gates := append([]float32(nil), in.gates...)
	b.Run("reduced", func(b *testing.B) {
		for b.Loop() {
			LSTMCellForwardReduced(gates, bias, in.cPrev, c, h, hB)
			copy(gates, in.gates)
		}
	})
	b.Run("reduced,no-reset", func(b *testing.B) {
		for b.Loop() {
			LSTMCellForwardReduced(gates, nil, in.cPrev, c, h, hB)
		}
	})
	b.Run("fp32+ToBF16", func(b *testing.B) {
		for b.Loop() {
			copy(gates, in.gates)
			LSTMCellForward(gates, in.cPrev, c, h, tc)
			ToBF16(hB, h)
		}
	})
}

// TestLSTMCellForwardReducedNoBF16Hardware: at the AVX-512 level of a CPU
// without AVX512_BF16 (VNNI alone, for int8) the kernel runs without its
// bf16 output and h is rounded apart, to the same bits.
func TestLSTMCellForwardReducedNoBF16Hardware(t *testing.T) {
	if !cellRedActive {
		t.Skip("no reduced-cell kernel at this level")
	}
	defer func(v bool) { bf16Hardware = v }(bf16Hardware)
	r := rand.New(rand.NewPCG(35, 36))
	for _, n := range []int{1, 16, 37, 128} {
		in := randCell(r, n)
		c1, h1, b1 := make([]float32, n), make([]float32, n), make([]uint16, n)
		bf16Hardware = true
		LSTMCellForwardReduced(append([]float32(nil), in.gates...), nil, in.cPrev, c1, h1, b1)
		c2, h2, b2 := make([]float32, n), make([]float32, n), make([]uint16, n)
		bf16Hardware = false
		LSTMCellForwardReduced(append([]float32(nil), in.gates...), nil, in.cPrev, c2, h2, b2)
		for j := 0; j < n; j++ {
			if math.Float32bits(c1[j]) != math.Float32bits(c2[j]) || math.Float32bits(h1[j]) != math.Float32bits(h2[j]) || b1[j] != b2[j] || b2[j] != BF16(h2[j]) {
				t.Fatalf("n=%d j=%d: %v %v %#04x without AVX512_BF16, %v %v %#04x with", n, j, c2[j], h2[j], b2[j], c1[j], h1[j], b1[j])
			}
		}
	}
}
