package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/novacron/perfpredict/internal/blas"
)

// Linear is a fully connected layer y = x W^T + b, as torch.nn.Linear:
// Weight is [Out, In], Bias is [Out] (nil without bias). It holds only the
// parameters; callers own the activation buffers, so one Linear serves any
// number of concurrent forward passes.
type Linear struct {
	In, Out int
	Weight  *Param
	Bias    *Param
}

// NewLinear makes a zero-initialised layer whose parameters are named
// prefix+"weight" and prefix+"bias" (prefix such as "fc1.").
func NewLinear(prefix string, in, out int, bias bool) *Linear {
	if in <= 0 || out <= 0 {
		panic(fmt.Sprintf("nn: NewLinear(%d, %d): sizes must be positive", in, out))
	}
	l := &Linear{In: in, Out: out, Weight: NewParam(prefix+"weight", out, in)}
	if bias {
		l.Bias = NewParam(prefix+"bias", out)
	}
	return l
}

// Params lists the weight then the bias (if any), the state_dict order.
func (l *Linear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Init draws the parameters as PyTorch's reset_parameters does: the weight
// from kaiming_uniform(a=sqrt(5)), which is U(-1/sqrt(In), 1/sqrt(In)), and the
// bias from the same interval.
func (l *Linear) Init(rng *rand.Rand) {
	bound := float32(1 / math.Sqrt(float64(l.In)))
	Uniform(rng, l.Weight.Data, -bound, bound)
	if l.Bias != nil {
		Uniform(rng, l.Bias.Data, -bound, bound)
	}
}

// Forward writes y [batch, Out] = x [batch, In] W^T + b.
func (l *Linear) Forward(y, x []float32, batch int) {
	l.check("Forward", x, y, batch)
	blas.SgemmSerial(false, true, batch, l.Out, l.In, 1, x, l.In, l.Weight.Data, l.In, 0, y, l.Out)
	if l.Bias != nil {
		b := l.Bias.Data
		for r := 0; r < batch; r++ {
			row := y[r*l.Out : (r+1)*l.Out]
			for j := range row {
				row[j] += b[j]
			}
		}
	}
}

// Backward accumulates dW += dy^T x and db += sum_rows dy, and when dx is not
// nil overwrites it with dy W ([batch, In]). x is the Forward input.
func (l *Linear) Backward(dx, dy, x []float32, batch int) {
	l.check("Backward", x, dy, batch)
	blas.SgemmSerial(true, false, l.Out, l.In, batch, 1, dy, l.Out, x, l.In, 1, l.Weight.Grad, l.In)
	if l.Bias != nil {
		g := l.Bias.Grad
		for r := 0; r < batch; r++ {
			row := dy[r*l.Out : (r+1)*l.Out]
			for j, v := range row {
				g[j] += v
			}
		}
	}
	if dx != nil {
		if len(dx) < batch*l.In {
			panic(fmt.Sprintf("nn: Linear.Backward: dx has %d values, want %d", len(dx), batch*l.In))
		}
		blas.SgemmSerial(false, false, batch, l.In, l.Out, 1, dy, l.Out, l.Weight.Data, l.In, 0, dx, l.In)
	}
}

func (l *Linear) check(op string, x, y []float32, batch int) {
	if len(x) < batch*l.In || len(y) < batch*l.Out {
		panic(fmt.Sprintf("nn: Linear.%s: x has %d values and y %d, want %d and %d", op, len(x), len(y), batch*l.In, batch*l.Out))
	}
}

// Uniform fills dst with draws from U(lo, hi).
func Uniform(rng *rand.Rand, dst []float32, lo, hi float32) {
	for i := range dst {
		dst[i] = lo + (hi-lo)*rng.Float32()
	}
}
