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

// requireBF16 skips a test on a CPU without the bf16 kernels, after
// checking that asking for bf16 there is the error naming the instructions.
func requireBF16(t *testing.T) {
	t.Helper()
	if miss := asm.BF16Missing(); miss != "" {
		cfg := tinyConfig()
		cfg.Precision = PrecisionBF16
		_, err := New(cfg, 3, 1)
		assert.EqualError(t, err, "perfpredict: precision bf16 on the CPU needs "+miss)
		t.Skipf("no bf16 kernels: %s", miss)
	}
}

// TestPrecisionBF16Fixtures: on the reference's parity fixtures, the CPU's
// bf16 predictions are within 2e-2 of the fp32 ones (relative, below 1 in
// absolute terms as compare does), and not equal to them (the products did
// run in bf16); setting fp32 again gives the fp32 predictions bit for bit.
func TestPrecisionBF16Fixtures(t *testing.T) {
	requireBF16(t)
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

			require.NoError(t, m.SetPrecision(PrecisionBF16))
			bf16, _, err := m.Predict(x, batch, steps)
			require.NoError(t, err)
			worst := compare(t, "bf16 vs fp32", bf16, fp32, 2e-2)
			var rel float64
			for i := range fp32 {
				rel = math.Max(rel, math.Abs(float64(bf16[i]-fp32[i]))/math.Abs(float64(fp32[i])))
			}
			t.Logf("%d predictions: largest difference %.3g (scaled as compare), %.3g relative", len(fp32), worst, rel)
			assert.NotZero(t, worst, "bf16 predictions equal the fp32 ones")

			require.NoError(t, m.SetPrecision(PrecisionFP32))
			again, _, err := m.Predict(x, batch, steps)
			require.NoError(t, err)
			assert.Equal(t, fp32, again, "fp32 after bf16")
		})
	}
}

// TestPrecisionBF16Model: a bf16 model's clone predicts as it does, its
// training steps run in float32 (the same loss and weights as an fp32
// model's), and its checkpoint holds the float32 weights.
func TestPrecisionBF16Model(t *testing.T) {
	requireBF16(t)
	cfg := tinyConfig()
	cfg.Dropout = -1
	f32, err := New(cfg, 3, 1)
	require.NoError(t, err)
	cfg.Precision = PrecisionBF16
	b16, err := New(cfg, 3, 1)
	require.NoError(t, err)
	x := randInput(1, 4*6*3)
	y := randInput(2, 4)
	pb, _, err := b16.Predict(x, 4, 6)
	require.NoError(t, err)
	pf, _, err := f32.Predict(x, 4, 6)
	require.NoError(t, err)
	assert.NotEqual(t, pf, pb)
	compare(t, "bf16 vs fp32", pb, pf, 2e-2)
	pc, _, err := mustClone(t, b16).Predict(x, 4, 6)
	require.NoError(t, err)
	assert.Equal(t, pb, pc, "clone of a bf16 model")

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
	require.NoError(t, f32.SetPrecision(PrecisionBF16))
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
