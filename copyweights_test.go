package perfpredict

import (
	"slices"
	"testing"
)

// A network given another's weights predicts as that one does, keeps its
// own configuration, and refuses weights of another architecture.
func TestCopyWeights(t *testing.T) {
	cfg := Config{Hidden: 4, Layers: 1, Head: []int{8}, Seed: 1}
	src, err := New(cfg, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Seed = 2
	dst, err := New(cfg, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float32, 2*5*2)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	want, _, err := src.Predict(x, 2, 5)
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := dst.Predict(x, 2, 5)
	if slices.Equal(before, want) {
		t.Fatal("seeds 1 and 2 predict alike; the test cannot tell a copy")
	}
	if err := dst.CopyWeights(src); err != nil {
		t.Fatal(err)
	}
	got, _, _ := dst.Predict(x, 2, 5)
	if !slices.Equal(got, want) {
		t.Errorf("after CopyWeights: %v, want %v", got, want)
	}
	if dst.Config().Seed != 2 {
		t.Errorf("seed %d after CopyWeights, want its own 2", dst.Config().Seed)
	}
	other, err := New(Config{Hidden: 5, Layers: 1, Head: []int{8}}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.CopyWeights(other); err == nil {
		t.Error("weights of hidden 5 copied into hidden 4")
	}
}
