package nn

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

// weighted is the scalar probe loss sum_i w_i y_i used by the gradient checks.
func weighted(w, y []float32) float64 {
	var s float64
	for i := range y {
		s += float64(w[i]) * float64(y[i])
	}
	return s
}

// checkGrad compares an analytic gradient with central differences of f
// with respect to data, in float32 (step 1e-2, tolerance 2e-3 absolute plus
// 1e-2 relative, loose enough for float32 rounding and tight enough to catch a
// wrong term).
func checkGrad(t *testing.T, name string, data, grad []float32, f func() float64) {
	t.Helper()
	const h = 1e-2
	for i := range data {
		old := data[i]
		data[i] = old + h
		fp := f()
		data[i] = old - h
		fm := f()
		data[i] = old
		num := (fp - fm) / (2 * h)
		if d := math.Abs(num - float64(grad[i])); d > 2e-3+1e-2*math.Abs(num) {
			t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", name, i, grad[i], num)
		}
	}
}

func TestLinearGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, bias := range []bool{true, false} {
		l := NewLinear("fc.", 5, 3, bias)
		l.Init(rng)
		const batch = 4
		x := randSlice(rng, batch*5)
		w := randSlice(rng, batch*3)
		y := make([]float32, batch*3)
		f := func() float64 { l.Forward(y, x, batch); return weighted(w, y) }
		f()
		dx := make([]float32, len(x))
		l.Backward(dx, w, x, batch)
		checkGrad(t, "x", x, dx, f)
		checkGrad(t, "weight", l.Weight.Data, l.Weight.Grad, f)
		if bias {
			checkGrad(t, "bias", l.Bias.Data, l.Bias.Grad, f)
		}
	}
}

func TestLinearInitBounds(t *testing.T) {
	l := NewLinear("", 16, 200, true)
	l.Init(rand.New(rand.NewPCG(3, 4)))
	var maxAbs float32
	for _, v := range append(append([]float32(nil), l.Weight.Data...), l.Bias.Data...) {
		maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
	}
	if maxAbs > 0.25 || maxAbs < 0.2 {
		t.Fatalf("max |w| = %v, want just under 1/sqrt(16) = 0.25", maxAbs)
	}
}

func TestBatchNormGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	bn := NewBatchNorm1d("bn.", 3)
	Uniform(rng, bn.Weight.Data, 0.5, 1.5)
	Uniform(rng, bn.Bias.Data, -0.2, 0.2)
	const batch = 5
	x := randSlice(rng, batch*3)
	w := randSlice(rng, batch*3)
	y := make([]float32, batch*3)
	cache := &BatchNormCache{Mean: make([]float64, 3), InvStd: make([]float64, 3)}
	f := func() float64 { bn.ForwardTrain(y, x, batch, cache); return weighted(w, y) }
	f()
	dx := make([]float32, len(x))
	bn.Backward(dx, w, batch, cache)
	checkGrad(t, "x", x, dx, f)
	checkGrad(t, "weight", bn.Weight.Data, bn.Weight.Grad, f)
	checkGrad(t, "bias", bn.Bias.Data, bn.Bias.Grad, f)
}

func TestBatchNormStatistics(t *testing.T) {
	bn := NewBatchNorm1d("", 1)
	x := []float32{1, 2, 3, 6}
	y := make([]float32, 4)
	cache := &BatchNormCache{Mean: make([]float64, 1), InvStd: make([]float64, 1)}
	bn.ForwardTrain(y, x, 4, cache)
	// mean 3, biased var 3.5, unbiased var 14/3.
	want0 := float32((1 - 3) / math.Sqrt(3.5+1e-5))
	if math.Abs(float64(y[0]-want0)) > 1e-6 {
		t.Errorf("y[0] = %v, want %v", y[0], want0)
	}
	if got := bn.RunningMean.Data[0]; math.Abs(float64(got)-0.3) > 1e-7 {
		t.Errorf("running_mean = %v, want 0.3", got)
	}
	if got := bn.RunningVar.Data[0]; math.Abs(float64(got)-(0.9+0.1*14.0/3)) > 1e-6 {
		t.Errorf("running_var = %v, want %v", got, 0.9+0.1*14.0/3)
	}
	if bn.NumBatchesTracked != 1 {
		t.Errorf("num_batches_tracked = %d", bn.NumBatchesTracked)
	}
	bn.ForwardEval(y, x, 4)
	want := float32((1 - 0.3) / math.Sqrt(float64(bn.RunningVar.Data[0])+1e-5))
	if math.Abs(float64(y[0]-want)) > 1e-6 {
		t.Errorf("eval y[0] = %v, want %v", y[0], want)
	}
}

