package asm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// guardBits fills the cells around every output slice; a kernel that writes
// outside its slice changes them.
const guardBits = 0x7fc0dead

const guardLen = 19 // more than one AVX-512 vector

// guarded returns an n-element slice starting off cells into a buffer whose
// cells outside the slice hold guardBits.
func guarded(n, off int) (s, buf []float32) {
	buf = make([]float32, off+n+guardLen)
	for i := range buf {
		buf[i] = math.Float32frombits(guardBits)
	}
	return buf[off : off+n : off+n], buf
}

// checkGuards fails if a cell outside [off, off+n) of buf lost its guard.
func checkGuards(t *testing.T, name string, buf []float32, off, n int) {
	t.Helper()
	for i, v := range buf {
		if (i < off || i >= off+n) && math.Float32bits(v) != guardBits {
			t.Fatalf("%s: guard cell %d (slice is [%d,%d)) overwritten with %v", name, i, off, off+n, v)
		}
	}
}

// forEachLevel runs f once per level this machine supports, as subtests, with
// that level's kernels installed.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	for _, l := range Supported() {
		t.Run(l.String(), func(t *testing.T) {
			prev, err := SetLevel(l)
			if err != nil {
				t.Fatal(err)
			}
			defer SetLevel(prev)
			if got := Implementation(); got != l.String() {
				t.Fatalf("Implementation() = %q after SetLevel(%v)", got, l)
			}
			f(t)
		})
	}
}

var offsets = []int{0, 1, 2, 3, 5, 7}

func maxLen() int {
	if testing.Short() {
		return 100
	}
	return 300
}

func randSlice(r *rand.Rand, n int, lo, hi float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = lo + (hi-lo)*r.Float32()
	}
	return s
}

func TestDot(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := 0; n <= maxLen(); n++ {
			for _, off := range offsets {
				xb := randSlice(r, off+n+3, -2, 2)
				yb := randSlice(r, off+n+5, -2, 2)
				x, y := xb[off:off+n], yb[(off+1)%4:]
				want := dotGeneric(x, y[:n])
				got := Dot(x, y)
				var mag float64
				for i := range x {
					mag += math.Abs(float64(x[i]) * float64(y[i]))
				}
				// Both sums are within n*eps*mag of the exact one.
				tol := 2*float64(n)*0x1p-24*mag + 1e-30
				if d := math.Abs(float64(got) - float64(want)); d > tol {
					t.Fatalf("n=%d off=%d: Dot = %v, reference %v (diff %g > %g)", n, off, got, want, d, tol)
				}
			}
		}
	})
}

func TestAxpy(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for n := 0; n <= maxLen(); n++ {
			for _, off := range offsets {
				alpha := -3 + 6*r.Float32()
				xb := randSlice(r, off+n+2, -2, 2)
				x := xb[(off+2)%5 : (off+2)%5+n]
				y, buf := guarded(n, off)
				copy(y, randSlice(r, n, -2, 2))
				want := append([]float32(nil), y...)
				axpyGeneric(alpha, x, want)
				orig := append([]float32(nil), y...)
				Axpy(alpha, x, y)
				checkGuards(t, "y", buf, off, n)
				for i := range y {
					// FMA rounds once where the reference rounds twice.
					tol := 2 * 0x1p-24 * (math.Abs(float64(orig[i])) + math.Abs(float64(alpha*x[i])))
					if d := math.Abs(float64(y[i]) - float64(want[i])); d > tol {
						t.Fatalf("n=%d off=%d i=%d: y = %v, reference %v", n, off, i, y[i], want[i])
					}
				}
			}
		}
	})
}

