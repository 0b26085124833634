// Package device holds the Device interface through which the model's
// numeric work can run on the CPU or on an accelerator, its CPU
// implementation, and two users of the interface: LSTM, the stacked
// (bidirectional) LSTM, and Model, the whole performance model.
//
// Data flow: a caller allocates Buffers on a Device, uploads inputs and
// parameters once (they stay on the device across calls), enqueues work on
// the device's Queues (strided-batched GEMM, the fused LSTM cell forward and
// backward, attention, the head's affine/BatchNorm/ReLU layers, Adam) and
// downloads the results. Work on one queue runs in order; WaitFor orders work
// across queues, so the two directions of an LSTM layer can run concurrently
// on two queues. Errors of queued work are sticky, as in CUDA: the first one is
// returned by Sync (and by Upload/Download). BeginCapture/EndCapture record
// the work enqueued in between as a Graph that Launch replays with whatever
// the captured buffers hold at the time: a fixed-shape forward pass is
// recorded once and replayed, which removes the per-operation launch cost
// on a GPU.
//
// Shapes and strides are the caller's programming errors and panic with a
// "device: " message; device failures (no GPU, out of memory, a kernel that
// does not compile, a driver error) are returned as errors.
//
// # Devices
//
// CPU is the default and needs nothing: its operations run on the calling
// goroutine with the kernels of asm and internal/blas, the same arithmetic as
// the lstm and attention packages (the conformance suite in devicetest checks
// the values). The CUDA backend lives in internal/device/cuda and is compiled
// only with -tags cuda (cgo); it registers itself here when imported, and
// without the tag its stub registers an opener that reports so. Open and
// OpenWith (which also takes the backend's Options, such as the precision of
// a GPU's matrix products) choose by name:
//
//   - "cpu" (or ""): the CPU device.
//   - "cuda": the CUDA device, or the error that says why there is none
//     (not built with -tags cuda, libcudart.so.13 not found in ..., no GPU).
//   - "auto": CUDA when it opens, otherwise the CPU, with one log line saying
//     why.
//
// # The model on a device
//
// LSTM runs the stacked bidirectional LSTM through the queue operations;
// Model runs the whole performance model (LSTM, attention, head) with every
// tensor resident on the device: Load and Save exchange tensors by their
// checkpoint names, Predict captures the evaluation pass of a shape as a
// graph once and replays it, TrainStep does forward, MSE, backward and Adam
// (its forward and backward passes captured and replayed the same way).
// SetBF16 (on by default on a device that prefers it) makes predictions
// multiply in bfloat16 in the LSTM.
// The conformance suite checks Model against the root package's Model built
// from the same checkpoint (predictions, attention weights, loss and every
// tensor after Adam steps).
//
// # Use by the root package
//
// The root package's Config.Device ("cpu" default, "cuda", "auto") and
// Model.UseDevice choose, once per model, between its pure-Go path (the
// lstm, attention and nn packages, unchanged) and a Model here on the opened
// device, loaded from the root model's tensors by name. Predictions run
// through Model.Predict in chunks of up to 4096 rows, training steps through
// TrainStepLoss (the root's MSE, L1 or Huber loss on the host) with
// ResetOptimizer for each new Trainer; the weights are read back with Save
// before the root model snapshots, saves or clones them, and loaded again
// after it overwrites them. Not supported here yet: dropout (training with
// it on a device is an error, or runs on the CPU under "auto").
package device

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Buffer is a float32 array in a device's memory, or a view of one.
type Buffer interface {
	// Len is the number of float32 elements.
	Len() int
	// Slice is the view of n elements from off; it shares the memory and
	// must not be freed.
	Slice(off, n int) Buffer
}

