package lstm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

func newStack(t testing.TB, cfg Config, seed uint64) *Stack {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.InitUniform(rand.New(rand.NewPCG(seed, 1)))
	return s
}

func randVec(n int, seed uint64, scale float32) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64()) * scale
	}
	return v
}

// weightedLoss is sum(out*r) accumulated in float64.
func weightedLoss(out, r []float32) float64 {
	var l float64
	for i, v := range out {
		l += float64(v) * float64(r[i])
	}
	return l
}

// TestGradCheck compares Backward with central finite differences of
// loss = sum(out*r) for every parameter element and every input element.
func TestGradCheck(t *testing.T) {
	cases := []struct {
		cfg  Config
		B, T int
	}{
		{Config{Input: 3, Hidden: 4, Layers: 1}, 2, 4},
		{Config{Input: 2, Hidden: 3, Layers: 2}, 2, 3},
		{Config{Input: 3, Hidden: 4, Layers: 1, Bidirectional: true}, 2, 4},
		{Config{Input: 2, Hidden: 3, Layers: 2, Bidirectional: true}, 3, 3},
		{Config{Input: 2, Hidden: 3, Layers: 3, Bidirectional: true, Dropout: 0.4}, 2, 3},
		{Config{Input: 2, Hidden: 3, Layers: 3, Bidirectional: true, Dropout: 0.4}, 2, 1}, // one step: no recurrent term
		{Config{Input: 2, Hidden: 3, Layers: 2}, 1, 5},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("%+v", c.cfg), func(t *testing.T) {
			s := newStack(t, c.cfg, uint64(ci+10))
			// Scale the weights up a little so that the gates are not all linear.
			for _, p := range s.Params() {
				for i := range p.Data {
					p.Data[i] *= 2
				}
			}
			ws := s.NewWorkspace()
			x := randVec(c.B*c.T*c.cfg.Input, uint64(ci), 1)
			r := randVec(c.B*c.T*s.OutputSize(), uint64(ci+100), 1)
			loss := func() float64 {
				s.WeightsChanged()                      // a weight may have been perturbed
				ws.SetRand(rand.New(rand.NewPCG(7, 7))) // the same dropout mask each time
				out, err := s.Forward(ws, x, c.B, c.T, true)
				if err != nil {
					t.Fatal(err)
				}
				return weightedLoss(out, r)
			}
			loss()
			dx := append([]float32(nil), s.Backward(ws, r)...)

			const eps = 1e-2
			check := func(what string, data []float32, analytic []float32) {
				worst := 0.0
				for i := range data {
					v := data[i]
					data[i] = v + eps
					lp := loss()
					data[i] = v - eps
					lm := loss()
					data[i] = v
					num := (lp - lm) / (2 * eps)
					a := float64(analytic[i])
					err := math.Abs(a-num) / (math.Max(math.Abs(num), math.Abs(a)) + 1e-2)
					worst = max(worst, err)
					if !(err <= 5e-3) {
						t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", what, i, a, num)
						return
					}
				}
				t.Logf("%s: worst relative error %.2g", what, worst)
			}
			check("x", x, dx)
			for _, p := range s.Params() {
				check(p.Name, p.Data, append([]float32(nil), p.Grad...))
			}
		})
	}
}