func TestScale(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for n := 0; n <= maxLen(); n++ {
			for _, off := range offsets {
				alpha := -3 + 6*r.Float32()
				x, buf := guarded(n, off)
				copy(x, randSlice(r, n, -2, 2))
				want := append([]float32(nil), x...)
				scaleGeneric(alpha, want)
				Scale(alpha, x)
				checkGuards(t, "x", buf, off, n)
				for i := range x {
					if x[i] != want[i] {
						t.Fatalf("n=%d off=%d i=%d: x = %v, reference %v", n, off, i, x[i], want[i])
					}
				}
			}
		}
	})
}

// activation is Sigmoid or Tanh with its float64 definition.
type activation struct {
	name  string
	apply func(dst, x []float32)
	exact func(float64) float64
}

var activations = []activation{
	{"Sigmoid", Sigmoid, func(x float64) float64 { return 1 / (1 + math.Exp(-x)) }},
	{"Tanh", Tanh, math.Tanh},
}

// Accuracy bounds of the vector activations against float64 math: absolute,
// and in float32 ulps of the exact value where that is a normal number.
const (
	actAbsTol = 1e-6
	actUlpTol = 3
)

func ulpDiff(got float32, exact float64) float64 {
	e := float32(exact)
	ulp := math.Nextafter32(float32(math.Abs(float64(e))), float32(math.Inf(1))) - float32(math.Abs(float64(e)))
	return math.Abs(float64(got)-exact) / float64(ulp)
}

// checkActivation applies a to xs (in place, in chunks that exercise the
// tails) and returns the worst absolute and ulp errors.
func checkActivation(t *testing.T, a activation, xs []float32) (maxAbs, maxUlp float64, worstAbs, worstUlp float32) {
	t.Helper()
	out := make([]float32, len(xs))
	for i := 0; i < len(xs); i += 1021 {
		j := min(i+1021, len(xs))
		a.apply(out[i:j], xs[i:j])
	}
	for i, x := range xs {
		want := a.exact(float64(x))
		d := math.Abs(float64(out[i]) - want)
		if d > maxAbs {
			maxAbs, worstAbs = d, x
		}
		if math.Abs(want) >= 0x1p-126 {
			if u := ulpDiff(out[i], want); u > maxUlp {
				maxUlp, worstUlp = u, x
			}
		}
	}
	return
}

// TestActivationAccuracy measures sigmoid and tanh against float64 math on
// [-20, 20]: densely on a grid and on a strided sweep over every float32 of
// the range (all exponents, so tiny arguments too).
func TestActivationAccuracy(t *testing.T) {
	var grid []float32
	for i := -200000; i <= 200000; i++ {
		grid = append(grid, float32(i)*1e-4)
	}
	stride := uint32(251)
	if testing.Short() {
		stride = 4093
	}
	var sweep []float32
	for b := uint32(0); b <= math.Float32bits(20); b += stride {
		sweep = append(sweep, math.Float32frombits(b), -math.Float32frombits(b))
	}
	forEachLevel(t, func(t *testing.T) {
		for _, a := range activations {
			for _, set := range []struct {
				name string
				xs   []float32
			}{{"grid", grid}, {"sweep", sweep}} {
				maxAbs, maxUlp, wa, wu := checkActivation(t, a, set.xs)
				t.Logf("%s %s: max abs error %.3g (at %g), max %.2f ulp (at %g)", a.name, set.name, maxAbs, wa, maxUlp, wu)
				if maxAbs > actAbsTol {
					t.Errorf("%s %s: max abs error %g at x=%g exceeds %g", a.name, set.name, maxAbs, wa, actAbsTol)
				}
				if maxUlp > actUlpTol {
					t.Errorf("%s %s: max error %.2f ulp at x=%g exceeds %d", a.name, set.name, maxUlp, wu, actUlpTol)
				}
			}
		}
	})
}

