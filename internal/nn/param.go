// Package nn holds the model's trainable building blocks besides the LSTM and
// attention: parameters with their gradients, Linear, BatchNorm1d, ReLU,
// Dropout, the MSE loss and the Adam optimiser, all with PyTorch semantics.
package nn

import "fmt"

// Param is one trainable (or buffer) tensor with its gradient. Name is the
// tensor's name in the reference's state_dict relative to its module, e.g.
// "weight_ih_l0_reverse"; the owner prefixes its module path when saving.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	// Grad has the length of Data for trainable parameters and is nil for
	// buffers such as BatchNorm's running statistics. A model that only
	// predicts may release it (ReleaseGrad: empty but not nil, so the tensor
	// stays trainable); EnsureGrad allocates it again before training.
	Grad []float32
}

// ReleaseGrad frees a trainable parameter's gradient storage, keeping the
// parameter trainable; a no-op for buffers.
func (p *Param) ReleaseGrad() {
	if p.Grad != nil {
		p.Grad = []float32{}
	}
}

// EnsureGrad (re)allocates a zeroed gradient of Data's length for a trainable
// parameter whose gradient was released; a no-op otherwise.
func (p *Param) EnsureGrad() {
	if p.Grad != nil && len(p.Grad) != len(p.Data) {
		p.Grad = make([]float32, len(p.Data))
	}
}

// NewParam allocates a zeroed trainable parameter of the given shape.
func NewParam(name string, shape ...int) *Param {
	n := NumElements(shape)
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, n), Grad: make([]float32, n)}
}

// NewBuffer allocates a zeroed non-trainable tensor (no gradient).
func NewBuffer(name string, shape ...int) *Param {
	return &Param{Name: name, Shape: append([]int(nil), shape...), Data: make([]float32, NumElements(shape))}
}

// Trainable reports whether the tensor has a gradient.
func (p *Param) Trainable() bool { return p.Grad != nil }

// ZeroGrad clears the gradient.
func (p *Param) ZeroGrad() {
	clear(p.Grad)
}

// String describes the tensor as "name[4 5]".
func (p *Param) String() string { return fmt.Sprintf("%s%v", p.Name, p.Shape) }

// NumElements is the product of the dimensions (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
