package cuda

import _ "embed"

// kernelSource is the CUDA C source of the element-wise and reduction
// kernels, compiled once per process with NVRTC.
//
//go:embed kernels.cu
var kernelSource string

// Kernel indices into kernelNames, in the order the backend looks them up.
const (
	kCopy2D = iota
	kFill2D
	kAdd
	kMul
	kColSum
	kLSTMFwd
	kLSTMBwd
	kAttScore
	kAttSoftmaxCtx
	kAttBwdScores
	kAttBwdElem
	kAffine
	kReLUBwd
	kBNTrain
	kBNBwd
	kAdam
	kToBF16
	numKernels
)

// kernelNames are the extern "C" kernels of kernels.cu, by index.
var kernelNames = [numKernels]string{
	kCopy2D:        "pp_copy2d",
	kFill2D:        "pp_fill2d",
	kAdd:           "pp_add",
	kMul:           "pp_mul",
	kColSum:        "pp_colsum",
	kLSTMFwd:       "pp_lstm_fwd",
	kLSTMBwd:       "pp_lstm_bwd",
	kAttScore:      "pp_att_score",
	kAttSoftmaxCtx: "pp_att_softmax_ctx",
	kAttBwdScores:  "pp_att_bwd_scores",
	kAttBwdElem:    "pp_att_bwd_elem",
	kAffine:        "pp_affine",
	kReLUBwd:       "pp_relu_bwd",
	kBNTrain:       "pp_bn_train",
	kBNBwd:         "pp_bn_bwd",
	kAdam:          "pp_adam",
	kToBF16:        "pp_to_bf16",
}

// KernelSource returns the embedded CUDA C source (for tools and tests).
func KernelSource() string { return kernelSource }