// Device is a place where the model's arithmetic runs.
type Device interface {
	// Name describes the device, e.g. "cpu (avx512)" or
	// "cuda:0 NVIDIA H100 80GB HBM3 (sm_90)".
	Name() string
	// Alloc returns a zeroed buffer of n float32 elements, or an error when
	// the device is out of memory.
	Alloc(n int) (Buffer, error)
	// Free releases a buffer returned by Alloc (not a Slice of it).
	Free(b Buffer) error
	// Queues is the number of queues (at least 2).
	Queues() int
	// Queue returns queue i, 0 <= i < Queues().
	Queue(i int) Queue
	// Sync waits for the work of every queue and returns the first error
	// any of it met.
	Sync() error
	// BeginCapture starts recording the work enqueued on q (and on the
	// queues that WaitFor q while recording) instead of running it.
	BeginCapture(q Queue) error
	// EndCapture stops the recording begun on q and returns it as a Graph.
	EndCapture(q Queue) (Graph, error)
	// Close releases the device's resources; buffers become invalid.
	Close() error
}

// Graph is recorded queue work that can be replayed.
type Graph interface {
	// Launch enqueues the recorded work on q; it reads and writes the
	// buffers that were captured, with their contents at the time it runs.
	Launch(q Queue) error
	// Close releases the graph.
	Close() error
}

// Queue is an ordered stream of work on a device. Calls that return no
// error record their failure in the queue; Sync returns it.
type Queue interface {
	// Upload copies src into dst[:len(src)] and returns once src may be
	// reused. Not allowed while capturing.
	Upload(dst Buffer, src []float32) error
	// Download waits for the queue's work and copies src[:len(dst)] into
	// dst. Not allowed while capturing.
	Download(dst []float32, src Buffer) error
	// Sync waits for the queue's work and returns its first error.
	Sync() error
	// WaitFor makes the work enqueued on this queue from now on wait for
	// the work enqueued on other so far.
	WaitFor(other Queue)

	// Copy2D copies rows x cols elements: dst[r*ldDst+j] = src[r*ldSrc+j].
	// ldSrc 0 broadcasts src's first row to every row (biases).
	Copy2D(rows, cols int, dst Buffer, ldDst int, src Buffer, ldSrc int)
	// Fill2D sets rows x cols elements dst[r*ld+j] to v.
	Fill2D(rows, cols int, dst Buffer, ld int, v float32)
	// Add sets dst[i] = a[i] + b[i] for i < dst.Len(); dst may be a or b.
	Add(dst, a, b Buffer)
	// Mul sets dst[i] = a[i] * b[i] for i < dst.Len(); dst may be a or b.
	Mul(dst, a, b Buffer)
	// Gemm runs a strided-batched row-major matrix product (see GemmArgs).
	Gemm(g GemmArgs)
	// ColumnSum sets dst[j] = beta*dst[j] + sum_r src[r*ld+j] for j < cols
	// (bias gradients).
	ColumnSum(rows, cols int, dst Buffer, beta float32, src Buffer, ld int)
	// LSTMCellForward runs the fused LSTM cell on a batch (see CellArgs).
	LSTMCellForward(a CellArgs)
	// LSTMCellBackward runs its backward pass (see CellGradArgs).
	LSTMCellBackward(a CellGradArgs)
	// AttentionForward runs additive attention over time (see AttentionArgs).
	AttentionForward(a AttentionArgs)
	// AttentionBackward runs its backward pass (see AttentionArgs).
	AttentionBackward(a AttentionArgs)
	// Affine sets y[r][j] = x[r][j]*scale[j] + shift[j] over rows x cols
	// (contiguous rows), then max(y, 0) when relu: a Linear's bias, an
	// evaluation BatchNorm and its ReLU in one pass. scale nil means 1.
	Affine(rows, cols int, y, x, scale, shift Buffer, relu bool)
	// ReLUBackward sets dx[i] = dy[i] where y[i] > 0, else 0; dx may be dy.
	ReLUBackward(dx, dy, y Buffer)
	// BatchNormTrain normalises with the batch's statistics and updates the
	// running ones (see BatchNormArgs).
	BatchNormTrain(a BatchNormArgs)
	// BatchNormBackward is its backward pass (see BatchNormArgs).
	BatchNormBackward(a BatchNormArgs)
	// Adam applies one torch.optim.Adam update to one tensor (see AdamArgs).
	Adam(a AdamArgs)
	// ConvertBF16 rounds src[i] to bfloat16 (to nearest, ties to even) into
	// value i of dst for i < n; dst holds BF16Len(n) elements (see bf16.go).
	ConvertBF16(n int, dst, src Buffer)
}