// TestActivationSpecial checks NaN, infinities, signed zeros, saturation and
// arguments past exp's overflow point, which must behave as math does.
func TestActivationSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	xs := []float32{nan, inf, -inf, 0, float32(math.Copysign(0, -1)), 1e-30, -1e-30, 1e-45, -1e-45,
		1e-38, -1e-38, 17, -17, 20, -20, 40, -40, 87, -87, 88, -88, 88.8, -88.8, 89, -89, 100, -100,
		1e4, -1e4, 1e30, -1e30, math.MaxFloat32, -math.MaxFloat32, 0.625, -0.625, 0.6249999, -0.6249999}
	forEachLevel(t, func(t *testing.T) {
		for _, a := range activations {
			// Every position of a vector, and a tail, sees each value.
			for shift := 0; shift < 17; shift++ {
				in := make([]float32, shift+len(xs))
				copy(in[shift:], xs)
				out := make([]float32, len(in))
				a.apply(out, in)
				for i, x := range in {
					got := out[i]
					want := a.exact(float64(x))
					switch {
					case math.IsNaN(want):
						if !math.IsNaN(float64(got)) {
							t.Fatalf("%s(%v) = %v, want NaN", a.name, x, got)
						}
					case math.IsInf(float64(x), 0) || want == 0 || math.Abs(want) == 1:
						if float64(got) != want {
							t.Fatalf("%s(%v) = %v, want %v", a.name, x, got, want)
						}
					case math.Abs(float64(got)-want) > actAbsTol:
						t.Fatalf("%s(%v) = %v, want %v", a.name, x, got, want)
					}
					if a.name == "Tanh" && x == 0 && math.Signbit(float64(got)) != math.Signbit(float64(x)) {
						t.Fatalf("Tanh(%v) = %v: sign of zero lost", x, got)
					}
				}
			}
		}
	})
}

// TestActivationKernels compares each level with the Go reference for every
// length and offset, in place and out of place, and checks the guards.
func TestActivationKernels(t *testing.T) {
	refs := map[string]func(dst, x []float32){"Sigmoid": sigmoidGeneric, "Tanh": tanhGeneric}
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for _, a := range activations {
			for n := 0; n <= maxLen(); n++ {
				for _, off := range offsets {
					x := randSlice(r, n, -12, 12)
					want := make([]float32, n)
					refs[a.name](want, x)
					dst, buf := guarded(n, off)
					a.apply(dst, x)
					checkGuards(t, a.name+" dst", buf, off, n)
					inPlace, buf2 := guarded(n, (off+3)%8)
					copy(inPlace, x)
					a.apply(inPlace, inPlace)
					checkGuards(t, a.name+" in place", buf2, (off+3)%8, n)
					for i := range x {
						if d := math.Abs(float64(dst[i] - want[i])); d > actAbsTol {
							t.Fatalf("%s n=%d off=%d: [%d] = %v, reference %v", a.name, n, off, i, dst[i], want[i])
						}
						if math.Float32bits(inPlace[i]) != math.Float32bits(dst[i]) {
							t.Fatalf("%s n=%d: in place [%d] = %v, out of place %v", a.name, n, i, inPlace[i], dst[i])
						}
					}
				}
			}
		}
	})
}

// cellCase is the input of one LSTM cell step with H = n.
type cellCase struct {
	gates, cPrev []float32
}

func randCell(r *rand.Rand, n int) cellCase {
	g := randSlice(r, 4*n, -8, 8)
	for i := 0; i < len(g); i += 37 {
		g[i] *= 4 // a few saturated gates
	}
	return cellCase{gates: g, cPrev: randSlice(r, n, -3, 3)}
}

// closeTo reports whether got is within tol of want, relative where |want| > 1.
func closeTo(got, want float32, tol float64) bool {
	if math.IsNaN(float64(want)) {
		return math.IsNaN(float64(got))
	}
	return math.Abs(float64(got)-float64(want)) <= tol*max(1, math.Abs(float64(want)))
}

const cellTol = 2e-6

