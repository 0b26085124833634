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

// C += A·B with int8 operands: the weights B (k×n) are quantized per column
// once, the activations A per row for each product; the int32 sums are
// exact and scaled back to float32, here within a quantization step of the
// exact [1.5 2.2].
func ExampleInt8B() {
	const m, n, k = 1, 2, 2
	w := []float32{1, 2, 3, 4} // B, k×n row-major
	var pb asm.Int8B
	pb.Pack(false, w, n, k, n)

	a, scales := make([]uint8, 4), make([]float32, m) // rows padded to quads
	asm.QuantizeU8(m, k, []float32{0.3, 0.4}, k, a, 4, scales)
	c := make([]float32, n)
	asm.GemmInt8(m, a, 4, scales, &pb, c, n)
	fmt.Printf("%.3f\n", c)
	// Output: [1.497 2.203]
}
