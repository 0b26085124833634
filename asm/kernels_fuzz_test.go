package asm

import (
	"encoding/binary"
	"math"
	"testing"
)

// floatsOf reads little-endian float32s from b (a trailing partial one is
// dropped), so the fuzzer reaches every bit pattern, NaN and Inf included.
func floatsOf(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

func bytesOf(fs ...float32) []byte {
	b := make([]byte, 4*len(fs))
	for i, f := range fs {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// seedVectors adds vectors of several lengths (tails and full blocks) mixing
// ordinary values with NaN, infinities, zeros and huge and tiny numbers.
func seedVectors(f *testing.F) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	special := []float32{0.5, -1.25, 3, -7, nan, inf, -inf, 0, 1e-40, -1e30, 88.5, -89, 20, -0.3}
	for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 70} {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i%9) - 4.5
			if i%5 == 3 {
				v[i] = special[(i+n)%len(special)]
			}
		}
		f.Add(bytesOf(v...))
	}
}

// eachLevelF runs f with every supported level installed in turn.
func eachLevelF(t *testing.T, f func(l Level)) {
	for _, l := range Supported() {
		prev, err := SetLevel(l)
		if err != nil {
			t.Fatal(err)
		}
		f(l)
		SetLevel(prev)
	}
}

func hasNaN(xs ...[]float32) bool {
	for _, x := range xs {
		for _, v := range x {
			if v != v {
				return true
			}
		}
	}
	return false
}

func FuzzDot(f *testing.F) {
	seedVectors(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floatsOf(data)
		x, y := v[:len(v)/2], v[len(v)/2:]
		want := dotGeneric(x, y[:len(x)])
		var mag float64
		for i := range x {
			mag += math.Abs(float64(x[i]) * float64(y[i]))
		}
		eachLevelF(t, func(l Level) {
			got := Dot(x, y)
			switch {
			case hasNaN(x, y[:len(x)]):
				if !math.IsNaN(float64(got)) {
					t.Fatalf("%v: Dot = %v with a NaN input", l, got)
				}
			case mag > math.MaxFloat32/2 || math.IsNaN(mag) || math.IsInf(mag, 0):
				// Overflow depends on the order of summation.
			default:
				tol := 2*float64(len(x))*0x1p-24*mag + float64(len(x))*0x1p-149
				if d := math.Abs(float64(got) - float64(want)); d > tol {
					t.Fatalf("%v: Dot(%v, %v) = %v, reference %v", l, x, y, got, want)
				}
			}
		})
	})
}

func FuzzAxpy(f *testing.F) {
	seedVectors(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floatsOf(data)
		if len(v) == 0 {
			return
		}
		alpha, x, y0 := v[0], v[1:1+(len(v)-1)/2], v[1+(len(v)-1)/2:]
		want := append([]float32(nil), y0...)
		axpyGeneric(alpha, x, want[:len(x)])
		eachLevelF(t, func(l Level) {
			y := append([]float32(nil), y0...)
			Axpy(alpha, x, y)
			for i := range y {
				if i >= len(x) {
					if math.Float32bits(y[i]) != math.Float32bits(y0[i]) {
						t.Fatalf("%v: Axpy changed y[%d] beyond len(x)", l, i)
					}
					continue
				}
				bound := math.Abs(float64(alpha)*float64(x[i])) + math.Abs(float64(y0[i]))
				switch {
				case math.IsNaN(float64(want[i])) || math.IsNaN(float64(y[i])):
					// NaN comes from a NaN input or Inf-Inf; FMA may avoid an
					// intermediate overflow the reference has, never the reverse.
					if math.IsNaN(float64(y[i])) && !math.IsNaN(float64(want[i])) {
						t.Fatalf("%v: y[%d] = NaN, reference %v", l, i, want[i])
					}
				case bound > math.MaxFloat32/2:
				default:
					if d := math.Abs(float64(y[i]) - float64(want[i])); d > 2*0x1p-24*bound+0x1p-148 {
						t.Fatalf("%v: y[%d] = %v, reference %v", l, i, y[i], want[i])
					}
				}
			}
		})
	})
}

func FuzzScale(f *testing.F) {
	seedVectors(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floatsOf(data)
		if len(v) == 0 {
			return
		}
		alpha, x0 := v[0], v[1:]
		want := append([]float32(nil), x0...)
		scaleGeneric(alpha, want)
		eachLevelF(t, func(l Level) {
			x := append([]float32(nil), x0...)
			Scale(alpha, x)
			for i := range x {
				if x[i] != want[i] && !(x[i] != x[i] && want[i] != want[i]) {
					t.Fatalf("%v: x[%d] = %v, reference %v", l, i, x[i], want[i])
				}
			}
		})
	})
}