func TestParamNames(t *testing.T) {
	s := newStack(t, Config{Input: 5, Hidden: 4, Layers: 2, Bidirectional: true}, 1)
	var names []string
	for _, p := range s.Params() {
		names = append(names, fmt.Sprint(p))
	}
	want := "weight_ih_l0[16 5] weight_hh_l0[16 4] bias_ih_l0[16] bias_hh_l0[16] " +
		"weight_ih_l0_reverse[16 5] weight_hh_l0_reverse[16 4] bias_ih_l0_reverse[16] bias_hh_l0_reverse[16] " +
		"weight_ih_l1[16 8] weight_hh_l1[16 4] bias_ih_l1[16] bias_hh_l1[16] " +
		"weight_ih_l1_reverse[16 8] weight_hh_l1_reverse[16 4] bias_ih_l1_reverse[16] bias_hh_l1_reverse[16]"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("params:\n got %s\nwant %s", got, want)
	}
	if s.OutputSize() != 8 || s.Config().Layers != 2 {
		t.Errorf("OutputSize %d, Config %+v", s.OutputSize(), s.Config())
	}
	bound := float32(0.5) // 1/sqrt(4)
	for _, p := range s.Params() {
		lo, hi := float32(1), float32(-1)
		for _, v := range p.Data {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < -bound || hi > bound || hi-lo < bound/2 {
			t.Errorf("%s: InitUniform range [%v, %v], want spread within ±%v", p.Name, lo, hi, bound)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Input: 0, Hidden: 4, Layers: 1},
		{Input: 3, Hidden: -1, Layers: 1},
		{Input: 3, Hidden: 4, Layers: 0},
		{Input: 3, Hidden: 4, Layers: 1, Dropout: 1.5},
		{Input: 3, Hidden: 4, Layers: 1, Dropout: float32(math.NaN())},
	} {
		if _, err := New(cfg); err == nil || !strings.HasPrefix(err.Error(), "lstm: ") {
			t.Errorf("New(%+v) err = %v", cfg, err)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	s := newStack(t, Config{Input: 3, Hidden: 4, Layers: 2, Bidirectional: true}, 1)
	ws := s.NewWorkspace()
	cases := []struct {
		x        []float32
		b, steps int
		want     []string
	}{
		{make([]float32, 12), 0, 4, []string{"batch (0)"}},
		{make([]float32, 12), 1, 0, []string{"steps (0)"}},
		{make([]float32, 12), 2, 3, []string{"12", "18"}},            // wrong length
		{make([]float32, 2*3*4), 2, 3, []string{"24", "2*3*3 = 18"}}, // 4 features instead of 3
	}
	for _, c := range cases {
		_, err := s.Forward(ws, c.x, c.b, c.steps, false)
		if err == nil {
			t.Errorf("Forward(len %d, %d, %d): no error", len(c.x), c.b, c.steps)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %q", err, w)
			}
		}
	}
	mustPanic(t, "Backward before Forward", func() { s.Backward(ws, make([]float32, 8)) })
	if _, err := s.Forward(ws, make([]float32, 6), 1, 2, false); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "Backward after eval Forward", func() { s.Backward(ws, make([]float32, 16)) })
	if _, err := s.Forward(ws, make([]float32, 6), 1, 2, true); err != nil {
		t.Fatal(err)
	}
	mustPanic(t, "Backward with a short dOut", func() { s.Backward(ws, make([]float32, 15)) })
	other := newStack(t, Config{Input: 3, Hidden: 4, Layers: 1}, 1)
	mustPanic(t, "foreign workspace", func() { other.Forward(ws, make([]float32, 6), 1, 2, false) })
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", what)
		} else if !strings.HasPrefix(fmt.Sprint(r), "lstm: ") {
			t.Errorf("%s: panic %q without the lstm: prefix", what, r)
		}
	}()
	f()
}

// TestNaNPropagates: a NaN at one (b, t) poisons that sequence as in PyTorch
// (forward direction from t on, reverse up to t, every step of later layers)
// and leaves the other sequences of the batch alone, in every precision.
func TestNaNPropagates(t *testing.T) {
	for _, prec := range []Precision{FP32, BF16, INT8} {
		t.Run(prec.String(), func(t *testing.T) { testNaNPropagates(t, prec) })
	}
}

