package nn

import "math/rand/v2"

// ReLU sets y[i] = max(x[i], 0); y may be x.
func ReLU(y, x []float32) {
	for i, v := range x {
		if v < 0 {
			v = 0
		}
		y[i] = v
	}
}

// ReLUBackward sets dx[i] = dy[i] where the ReLU's output y[i] > 0 and 0
// elsewhere; dx may be dy.
func ReLUBackward(dx, dy, y []float32) {
	for i, v := range dy {
		if y[i] <= 0 {
			v = 0
		}
		dx[i] = v
	}
}

// Dropout zeroes each x[i] with probability p and scales the survivors by
// 1/(1-p) (inverted dropout, as F.dropout in training), recording the factor
// applied to each element in mask for DropoutBackward. y may be x. With p <= 0
// it copies x and fills mask with 1.
func Dropout(rng *rand.Rand, p float32, y, x, mask []float32) {
	if p <= 0 {
		copy(y, x)
		for i := range x {
			mask[i] = 1
		}
		return
	}
	keep := 1 / (1 - p)
	for i, v := range x {
		if rng.Float32() < p {
			mask[i] = 0
		} else {
			mask[i] = keep
		}
		y[i] = v * mask[i]
	}
}

// DropoutBackward sets dx[i] = dy[i]*mask[i]; dx may be dy.
func DropoutBackward(dx, dy, mask []float32) {
	for i, v := range dy {
		dx[i] = v * mask[i]
	}
}

// MSELoss returns mean((pred-target)^2) over all elements (float64
// accumulation) and, when grad is not nil, writes its gradient
// 2*(pred-target)/n into grad.
func MSELoss(pred, target, grad []float32) float64 {
	n := len(pred)
	if len(target) != n || (grad != nil && len(grad) < n) {
		panic("nn: MSELoss: lengths differ")
	}
	var s float64
	scale := 2 / float32(n)
	for i, p := range pred {
		d := p - target[i]
		s += float64(d) * float64(d)
		if grad != nil {
			grad[i] = scale * d
		}
	}
	return s / float64(n)
}
