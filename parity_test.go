package perfpredict

import (
	"maps"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/nn"
	"github.com/novacron/perfpredict/internal/safetensors"
)

// fixtureDirs are the reference's parity fixtures (tools/fixtures/model_fixtures.sh).
var fixtureDirs = []string{"model_l1", "model_l2k3", "model_seed"}

// compare checks got against want with |got-want| <= tol*max(1, |want|) and
// returns the largest scaled error.
func compare(t *testing.T, what string, got, want []float32, tol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	var worst float64
	bad := 0
	for i := range want {
		d := math.Abs(float64(got[i])-float64(want[i])) / math.Max(1, math.Abs(float64(want[i])))
		if !(d <= tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
			}
			bad++
		}
		worst = math.Max(worst, d)
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values off by more than %g (worst %.3g)", what, bad, len(want), tol, worst)
	}
	return worst
}

// compareSlack checks got against the reference's float32 values ref, with
// the reference's own distance from the exact (float64) values as extra
// slack: |got-ref| <= tol*max(1,|ref|) + |ref-exact|.
func compareSlack(t *testing.T, what string, got, ref, exact []float32, tol float64) float64 {
	t.Helper()
	var worst float64
	bad := 0
	for i := range ref {
		slack := math.Abs(float64(ref[i]) - float64(exact[i]))
		d := (math.Abs(float64(got[i])-float64(ref[i])) - slack) / math.Max(1, math.Abs(float64(ref[i])))
		if !(d <= tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.9g, reference %.9g, exact %.9g", what, i, got[i], ref[i], exact[i])
			}
			bad++
		}
		worst = math.Max(worst, d)
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values off by more than %g beyond the reference's own error", what, bad, len(ref), tol)
	}
	return worst
}

func caseTensor(t *testing.T, f *safetensors.File, name string) ([]float32, []int) {
	t.Helper()
	d, s, err := f.Float32(name)
	if err != nil {
		t.Fatal(err)
	}
	return d, s
}

// TestParityWithReference loads each reference checkpoint and checks, against
// what PyTorch computed: evaluation-mode predictions and attention (1e-5);
// training-mode outputs, loss, the gradient of every parameter and of x
// (1e-4); every tensor after one Adam step at lr 1e-3 (1e-6). It runs at
// every kernel level this CPU supports (generic Go, AVX2, AVX-512).
func TestParityWithReference(t *testing.T) {
	for _, level := range asm.Supported() {
		prev, err := asm.SetLevel(level)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(level.String(), testParity)
		asm.SetLevel(prev)
	}
}