func testNaNPropagates(t *testing.T, prec Precision) {
	cfg := Config{Input: 3, Hidden: 4, Layers: 1, Bidirectional: true}
	s := newStack(t, cfg, 3)
	if err := s.SetPrecision(prec); err != nil {
		t.Fatal(err)
	}
	B, T, H := 2, 5, 4
	x := randVec(B*T*3, 1, 1)
	x[(0*T+2)*3+1] = float32(math.NaN())
	out, err := s.Forward(s.NewWorkspace(), x, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	for b := 0; b < B; b++ {
		for tt := 0; tt < T; tt++ {
			for d := 0; d < 2; d++ {
				v := out[(b*T+tt)*2*H+d*H]
				poisoned := b == 0 && ((d == 0 && tt >= 2) || (d == 1 && tt <= 2))
				if math.IsNaN(float64(v)) != poisoned {
					t.Errorf("out[b=%d,t=%d,dir=%d] = %v, want NaN: %v", b, tt, d, v, poisoned)
				}
			}
		}
	}
}

// TestEvalIgnoresDropout: Forward(train=false) is the same with and without
// dropout configured, while a training pass with dropout differs and drops
// about a fraction p of the values between layers, scaling the rest.
func TestEvalIgnoresDropout(t *testing.T) {
	cfg := Config{Input: 3, Hidden: 8, Layers: 2, Bidirectional: true}
	plain := newStack(t, cfg, 5)
	cfg.Dropout = 0.3
	dropped := newStack(t, cfg, 5)
	x := randVec(4*6*3, 9, 1)
	a, err := plain.Forward(plain.NewWorkspace(), x, 4, 6, false)
	if err != nil {
		t.Fatal(err)
	}
	ws := dropped.NewWorkspace()
	b, _ := dropped.Forward(ws, x, 4, 6, false)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("eval output differs with dropout configured at %d: %v vs %v", i, a[i], b[i])
		}
	}
	c, _ := dropped.Forward(ws, x, 4, 6, true)
	same := 0
	for i := range a {
		if a[i] == c[i] {
			same++
		}
	}
	if same == len(a) {
		t.Error("training pass with dropout equals the eval pass")
	}
	// The next layer's input is layer 0's output with each value either
	// zeroed or scaled by 1/(1-p).
	keep := 1 / (1 - cfg.Dropout)
	zeros := 0
	for i, v := range ws.dropped {
		switch o := ws.out[0][i]; v {
		case 0:
			zeros++
		case o * keep:
		default:
			t.Fatalf("dropped-out value %v of %v, want 0 or %v", v, o, o*keep)
		}
	}
	if frac := float64(zeros) / float64(len(ws.dropped)); math.Abs(frac-0.3) > 0.08 {
		t.Errorf("dropped fraction %.3f, want about 0.3", frac)
	}
}

// TestSerialParallelIdentical: the two directions on two goroutines give
// bit-identical outputs and gradients to the serial path.
func TestSerialParallelIdentical(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	cfg := Config{Input: 7, Hidden: 16, Layers: 2, Bidirectional: true, Dropout: 0.2}
	B, T := 5, 11
	x := randVec(B*T*cfg.Input, 4, 1)
	r := randVec(B*T*2*cfg.Hidden, 5, 1)
	run := func(serial bool) ([]float32, []float32, [][]float32) {
		s := newStack(t, cfg, 8)
		ws := s.NewWorkspace()
		ws.Serial = serial
		ws.SetRand(rand.New(rand.NewPCG(3, 3)))
		out, err := s.Forward(ws, x, B, T, true)
		if err != nil {
			t.Fatal(err)
		}
		if !serial && !ws.parallel(0) {
			t.Fatal("shape too small for the parallel path")
		}
		out = append([]float32(nil), out...)
		dx := append([]float32(nil), s.Backward(ws, r)...)
		var grads [][]float32
		for _, p := range s.Params() {
			grads = append(grads, p.Grad)
		}
		return out, dx, grads
	}
	o1, d1, g1 := run(true)
	o2, d2, g2 := run(false)
	bitsEqual(t, "out", o1, o2)
	bitsEqual(t, "dx", d1, d2)
	for i := range g1 {
		bitsEqual(t, fmt.Sprint("grad ", i), g1[i], g2[i])
	}
}

func bitsEqual(t *testing.T, what string, a, b []float32) {
	t.Helper()
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Errorf("%s[%d]: %v vs %v", what, i, a[i], b[i])
			return
		}
	}
}

// TestWorkspaceReuse: a workspace that has seen a larger shape gives the same
// results for a smaller one as a fresh workspace, and gradients accumulate.
func TestWorkspaceReuse(t *testing.T) {
	cfg := Config{Input: 4, Hidden: 6, Layers: 2, Bidirectional: true}
	s := newStack(t, cfg, 2)
	big := randVec(5*9*4, 1, 1)
	small := randVec(2*3*4, 2, 1)
	r := randVec(2*3*12, 3, 1)
	ws := s.NewWorkspace()
	if _, err := s.Forward(ws, big, 5, 9, true); err != nil {
		t.Fatal(err)
	}
	s.Backward(ws, randVec(5*9*12, 4, 1))
	for _, p := range s.Params() {
		p.ZeroGrad()
	}
	got, _ := s.Forward(ws, small, 2, 3, true)
	got = append([]float32(nil), got...)
	gotDx := append([]float32(nil), s.Backward(ws, r)...)
	g1 := append([]float32(nil), s.Params()[0].Grad...)
	fresh := s.NewWorkspace()
	want, _ := s.Forward(fresh, small, 2, 3, true)
	bitsEqual(t, "out", got, want)
	bitsEqual(t, "dx", gotDx, s.Backward(fresh, r))
	// The second Backward added the same gradient again.
	for i, v := range s.Params()[0].Grad {
		if v != 2*g1[i] {
			t.Fatalf("gradient did not accumulate: %v after two passes, %v after one", v, g1[i])
		}
	}
}

