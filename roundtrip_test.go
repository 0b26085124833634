package perfpredict

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/novacron/perfpredict/internal/safetensors"
)

// TestWriteRoundTripFiles writes Go-trained checkpoints with an input and the
// Go predictions for tools/fixtures/roundtrip.py, which loads them into the
// PyTorch reference with load_state_dict(strict=True) and compares outputs:
//
//	PERFPREDICT_ROUNDTRIP_DIR=/tmp/rt go test -run TestWriteRoundTripFiles .
//	/usr/bin/python3 tools/fixtures/roundtrip.py /tmp/rt/*
//
// Without the variable it is skipped (CI has no PyTorch).
func TestWriteRoundTripFiles(t *testing.T) {
	root := os.Getenv("PERFPREDICT_ROUNDTRIP_DIR")
	if root == "" {
		t.Skip("set PERFPREDICT_ROUNDTRIP_DIR to write the round-trip files")
	}
	cases := []struct {
		name              string
		cfg               Config
		features, outputs int
		steps             int
	}{
		{"small", Config{Hidden: 16, Layers: 2, BatchSize: 8, Epochs: 2, Seed: 5}, 5, 2, 12},
		{"seed", Config{Epochs: 1, Seed: 6}, 30, 1, 60},
	}
	for _, c := range cases {
		m, err := New(c.cfg, c.features, c.outputs)
		if err != nil {
			t.Fatal(err)
		}
		// Train briefly so the BatchNorm statistics and counters are not the
		// initial ones.
		n := 3 * m.cfg.BatchSize
		train, err := NewDataset(randInput(1, n*c.steps*c.features), randInput(2, n*c.outputs), n, c.steps, c.features, c.outputs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Train(context.Background(), train, Dataset{}); err != nil {
			t.Fatal(err)
		}
		m.Target, m.Horizon = "latency", 12
		m.Scaler = &TargetScaler{Mean: make([]float64, c.outputs), Std: make([]float64, c.outputs)}
		for k := range m.Scaler.Std {
			m.Scaler.Mean[k], m.Scaler.Std[k] = float64(k), 2
		}
		dir := filepath.Join(root, c.name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := m.Save(filepath.Join(dir, "model.safetensors")); err != nil {
			t.Fatal(err)
		}
		const batch = 4
		x := randInput(3, batch*c.steps*c.features)
		pred, att, err := m.Predict(x, batch, c.steps)
		if err != nil {
			t.Fatal(err)
		}
		err = safetensors.WriteFile(filepath.Join(dir, "go.safetensors"), []safetensors.Tensor{
			{Name: "x", Shape: []int{batch, c.steps, c.features}, F32: x},
			{Name: "eval.y", Shape: []int{batch, c.outputs}, F32: pred},
			{Name: "eval.attention", Shape: []int{batch, c.steps}, F32: att},
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", dir)
	}
}