func testParity(t *testing.T) {
	for _, dir := range fixtureDirs {
		t.Run(dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "fixtures", dir)
			m, err := Load(filepath.Join(dir, "model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			c, err := safetensors.ReadFile(filepath.Join(dir, "case.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			exact, err := safetensors.ReadFile(filepath.Join(dir, "exact.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			x, xs := caseTensor(t, c, "x")
			batch, steps := xs[0], xs[1]
			worst := map[string]float64{}
			note := func(k string, v float64) { worst[k] = math.Max(worst[k], v) }

			pred, att, err := m.Predict(x, batch, steps)
			if err != nil {
				t.Fatal(err)
			}
			y, _ := caseTensor(t, c, "eval.y")
			a, _ := caseTensor(t, c, "eval.attention")
			note("eval", compare(t, "eval.y", pred, y, 1e-5))
			note("eval", compare(t, "eval.attention", att, a, 1e-5))

			// Training mode with dropout off, from the same weights.
			cfg := m.Config()
			cfg.Dropout = -1
			mt, err := build(cfg, m.Features(), m.Outputs())
			if err != nil {
				t.Fatal(err)
			}
			mt.restore(m.snapshot(nil))
			ws := mt.newWorkspace()
			p, w, err := mt.forward(ws, x, batch, steps, true)
			if err != nil {
				t.Fatal(err)
			}
			// Training mode is compared with the exact (float64) values within
			// 1e-4, and with PyTorch's float32 values within 1e-4 plus
			// PyTorch's own rounding error (tools/fixtures/model_exact.py).
			target, _ := caseTensor(t, c, "target")
			grad := make([]float32, len(p))
			loss := nn.MSELoss(p, target, grad)
			dx := mt.backward(ws, grad)
			got := map[string][]float32{"train.y": p, "train.attention": w, "train.loss": {float32(loss)}, "grad.x": dx}
			for _, e := range mt.state {
				if e.p.Trainable() {
					got["grad."+e.name] = e.p.Grad
				}
			}
			for _, name := range slices.Sorted(maps.Keys(got)) {
				want, _ := caseTensor(t, exact, name)
				ref, _ := caseTensor(t, c, name)
				note("exact", compare(t, name+" (exact)", got[name], want, 1e-4))
				note("train", compareSlack(t, name, got[name], ref, want, 1e-4))
				for i := range want {
					note("reference", math.Abs(float64(ref[i])-float64(want[i]))/math.Max(1, math.Abs(float64(want[i]))))
				}
			}

			// One Adam step, checked twice. The optimiser itself runs on the
			// reference's gradients: every tensor within 1e-6. The whole chain
			// (our gradients, then Adam) is compared where Adam's first step,
			// lr*g/(|g|+eps), is well conditioned: |g| > 1e-4. Below that a
			// gradient difference within the 1e-4 tolerance moves the step by
			// more than 1e-6; the biases of fc1..fc3, which feed BatchNorm,
			// have a true gradient of 0 and hold only rounding noise.
			own := mt.snapshot(nil)
			ownGrads := make([][]float32, len(mt.trainable))
			for i, p := range mt.trainable {
				ownGrads[i] = append([]float32(nil), p.Grad...)
				g, _ := caseTensor(t, c, "grad."+nameOf(mt, p))
				copy(p.Grad, g)
			}
			opt := nn.NewAdam(mt.trainable, 1e-3)
			opt.Step()
			mt.lstm.WeightsChanged()
			for _, e := range mt.state {
				want, _ := caseTensor(t, c, "adam1."+e.name)
				note("adam", compare(t, "adam1."+e.name, e.p.Data, want, 1e-6))
			}
			mt.restore(own)
			for i, p := range mt.trainable {
				copy(p.Grad, ownGrads[i])
			}
			nn.NewAdam(mt.trainable, 1e-3).Step()
			skipped := 0
			for _, e := range mt.state {
				want, _ := caseTensor(t, c, "adam1."+e.name)
				var g []float32
				if e.p.Trainable() {
					g, _ = caseTensor(t, c, "grad."+e.name)
				}
				var got, ref []float32
				for j := range want {
					if g != nil && math.Abs(float64(g[j])) <= 1e-4 {
						skipped++
						continue
					}
					got, ref = append(got, e.p.Data[j]), append(ref, want[j])
				}
				note("chain", compare(t, "own gradients: adam1."+e.name, got, ref, 1e-6))
			}
			for i, bn := range mt.bn {
				v, _, err := c.Int64("adam1." + bnCounterName(i))
				if err != nil {
					t.Fatal(err)
				}
				if bn.NumBatchesTracked != v[0] {
					t.Errorf("%s = %d, want %d", bnCounterName(i), bn.NumBatchesTracked, v[0])
				}
			}
			t.Logf("worst scaled error: eval %.2g; training outputs and gradients vs exact %.2g (PyTorch float32 vs exact %.2g), vs PyTorch beyond its own error %.2g; Adam on reference gradients %.2g, Adam on own gradients %.2g (%d small gradients skipped)",
				worst["eval"], worst["exact"], worst["reference"], worst["train"], worst["adam"], worst["chain"], skipped)
		})
	}
}

// nameOf returns the state_dict name of p.
func nameOf(m *Model, p *nn.Param) string {
	for _, e := range m.state {
		if e.p == p {
			return e.name
		}
	}
	panic("parameter not in the model")
}
