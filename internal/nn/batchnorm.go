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

// BatchNormCache holds what the training backward pass needs: the input
// (a view of the caller's buffer, which must stay unchanged until Backward),
// and per feature the batch mean and inverse standard deviation in float64.
type BatchNormCache struct {
	X      []float32 // [batch, N]
	Mean   []float64 // [N]
	InvStd []float64 // [N]
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

// ForwardEval writes y = x*alpha + beta with alpha = gamma/sqrt(running_var+eps)
// and beta = bias - running_mean*alpha, in float32 as PyTorch's CPU kernel.
func (bn *BatchNorm1d) ForwardEval(y, x []float32, batch int) {
	bn.check("ForwardEval", x, y, batch)
	n := bn.N
	for j := 0; j < n; j++ {
		inv := 1 / float32(math.Sqrt(float64(bn.RunningVar.Data[j]+bn.Eps)))
		bn.transform(y, x, batch, j, bn.RunningMean.Data[j], inv)
	}
}

func (bn *BatchNorm1d) transform(y, x []float32, batch, j int, mean, invStd float32) {
	n := bn.N
	alpha := invStd * bn.Weight.Data[j]
	beta := bn.Bias.Data[j] - mean*alpha
	for r := 0; r < batch; r++ {
		y[r*n+j] = x[r*n+j]*alpha + beta
	}
}

// ForwardTrain normalises with the batch's mean and biased variance, fills
// cache for Backward and updates the running statistics with the unbiased
// variance. batch must be at least 2, as in PyTorch.
//
// Training-mode arithmetic is float64 per element, rounded once to float32:
// with small batches the centring x - mean and the backward pass cancel
// heavily, and this keeps the gradients within 1e-5 of the exact ones where
// PyTorch's float32 kernels drift by up to 1e-4 (see the parity fixtures).
func (bn *BatchNorm1d) ForwardTrain(y, x []float32, batch int, cache *BatchNormCache) {
	bn.check("ForwardTrain", x, y, batch)
	if batch < 2 {
		panic("nn: BatchNorm1d.ForwardTrain: training needs more than 1 value per channel")
	}
	n := bn.N
	if len(cache.Mean) < n || len(cache.InvStd) < n {
		panic("nn: BatchNorm1d.ForwardTrain: cache too small")
	}
	cache.X = x[:batch*n]
	m := float64(bn.Momentum)
	fb := float64(batch)
	for j := 0; j < n; j++ {
		mean, ss, inv := bn.featureStats(x, batch, j)
		cache.Mean[j], cache.InvStd[j] = mean, inv
		g, b := float64(bn.Weight.Data[j]), float64(bn.Bias.Data[j])
		for r := 0; r < batch; r++ {
			y[r*n+j] = float32((float64(x[r*n+j])-mean)*inv*g + b)
		}
		bn.RunningMean.Data[j] = float32(m*mean + (1-m)*float64(bn.RunningMean.Data[j]))
		bn.RunningVar.Data[j] = float32(m*ss/(fb-1) + (1-m)*float64(bn.RunningVar.Data[j]))
	}
	bn.NumBatchesTracked++
}

// featureStats returns feature j's batch mean, sum of squared deviations and
// inverse standard deviation 1/sqrt(ss/batch + Eps), in float64.
func (bn *BatchNorm1d) featureStats(x []float32, batch, j int) (mean, ss, invStd float64) {
	n := bn.N
	fb := float64(batch)
	var sum float64
	for r := 0; r < batch; r++ {
		sum += float64(x[r*n+j])
	}
	mean = sum / fb
	for r := 0; r < batch; r++ {
		d := float64(x[r*n+j]) - mean
		ss += d * d
	}
	return mean, ss, 1 / math.Sqrt(ss/fb+float64(bn.Eps))
}

// BatchStats fills cache from x [batch, N] exactly as ForwardTrain does,
// without computing y or touching the running statistics: callers that keep
// only float32 statistics between the passes (the CPU device) recompute the
// float64 ones for Backward.
func (bn *BatchNorm1d) BatchStats(x []float32, batch int, cache *BatchNormCache) {
	n := bn.N
	if len(x) < batch*n || len(cache.Mean) < n || len(cache.InvStd) < n {
		panic(fmt.Sprintf("nn: BatchNorm1d.BatchStats: %d values and a cache of %d and %d, want %d and %d", len(x), len(cache.Mean), len(cache.InvStd), batch*n, n))
	}
	cache.X = x[:batch*n]
	for j := 0; j < n; j++ {
		cache.Mean[j], _, cache.InvStd[j] = bn.featureStats(x, batch, j)
	}
}

// Backward (after ForwardTrain) accumulates the gamma and beta gradients and
// writes dx (which may alias dy).
func (bn *BatchNorm1d) Backward(dx, dy []float32, batch int, cache *BatchNormCache) {
	bn.check("Backward", dy, dx, batch)
	n := bn.N
	x := cache.X
	fb := float64(batch)
	for j := 0; j < n; j++ {
		mean, inv := cache.Mean[j], cache.InvStd[j]
		var sum, dotp float64
		for r := 0; r < batch; r++ {
			d := float64(dy[r*n+j])
			sum += d
			dotp += (float64(x[r*n+j]) - mean) * d
		}
		bn.Weight.Grad[j] += float32(dotp * inv)
		bn.Bias.Grad[j] += float32(sum)
		k := dotp * inv * inv / fb
		gradMean := sum / fb
		w := float64(bn.Weight.Data[j])
		for r := 0; r < batch; r++ {
			c := (float64(x[r*n+j]) - mean) * k
			dx[r*n+j] = float32((float64(dy[r*n+j]) - gradMean - c) * inv * w)
		}
	}
}

func (bn *BatchNorm1d) check(op string, x, y []float32, batch int) {
	if len(x) < batch*bn.N || len(y) < batch*bn.N {
		panic(fmt.Sprintf("nn: BatchNorm1d.%s: %d and %d values, want %d", op, len(x), len(y), batch*bn.N))
	}
}
