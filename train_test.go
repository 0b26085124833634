package perfpredict

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// laggedTask builds windows of F=2 features, T=8 steps with a known answer:
// y = 0.8*x[T-1,0] - 0.5*x[T-3,1] + 0.3*x[T-5,0] + noise (sd 0.05).
func laggedTask(seed uint64, n int) Dataset {
	const steps, features = 8, 2
	rng := rand.New(rand.NewPCG(seed, 99))
	x := make([]float32, n*steps*features)
	y := make([]float32, n)
	for i := 0; i < n; i++ {
		w := x[i*steps*features : (i+1)*steps*features]
		for j := range w {
			w[j] = float32(rng.NormFloat64())
		}
		at := func(t, f int) float32 { return w[t*features+f] }
		y[i] = 0.8*at(steps-1, 0) - 0.5*at(steps-3, 1) + 0.3*at(steps-5, 0) + float32(0.05*rng.NormFloat64())
	}
	d, err := NewDataset(x, y, n, steps, features, 1)
	if err != nil {
		panic(err)
	}
	return d
}

func smallConfig() Config {
	return Config{Hidden: 8, Layers: 1, Head: []int{16, 8}, Dropout: -1, BatchSize: 16, LearningRate: 1e-2, Epochs: 40, Patience: 8, Seed: 3}
}

