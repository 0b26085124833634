package lstm

import (
	"strings"
	"testing"
)

// defaultConfig is the LSTM of the default model (perfpredict.DefaultConfig): 3 bidirectional layers of 128
// units over 30 features, dropout 0.2 between layers; it runs 60 steps.
var defaultConfig = Config{Input: 30, Hidden: 128, Layers: 3, Bidirectional: true, Dropout: 0.2}

const defaultSteps = 60

// trainBytes runs one training step of the default LSTM at the given batch and
// returns the workspace's and the stack's packed weights' bytes.
func trainBytes(t *testing.T, batch, keep int) (ws, packed int) {
	t.Helper()
	s := newStack(t, defaultConfig, 1)
	w := s.NewWorkspace()
	w.KeepLayers = keep
	x := randVec(batch*defaultSteps*defaultConfig.Input, 1, 1)
	if _, err := s.Forward(w, x, batch, defaultSteps, true); err != nil {
		t.Fatal(err)
	}
	s.Backward(w, randVec(batch*defaultSteps*s.OutputSize(), 2, 1))
	return w.Bytes(), s.PackedBytes()
}

// TestTrainingMemory bounds what training the default LSTM at batch 32 holds
// beside its parameters. The model's budget is 64 MiB for parameters, Adam
// state and activations: parameters, gradients and Adam's two moments of the
// whole model take 16.2 MiB, attention and head activations about 4 MiB, so
// the LSTM's workspace and packed weights must stay well under 44 MiB; they
// are asserted under 36. Each kept layer beyond the first costs one set of
// gates and cell states (9.4 MiB here).
func TestTrainingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the default-sized LSTM")
	}
	const mib = 1 << 20
	ws, packed := trainBytes(t, 32, 0)
	t.Logf("default LSTM, batch 32, KeepLayers %d: workspace %.2f MiB, packed weights %.2f MiB", DefaultKeepLayers, float64(ws)/mib, float64(packed)/mib)
	if ws+packed > 36*mib {
		t.Errorf("workspace %.2f MiB + packed weights %.2f MiB, want under 36 MiB together", float64(ws)/mib, float64(packed)/mib)
	}
	// Packed: W_ih^T, W_hh^T and W_hh of every layer and direction, once.
	var weights int
	for _, p := range newStack(t, defaultConfig, 1).Params() {
		switch {
		case strings.HasPrefix(p.Name, "weight_ih"):
			weights += 4 * len(p.Data)
		case strings.HasPrefix(p.Name, "weight_hh"):
			weights += 2 * 4 * len(p.Data)
		}
	}
	if packed < weights || packed > weights+weights/8 {
		t.Errorf("packed weights %d bytes, want about W_ih + 2 W_hh = %d", packed, weights)
	}
	// The other settings by sizing alone (a default-sized pass is slow without
	// assembly kernels).
	sized := func(keep int) int {
		w := newStack(t, defaultConfig, 1).NewWorkspace()
		w.KeepLayers = keep
		w.prepare(32, defaultSteps, true)
		w.prepareBackward()
		return w.Bytes()
	}
	if n := sized(0); n != ws {
		t.Errorf("sizing alone gives %d bytes, a pass %d", n, ws)
	}
	one, all := sized(1), sized(3)
	set := 2 * 32 * defaultSteps * (4 + 1) * 128 * 4 // two directions' gates and c
	if ws-one != set || all-ws != set {
		t.Errorf("workspace with 1, 2, 3 kept layers: %d, %d, %d bytes; want steps of %d", one, ws, all, set)
	}
}
