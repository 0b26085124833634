package perfpredict

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/safetensors"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// reduced lists the CPU's reduced precisions with what each is missing here
// ("" when its kernels are installed).
func reduced() map[string]string {
	return map[string]string{PrecisionBF16: asm.BF16Missing(), PrecisionInt8: asm.Int8Missing()}
}

// requireReduced skips a test on a CPU without precision p's kernels, after
// checking that asking for p there is the error naming the instructions.
func requireReduced(t *testing.T, p string) {
	t.Helper()
	if miss := reduced()[p]; miss != "" {
		cfg := tinyConfig()
		cfg.Precision = p
		_, err := New(cfg, 3, 1)
		assert.EqualError(t, err, "perfpredict: precision "+p+" on the CPU needs "+miss)
		t.Skipf("no %s kernels: %s", p, miss)
	}
}

// TestPrecisionFixtures: on the reference's parity fixtures, the CPU's bf16
// and int8 predictions are within 2e-2 of the fp32 ones (relative, below 1
// in absolute terms as compare does), and not equal to them (the products
// did run in the reduced precision); setting fp32 again gives the fp32
// predictions bit for bit.
func TestPrecisionFixtures(t *testing.T) {
	for _, prec := range []string{PrecisionBF16, PrecisionInt8} {
		t.Run(prec, func(t *testing.T) { testPrecisionFixtures(t, prec) })
	}
}

func testPrecisionFixtures(t *testing.T, prec string) {
	requireReduced(t, prec)
	for _, dir := range fixtureDirs {
		t.Run(dir, func(t *testing.T) {
			dir := filepath.Join("testdata", "fixtures", dir)
			m, err := Load(filepath.Join(dir, "model.safetensors"))
			require.NoError(t, err)
			c, err := safetensors.ReadFile(filepath.Join(dir, "case.safetensors"))
			require.NoError(t, err)
			x, xs := caseTensor(t, c, "x")
			batch, steps := xs[0], xs[1]
			fp32, _, err := m.Predict(x, batch, steps)
			require.NoError(t, err)

			require.NoError(t, m.SetPrecision(prec))
			low, _, err := m.Predict(x, batch, steps)
			require.NoError(t, err)
			worst := compare(t, prec+" vs fp32", low, fp32, 2e-2)
			var rel float64
			for i := range fp32 {
				rel = math.Max(rel, math.Abs(float64(low[i]-fp32[i]))/math.Abs(float64(fp32[i])))
			}
			t.Logf("%d predictions: largest difference %.3g (scaled as compare), %.3g relative", len(fp32), worst, rel)
			assert.NotZero(t, worst, prec+" predictions equal the fp32 ones")

			require.NoError(t, m.SetPrecision(PrecisionFP32))
			again, _, err := m.Predict(x, batch, steps)
			require.NoError(t, err)
			assert.Equal(t, fp32, again, "fp32 after bf16")
		})
	}
}

// TestPrecisionModel: a bf16 (int8) model's clone predicts as it does, its
// training steps run in float32 (the same loss and weights as an fp32
// model's), and its checkpoint holds the float32 weights.
func TestPrecisionModel(t *testing.T) {
	for _, prec := range []string{PrecisionBF16, PrecisionInt8} {
		t.Run(prec, func(t *testing.T) { testPrecisionModel(t, prec) })
	}
}

func testPrecisionModel(t *testing.T, prec string) {
	requireReduced(t, prec)
	cfg := tinyConfig()
	cfg.Dropout = -1
	f32, err := New(cfg, 3, 1)
	require.NoError(t, err)
	cfg.Precision = prec
	b16, err := New(cfg, 3, 1)
	require.NoError(t, err)
	x := randInput(1, 4*6*3)
	y := randInput(2, 4)
	pb, _, err := b16.Predict(x, 4, 6)
	require.NoError(t, err)
	pf, _, err := f32.Predict(x, 4, 6)
	require.NoError(t, err)
	assert.NotEqual(t, pf, pb)
	compare(t, prec+" vs fp32", pb, pf, 2e-2)
	pc, _, err := mustClone(t, b16).Predict(x, 4, 6)
	require.NoError(t, err)
	assert.Equal(t, pb, pc, "clone of a "+prec+" model")

	lb, err := b16.NewTrainer().Step(x, y, 4, 6)
	require.NoError(t, err)
	lf, err := f32.NewTrainer().Step(x, y, 4, 6)
	require.NoError(t, err)
	assert.Equal(t, lf, lb, "training loss")
	for i := range f32.state {
		assert.Equal(t, f32.state[i].p.Data, b16.state[i].p.Data, f32.state[i].name)
	}
	// The trained weights are re-rounded for the next bf16 prediction.
	pb2, _, err := b16.Predict(x, 4, 6)
	require.NoError(t, err)
	assert.NotEqual(t, pb, pb2)
	require.NoError(t, f32.SetPrecision(prec))
	pf2, _, err := f32.Predict(x, 4, 6)
	require.NoError(t, err)
	assert.Equal(t, pf2, pb2, "after a training step")

	path := filepath.Join(t.TempDir(), "m.safetensors")
	require.NoError(t, b16.Save(path))
	l, err := Load(path)
	require.NoError(t, err)
	for i := range l.state {
		assert.Equal(t, b16.state[i].p.Data, l.state[i].p.Data, l.state[i].name)
	}
	assert.Equal(t, PrecisionFP32, l.Config().Precision)
}