// BF16Preferrer is implemented by devices opened for bfloat16 inference
// (the CUDA backend's bf16 precision): NewModel on one predicts with
// bfloat16 matrix products in its LSTM (see Model.SetBF16).
type BF16Preferrer interface {
	PrefersBF16() bool
}

// GemmArgs is C_i = Alpha*op(A_i)*op(B_i) + Beta*C_i for i < Batch (0 means
// 1), row-major, where op(A_i) is M x K (A_i = A[i*StrideA:] with row stride
// LDA, transposed when TransA), op(B_i) is K x N and C_i is M x N. When Beta is
// 0, C is not read. Products of one call must not overlap in C.
//
// With BF16, A and B hold bfloat16 values (packed, see bf16.go) and LDA,
// StrideA, LDB and StrideB count bfloat16 values; the products of those
// values are summed in float32 into C, which stays float32.
type GemmArgs struct {
	TransA, TransB bool
	M, N, K        int
	Alpha, Beta    float32
	A              Buffer
	LDA, StrideA   int
	B              Buffer
	LDB, StrideB   int
	C              Buffer
	LDC, StrideC   int
	Batch          int
	BF16           bool
}

// CellArgs is one LSTM time step over a batch; every operand is a
// [Batch, ...] matrix of rows Ld apart.
//
// Gates holds the 4H pre-activations in the order i, f, g, o (to which
// Bias, when not nil, adds its 4H values) and is overwritten with the
// activations sigmoid(i), sigmoid(f), tanh(g), sigmoid(o); C = f*CPrev + i*g, TanhC = tanh(C), H = o*TanhC. CPrev nil is the
// zero initial state. CPrev may be C (in place). HBF16, when not nil, also
// receives H rounded to bfloat16 (packed, rows LDHBF16 bfloat16 values
// apart), the operand of the next bfloat16 matrix products.
type CellArgs struct {
	Batch, Hidden int
	Gates         Buffer
	LDGates       int
	Bias          Buffer
	CPrev         Buffer
	LDCPrev       int
	C             Buffer
	LDC           int
	H             Buffer
	LDH           int
	TanhC         Buffer
	LDTanhC       int
	HBF16         Buffer
	LDHBF16       int
}

// CellGradArgs is the backward pass of one LSTM step over a batch. DH
// ([Batch, H]) holds the gradient arriving from the next step; DOut, when
// not nil, is added to it first (the gradient of this step's output). DC
// holds the cell-state gradient from the next step and is replaced by the one
// with respect to CPrev. DGates receives the gradients of the 4H
// pre-activations; it may be Act (the activations CellArgs left in Gates).
type CellGradArgs struct {
	Batch, Hidden int
	DGates        Buffer
	LDDGates      int
	Act           Buffer
	LDAct         int
	CPrev         Buffer // nil: the zero initial state
	LDCPrev       int
	TanhC         Buffer
	LDTanhC       int
	DH            Buffer // [Batch, Hidden], contiguous
	DOut          Buffer
	LDDOut        int
	DC            Buffer // [Batch, Hidden], contiguous
}

// AttentionArgs is additive attention over h [Batch, Steps, Dim]:
// U = tanh(h ProjW^T + ProjB), Weights = softmax_t(U ScoreW^T) [Batch, Steps],
// Context = sum_t Weights_t h_t [Batch, Dim]. U ([Batch*Steps, Dim]) is kept
// for the backward pass, which overwrites it.
//
// Backward takes DContext [Batch, Dim] and optionally DWeights [Batch, Steps]
// (nil when the weights feed no loss), adds to DProjW, DProjB and DScoreW and
// writes DH [Batch, Steps, Dim]; Scratch holds Batch*Steps values.
type AttentionArgs struct {
	Batch, Steps, Dim       int
	H                       Buffer
	ProjW, ProjB, ScoreW    Buffer
	U, Weights, Context     Buffer
	DContext, DWeights      Buffer
	DH                      Buffer
	DProjW, DProjB, DScoreW Buffer
	Scratch                 Buffer
}

