package perfpredict

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Config describes the architecture and the training schedule. Its zero
// value means the defaults, the architecture of the DWCP v3 design (see
// DefaultConfig); any field left at zero
// takes its default.
type Config struct {
	// Hidden is the LSTM's hidden size per direction (default 128).
	Hidden int
	// Layers is the number of stacked bidirectional LSTM layers (default 3).
	Layers int
	// Head lists the widths of the head's hidden layers (default 128, 64, 32).
	Head []int
	// Dropout is the dropout probability between LSTM layers and in the head
	// during training (default 0.2); a negative value disables dropout.
	Dropout float32
	// Steps is the window length T the model is trained on (default 60). The
	// network accepts any length; callers building windows use this one.
	Steps int
	// BatchSize is the training mini-batch size (default 32).
	BatchSize int
	// LearningRate is Adam's step size (default 1e-3).
	LearningRate float64
	// Epochs is the maximum number of passes over the training set (default 100).
	Epochs int
	// Patience stops training after this many epochs without a better
	// validation loss (default 10); a negative value disables early stopping.
	Patience int
	// Seed seeds the initial weights, the shuffling and dropout: the same seed
	// on the same CPU implementation gives bit-identical weights.
	Seed uint64
	// Loss is the training and validation loss, over every output of every
	// sample: LossMSE (default, as the reference), LossL1 (mean absolute
	// error: with targets scaled by the MASE denominator its value is the
	// mean MASE) or LossHuber (quadratic within HuberDelta, linear beyond).
	// It is a training setting only; checkpoints do not record it.
	Loss string
	// HuberDelta is LossHuber's threshold in scaled units (default 1).
	HuberDelta float64
	// Device is where New's model runs: DeviceCPU (default, the pure-Go
	// path), DeviceCUDA (an NVIDIA GPU; needs a build with -tags cuda, and
	// New fails with the CUDA loader's error when no GPU is usable) or
	// DeviceAuto (the GPU when one is usable, otherwise the CPU with one
	// line to Logf). On a GPU the weights stay in device memory between
	// calls, and Precision sets the arithmetic of the matrix products.
	// Training there does not apply dropout: it needs Dropout < 0,
	// and DeviceAuto trains on the CPU otherwise (with a log line). Not
	// saved in checkpoints; see Model.UseDevice for a loaded model.
	Device string
	// Precision is the arithmetic of the matrix products. On a GPU:
	// PrecisionFP32 (default: float32 throughout, predictions within 1e-4
	// of the CPU's), PrecisionTF32 (the TF32 tensor cores: 10-bit mantissas
	// in the products, float32 sums) or PrecisionBF16 (predictions multiply
	// bfloat16 copies of the LSTM's weights and activations, summing in
	// float32, within 2e-2 of the largest prediction; the other products
	// and training use TF32). On the CPU: PrecisionBF16 runs the LSTM's
	// products of every prediction in bfloat16 with float32 sums and cell
	// state (AVX512_BF16's VDPBF16PS; a CPU without it makes New, UseDevice
	// and SetPrecision fail with an error naming the instruction set), the
	// weights rounded once per change; attention and head stay float32, and
	// training steps always run in float32 (the validation passes of Train,
	// being predictions, in bf16). PrecisionInt8, on the CPU only, does the
	// same with int8 weights (one scale per gate unit) and activations
	// quantized per row for each product, summed exactly in int32
	// (AVX512_VNNI's VPDPBUSD). PrecisionTF32 runs as PrecisionFP32
	// there. Checkpoints stay float32 and do not record the precision; see
	// Model.SetPrecision for a loaded model. The library reads no
	// environment variable for it: the command line maps
	// PERFPREDICT_PRECISION and PERFPREDICT_CUDA_PRECISION onto it.
	Precision string
	// Logf receives the model's log lines (DeviceAuto's fallback to the
	// CPU, and a failure to free device memory when a model is collected
	// without Close); nil means none. The library never writes to the
	// standard logger.
	Logf func(format string, args ...any) `json:"-" yaml:"-"`
}

// Device names of Config.Device.
const (
	DeviceCPU  = "cpu"
	DeviceCUDA = "cuda"
	DeviceAuto = "auto"
)

// Precision names of Config.Precision.
const (
	PrecisionFP32 = "fp32"
	PrecisionTF32 = "tf32"
	PrecisionBF16 = "bf16"
	PrecisionInt8 = "int8"
)

// Loss names of Config.Loss.
const (
	LossMSE   = "mse"
	LossL1    = "l1"
	LossHuber = "huber"
)