func TestLSTMCellForward(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for n := 0; n <= maxLen(); n++ {
			for k, off := range offsets {
				in := randCell(r, n)
				wantG := append([]float32(nil), in.gates...)
				wantC, wantH, wantT := make([]float32, n), make([]float32, n), make([]float32, n)
				lstmCellForwardGeneric(wantG, in.cPrev, wantC, wantH, wantT)

				gates, gbuf := guarded(4*n, off)
				copy(gates, in.gates)
				c, cbuf := guarded(n, (off+1)%4)
				h, hbuf := guarded(n, (off+2)%4)
				tc, tbuf := guarded(n, (off+3)%4)
				var cPrev []float32
				if k%2 == 0 {
					copy(c, in.cPrev) // in place: cPrev aliases c
					cPrev = c
				} else {
					cPrev = in.cPrev
				}
				LSTMCellForward(gates, cPrev, c, h, tc)
				checkGuards(t, "gates", gbuf, off, 4*n)
				checkGuards(t, "c", cbuf, (off+1)%4, n)
				checkGuards(t, "h", hbuf, (off+2)%4, n)
				checkGuards(t, "tanhC", tbuf, (off+3)%4, n)
				for j := range gates {
					if !closeTo(gates[j], wantG[j], cellTol) {
						t.Fatalf("n=%d off=%d: activation [%d] = %v, reference %v", n, off, j, gates[j], wantG[j])
					}
				}
				for j := 0; j < n; j++ {
					if !closeTo(c[j], wantC[j], cellTol) || !closeTo(h[j], wantH[j], cellTol) || !closeTo(tc[j], wantT[j], cellTol) {
						t.Fatalf("n=%d off=%d j=%d: c, h, tanhC = %v %v %v, reference %v %v %v",
							n, off, j, c[j], h[j], tc[j], wantC[j], wantH[j], wantT[j])
					}
				}
			}
		}
	})
}

func TestLSTMCellForwardSpecial(t *testing.T) {
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
		wantG := append([]float32(nil), gates...)
		wantC, wantH, wantT := make([]float32, n), make([]float32, n), make([]float32, n)
		lstmCellForwardGeneric(wantG, cPrev, wantC, wantH, wantT)
		c, h, tc := make([]float32, n), make([]float32, n), make([]float32, n)
		LSTMCellForward(gates, cPrev, c, h, tc)
		for j := range gates {
			if !closeTo(gates[j], wantG[j], cellTol) {
				t.Fatalf("activation [%d] = %v, reference %v", j, gates[j], wantG[j])
			}
		}
		for j := 0; j < n; j++ {
			if !closeTo(c[j], wantC[j], cellTol) || !closeTo(h[j], wantH[j], cellTol) || !closeTo(tc[j], wantT[j], cellTol) {
				t.Fatalf("j=%d: c, h, tanhC = %v %v %v, reference %v %v %v", j, c[j], h[j], tc[j], wantC[j], wantH[j], wantT[j])
			}
		}
	})
}

func TestLSTMCellBackward(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for n := 0; n <= maxLen(); n++ {
			for _, off := range offsets {
				in := randCell(r, n)
				act := append([]float32(nil), in.gates...)
				tanhC := make([]float32, n)
				lstmCellForwardGeneric(act, in.cPrev, make([]float32, n), make([]float32, n), tanhC)
				dh := randSlice(r, n, -2, 2)
				dc0 := randSlice(r, n, -2, 2)
				wantDG := make([]float32, 4*n)
				wantDC := append([]float32(nil), dc0...)
				lstmCellBackwardGeneric(wantDG, act, in.cPrev, tanhC, dh, wantDC)

				dG, gbuf := guarded(4*n, off)
				dc, cbuf := guarded(n, (off+2)%4)
				copy(dc, dc0)
				LSTMCellBackward(dG, act, in.cPrev, tanhC, dh, dc)
				checkGuards(t, "dGates", gbuf, off, 4*n)
				checkGuards(t, "dc", cbuf, (off+2)%4, n)
				for j := range dG {
					if !closeTo(dG[j], wantDG[j], cellTol) {
						t.Fatalf("n=%d off=%d: dGates[%d] = %v, reference %v", n, off, j, dG[j], wantDG[j])
					}
				}
				for j := range dc {
					if !closeTo(dc[j], wantDC[j], cellTol) {
						t.Fatalf("n=%d off=%d: dc[%d] = %v, reference %v", n, off, j, dc[j], wantDC[j])
					}
				}

				// In place: dGates is act.
				inPlace := append([]float32(nil), act...)
				copy(dc, dc0)
				LSTMCellBackward(inPlace, inPlace, in.cPrev, tanhC, dh, dc)
				for j := range inPlace {
					if math.Float32bits(inPlace[j]) != math.Float32bits(dG[j]) {
						t.Fatalf("n=%d: in-place dGates[%d] = %v, separate %v", n, j, inPlace[j], dG[j])
					}
				}
			}
		}
	})
}

