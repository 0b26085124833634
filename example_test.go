package perfpredict_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	perfpredict "github.com/novacron/perfpredict"
)

// ExampleModel trains a tiny model to read a value from three steps back,
// saves it, loads it and predicts.
func ExampleModel() {
	const n, steps, features = 256, 6, 1
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, n*steps*features)
	y := make([]float32, n)
	for i := range n {
		for t := range steps {
			x[i*steps+t] = float32(rng.NormFloat64())
		}
		y[i] = x[i*steps+steps-3] // the value three steps before the end
	}
	train, _ := perfpredict.NewDataset(x[:192*steps], y[:192], 192, steps, features, 1)
	val, _ := perfpredict.NewDataset(x[192*steps:], y[192:], 64, steps, features, 1)

	cfg := perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{16}, Dropout: -1,
		BatchSize: 16, LearningRate: 1e-2, Epochs: 30, Seed: 1}
	m, err := perfpredict.New(cfg, features, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	hist, err := m.Train(context.Background(), train, val)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("validation MSE below 0.1: %v\n", hist.BestLoss < 0.1)

	dir, _ := os.MkdirTemp("", "perfpredict-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := m.Save(path); err != nil {
		fmt.Println(err)
		return
	}
	loaded, err := perfpredict.Load(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	window := []float32{0, 0, 0, 2, 0, 0} // 2 three steps back
	pred, attention, _ := loaded.Predict(window, 1, steps)
	fmt.Printf("prediction near 2: %v\n", pred[0] > 1.5 && pred[0] < 2.5)
	fmt.Printf("attention weights: %d\n", len(attention))
	// Output:
	// validation MSE below 0.1: true
	// prediction near 2: true
	// attention weights: 6
}
