package asm_test

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
)

// One LSTM cell step for a batch row with H = 2: the gate pre-activations
// become activations in place, and the step yields the new c and h.
func ExampleLSTMCellForward() {
	gates := []float32{
		2, -1, // input gate
		0, 3, // forget gate
		0.5, -0.5, // cell candidate
		1, 1, // output gate
	}
	c := []float32{0.25, -1} // previous c, updated in place
	h := make([]float32, 2)
	tanhC := make([]float32, 2)
	asm.LSTMCellForward(gates, c, c, h, tanhC)
	fmt.Printf("activations %.4f\n", gates)
	fmt.Printf("c %.4f\nh %.4f\n", c, h)
	// Output:
	// activations [0.8808 0.2689 0.5000 0.9526 0.4621 -0.4621 0.7311 0.7311]
	// c [0.5320 -1.0769]
	// h [0.3560 -0.5790]
}