// fuzzActivation checks a against its float64 definition on arbitrary input.
func fuzzActivation(f *testing.F, a activation) {
	seedVectors(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		x := floatsOf(data)
		eachLevelF(t, func(l Level) {
			got := make([]float32, len(x))
			a.apply(got, x)
			for i, v := range x {
				want := a.exact(float64(v))
				switch {
				case math.IsNaN(want):
					if !math.IsNaN(float64(got[i])) {
						t.Fatalf("%v: %s(%v) = %v, want NaN", l, a.name, v, got[i])
					}
				case math.Abs(float64(got[i])-want) > actAbsTol:
					t.Fatalf("%v: %s(%v) = %v, want %v", l, a.name, v, got[i], want)
				case math.IsInf(float64(v), 0) && float64(got[i]) != want:
					t.Fatalf("%v: %s(%v) = %v, want %v", l, a.name, v, got[i], want)
				}
			}
		})
	})
}

func FuzzSigmoid(f *testing.F) { fuzzActivation(f, activations[0]) }

func FuzzTanh(f *testing.F) { fuzzActivation(f, activations[1]) }

// FuzzLSTMCell runs the cell forward and backward on arbitrary gate
// pre-activations (any bit pattern) and states and gradients bounded to
// [-1e3, 1e3], against the Go reference.
func FuzzLSTMCell(f *testing.F) {
	seedVectors(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v := floatsOf(data)
		n := len(v) / 7
		gates0 := v[:4*n]
		bounded := func(s []float32) []float32 {
			out := make([]float32, len(s))
			for i, x := range s {
				if x == x {
					out[i] = max(-1e3, min(1e3, x))
				}
			}
			return out
		}
		cPrev, dh, dc0 := bounded(v[4*n:5*n]), bounded(v[5*n:6*n]), bounded(v[6*n:7*n])

		act := append([]float32(nil), gates0...)
		wantC, wantH, wantT := make([]float32, n), make([]float32, n), make([]float32, n)
		lstmCellForwardGeneric(act, cPrev, wantC, wantH, wantT)
		wantDG := make([]float32, 4*n)
		wantDC := append([]float32(nil), dc0...)
		lstmCellBackwardGeneric(wantDG, act, cPrev, wantT, dh, wantDC)

		eachLevelF(t, func(l Level) {
			gates := append([]float32(nil), gates0...)
			c, h, tc := make([]float32, n), make([]float32, n), make([]float32, n)
			LSTMCellForward(gates, cPrev, c, h, tc)
			for j := range gates {
				if !closeTo(gates[j], act[j], cellTol) {
					t.Fatalf("%v: activation [%d] of %v = %v, reference %v", l, j, gates0[j], gates[j], act[j])
				}
			}
			for j := 0; j < n; j++ {
				i, fg, g, o := act[j], act[n+j], act[2*n+j], act[3*n+j]
				// c = f*cPrev + i*g may cancel: bound by the terms' size.
				scale := 1 + math.Abs(float64(fg*cPrev[j])) + math.Abs(float64(i*g))
				if !(math.IsNaN(float64(wantC[j])) && math.IsNaN(float64(c[j]))) &&
					!(math.Abs(float64(c[j]-wantC[j])) <= cellTol*scale) {
					t.Fatalf("%v: c[%d] = %v, reference %v", l, j, c[j], wantC[j])
				}
				// tanhC and h follow from this kernel's own c.
				wantTj := float32(math.Tanh(float64(c[j])))
				if !closeTo(tc[j], wantTj, cellTol) || !closeTo(h[j], gates[3*n+j]*tc[j], cellTol) {
					t.Fatalf("%v: tanhC, h [%d] = %v, %v for c = %v, o = %v", l, j, tc[j], h[j], c[j], o)
				}
			}

			dG := make([]float32, 4*n)
			dc := append([]float32(nil), dc0...)
			LSTMCellBackward(dG, act, cPrev, wantT, dh, dc)
			for j := 0; j < n; j++ {
				scale := 1 + (math.Abs(float64(dh[j]))+math.Abs(float64(dc0[j])))*(1+math.Abs(float64(cPrev[j])))
				tol := 8 * 0x1p-24 * scale
				for k, pair := range [][2]float32{{dG[j], wantDG[j]}, {dG[n+j], wantDG[n+j]},
					{dG[2*n+j], wantDG[2*n+j]}, {dG[3*n+j], wantDG[3*n+j]}, {dc[j], wantDC[j]}} {
					got, want := pair[0], pair[1]
					if math.IsNaN(float64(want)) != math.IsNaN(float64(got)) ||
						math.Abs(float64(got-want)) > tol {
						t.Fatalf("%v: backward output %d at %d = %v, reference %v", l, k, j, got, want)
					}
				}
			}
		})
	})
}
