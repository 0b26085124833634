package nn

import "math"

// Adam is torch.optim.Adam (no weight decay, no amsgrad) over a fixed list of
// trainable parameters, with the float32 operation order of PyTorch's
// single-tensor implementation:
//
//	m = b1*m + (1-b1)*g
//	v = b2*v + (1-b2)*g*g
//	denom = sqrt(v)/sqrt(1-b2^t) + eps
//	p -= lr/(1-b1^t) * m/denom
//
// The bias corrections are computed in float64, as Python does.
type Adam struct {
	LR, Beta1, Beta2, Eps float64
	params                []*Param
	m, v                  [][]float32
	step                  int64
}

// NewAdam makes an optimiser with PyTorch's defaults (betas 0.9 and 0.999,
// eps 1e-8) over the trainable tensors among params; buffers are skipped.
func NewAdam(params []*Param, lr float64) *Adam {
	a := &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	for _, p := range params {
		if !p.Trainable() {
			continue
		}
		a.params = append(a.params, p)
		a.m = append(a.m, make([]float32, len(p.Data)))
		a.v = append(a.v, make([]float32, len(p.Data)))
	}
	return a
}

// Steps is the number of Step calls so far.
func (a *Adam) Steps() int64 { return a.step }

// StateBytes is the memory held by the moment estimates.
func (a *Adam) StateBytes() int {
	n := 0
	for _, m := range a.m {
		n += 8 * len(m)
	}
	return n
}

// ZeroGrad clears every parameter's gradient.
func (a *Adam) ZeroGrad() {
	for _, p := range a.params {
		p.ZeroGrad()
	}
}

// Step applies one update from the accumulated gradients.
func (a *Adam) Step() {
	a.step++
	t := float64(a.step)
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	c1, c2 := float32(1-a.Beta1), float32(1-a.Beta2)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2Sqrt := float32(math.Sqrt(1 - math.Pow(a.Beta2, t)))
	negStep := float32(-a.LR / bc1)
	eps := float32(a.Eps)
	for i, p := range a.params {
		m, v, g, d := a.m[i], a.v[i], p.Grad, p.Data
		m = m[:len(d)]
		v = v[:len(d)]
		g = g[:len(d)]
		for j := range d {
			gj := g[j]
			mj := m[j]*b1 + c1*gj
			vj := v[j]*b2 + c2*gj*gj
			m[j], v[j] = mj, vj
			denom := float32(math.Sqrt(float64(vj)))/bc2Sqrt + eps
			d[j] += negStep * mj / denom // addcdiv_: (value*t1)/t2
		}
	}
}