// BatchNormArgs is torch.nn.BatchNorm1d in training over X [Batch, N]:
// Y = (X-mean)/sqrt(var+Eps)*Gamma + Beta with the batch's mean and biased
// variance, kept in Mean and InvStd ([N]) for the backward pass; RunMean and
// RunVar move towards the mean and unbiased variance by Momentum. Backward
// (after Train on the same X, Mean and InvStd) adds to DGamma and DBeta and
// writes DX (which may be DY). Batch is at least 2.
type BatchNormArgs struct {
	Batch, N        int
	Eps, Momentum   float32
	X, Y            Buffer
	Gamma, Beta     Buffer
	RunMean, RunVar Buffer
	Mean, InvStd    Buffer
	DY, DX          Buffer
	DGamma, DBeta   Buffer
}

// AdamArgs is one torch.optim.Adam step (no weight decay) on Param with
// gradient Grad and moments M and V (all of one length), Step being the
// 1-based step count after this update: m = b1*m + (1-b1)*g,
// v = b2*v + (1-b2)*g*g, p -= lr/(1-b1^t) * m/(sqrt(v)/sqrt(1-b2^t) + eps),
// in float32 with the bias corrections in float64, as nn.Adam.
type AdamArgs struct {
	Param, Grad, M, V     Buffer
	LR, Beta1, Beta2, Eps float64
	Step                  int64
}

// ErrCapturing is returned by Upload and Download while a queue records.
var ErrCapturing = errors.New("device: host copies are not allowed while capturing a graph")

// Options are the settings a backend is opened with. The caller chooses
// them: the library reads no environment variable for them.
type Options struct {
	// Precision is the arithmetic of a GPU's matrix products: "fp32" (or
	// "", the default), "tf32" or "bf16"; an unknown value is the opener's
	// error. The CPU ignores it.
	Precision string
}

// check validates the options for every backend.
func (o Options) check() error {
	switch strings.ToLower(strings.TrimSpace(o.Precision)) {
	case "", "fp32", "tf32", "bf16":
		return nil
	}
	return fmt.Errorf("device: precision %q: want fp32, tf32 or bf16", o.Precision)
}

// Opener opens a backend with the given options; see Register.
type Opener func(Options) (Device, error)

var (
	regMu    sync.Mutex
	registry = map[string]Opener{}
)

// Register makes a backend available to Open under name. Backends call it
// from an init function; it only records the opener, which runs on Open.
func Register(name string, open Opener) {
	regMu.Lock()
	defer regMu.Unlock()
	registry[name] = open
}

func opener(name string) (Opener, bool) {
	regMu.Lock()
	defer regMu.Unlock()
	o, ok := registry[name]
	return o, ok
}

// Names lists the device names Open accepts.
func Names() []string {
	regMu.Lock()
	defer regMu.Unlock()
	names := []string{"auto", "cpu"}
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Open opens the device called name: "cpu" (or ""), "auto", or a registered
// backend such as "cuda", with the default Options. With "auto" a backend
// that fails to open leaves the CPU in its place and logf (if not nil) gets
// one line saying why.
func Open(name string, logf func(format string, args ...any)) (Device, error) {
	return OpenWith(name, Options{}, logf)
}

// OpenWith is Open with the backend's options given. An invalid option is
// an error whatever the device, so that "auto" does not hide it by falling
// back to the CPU.
func OpenWith(name string, o Options, logf func(format string, args ...any)) (Device, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	switch name := strings.ToLower(strings.TrimSpace(name)); name {
	case "", "cpu":
		return CPU(), nil
	case "auto":
		if open, ok := opener("cuda"); ok {
			d, err := open(o)
			if err == nil {
				return d, nil
			}
			if logf != nil {
				logf("device: auto: no usable GPU, running on the CPU: %v", err)
			}
		} else if logf != nil {
			logf("device: auto: no GPU backend linked in (build with -tags cuda), running on the CPU")
		}
		return CPU(), nil
	default:
		open, ok := opener(name)
		if !ok {
			if name == "cuda" {
				return nil, errors.New("device: cuda backend not linked in: build with -tags cuda and import internal/device/cuda")
			}
			return nil, fmt.Errorf("device: unknown device %q (want cpu, cuda or auto)", name)
		}
		d, err := open(o)
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", name, err)
		}
		return d, nil
	}
}
