package perfpredict

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLossGradients checks each loss's analytic gradient against central
// finite differences at points away from its kinks (e = 0 for L1, |e| =
// delta for Huber), and its value against the definition.
func TestLossGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 40
	pred, target := make([]float32, n), make([]float32, n)
	for i := range pred {
		target[i] = float32(rng.NormFloat64())
		// Errors spread over (-3, 3), none within 0.05 of 0 or of +-delta.
		for {
			e := 6*rng.Float64() - 3
			if math.Abs(e) > 0.05 && math.Abs(math.Abs(e)-0.7) > 0.05 {
				pred[i] = target[i] + float32(e)
				break
			}
		}
	}
	for _, c := range []Config{{Loss: LossMSE}, {Loss: LossL1}, {Loss: LossHuber, HuberDelta: 0.7}} {
		c = c.withDefaults()
		grad := make([]float32, n)
		loss := c.lossFunc(pred, target, grad)
		var want float64
		for i := range pred {
			e := float64(pred[i]) - float64(target[i])
			switch c.Loss {
			case LossMSE:
				want += e * e
			case LossL1:
				want += math.Abs(e)
			case LossHuber:
				if math.Abs(e) <= 0.7 {
					want += 0.5 * e * e
				} else {
					want += 0.7 * (math.Abs(e) - 0.35)
				}
			}
		}
		want /= n
		if math.Abs(loss-want) > 1e-6*math.Max(1, want) {
			t.Errorf("%s: loss %v, definition %v", c.Loss, loss, want)
		}
		const eps = 1e-2
		p := append([]float32(nil), pred...)
		for i := range p {
			p[i] = pred[i] + eps
			up := c.lossFunc(p, target, nil)
			p[i] = pred[i] - eps
			down := c.lossFunc(p, target, nil)
			p[i] = pred[i]
			fd := (up - down) / (2 * eps)
			if math.Abs(fd-float64(grad[i])) > 1e-4*math.Max(1, math.Abs(fd))+1e-6 {
				t.Errorf("%s: d loss / d pred[%d] = %v, finite difference %v", c.Loss, i, grad[i], fd)
			}
		}
	}
}

// TestLossL1Kink: at e = 0 the L1 gradient is 0 (PyTorch's sign(0)).
func TestLossL1Kink(t *testing.T) {
	grad := []float32{9, 9}
	if l := l1Loss([]float32{1, 2}, []float32{1, 1}, grad); l != 0.5 || grad[0] != 0 || grad[1] != 0.5 {
		t.Errorf("loss %v grad %v, want 0.5 and [0 0.5]", l, grad)
	}
}

// TestTrainL1: the model trains on the L1 loss, reports it as the epochs'
// losses, and the validation loss it keeps is the mean absolute error of
// its predictions.
func TestTrainL1(t *testing.T) {
	train, val := laggedTask(1, 384), laggedTask(2, 128)
	cfg := smallConfig()
	cfg.Loss = LossL1
	m, err := New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.loss(val)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := m.Train(context.Background(), train, val)
	if err != nil {
		t.Fatal(err)
	}
	met, err := m.Evaluate(val)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(met.Outputs[0].MAE-hist.BestLoss) > 1e-6 {
		t.Errorf("kept validation loss %v is not the MAE %v of the predictions", hist.BestLoss, met.Outputs[0].MAE)
	}
	// The target's mean absolute deviation is about 0.79 (sd 0.99).
	if hist.BestLoss > before/2 || hist.BestLoss > 0.3 {
		t.Errorf("validation L1 %.4f -> %.4f: did not learn", before, hist.BestLoss)
	}
}

func TestConfigRejectsUnknownLoss(t *testing.T) {
	for _, c := range []Config{{Loss: "l2"}, {Loss: LossHuber, HuberDelta: -1}, {Loss: LossHuber, HuberDelta: math.Inf(1)}} {
		if _, err := New(c, 2, 1); err == nil || !strings.Contains(err.Error(), "config") {
			t.Errorf("%+v: error %v", c, err)
		}
	}
}
