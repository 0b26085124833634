package blas_test

import (
	"fmt"

	"github.com/novacron/perfpredict/internal/blas"
)

func ExampleSgemm() {
	// C = A·B^T for A 2×3 and B 2×3 (B stored as PyTorch stores weights).
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 1, 0, 1, 0}
	c := make([]float32, 2*2)
	blas.Sgemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func ExamplePackB() {
	// Pack the weights W (2 outputs × 3 inputs) once as B = W^T, then reuse
	// them for every step: gates = h·W^T + gates.
	w := []float32{1, 0, 1, 0, 1, 0}
	pw := blas.PackB(true, 3, 2, w, 3)
	gates := []float32{10, 20}
	for _, h := range [][]float32{{1, 2, 3}, {4, 5, 6}} {
		blas.SgemmPackedB(1, 1, h, 3, pw, 1, gates, 2)
		fmt.Println(gates)
	}
	// Output:
	// [14 22]
	// [24 27]
}