// TestTrainConverges: the target's variance is 0.98 (0.64+0.25+0.09+0.0025)
// and the noise's 0.0025; a model that learned the lags gets the validation
// MSE below 0.05, a twentieth of what predicting the mean gives.
func TestTrainConverges(t *testing.T) {
	train, val := laggedTask(1, 384), laggedTask(2, 128)
	m, err := New(smallConfig(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	before, err := m.loss(val)
	if err != nil {
		t.Fatal(err)
	}
	var calls, epochEnds int
	hist, err := m.Train(context.Background(), train, val, WithProgress(func(p Progress) {
		calls++
		if p.EpochDone {
			epochEnds++
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	after, err := m.loss(val)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("val MSE %.4f -> %.4f in %d epochs (best %d)", before, after, len(hist.Epochs), hist.BestEpoch)
	if after > 0.05 {
		t.Errorf("validation MSE %.4f after training, want < 0.05", after)
	}
	if after != hist.BestLoss {
		t.Errorf("model's validation loss %v is not the best epoch's %v", after, hist.BestLoss)
	}
	batches := 384 / 16
	if calls != len(hist.Epochs)*(batches+1) || epochEnds != len(hist.Epochs) {
		t.Errorf("progress called %d times (%d epoch ends) for %d epochs of %d batches", calls, epochEnds, len(hist.Epochs), batches)
	}
	met, err := m.Evaluate(val)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(met.Outputs[0].MSE-after) > 1e-6 || met.Outputs[0].R2 < 0.9 {
		t.Errorf("Evaluate: %+v, loss %v", met.Outputs[0], after)
	}
}

// TestEarlyStoppingRestoresBest: with targets that are pure noise the
// validation loss stops improving; training stops Patience epochs after the
// best one and the model holds that epoch's weights.
func TestEarlyStoppingRestoresBest(t *testing.T) {
	train, val := laggedTask(3, 64), laggedTask(4, 32)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range train.Y {
		train.Y[i] = float32(rng.NormFloat64())
	}
	cfg := smallConfig()
	cfg.Patience, cfg.Epochs, cfg.LearningRate = 3, 200, 3e-2
	m, err := New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := m.Train(context.Background(), train, val)
	if err != nil {
		t.Fatal(err)
	}
	if !hist.EarlyStopped || len(hist.Epochs) != hist.BestEpoch+3 || len(hist.Epochs) == 200 {
		t.Fatalf("stopped after %d epochs, best %d, early %v", len(hist.Epochs), hist.BestEpoch, hist.EarlyStopped)
	}
	for _, e := range hist.Epochs[hist.BestEpoch:] {
		if e.ValLoss < hist.BestLoss || e.Best {
			t.Errorf("epoch %d val %v after best %v", e.Epoch, e.ValLoss, hist.BestLoss)
		}
	}
	got, err := m.loss(val)
	if err != nil {
		t.Fatal(err)
	}
	if got != hist.Epochs[hist.BestEpoch-1].ValLoss {
		t.Errorf("restored weights give validation loss %v, best epoch had %v", got, hist.Epochs[hist.BestEpoch-1].ValLoss)
	}
}

// TestTrainDeterministic: the same seed gives byte-identical checkpoints,
// dropout and shuffling included; another seed does not.
func TestTrainDeterministic(t *testing.T) {
	train, val := laggedTask(6, 48), laggedTask(7, 16)
	run := func(seed uint64) []byte {
		cfg := smallConfig()
		cfg.Layers, cfg.Dropout, cfg.Epochs, cfg.Seed = 2, 0.2, 3, seed
		m, err := New(cfg, 2, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Train(context.Background(), train, val); err != nil {
			t.Fatal(err)
		}
		return encodeModel(t, m)
	}
	a, b, c := run(11), run(11), run(12)
	if !bytes.Equal(a, b) {
		t.Error("two runs with the same seed differ")
	}
	if bytes.Equal(a, c) {
		t.Error("runs with different seeds are identical")
	}
}

func TestTrainRejectsNonFiniteData(t *testing.T) {
	train := laggedTask(8, 16)
	m, err := New(smallConfig(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	m.FeatureNames = []string{"cpu", "latency"}
	before := encodeModel(t, m)
	train.X[(5*8+2)*2+1] = float32(math.NaN())
	_, err = m.Train(context.Background(), train, Dataset{})
	if err == nil || !strings.Contains(err.Error(), "sample 5, step 2, feature 1 (latency)") {
		t.Fatalf("error %v, want one naming sample 5, step 2, feature 1 (latency)", err)
	}
	train = laggedTask(8, 16)
	train.Y[9] = float32(math.Inf(1))
	if _, err = m.Train(context.Background(), train, Dataset{}); err == nil || !strings.Contains(err.Error(), "sample 9") {
		t.Fatalf("error %v, want one naming sample 9", err)
	}
	if !bytes.Equal(before, encodeModel(t, m)) {
		t.Error("rejected data changed the model")
	}
	wrong, _ := NewDataset(make([]float32, 4*8*3), make([]float32, 4), 4, 8, 3, 1)
	if _, err = m.Train(context.Background(), wrong, Dataset{}); err == nil || !strings.Contains(err.Error(), "3 features") {
		t.Fatalf("error %v, want a feature-count mismatch", err)
	}
}

// TestTrainStopsOnNaNLoss: an absurd learning rate blows the weights up;
// training stops naming the epoch and step and keeps the best weights (here
// the initial ones, as no epoch finished).
func TestTrainStopsOnNaNLoss(t *testing.T) {
	train := laggedTask(9, 64)
	cfg := smallConfig()
	cfg.LearningRate = 1e30
	m, err := New(cfg, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	before := encodeModel(t, m)
	hist, err := m.Train(context.Background(), train, Dataset{})
	if !errors.Is(err, ErrNonFiniteLoss) || !strings.Contains(err.Error(), "epoch 1, step ") {
		t.Fatalf("error %v, want a non-finite loss at epoch 1", err)
	}
	t.Log(err)
	if hist.BestEpoch != 0 || !bytes.Equal(before, encodeModel(t, m)) {
		t.Errorf("weights not restored to the initial ones (best epoch %d)", hist.BestEpoch)
	}
}

// TestTrainCancel: cancelling during epoch 3 returns context.Canceled with
// the weights of the best of the two finished epochs.
func TestTrainCancel(t *testing.T) {
	train, val := laggedTask(10, 64), laggedTask(11, 32)
	m, err := New(smallConfig(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hist, err := m.Train(ctx, train, val, WithProgress(func(p Progress) {
		if p.Epoch == 3 && p.Batch == 2 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if len(hist.Epochs) != 2 || hist.BestEpoch == 0 {
		t.Fatalf("%d epochs recorded, best %d", len(hist.Epochs), hist.BestEpoch)
	}
	got, err := m.loss(val)
	if err != nil {
		t.Fatal(err)
	}
	if got != hist.BestLoss {
		t.Errorf("validation loss after cancel %v, best epoch's %v", got, hist.BestLoss)
	}
}

func TestEvaluateOriginalUnits(t *testing.T) {
	val := laggedTask(12, 20)
	m, err := New(smallConfig(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	scaled, err := m.Evaluate(val)
	if err != nil {
		t.Fatal(err)
	}
	m.Scaler = &TargetScaler{Mean: []float64{100}, Std: []float64{4}}
	orig, err := m.Evaluate(val)
	if err != nil {
		t.Fatal(err)
	}
	if !orig.OriginalUnits || scaled.OriginalUnits {
		t.Error("OriginalUnits not set as expected")
	}
	if math.Abs(orig.Outputs[0].MAE-4*scaled.Outputs[0].MAE) > 1e-4 || math.Abs(orig.Outputs[0].MSE-16*scaled.Outputs[0].MSE) > 1e-3 {
		t.Errorf("original-unit errors %+v are not 4x the scaled ones %+v", orig.Outputs[0], scaled.Outputs[0])
	}
	if math.Abs(orig.Outputs[0].R2-scaled.Outputs[0].R2) > 1e-6 {
		t.Errorf("R2 changed with units: %v vs %v", orig.Outputs[0].R2, scaled.Outputs[0].R2)
	}
}

func TestPredictErrors(t *testing.T) {
	m, err := New(smallConfig(), 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Predict(make([]float32, 3*8*5), 3, 8)
	if err == nil || !strings.Contains(err.Error(), "5 features") || !strings.Contains(err.Error(), "expects 2") {
		t.Errorf("error %v, want both widths", err)
	}
	if _, _, err = m.Predict(make([]float32, 7), 3, 8); err == nil {
		t.Error("no error for a ragged input")
	}
	if _, err := New(Config{}, 0, 1); err == nil {
		t.Error("no error for zero features")
	}
	if _, err := New(Config{}, 3, 0); err == nil {
		t.Error("no error for zero outputs")
	}
}

// TestPredictAllocations: after the first call PredictInto allocates nothing.
func TestPredictAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m, err := New(tinyConfig(), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := randInput(3, 4*6*3)
	pred, att := make([]float32, 4*2), make([]float32, 4*6)
	if err := m.PredictInto(pred, att, x, 4, 6); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _ = m.PredictInto(pred, att, x, 4, 6) }); n > 0 {
		t.Errorf("%v allocations per PredictInto", n)
	}
}

// TestTrainDeterministicDefaultSize repeats the determinism check on the default
// architecture, where the LSTM runs its directions on two goroutines and the
// large matrix products are split across cores.
func TestTrainDeterministicDefaultSize(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the default-sized model")
	}
	const n, steps, features = 66, 20, 30
	train, err := NewDataset(randInput(20, n*steps*features), randInput(21, n), n, steps, features, 1)
	if err != nil {
		t.Fatal(err)
	}
	run := func() []byte {
		m, err := New(Config{Epochs: 1, Seed: 4}, features, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Train(context.Background(), train, Dataset{}); err != nil {
			t.Fatal(err)
		}
		return encodeModel(t, m)
	}
	if !bytes.Equal(run(), run()) {
		t.Error("two default-sized runs with the same seed differ")
	}
}

// TestConcurrentPredict: Predict from several goroutines at once gives the
// serial results (each call takes its own workspace).
func TestConcurrentPredict(t *testing.T) {
	m, err := New(tinyConfig(), 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	const batch, steps = 3, 5
	inputs := make([][]float32, 8)
	want := make([][]float32, len(inputs))
	for i := range inputs {
		inputs[i] = randInput(uint64(30+i), batch*steps*3)
		if want[i], _, err = m.Predict(inputs[i], batch, steps); err != nil {
			t.Fatal(err)
		}
	}
	for _, serial := range []bool{false, true} {
		m.Serial = serial
		errs := make(chan error, len(inputs))
		for i := range inputs {
			go func() {
				for range 20 {
					got, _, err := m.Predict(inputs[i], batch, steps)
					if err == nil && !slices.Equal(got, want[i]) {
						err = fmt.Errorf("input %d: %v, want %v", i, got, want[i])
					}
					if err != nil {
						errs <- err
						return
					}
				}
				errs <- nil
			}()
		}
		for range inputs {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
	}
}
