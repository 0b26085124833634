package baseline

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// refETSErrors is the textbook component form of ETS(A,N,A), written
// independently of the package's error-correction form:
// l_t = a(z_t - s_{t-m}) + (1-a) l_{t-1}, s_t = g(z_t - l_{t-1}) + (1-g) s_{t-m}.
func refETSErrors(z []float64, m int, a, g, l0 float64, s0 []float64) []float64 {
	s := append([]float64(nil), s0...)
	l := l0
	e := make([]float64, len(z))
	for t, v := range z {
		k := t % m
		e[t] = v - l - s[k]
		lNew := a*(v-s[k]) + (1-a)*l
		s[k] = g*(v-l) + (1-g)*s[k]
		l = lNew
	}
	return e
}

func sumSq(e []float64) float64 {
	var s float64
	for _, v := range e {
		s += v * v
	}
	return s
}

// TestETSSolveMatchesDenseLeastSquares checks the structured normal
// equations (seasonal columns as shifted copies) against a dense
// least-squares solve over an explicitly built design matrix.
func TestETSSolveMatchesDenseLeastSquares(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, m = 61, 5
	z := make([]float64, n)
	for i := range z {
		z[i] = math.Sin(float64(i)) + 0.5*rng.NormFloat64()
	}
	pb := newETSProblem(z, m)
	for _, ag := range [][2]float64{{0, 0}, {0.3, 0.2}, {0.9, 0.05}, {1, 0}, {0.05, 0.9}} {
		a, g := ag[0], ag[1]
		got := pb.solve(a, g)
		// Columns: errors from unit initial states on a zero series, minus
		// the zero-state errors. Fix s[m-1] = 0 (the level absorbs it).
		zero := make([]float64, m)
		e0 := refETSErrors(z, m, a, g, 0, zero)
		x := mat.NewDense(n, m, nil)
		for j := 0; j < m; j++ {
			l0, s0 := 0.0, make([]float64, m)
			if j == 0 {
				l0 = 1
			} else {
				s0[j-1] = 1
			}
			col := refETSErrors(z, m, a, g, l0, s0)
			for i := range col {
				x.Set(i, j, col[i]-e0[i])
			}
		}
		// min |e0 + X th|: X th = -e0.
		rhs := mat.NewVecDense(n, nil)
		for i := range e0 {
			rhs.SetVec(i, -e0[i])
		}
		var th mat.VecDense
		if err := th.SolveVec(x, rhs); err != nil {
			t.Fatalf("dense solve: %v", err)
		}
		s0 := make([]float64, m)
		for j := 1; j < m; j++ {
			s0[j-1] = th.AtVec(j)
		}
		want := sumSq(refETSErrors(z, m, a, g, th.AtVec(0), s0))
		if math.Abs(got-want) > 1e-9*want {
			t.Errorf("alpha %g gamma %g: SSE %.12g, dense least squares %.12g", a, g, got, want)
		}
		// And the state found gives that SSE under the reference recursion.
		if ref := sumSq(refETSErrors(z, m, a, g, pb.theta[0], pb.theta[1:])); math.Abs(ref-got) > 1e-9*got {
			t.Errorf("alpha %g gamma %g: reference recursion from the fitted state gives %g, solve %g", a, g, ref, got)
		}
	}
}

// TestHoltWintersRecoversParameters fits a series simulated from ETS(A,N,A)
// with known smoothing parameters.
func TestHoltWintersRecoversParameters(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	const n, m, alpha, gamma = 3000, 12, 0.3, 0.15
	y := make([]float64, n)
	l := 100.0
	s := make([]float64, m)
	for k := range s {
		s[k] = 5 * math.Cos(2*math.Pi*float64(k)/m)
	}
	for t := range y {
		k := t % m
		e := rng.NormFloat64()
		y[t] = l + s[k] + e
		l += alpha * e
		s[k] += gamma * e
	}
	hw := NewHoltWinters(m)
	if err := hw.Fit(Series{Values: y}, n*70/100); err != nil {
		t.Fatal(err)
	}
	if !hw.Seasonal {
		t.Fatal("two seasons of training data but not seasonal")
	}
	if math.Abs(hw.Alpha-alpha) > 0.05 || math.Abs(hw.Gamma-gamma) > 0.05 {
		t.Errorf("fitted alpha %.3f gamma %.3f, simulated %g %g", hw.Alpha, hw.Gamma, alpha, gamma)
	}
}

// TestHoltWintersFitIsMinimum checks that no nearby feasible smoothing
// parameters give a smaller sum of squared errors than the fitted ones.
func TestHoltWintersFitIsMinimum(t *testing.T) {
	s := syntheticSeries(1500, 48, 5)
	sp := SplitOf(s.Len())
	for _, period := range []int{48, 1000} { // seasonal; simple smoothing
		hw := NewHoltWinters(period)
		if err := hw.Fit(s.Slice(0, sp.Fit()), sp.Train); err != nil {
			t.Fatal(err)
		}
		if hw.Seasonal != (period == 48) {
			t.Fatalf("period %d: Seasonal = %v", period, hw.Seasonal)
		}
		z := make([]float64, sp.Fit())
		for i := range z {
			z[i] = hw.Scaler.Scale(s.Values[i])
		}
		m := 1
		if hw.Seasonal {
			m = period
		}
		pb := newETSProblem(z, m)
		best := pb.solve(hw.Alpha, hw.Gamma)
		for _, d := range [][2]float64{{0.01, 0}, {-0.01, 0}, {0, 0.01}, {0, -0.01}, {0.01, -0.01}} {
			a, g := hw.Alpha+d[0], hw.Gamma+d[1]
			if !hw.Seasonal {
				g = 0
			}
			if a < 0 || a > 1 || g < 0 || g > 1-a {
				continue
			}
			if v := pb.solve(a, g); v < best*(1-1e-9) {
				t.Errorf("period %d: SSE %.6g at (%.4f, %.4f) below the fitted %.6g at (%.4f, %.4f)",
					period, v, a, g, best, hw.Alpha, hw.Gamma)
			}
		}
	}
}

// TestHoltWintersForecastsMatchReference runs the fitted model through a
// series and compares every forecast with the reference component form.
func TestHoltWintersForecastsMatchReference(t *testing.T) {
	s := syntheticSeries(900, 48, 9)
	sp := SplitOf(s.Len())
	hw := NewHoltWinters(48)
	preds, err := Forecasts(s, hw, 1, 12)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float64, s.Len())
	for i, v := range s.Values {
		z[i] = hw.Scaler.Scale(v)
	}
	// Reference forecasts of z[j] from origin j-h: run the component form,
	// record the state after each step.
	m := 48
	l, seas := hw.Level0, append([]float64(nil), hw.Season0...)
	lv := make([]float64, len(z))
	ss := make([][]float64, len(z))
	for t2, v := range z {
		k := t2 % m
		lNew := hw.Alpha*(v-seas[k]) + (1-hw.Alpha)*l
		seas[k] = hw.Gamma*(v-l) + (1-hw.Gamma)*seas[k]
		l = lNew
		lv[t2], ss[t2] = l, append([]float64(nil), seas...)
	}
	for i, h := range []int{1, 12} {
		for k, j := range Targets(sp) {
			want := hw.Scaler.Unscale(lv[j-h] + ss[j-h][j%m])
			if math.Abs(preds[i][k]-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Fatalf("h=%d target %d: %g, reference %g", h, j, preds[i][k], want)
			}
		}
	}
}