// TestForwardAllocs: after the first call of a shape, Forward and Backward
// allocate nothing, serial or parallel, eval or training.
func TestForwardAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, bi := range []bool{true, false} {
		testAllocs(t, Config{Input: 5, Hidden: 32, Layers: 2, Bidirectional: bi, Dropout: 0.2}, 4, 10, true)
		testAllocs(t, Config{Input: 30, Hidden: 128, Layers: 1, Bidirectional: bi}, 16, 20, true) // parallel GEMMs
	}
	if !testing.Short() {
		testAllocs(t, defaultConfig, 1, defaultSteps, false) // the default model serving one sequence
	}
}

func testAllocs(t *testing.T, cfg Config, B, T int, training bool) {
	s := newStack(t, cfg, 1)
	x := randVec(B*T*cfg.Input, 1, 1)
	dOut := randVec(B*T*s.OutputSize(), 2, 1)
	for _, serial := range []bool{true, false} {
		ws := s.NewWorkspace()
		ws.Serial = serial
		for _, train := range []bool{false, true} {
			if train && !training {
				continue
			}
			f := func() {
				if _, err := s.Forward(ws, x, B, T, train); err != nil {
					t.Fatal(err)
				}
				if train {
					s.Backward(ws, dOut)
				}
			}
			f()
			if n := testing.AllocsPerRun(5, f); n != 0 {
				t.Errorf("%+v B=%d T=%d serial=%v train=%v: %v allocations per pass", cfg, B, T, serial, train, n)
			}
		}
	}
}

func ExampleStack() {
	s, err := New(Config{Input: 3, Hidden: 4, Layers: 2, Bidirectional: true})
	if err != nil {
		panic(err)
	}
	s.InitUniform(rand.New(rand.NewPCG(1, 2)))
	ws := s.NewWorkspace()
	x := make([]float32, 2*5*3) // batch 2, 5 steps, 3 features
	out, err := s.Forward(ws, x, 2, 5, true)
	if err != nil {
		panic(err)
	}
	dx := s.Backward(ws, make([]float32, len(out)))
	fmt.Println(len(out), s.OutputSize(), len(dx), len(s.Params()))
	// Output: 80 8 30 16
}

// TestWeightChangesSeen: the packed weights follow every change of any
// parameter tensor that the owner reports with WeightsChanged, even of one
// value the safety net does not sample; and a change of every value (an
// optimiser step, a load) is seen even without the call.
func TestWeightChangesSeen(t *testing.T) {
	cfg := Config{Input: 3, Hidden: 40, Layers: 2, Bidirectional: true}
	s := newStack(t, cfg, 4)
	x := randVec(2*4*3, 1, 1)
	r := randVec(2*4*80, 2, 1)
	ws := s.NewWorkspace()
	check := func(what string) {
		t.Helper()
		got, err := s.Forward(ws, x, 2, 4, true)
		if err != nil {
			t.Fatal(err)
		}
		got = append([]float32(nil), got...)
		s.Backward(ws, r)
		grads := snapshotGrads(s)
		fresh, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range fresh.Params() {
			copy(p.Data, s.Params()[i].Data)
		}
		fws := fresh.NewWorkspace()
		want, _ := fresh.Forward(fws, x, 2, 4, true)
		bitsEqual(t, what+": output", got, want)
		fresh.Backward(fws, r)
		for i, p := range fresh.Params() {
			bitsEqual(t, what+": gradient of "+p.Name, grads[i], p.Grad)
		}
	}
	check("initial")
	for _, p := range s.Params() {
		// A value between two sampled ones: the safety net cannot see it.
		n := min(len(p.Data), samplesPerTensor)
		i := sampleAt(1, n, len(p.Data)) - 1
		if i <= 0 {
			t.Fatalf("%s: no unsampled value between the first two samples", p.Name)
		}
		p.Data[i] += 0.25
		s.WeightsChanged()
		check(fmt.Sprintf("after changing %s[%d] and calling WeightsChanged", p.Name, i))
	}
	for _, p := range s.Params() {
		for i := range p.Data {
			p.Data[i] *= 0.999 // what an optimiser step does: every value moves
		}
	}
	check("after changing every value without WeightsChanged")
}

