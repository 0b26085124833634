package device

import (
	"fmt"
	"math"
)

// bfloat16 arrays on a device are packed two values per float32 element, in
// memory order: value i is the 16-bit half at byte offset 2i, so element j
// of a Buffer holds values 2j (its low half on these little-endian machines)
// and 2j+1. A bfloat16 operand is therefore a Buffer (or a Slice of one)
// whose first value sits at an even index; its strides count bfloat16
// values. ConvertBF16 fills one, LSTMCellForward can write its h into one
// (CellArgs.HBF16), and GemmArgs.BF16 multiplies two.

// BF16Len is the number of float32 elements that hold n bfloat16 values.
func BF16Len(n int) int { return (n + 1) / 2 }

// BF16Bits rounds x to bfloat16, to nearest with ties to even, as the GPU
// kernels do; a NaN becomes the quiet NaN 0x7fc0.
func BF16Bits(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7f800000 == 0x7f800000 {
		if u&0x007fffff != 0 {
			return 0x7fc0
		}
		return uint16(u >> 16) // ±Inf
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// RoundBF16 is x rounded to bfloat16, as a float32.
func RoundBF16(x float32) float32 { return math.Float32frombits(uint32(BF16Bits(x)) << 16) }

// UnpackBF16 returns the first n bfloat16 values of packed (float32 elements
// as downloaded from a device) as float32s.
func UnpackBF16(packed []float32, n int) []float32 {
	if len(packed) < BF16Len(n) {
		panic(fmt.Sprintf("device: UnpackBF16: %d elements hold fewer than %d bfloat16 values", len(packed), n))
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(uint32(bf16At(packed, i)) << 16)
	}
	return out
}

// bf16At reads bfloat16 value i of packed.
func bf16At(packed []float32, i int) uint16 {
	u := math.Float32bits(packed[i/2])
	if i%2 == 1 {
		return uint16(u >> 16)
	}
	return uint16(u)
}

// setBF16 writes bfloat16 value i of packed.
func setBF16(packed []float32, i int, v uint16) {
	u := math.Float32bits(packed[i/2])
	if i%2 == 1 {
		u = u&0x0000ffff | uint32(v)<<16
	} else {
		u = u&0xffff0000 | uint32(v)
	}
	packed[i/2] = math.Float32frombits(u)
}
