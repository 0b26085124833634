// Package lstm holds the stacked (optionally bidirectional) LSTM with
// PyTorch's nn.LSTM semantics, batch first, forward and backward through time.
//
// Data flow for an input x [B, T, F]: layer 0 reads x, layer k > 0 reads the
// output of layer k-1 ([B, T, H*directions], forward and reverse halves side by
// side), with inverted dropout in between when training. Within a layer each
// direction first projects all time steps at once (one GEMM [B*T, in] x
// W_ih^T, both biases folded in), then runs the recurrence: per time step one
// GEMM over the batch (h_{t-1} W_hh^T added to that step's gates) and the fused
// cell kernel per batch row. The reverse direction walks the time steps
// backwards and writes its outputs back in time order.
//
// The Stack keeps its weights packed for the GEMM kernels, shared by all its
// workspaces, and re-packs them after WeightsChanged (which whoever changes
// the parameters in place calls). Everything else lives in a Workspace, whose
// buffers grow to the largest shape seen and are reused, so a pass of a known
// shape allocates nothing. A training Forward keeps what Backward needs: the
// layer inputs and outputs, the dropout masks as bits, and the gate
// activations and cell states of the top Workspace.KeepLayers layers; Backward
// recomputes tanh(c), and the gates of the layers below, in the buffers it has
// finished with. Backward runs the steps in reverse, turns the gate
// activations into their gradients in place, accumulates the parameter
// gradients (the weight gradients as two large GEMMs over all time steps) and
// returns the gradient of the input. The two directions of a layer run on two
// goroutines when there is enough work, unless Workspace.Serial is set.
//
// An evaluation pass runs its products in the stack's Precision: FP32, or
// BF16 (SetPrecision), where each product multiplies bf16 copies of the
// weights, made once per weight change beside the float32 packing, by the
// activations rounded to bf16 (the layer input once per layer, h_{t-1} at
// every step), summing in float32 (asm.GemmBF16); or INT8, the same with
// weights quantized per gate unit and activations per row to bytes, summed
// exactly in int32 (asm.GemmInt8). The cell state and the activations stay
// float32, and training passes always run in float32.
//
// Shapes given by user data (batch, steps, len(x)) are checked and reported as
// errors; misuse that is a programming error (Backward before a training
// Forward, a dOut of the wrong length) panics with an "lstm: " message.
package lstm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"github.com/novacron/perfpredict/internal/nn"
)

// Config describes the stack.
type Config struct {
	Input         int     // features per time step, F
	Hidden        int     // hidden units per direction, H
	Layers        int     // stacked layers, L
	Bidirectional bool    // add a reverse direction to every layer
	Dropout       float32 // dropout probability between layers in training, in [0, 1]
}

// Stack is an L-layer LSTM. Its parameters are Params(); the weights are zero
// until InitUniform or a checkpoint fills them. Whoever changes the values
// of Params() in place afterwards calls WeightsChanged.
//
// The stack keeps its weights packed for the matrix products, shared by all
// its workspaces: Forward calls on different workspaces may run
// concurrently. Backward adds to the shared gradients, so it must not run
// concurrently with another Backward.
type Stack struct {
	cfg    Config
	dirs   int
	cells  [][]*cell // [layer][direction]
	params []*nn.Param

	gen    atomic.Uint64  // weights generation, bumped by WeightsChanged
	packed [][]packedCell // [layer][direction]

	precision atomic.Int32 // Precision of the evaluation passes
}

// cell is one layer and direction: PyTorch's four tensors.
type cell struct {
	in      int       // input width of this layer
	wih     *nn.Param // [4H, in]
	whh     *nn.Param // [4H, H]
	bih     *nn.Param // [4H]
	bhh     *nn.Param // [4H]
	reverse bool
}

// New builds a stack with zeroed parameters.
func New(cfg Config) (*Stack, error) {
	switch {
	case cfg.Input <= 0:
		return nil, fmt.Errorf("lstm: Input must be positive, got %d", cfg.Input)
	case cfg.Hidden <= 0:
		return nil, fmt.Errorf("lstm: Hidden must be positive, got %d", cfg.Hidden)
	case cfg.Layers <= 0:
		return nil, fmt.Errorf("lstm: Layers must be positive, got %d", cfg.Layers)
	case !(cfg.Dropout >= 0 && cfg.Dropout <= 1):
		return nil, fmt.Errorf("lstm: Dropout must be in [0, 1], got %v", cfg.Dropout)
	}
	s := &Stack{cfg: cfg, dirs: 1}
	if cfg.Bidirectional {
		s.dirs = 2
	}
	s.gen.Store(1) // packedCell.gen 0 means never packed
	h := cfg.Hidden
	for k := 0; k < cfg.Layers; k++ {
		in := cfg.Input
		if k > 0 {
			in = h * s.dirs
		}
		var row []*cell
		for d := 0; d < s.dirs; d++ {
			suffix := fmt.Sprintf("_l%d", k)
			if d == 1 {
				suffix += "_reverse"
			}
			c := &cell{
				in:      in,
				wih:     nn.NewParam("weight_ih"+suffix, 4*h, in),
				whh:     nn.NewParam("weight_hh"+suffix, 4*h, h),
				bih:     nn.NewParam("bias_ih"+suffix, 4*h),
				bhh:     nn.NewParam("bias_hh"+suffix, 4*h),
				reverse: d == 1,
			}
			s.params = append(s.params, c.wih, c.whh, c.bih, c.bhh)
			row = append(row, c)
		}
		s.cells = append(s.cells, row)
		s.packed = append(s.packed, make([]packedCell, s.dirs))
	}
	return s, nil
}

// Config returns the configuration the stack was built with.
func (s *Stack) Config() Config { return s.cfg }

// OutputSize is the width of each output time step: Hidden * directions.
func (s *Stack) OutputSize() int { return s.cfg.Hidden * s.dirs }

// Params lists the parameters in PyTorch's order and with nn.LSTM's
// state_dict names (without a module prefix): weight_ih_l0, weight_hh_l0,
// bias_ih_l0, bias_hh_l0, then the _reverse ones, then layer 1, ...
func (s *Stack) Params() []*nn.Param { return s.params }

// InitUniform draws every parameter from U(-1/sqrt(H), 1/sqrt(H)), as
// nn.LSTM.reset_parameters does.
func (s *Stack) InitUniform(rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(s.cfg.Hidden))
	for _, p := range s.params {
		for i := range p.Data {
			p.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	s.WeightsChanged()
}
