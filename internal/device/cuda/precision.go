package cuda

import (
	"fmt"
	"strings"

	"github.com/novacron/perfpredict/internal/device"
)

// Precision is the arithmetic of the device's matrix products; every other
// operation, and every buffer but bfloat16 operands, is float32 whatever it
// is.
type Precision string

const (
	// FP32 multiplies in full float32 (the default): results match the
	// CPU within 1e-4.
	FP32 Precision = "fp32"
	// TF32 lets cuBLAS use the TF32 tensor cores (10-bit mantissas in the
	// products, float32 accumulation).
	TF32 Precision = "tf32"
	// BF16 is bfloat16 inference: a device.Model's predictions run the
	// LSTM's matrix products on bfloat16 copies of the weights and
	// activations, summing in float32 (cuBLAS with CUDA_R_16BF operands);
	// every other product (attention, the head, training steps) uses TF32.
	// Predictions match the CPU within 2e-2 of the largest (1.3e-4 for the
	// default model on an H100).
	BF16 Precision = "bf16"
)

// ParsePrecision reads a precision name ("" means FP32; case and spaces
// do not matter).
func ParsePrecision(s string) (Precision, error) {
	switch p := Precision(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return FP32, nil
	case FP32, TF32, BF16:
		return p, nil
	}
	return "", fmt.Errorf("cuda: precision %q: want fp32, tf32 or bf16", s)
}

// openOptions is the backend's device.Opener: OpenPrecision with the
// precision the caller's options name.
func openOptions(o device.Options) (device.Device, error) {
	p, err := ParsePrecision(o.Precision)
	if err != nil {
		return nil, err
	}
	return OpenPrecision(p)
}

func init() { device.Register("cuda", openOptions) }

const (
	numQueues     = 2
	blasWorkspace = 32 << 20 // cuBLAS workspace per handle (what NVIDIA recommends for Hopper)
	blockSize     = 256      // PP_BLOCK in kernels.cu
	maxGrid       = 1 << 16  // grid-stride kernels need no more blocks
)
