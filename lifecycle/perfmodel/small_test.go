package perfmodel

import "github.com/novacron/perfpredict"

// perfpredictSmall is a model small enough to train in a second or two on
// a shared CPU.
func perfpredictSmall() perfpredict.Config {
	return perfpredict.Config{Hidden: 8, Layers: 1, Head: []int{16, 8}, Steps: 16, Epochs: 4, Patience: 2, BatchSize: 32, Seed: 1}
}
