package asm

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
)

// benchLevels runs f as sub-benchmarks n=<n>/level=<level> for every
// supported level. Besides wall time it reports cpu-ns/op, the thread's CPU
// time per operation, which stays meaningful on an oversubscribed machine.
func benchLevels(b *testing.B, sizes []int, f func(b *testing.B, n int)) {
	for _, n := range sizes {
		for _, l := range Supported() {
			b.Run(fmt.Sprintf("n=%d/level=%v", n, l), func(b *testing.B) {
				prev, err := SetLevel(l)
				if err != nil {
					b.Fatal(err)
				}
				defer SetLevel(prev)
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0 := threadCPUNanos()
				f(b, n)
				if cpu0 >= 0 && b.N > 0 {
					b.ReportMetric(float64(threadCPUNanos()-cpu0)/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}

// reportElems sets the throughput to the bytes of one input vector of n
// elements and adds ns per element.
func reportElems(b *testing.B, n int) {
	b.SetBytes(int64(4 * n))
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/elem")
}

var benchSink float32

func BenchmarkDot(b *testing.B) {
	benchLevels(b, []int{512, 4096}, func(b *testing.B, n int) {
		r := rand.New(rand.NewPCG(1, 1))
		x, y := randSlice(r, n, -1, 1), randSlice(r, n, -1, 1)
		for b.Loop() {
			benchSink += Dot(x, y)
		}
		reportElems(b, n)
	})
}

func BenchmarkAxpy(b *testing.B) {
	benchLevels(b, []int{512, 4096}, func(b *testing.B, n int) {
		r := rand.New(rand.NewPCG(1, 1))
		x, y := randSlice(r, n, -1, 1), randSlice(r, n, -1, 1)
		for b.Loop() {
			Axpy(1e-7, x, y)
		}
		reportElems(b, n)
	})
}

func BenchmarkScale(b *testing.B) {
	benchLevels(b, []int{512, 4096}, func(b *testing.B, n int) {
		x := randSlice(rand.New(rand.NewPCG(1, 1)), n, -1, 1)
		for b.Loop() {
			Scale(1.0000001, x)
		}
		reportElems(b, n)
	})
}

func BenchmarkSigmoid(b *testing.B) {
	benchLevels(b, []int{512}, func(b *testing.B, n int) {
		x := randSlice(rand.New(rand.NewPCG(1, 1)), n, -8, 8)
		dst := make([]float32, n)
		for b.Loop() {
			Sigmoid(dst, x)
		}
		reportElems(b, n)
	})
}

func BenchmarkTanh(b *testing.B) {
	benchLevels(b, []int{512}, func(b *testing.B, n int) {
		x := randSlice(rand.New(rand.NewPCG(1, 1)), n, -8, 8)
		dst := make([]float32, n)
		for b.Loop() {
			Tanh(dst, x)
		}
		reportElems(b, n)
	})
}

// BenchmarkLSTMCellForward runs the cell on one batch row of H = n; the
// pre-activations are restored from a copy each time (included in the time,
// as a caller writes them fresh every step).
func BenchmarkLSTMCellForward(b *testing.B) {
	benchLevels(b, []int{128, 512}, func(b *testing.B, n int) {
		in := randCell(rand.New(rand.NewPCG(1, 1)), n)
		gates := make([]float32, 4*n)
		c, h, tc := make([]float32, n), make([]float32, n), make([]float32, n)
		for b.Loop() {
			copy(gates, in.gates)
			LSTMCellForward(gates, in.cPrev, c, h, tc)
		}
		reportElems(b, n)
	})
}

func BenchmarkLSTMCellBackward(b *testing.B) {
	benchLevels(b, []int{128, 512}, func(b *testing.B, n int) {
		r := rand.New(rand.NewPCG(1, 1))
		in := randCell(r, n)
		act := append([]float32(nil), in.gates...)
		tanhC := make([]float32, n)
		lstmCellForwardGeneric(act, in.cPrev, make([]float32, n), make([]float32, n), tanhC)
		dh, dc := randSlice(r, n, -1, 1), randSlice(r, n, -1, 1)
		dG := make([]float32, 4*n)
		for b.Loop() {
			LSTMCellBackward(dG, act, in.cPrev, tanhC, dh, dc)
			Scale(0.5, dc) // keep dc bounded over many iterations
		}
		reportElems(b, n)
	})
}