func TestReLUDropoutMSE(t *testing.T) {
	x := []float32{-1, 0, 2}
	y := make([]float32, 3)
	ReLU(y, x)
	if y[0] != 0 || y[1] != 0 || y[2] != 2 {
		t.Fatalf("ReLU = %v", y)
	}
	dx := make([]float32, 3)
	ReLUBackward(dx, []float32{5, 5, 5}, y)
	if dx[0] != 0 || dx[1] != 0 || dx[2] != 5 {
		t.Fatalf("ReLUBackward = %v", dx)
	}

	rng := rand.New(rand.NewPCG(7, 8))
	const n = 100000
	in := make([]float32, n)
	for i := range in {
		in[i] = 1
	}
	out, mask := make([]float32, n), make([]float32, n)
	Dropout(rng, 0.2, out, in, mask)
	var zeros int
	var sum float64
	for i, v := range out {
		if v == 0 {
			zeros++
		} else if v != 1.25 || mask[i] != 1.25 {
			t.Fatalf("survivor %d = %v (mask %v), want 1.25", i, v, mask[i])
		}
		sum += float64(v)
	}
	if frac := float64(zeros) / n; math.Abs(frac-0.2) > 0.01 {
		t.Errorf("dropped %.3f, want 0.2", frac)
	}
	if mean := sum / n; math.Abs(mean-1) > 0.01 {
		t.Errorf("mean after dropout %.3f, want 1 (inverted scaling)", mean)
	}
	// Same seed, same mask.
	mask2 := make([]float32, n)
	Dropout(rand.New(rand.NewPCG(7, 8)), 0.2, out, in, mask2)
	for i := range mask {
		if mask[i] != mask2[i] {
			t.Fatalf("mask differs at %d with the same seed", i)
		}
	}

	pred := []float32{1, 2, 4}
	target := []float32{1, 0, 1}
	g := make([]float32, 3)
	if l := MSELoss(pred, target, g); math.Abs(l-13.0/3) > 1e-12 {
		t.Errorf("MSE = %v, want 13/3", l)
	}
	checkGrad(t, "mse", pred, g, func() float64 { return MSELoss(pred, target, nil) })
}

// TestAdamMatchesFormula replays torch.optim.Adam's update in float64 for a
// few steps with varying gradients.
func TestAdamMatchesFormula(t *testing.T) {
	p := NewParam("w", 3)
	copy(p.Data, []float32{0.5, -1, 2})
	buf := NewBuffer("running", 3)
	opt := NewAdam([]*Param{p, buf}, 1e-2)
	ref := []float64{0.5, -1, 2}
	m, v := make([]float64, 3), make([]float64, 3)
	for step := 1; step <= 5; step++ {
		for j := range p.Grad {
			g := float64(float32(math.Sin(float64(step*3+j)) * 3))
			p.Grad[j] = float32(g)
			m[j] = 0.9*m[j] + 0.1*g
			v[j] = 0.999*v[j] + 0.001*g*g
			mh := m[j] / (1 - math.Pow(0.9, float64(step)))
			den := math.Sqrt(v[j])/math.Sqrt(1-math.Pow(0.999, float64(step))) + 1e-8
			ref[j] -= 1e-2 * mh / den
		}
		opt.Step()
		opt.ZeroGrad()
	}
	for j := range ref {
		if d := math.Abs(float64(p.Data[j]) - ref[j]); d > 1e-6 {
			t.Errorf("p[%d] = %v, want %v", j, p.Data[j], ref[j])
		}
	}
	if opt.Steps() != 5 || buf.Data[0] != 0 {
		t.Errorf("steps %d, buffer %v", opt.Steps(), buf.Data)
	}
}

func TestReleaseGrad(t *testing.T) {
	p := NewParam("w", 2, 3)
	b := NewBuffer("running", 3)
	p.ReleaseGrad()
	b.ReleaseGrad()
	if !p.Trainable() || len(p.Grad) != 0 || b.Trainable() {
		t.Fatalf("after ReleaseGrad: trainable %v (len %d), buffer trainable %v", p.Trainable(), len(p.Grad), b.Trainable())
	}
	p.EnsureGrad()
	b.EnsureGrad()
	if len(p.Grad) != 6 || b.Grad != nil {
		t.Fatalf("after EnsureGrad: len %d, buffer grad %v", len(p.Grad), b.Grad)
	}
}