func snapshotGrads(s *Stack) [][]float32 {
	var g [][]float32
	for _, p := range s.Params() {
		g = append(g, append([]float32(nil), p.Grad...))
		p.ZeroGrad()
	}
	return g
}

// TestKeepLayers: recomputing the gates of the layers below the kept ones
// gives the same outputs (bit for bit: Forward does not depend on it) and the
// same gradients up to rounding, serial and parallel bit-identical for each
// setting, with dropout, at small and stepwise batch sizes.
func TestKeepLayers(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	cfg := Config{Input: 5, Hidden: 16, Layers: 4, Bidirectional: true, Dropout: 0.3}
	for _, shape := range [][2]int{{3, 6}, {stepwiseBatch + 1, 6}, {1, 1}, {2, 1}, {1, 4}} {
		B, T := shape[0], shape[1]
		x := randVec(B*T*cfg.Input, 4, 1)
		r := randVec(B*T*2*cfg.Hidden, 5, 1)
		var ref [][]float32 // all layers kept
		for _, keep := range []int{4, 0, 1, 2, 3, 9} {
			var serialRes [][]float32
			for _, serial := range []bool{true, false} {
				s := newStack(t, cfg, 8)
				ws := s.NewWorkspace()
				ws.Serial, ws.KeepLayers = serial, keep
				ws.SetRand(rand.New(rand.NewPCG(3, 3)))
				out, err := s.Forward(ws, x, B, T, true)
				if err != nil {
					t.Fatal(err)
				}
				got := [][]float32{append([]float32(nil), out...), append([]float32(nil), s.Backward(ws, r)...)}
				got = append(got, snapshotGrads(s)...)
				what := fmt.Sprintf("B=%d T=%d keep=%d serial=%v", B, T, keep, serial)
				if serialRes == nil {
					serialRes = got
				} else {
					for i := range got {
						bitsEqual(t, fmt.Sprint(what, " vs serial: result ", i), got[i], serialRes[i])
					}
				}
				if ref == nil {
					ref = got
					continue
				}
				bitsEqual(t, what+": output", got[0], ref[0])
				for i := 1; i < len(ref); i++ {
					closeTo(t, fmt.Sprint(what, ": gradient ", i), got[i], ref[i], 1e-5)
				}
			}
		}
	}
}

// TestBackwardOnce: Backward consumes the activations; a second call for the
// same Forward panics instead of returning wrong gradients.
func TestBackwardOnce(t *testing.T) {
	s := newStack(t, Config{Input: 3, Hidden: 4, Layers: 2, Bidirectional: true}, 1)
	ws := s.NewWorkspace()
	if _, err := s.Forward(ws, make([]float32, 6), 1, 2, true); err != nil {
		t.Fatal(err)
	}
	s.Backward(ws, make([]float32, 16))
	mustPanic(t, "second Backward", func() { s.Backward(ws, make([]float32, 16)) })
	if _, err := s.Forward(ws, make([]float32, 6), 1, 2, true); err != nil {
		t.Fatal(err)
	}
	s.Backward(ws, make([]float32, 16))
}