// Defaults of Config's fields.
const (
	DefaultHidden       = 128
	DefaultLayers       = 3
	DefaultDropout      = 0.2
	DefaultSteps        = 60
	DefaultBatchSize    = 32
	DefaultLearningRate = 1e-3
	DefaultEpochs       = 100
	DefaultPatience     = 10
)

// DefaultHead is the default widths of the head's hidden layers.
func DefaultHead() []int { return []int{128, 64, 32} }

// DefaultConfig returns the default configuration with every field filled
// in: 3 bidirectional LSTM layers of 128, attention, a head of 128/64/32,
// dropout 0.2, 60-step windows, batch 32, Adam at 1e-3, the MSE loss.
func DefaultConfig() Config { return Config{}.withDefaults() }

// withDefaults fills zero fields with their defaults.
func (c Config) withDefaults() Config {
	if c.Hidden == 0 {
		c.Hidden = DefaultHidden
	}
	if c.Layers == 0 {
		c.Layers = DefaultLayers
	}
	if len(c.Head) == 0 {
		c.Head = DefaultHead()
	} else {
		c.Head = slices.Clone(c.Head)
	}
	if c.Dropout == 0 {
		c.Dropout = DefaultDropout
	}
	if c.Steps == 0 {
		c.Steps = DefaultSteps
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.LearningRate == 0 {
		c.LearningRate = DefaultLearningRate
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.Patience == 0 {
		c.Patience = DefaultPatience
	}
	if c.Loss == "" {
		c.Loss = LossMSE
	}
	if c.HuberDelta == 0 {
		c.HuberDelta = 1
	}
	c.Device = strings.ToLower(strings.TrimSpace(c.Device))
	if c.Device == "" {
		c.Device = DeviceCPU
	}
	c.Precision = strings.ToLower(strings.TrimSpace(c.Precision))
	if c.Precision == "" {
		c.Precision = PrecisionFP32
	}
	return c
}

// dropout is the effective dropout probability (0 when disabled).
func (c Config) dropout() float32 { return max(c.Dropout, 0) }

// validate checks a configuration after withDefaults.
func (c Config) validate() error {
	switch {
	case c.Hidden < 0:
		return fmt.Errorf("perfpredict: config: hidden %d must be positive", c.Hidden)
	case c.Layers < 0:
		return fmt.Errorf("perfpredict: config: layers %d must be positive", c.Layers)
	case c.Dropout >= 1:
		return fmt.Errorf("perfpredict: config: dropout %v must be below 1", c.Dropout)
	case c.Steps < 0:
		return fmt.Errorf("perfpredict: config: steps %d must be positive", c.Steps)
	case c.BatchSize < 2:
		return fmt.Errorf("perfpredict: config: batch size %d must be at least 2 (batch normalisation needs two samples)", c.BatchSize)
	case c.LearningRate < 0:
		return fmt.Errorf("perfpredict: config: learning rate %v must be positive", c.LearningRate)
	case c.Epochs < 0:
		return fmt.Errorf("perfpredict: config: epochs %d must be positive", c.Epochs)
	case c.Loss != LossMSE && c.Loss != LossL1 && c.Loss != LossHuber:
		return fmt.Errorf("perfpredict: config: loss %q is not %q, %q or %q", c.Loss, LossMSE, LossL1, LossHuber)
	case !(c.HuberDelta > 0) || math.IsInf(c.HuberDelta, 0):
		return fmt.Errorf("perfpredict: config: Huber delta %v must be positive and finite", c.HuberDelta)
	case c.Device != DeviceCPU && c.Device != DeviceCUDA && c.Device != DeviceAuto:
		return fmt.Errorf("perfpredict: config: device %q is not %q, %q or %q", c.Device, DeviceCPU, DeviceCUDA, DeviceAuto)
	case c.Precision != PrecisionFP32 && c.Precision != PrecisionTF32 && c.Precision != PrecisionBF16 && c.Precision != PrecisionInt8:
		return fmt.Errorf("perfpredict: config: precision %q is not %q, %q, %q or %q", c.Precision, PrecisionFP32, PrecisionTF32, PrecisionBF16, PrecisionInt8)
	}
	for i, w := range c.Head {
		if w <= 0 {
			return fmt.Errorf("perfpredict: config: head width %d (layer %d) must be positive", w, i+1)
		}
	}
	return nil
}

// headString formats the head widths as the checkpoint's "head" metadata
// ("128,64,32").
func headString(widths []int) string {
	s := make([]string, len(widths))
	for i, w := range widths {
		s[i] = strconv.Itoa(w)
	}
	return strings.Join(s, ",")
}

// parseHead reads the "head" metadata.
func parseHead(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		w, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || w <= 0 {
			return nil, fmt.Errorf("head widths %q: %q is not a positive integer", s, f)
		}
		out = append(out, w)
	}
	return out, nil
}
