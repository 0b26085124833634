package asm_test

import (
	"fmt"

	"github.com/novacron/perfpredict/asm"
)

// C += A·B with bf16 operands and float32 sums: the weights B (k×n) are
// packed once, the activations A converted for each product. 1.01 has no
// exact bf16 value and becomes 1.0078125.
func ExampleGemmBF16() {
	const m, n, k = 1, 2, 2
	w := []float32{1.01, 2, 3, 4} // B, k×n row-major
	pb := make([]uint16, asm.GemmBF16PackedLen(k, n))
	asm.GemmBF16PackB(false, w, n, k, n, pb)

	a := make([]uint16, m*k)
	asm.ToBF16(a, []float32{1, 0.5})
	c := []float32{10, 20}
	asm.GemmBF16(m, n, k, a, k, pb, c, n)
	fmt.Println(c)
	// Output: [12.5078125 24]
}
