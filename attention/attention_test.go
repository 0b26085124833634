package attention

import (
	"math"
	"math/rand/v2"
	"testing"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestGradients checks Backward against central differences of the probe
// loss sum(wc*context) + sum(ww*weights), for h and every parameter.
func TestGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const batch, steps, dim = 3, 4, 5
	a := New(dim)
	a.Init(rng)
	h := randSlice(rng, batch*steps*dim)
	wc := randSlice(rng, batch*dim)
	ww := randSlice(rng, batch*steps)
	ws := a.NewWorkspace()
	loss := func() float64 {
		c, w := a.Forward(ws, h, batch, steps)
		var s float64
		for i := range c {
			s += float64(wc[i]) * float64(c[i])
		}
		for i := range w {
			s += float64(ww[i]) * float64(w[i])
		}
		return s
	}
	for _, withWeights := range []bool{false, true} {
		for _, p := range a.Params() {
			p.ZeroGrad()
		}
		probe := ww
		if !withWeights {
			probe = make([]float32, len(ww))
		}
		saved := ww
		ww = probe
		loss()
		var dw []float32
		if withWeights {
			dw = ww
		}
		dh := append([]float32(nil), a.Backward(ws, wc, dw)...)
		check(t, "h", h, dh, loss)
		for _, p := range a.Params() {
			check(t, p.Name, p.Data, p.Grad, loss)
		}
		ww = saved
	}
}

func check(t *testing.T, name string, data, grad []float32, f func() float64) {
	t.Helper()
	const eps = 1e-2
	for i := range data {
		old := data[i]
		data[i] = old + eps
		fp := f()
		data[i] = old - eps
		fm := f()
		data[i] = old
		num := (fp - fm) / (2 * eps)
		if math.Abs(num-float64(grad[i])) > 2e-3+1e-2*math.Abs(num) {
			t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, grad[i], num)
		}
	}
}

// TestForwardProperties: weights are a distribution over time and the
// context is their mix of h; equal scores give uniform weights.
func TestForwardProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const batch, steps, dim = 2, 6, 4
	a := New(dim)
	a.Init(rng)
	h := randSlice(rng, batch*steps*dim)
	ws := a.NewWorkspace()
	c, w := a.Forward(ws, h, batch, steps)
	for b := 0; b < batch; b++ {
		var s float64
		for t2 := 0; t2 < steps; t2++ {
			if w[b*steps+t2] <= 0 {
				t.Fatalf("weight %d,%d = %v not positive", b, t2, w[b*steps+t2])
			}
			s += float64(w[b*steps+t2])
		}
		if math.Abs(s-1) > 1e-6 {
			t.Fatalf("weights of row %d sum to %v", b, s)
		}
		for j := 0; j < dim; j++ {
			var want float64
			for t2 := 0; t2 < steps; t2++ {
				want += float64(w[b*steps+t2]) * float64(h[(b*steps+t2)*dim+j])
			}
			if math.Abs(want-float64(c[b*dim+j])) > 1e-5 {
				t.Fatalf("context[%d,%d] = %v, want %v", b, j, c[b*dim+j], want)
			}
		}
	}
	clear(a.ScoreW.Data)
	_, w = a.Forward(ws, h, batch, steps)
	for i, v := range w {
		if math.Abs(float64(v)-1.0/steps) > 1e-7 {
			t.Fatalf("zero scores: weight %d = %v, want 1/%d", i, v, steps)
		}
	}
}

func TestNoAllocationsAfterFirstCall(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rng := rand.New(rand.NewPCG(3, 3))
	const batch, steps, dim = 4, 10, 8
	a := New(dim)
	a.Init(rng)
	h := randSlice(rng, batch*steps*dim)
	dc := randSlice(rng, batch*dim)
	ws := a.NewWorkspace()
	a.Forward(ws, h, batch, steps)
	a.Backward(ws, dc, nil)
	if n := testing.AllocsPerRun(10, func() {
		a.Forward(ws, h, batch, steps)
		a.Backward(ws, dc, nil)
	}); n != 0 {
		t.Fatalf("%v allocations per forward+backward, want 0", n)
	}
}