func TestShortSlicesPanic(t *testing.T) {
	cases := map[string]func(){
		"Dot":     func() { Dot(make([]float32, 3), make([]float32, 2)) },
		"Axpy":    func() { Axpy(1, make([]float32, 3), make([]float32, 2)) },
		"Sigmoid": func() { Sigmoid(make([]float32, 2), make([]float32, 3)) },
		"Tanh":    func() { Tanh(make([]float32, 2), make([]float32, 3)) },
		"LSTMCellForward": func() {
			LSTMCellForward(make([]float32, 7), make([]float32, 2), make([]float32, 2), make([]float32, 2), make([]float32, 2))
		},
		"LSTMCellBackward": func() {
			LSTMCellBackward(make([]float32, 8), make([]float32, 8), make([]float32, 2), make([]float32, 2), make([]float32, 2), make([]float32, 1))
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("%s with a short slice did not panic", name)
				}
			}()
			f()
		})
	}
}

// TestKernelsDoNotAllocate checks that no kernel allocates (the assembly's
// arguments must not escape), at every level.
func TestKernelsDoNotAllocate(t *testing.T) {
	const n = 37
	x, y := make([]float32, n), make([]float32, n)
	gates, dG := make([]float32, 4*n), make([]float32, 4*n)
	c, h, tc, dc := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
	forEachLevel(t, func(t *testing.T) {
		allocs := testing.AllocsPerRun(10, func() {
			benchSink += Dot(x, y)
			Axpy(0.5, x, y)
			Scale(0.5, y)
			Sigmoid(y, x)
			Tanh(y, x)
			LSTMCellForward(gates, c, c, h, tc)
			LSTMCellBackward(dG, gates, c, tc, h, dc)
		})
		if allocs != 0 {
			t.Fatalf("%v allocations per run of the kernels", allocs)
		}
	})
}

// TestAVX2MatchesAVX512 checks the claim that the two assembly levels share
// one activation algorithm: their results agree bit for bit.
func TestAVX2MatchesAVX512(t *testing.T) {
	if HardwareLevel() < AVX512 {
		t.Skip("needs AVX-512")
	}
	var xs []float32
	for b := uint32(0); b < 0x7f800000; b += 65521 {
		xs = append(xs, math.Float32frombits(b), -math.Float32frombits(b))
	}
	xs = append(xs, float32(math.Inf(1)), float32(math.Inf(-1)))
	run := func(l Level, f func(dst, x []float32)) []float32 {
		prev, err := SetLevel(l)
		if err != nil {
			t.Fatal(err)
		}
		defer SetLevel(prev)
		out := make([]float32, len(xs))
		f(out, xs)
		return out
	}
	for _, a := range activations {
		y2, y512 := run(AVX2, a.apply), run(AVX512, a.apply)
		for i := range xs {
			if math.Float32bits(y2[i]) != math.Float32bits(y512[i]) {
				t.Fatalf("%s(%v): avx2 %v, avx512 %v", a.name, xs[i], y2[i], y512[i])
			}
		}
	}
}
