package nn

import (
	"fmt"
	"math"
)

// BatchNorm1d normalises each feature of a [batch, N] input as
// torch.nn.BatchNorm1d: in training with the batch's mean and biased variance,
// updating the running statistics with the unbiased variance and Momentum; in
// evaluation with the running statistics.
type BatchNorm1d struct {
	N           int
	Eps         float32
	Momentum    float32
	Weight      *Param // gamma [N], initialised to 1
	Bias        *Param // beta [N], initialised to 0
	RunningMean *Param // buffer [N], initialised to 0
	RunningVar  *Param // buffer [N], initialised to 1
	// NumBatchesTracked counts training batches, saved as an I64 tensor.
	NumBatchesTracked int64
}

// BatchNormCache holds what the training backward pass needs: the normalised
// input and the inverse standard deviation per feature.
type BatchNormCache struct {
	XHat   []float32 // [batch, N]
	InvStd []float32 // [N]
}

// NewBatchNorm1d makes a layer with PyTorch's defaults (eps 1e-5, momentum
// 0.1) and parameters named prefix+"weight", "bias", "running_mean",
// "running_var".
func NewBatchNorm1d(prefix string, n int) *BatchNorm1d {
	bn := &BatchNorm1d{
		N: n, Eps: 1e-5, Momentum: 0.1,
		Weight:      NewParam(prefix+"weight", n),
		Bias:        NewParam(prefix+"bias", n),
		RunningMean: NewBuffer(prefix+"running_mean", n),
		RunningVar:  NewBuffer(prefix+"running_var", n),
	}
	bn.Reset()
	return bn
}

// Reset restores the initial state: gamma 1, beta 0, running mean 0, running
// variance 1, no batches tracked.
func (bn *BatchNorm1d) Reset() {
	for i := 0; i < bn.N; i++ {
		bn.Weight.Data[i] = 1
		bn.Bias.Data[i] = 0
		bn.RunningMean.Data[i] = 0
		bn.RunningVar.Data[i] = 1
	}
	bn.NumBatchesTracked = 0
}

// Params lists the trainable parameters then the buffers, in state_dict order
// (num_batches_tracked, an integer, is NumBatchesTracked).
func (bn *BatchNorm1d) Params() []*Param {
	return []*Param{bn.Weight, bn.Bias, bn.RunningMean, bn.RunningVar}
}

// ForwardEval writes y = (x - running_mean)/sqrt(running_var + eps)*gamma + beta.
func (bn *BatchNorm1d) ForwardEval(y, x []float32, batch int) {
	bn.check("ForwardEval", x, y, batch)
	n := bn.N
	for j := 0; j < n; j++ {
		inv := float32(1 / math.Sqrt(float64(bn.RunningVar.Data[j]+bn.Eps)))
		scale := inv * bn.Weight.Data[j]
		shift := bn.Bias.Data[j] - bn.RunningMean.Data[j]*scale
		for r := 0; r < batch; r++ {
			y[r*n+j] = x[r*n+j]*scale + shift
		}
	}
}

// ForwardTrain normalises with the batch's statistics, fills cache for
// Backward and updates the running statistics. batch must be at least 2, as
// in PyTorch (the unbiased variance of one value is undefined).
func (bn *BatchNorm1d) ForwardTrain(y, x []float32, batch int, cache *BatchNormCache) {
	bn.check("ForwardTrain", x, y, batch)
	if batch < 2 {
		panic("nn: BatchNorm1d.ForwardTrain: training needs more than 1 value per channel")
	}
	n := bn.N
	if len(cache.XHat) < batch*n || len(cache.InvStd) < n {
		panic("nn: BatchNorm1d.ForwardTrain: cache too small")
	}
	m := float64(bn.Momentum)
	for j := 0; j < n; j++ {
		// Statistics in float64: the batch is small and PyTorch's float
		// reductions differ from any fixed order anyway.
		var sum float64
		for r := 0; r < batch; r++ {
			sum += float64(x[r*n+j])
		}
		mean := sum / float64(batch)
		var ss float64
		for r := 0; r < batch; r++ {
			d := float64(x[r*n+j]) - mean
			ss += d * d
		}
		inv := float32(1 / math.Sqrt(ss/float64(batch)+float64(bn.Eps)))
		cache.InvStd[j] = inv
		g, b, mu := bn.Weight.Data[j], bn.Bias.Data[j], float32(mean)
		for r := 0; r < batch; r++ {
			xh := (x[r*n+j] - mu) * inv
			cache.XHat[r*n+j] = xh
			y[r*n+j] = xh*g + b
		}
		bn.RunningMean.Data[j] = float32((1-m)*float64(bn.RunningMean.Data[j]) + m*mean)
		bn.RunningVar.Data[j] = float32((1-m)*float64(bn.RunningVar.Data[j]) + m*ss/float64(batch-1))
	}
	bn.NumBatchesTracked++
}

// Backward (after ForwardTrain) accumulates the gamma and beta gradients and
// writes dx (which may alias dy).
func (bn *BatchNorm1d) Backward(dx, dy []float32, batch int, cache *BatchNormCache) {
	bn.check("Backward", dy, dx, batch)
	n := bn.N
	fb := float32(batch)
	for j := 0; j < n; j++ {
		var sumDy, sumDyXh float32
		for r := 0; r < batch; r++ {
			d := dy[r*n+j]
			sumDy += d
			sumDyXh += d * cache.XHat[r*n+j]
		}
		bn.Weight.Grad[j] += sumDyXh
		bn.Bias.Grad[j] += sumDy
		k := bn.Weight.Data[j] * cache.InvStd[j] / fb
		for r := 0; r < batch; r++ {
			dx[r*n+j] = k * (fb*dy[r*n+j] - sumDy - cache.XHat[r*n+j]*sumDyXh)
		}
	}
}

func (bn *BatchNorm1d) check(op string, x, y []float32, batch int) {
	if len(x) < batch*bn.N || len(y) < batch*bn.N {
		panic(fmt.Sprintf("nn: BatchNorm1d.%s: %d and %d values, want %d", op, len(x), len(y), batch*bn.N))
	}
}
