package bench

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/lstm"
)

// The default model's LSTM (perfpredict.DefaultConfig): 3 bidirectional layers of 128 units over 60
// steps of 30 features, dropout 0.2 between layers.
var defaultLSTM = lstm.Config{Input: 30, Hidden: 128, Layers: 3, Bidirectional: true, Dropout: 0.2}

const defaultSteps = 60

// lstmForwardFLOPs is the GEMM work of one sequence's forward pass:
// 2*T*4H*(in+H) per layer and direction (the cell's element-wise work is not
// counted). Backward does twice that (dW_ih, dW_hh, dx, dh).
func lstmForwardFLOPs(cfg lstm.Config, steps int) float64 {
	dirs := 1
	if cfg.Bidirectional {
		dirs = 2
	}
	var f float64
	for k := 0; k < cfg.Layers; k++ {
		in := cfg.Input
		if k > 0 {
			in = dirs * cfg.Hidden
		}
		f += float64(dirs) * 2 * float64(steps) * 4 * float64(cfg.Hidden) * float64(in+cfg.Hidden)
	}
	return f
}

func seedStack(b *testing.B) *lstm.Stack {
	s, err := lstm.New(defaultLSTM)
	if err != nil {
		b.Fatal(err)
	}
	s.InitUniform(rand.New(rand.NewPCG(1, 2)))
	return s
}

func randInput(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	return x
}

// cpuSeconds is the CPU time (user+system) this process has used so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// reportLSTM reports throughput, and CPU-ms/op: the CPU time of all the
// process's threads per operation, which unlike wall time does not grow when
// other processes compete for the two cores (cpu0 is cpuSeconds() at the
// start of the timed loop).
func reportLSTM(b *testing.B, batch int, flopsPerSeq, cpu0 float64) {
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N)*1e3, "CPU-ms/op")
	sec := b.Elapsed().Seconds()
	seqs := float64(b.N) * float64(batch)
	b.ReportMetric(seqs/sec, "seq/s")
	b.ReportMetric(seqs*flopsPerSeq/sec/1e9, "GFLOP/s")
	b.ReportMetric(sec/float64(b.N)*1e3, "ms/op")
}

// BenchmarkLSTMForward is the evaluation forward pass of the default LSTM stack
// (both directions of a layer on the two cores).
func BenchmarkLSTMForward(b *testing.B) {
	b.Logf("asm.Implementation() = %s", asm.Implementation())
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := seedStack(b)
			ws := s.NewWorkspace()
			x := randInput(batch * defaultSteps * defaultLSTM.Input)
			if _, err := s.Forward(ws, x, batch, defaultSteps, false); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				if _, err := s.Forward(ws, x, batch, defaultSteps, false); err != nil {
					b.Fatal(err)
				}
			}
			reportLSTM(b, batch, lstmForwardFLOPs(defaultLSTM, defaultSteps), cpu0)
			b.ReportMetric(float64(ws.Bytes()+s.PackedBytes())/(1<<20), "MiB")
		})
	}
}

// BenchmarkLSTMTrainStep is a training forward (dropout on) plus the full
// backward pass (parameter gradients and input gradient) of the default LSTM,
// with the weights reported changed before each step as an optimiser step
// would (so the packing of the weights is part of the step).
func BenchmarkLSTMTrainStep(b *testing.B) {
	b.Logf("asm.Implementation() = %s", asm.Implementation())
	for _, batch := range []int{32} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := seedStack(b)
			ws := s.NewWorkspace()
			x := randInput(batch * defaultSteps * defaultLSTM.Input)
			dOut := randInput(batch * defaultSteps * s.OutputSize())
			step := func() {
				s.WeightsChanged()
				if _, err := s.Forward(ws, x, batch, defaultSteps, true); err != nil {
					b.Fatal(err)
				}
				s.Backward(ws, dOut)
			}
			step()
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuSeconds()
			for i := 0; i < b.N; i++ {
				step()
			}
			reportLSTM(b, batch, 3*lstmForwardFLOPs(defaultLSTM, defaultSteps), cpu0)
			b.ReportMetric(float64(ws.Bytes()+s.PackedBytes())/(1<<20), "MiB")
		})
	}
}