// TestConcurrentPredictors: workspaces of one stack forward concurrently
// while sharing its packed weights (run with -race), and all agree with a
// serial pass; a change of weights reported between rounds is seen by all.
func TestConcurrentPredictors(t *testing.T) {
	cfg := Config{Input: 4, Hidden: 8, Layers: 2, Bidirectional: true}
	s := newStack(t, cfg, 9)
	x := randVec(3*5*4, 1, 1)
	for round := 0; round < 2; round++ {
		want, err := s.Forward(s.NewWorkspace(), x, 3, 5, false)
		if err != nil {
			t.Fatal(err)
		}
		want = append([]float32(nil), want...)
		if round == 0 {
			// Nobody has packed yet: the goroutines race to pack.
			s.WeightsChanged()
		}
		errs := make(chan error, 4)
		for g := 0; g < 4; g++ {
			go func() {
				ws := s.NewWorkspace()
				for i := 0; i < 5; i++ {
					got, err := s.Forward(ws, x, 3, 5, false)
					if err == nil {
						for j := range want {
							if got[j] != want[j] {
								err = fmt.Errorf("round %d: output[%d] = %v, want %v", round, j, got[j], want[j])
								break
							}
						}
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for g := 0; g < 4; g++ {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		s.Params()[1].Data[1] -= 0.5
		s.WeightsChanged()
	}
}

// TestBatchRowsIndependent: a batch large enough for the stepwise path gives
// each sequence the output it gets alone (batch 1, all-steps path), and its
// gradients are the sums of the single-sequence gradients.
func TestBatchRowsIndependent(t *testing.T) {
	cfg := Config{Input: 3, Hidden: 8, Layers: 2, Bidirectional: true}
	B, T := stepwiseBatch+3, 5
	s := newStack(t, cfg, 6)
	x := randVec(B*T*3, 1, 1)
	r := randVec(B*T*16, 2, 1)
	ws := s.NewWorkspace()
	eval, err := s.Forward(ws, x, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	eval = append([]float32(nil), eval...)
	train, _ := s.Forward(ws, x, B, T, true)
	bitsEqual(t, "train vs eval output", train, eval)
	dx := append([]float32(nil), s.Backward(ws, r)...)
	var batchGrads [][]float32
	for _, p := range s.Params() {
		batchGrads = append(batchGrads, append([]float32(nil), p.Grad...))
		p.ZeroGrad()
	}
	one := s.NewWorkspace()
	rowIn, rowOut := T*3, T*16
	for b := 0; b < B; b++ {
		out, err := s.Forward(one, x[b*rowIn:(b+1)*rowIn], 1, T, true)
		if err != nil {
			t.Fatal(err)
		}
		closeTo(t, fmt.Sprint("output of sequence ", b), eval[b*rowOut:(b+1)*rowOut], out, 1e-6)
		closeTo(t, fmt.Sprint("dx of sequence ", b), dx[b*rowIn:(b+1)*rowIn], s.Backward(one, r[b*rowOut:(b+1)*rowOut]), 1e-6)
	}
	for i, p := range s.Params() {
		closeTo(t, "summed grad "+p.Name, batchGrads[i], p.Grad, 1e-5)
	}
}

// TestDropoutMaskStream: direction d of layer k keeps value j of row r
// exactly when the stream seeded for (k, d) gives a 32-bit draw of at least
// p*2^32 for it, two values per 64-bit draw (low half first), H rounded up
// to even draws per row; and about a fraction p is dropped.
func TestDropoutMaskStream(t *testing.T) {
	for _, h := range []int{5, 64, 67, 130} {
		cfg := Config{Input: 2, Hidden: h, Layers: 3, Bidirectional: true, Dropout: 0.35}
		s := newStack(t, cfg, 1)
		ws := s.NewWorkspace()
		B, T := 3, 50
		if _, err := s.Forward(ws, randVec(B*T*2, 1, 1), B, T, true); err != nil {
			t.Fatal(err)
		}
		threshold := dropThreshold(cfg.Dropout)
		for k := 0; k < 2; k++ {
			for d := 0; d < 2; d++ {
				src := wyrand(ws.dropSeeds[k][d])
				kept := 0
				for r := 0; r < B*T; r++ {
					var u uint64
					for j := 0; j < h; j++ {
						half := u >> 32
						if j%2 == 0 {
							u = src.next()
							half = u & 0xffffffff
						}
						want := half >= threshold
						got := ws.masks[k][d][r*maskWords(h)+j/64]>>(j%64)&1 == 1
						if got != want {
							t.Fatalf("H=%d layer %d dir %d row %d value %d: kept %v, want %v", h, k, d, r, j, got, want)
						}
						if got {
							kept++
						}
					}
					if w := ws.masks[k][d][r*maskWords(h)+maskWords(h)-1]; h%64 != 0 && w>>(h%64) != 0 {
						t.Fatalf("H=%d: bits set beyond the row: %x", h, w)
					}
				}
				frac := 1 - float64(kept)/float64(B*T*h)
				if n := float64(B * T * h); math.Abs(frac-0.35) > 4*math.Sqrt(0.35*0.65/n) {
					t.Errorf("H=%d layer %d dir %d: dropped %.4f of %v values, want 0.35", h, k, d, frac, n)
				}
			}
		}
		if ws.dropSeeds[0][0] == ws.dropSeeds[0][1] || ws.dropSeeds[0][0] == ws.dropSeeds[1][0] {
			t.Error("two mask streams share a seed")
		}
	}
}
