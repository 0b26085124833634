package lstm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// trainPass runs one training Forward and Backward and returns the output,
// the input gradient (nil with paramGradsOnly) and every parameter gradient.
func trainPass(t *testing.T, cfg Config, B, T, keep int, serial, paramGradsOnly bool) [][]float32 {
	t.Helper()
	s := newStack(t, cfg, 8)
	ws := s.NewWorkspace()
	ws.Serial, ws.KeepLayers, ws.ParamGradsOnly = serial, keep, paramGradsOnly
	ws.SetRand(rand.New(rand.NewPCG(3, 3)))
	x := randVec(B*T*cfg.Input, 4, 1)
	r := randVec(B*T*s.OutputSize(), 5, 1)
	// Twice on the same workspace: the second pass finds the buffers the
	// first one left (gates and spare traded, layouts reset).
	var res [][]float32
	for range 2 {
		for _, p := range s.Params() {
			p.ZeroGrad()
		}
		out, err := s.Forward(ws, x, B, T, true)
		if err != nil {
			t.Fatal(err)
		}
		dx := s.Backward(ws, r)
		res = [][]float32{append([]float32(nil), out...), append([]float32(nil), dx...)}
		if paramGradsOnly && dx != nil {
			t.Fatalf("ParamGradsOnly: Backward returned %d input gradients, want nil", len(dx))
		}
		res = append(res, snapshotGrads(s)...)
	}
	return res
}

// TestTimeMajorTraining: a stepwise training pass keeps its gates and cell
// states in [T, B] order; the outputs and every gradient are bit for bit
// those of the [B, T] order, for one and two directions, every number of
// kept layers, serial and concurrent, with dropout.
func TestTimeMajorTraining(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	for _, cfg := range []Config{
		{Input: 3, Hidden: 5, Layers: 1, Bidirectional: false},
		{Input: 2, Hidden: 32, Layers: 1, Bidirectional: true},
		{Input: 5, Hidden: 17, Layers: 3, Bidirectional: true, Dropout: 0.3},
	} {
		for _, B := range []int{stepwiseBatch, stepwiseBatch + 3} {
			for _, keep := range []int{1, 9} {
				for _, serial := range []bool{true, false} {
					what := fmt.Sprintf("H=%d L=%d bi=%v B=%d keep=%d serial=%v", cfg.Hidden, cfg.Layers, cfg.Bidirectional, B, keep, serial)
					timeMajorTraining = false
					want := trainPass(t, cfg, B, 7, keep, serial, false)
					timeMajorTraining = true
					got := trainPass(t, cfg, B, 7, keep, serial, false)
					for i := range want {
						bitsEqual(t, fmt.Sprint(what, ": result ", i), got[i], want[i])
					}
				}
			}
		}
	}
}

// TestParamGradsOnly: skipping the input's gradient leaves the output and
// every parameter gradient unchanged, bit for bit.
func TestParamGradsOnly(t *testing.T) {
	for _, cfg := range []Config{
		{Input: 2, Hidden: 32, Layers: 1, Bidirectional: true},
		{Input: 5, Hidden: 9, Layers: 2, Bidirectional: true, Dropout: 0.2},
	} {
		for _, B := range []int{3, stepwiseBatch + 1} {
			what := fmt.Sprintf("H=%d L=%d B=%d", cfg.Hidden, cfg.Layers, B)
			want := trainPass(t, cfg, B, 6, 0, false, false)
			got := trainPass(t, cfg, B, 6, 0, false, true)
			bitsEqual(t, what+": output", got[0], want[0])
			for i := 2; i < len(want); i++ {
				bitsEqual(t, fmt.Sprint(what, ": parameter gradient ", i-2), got[i], want[i])
			}
		}
	}
}
