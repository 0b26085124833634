package perfpredict

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestScore(t *testing.T) {
	// Two outputs; the second is constant, so its R2 is undefined.
	truth := []float64{1, 5, 2, 5, 4, 5, 0, 5}
	pred := []float64{1.04, 5, 2.5, 5, 3, 5, 1, 5.5}
	m, err := Score(pred, truth, 2)
	require.NoError(t, err)
	o := m.Outputs[0]
	e := []float64{0.04, 0.5, -1, 1}
	var mse, mae float64
	for _, v := range e {
		mse += v * v / 4
		mae += math.Abs(v) / 4
	}
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("MSE", o.MSE, mse)
	near("RMSE", o.RMSE, math.Sqrt(mse))
	near("MAE", o.MAE, mae)
	// mean y = 1.75; SST = 0.5625+0.0625+5.0625+3.0625 = 8.75
	near("R2", o.R2, 1-4*mse/8.75)
	// MAPE skips y = 0: (0.04/1 + 0.5/2 + 1/4)/3*100
	near("MAPE", o.MAPE, 100*(0.04+0.25+0.25)/3)
	near("Accuracy5", o.Accuracy5, 0.25) // only 1.04 vs 1 is within 5%
	if o.N != 4 {
		t.Errorf("N = %d", o.N)
	}
	c := m.Outputs[1]
	if !math.IsNaN(c.R2) {
		t.Errorf("R2 of a constant target = %v, want NaN", c.R2)
	}
	near("const MAE", c.MAE, 0.125)
	near("const Accuracy5", c.Accuracy5, 0.75) // 5.5 vs 5 is 10% off
	if m.All.N != 8 {
		t.Errorf("pooled N = %d", m.All.N)
	}
	near("pooled MAE", m.All.MAE, (mae*4+0.5)/8)
}

// TestScoreShapes: inputs that are not both [n, outputs] are an error, not a
// panic, and an empty pair is n = 0 with NaN scores.
func TestScoreShapes(t *testing.T) {
	for _, c := range []struct {
		name        string
		pred, truth []float64
		outputs     int
		want        string
	}{
		{"fewer predictions", []float64{1, 2}, []float64{1, 2, 3, 4}, 2, "2 predictions for 4 targets"},
		{"more predictions", []float64{1, 2, 3}, []float64{1}, 1, "3 predictions for 1 targets"},
		{"ragged rows", []float64{1, 2, 3}, []float64{1, 2, 3}, 2, "not rows of 2 outputs"},
		{"no outputs", []float64{1}, []float64{1}, 0, "0 outputs"},
		{"negative outputs", nil, nil, -1, "-1 outputs"},
	} {
		m, err := Score(c.pred, c.truth, c.outputs)
		if assert.Error(t, err, c.name) {
			assert.Contains(t, err.Error(), c.want, c.name)
		}
		assert.Zero(t, m, c.name)
	}
	m, err := Score(nil, nil, 2)
	require.NoError(t, err)
	require.Len(t, m.Outputs, 2)
	assert.Zero(t, m.All.N)
	assert.True(t, math.IsNaN(m.All.MSE), "MSE of nothing = %v, want NaN", m.All.MSE)
}
