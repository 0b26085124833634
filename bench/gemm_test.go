package bench

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/novacron/perfpredict/asm"
	"github.com/novacron/perfpredict/internal/blas"
)

func gemmOperands(m, n, k int) (a, b, c []float32) {
	a, b, c = make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range a {
		a[i] = float32(i%13)*0.1 - 0.6
	}
	for i := range b {
		b[i] = float32(i%7)*0.1 - 0.3
	}
	return a, b, c
}

func reportGFLOPS(b *testing.B, m, n, k int) {
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemm measures C = A·B on square and LSTM shapes. "512" is single
// threaded (GOMAXPROCS 1, to compare with single-threaded OpenBLAS);
// "-parallel" variants use all of GOMAXPROCS; "512-avx2" and "512-generic"
// run the lower asm levels. The LSTM shapes are the
// recurrent step (batch m × 4H=512 outputs × H=128 inputs, B = W_hh^T) and the
// input projections (k = 30 features, k = 256 from a bidirectional layer),
// with B transposed as PyTorch stores the weights, plain and pre-packed.
func BenchmarkGemm(b *testing.B) {
	square := func(name string, n int, procs int) {
		b.Run(name, func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			a, bm, c := gemmOperands(n, n, n)
			b.ResetTimer()
			for range b.N {
				blas.Sgemm(false, false, n, n, n, 1, a, n, bm, n, 0, c, n)
			}
			reportGFLOPS(b, n, n, n)
		})
	}
	square("512", 512, 1)
	square("512-parallel", 512, runtime.GOMAXPROCS(0))
	square("1024-parallel", 1024, runtime.GOMAXPROCS(0))
	// The lower asm levels, for comparison (PERFPREDICT_CPU picks the default).
	for _, l := range asm.Supported() {
		if l == asm.ActiveLevel() {
			continue
		}
		b.Run("512-"+l.String(), func(b *testing.B) {
			prev, _ := asm.SetLevel(l)
			defer asm.SetLevel(prev)
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
			a, bm, c := gemmOperands(512, 512, 512)
			b.ResetTimer()
			for range b.N {
				blas.Sgemm(false, false, 512, 512, 512, 1, a, 512, bm, 512, 0, c, 512)
			}
			reportGFLOPS(b, 512, 512, 512)
		})
	}
	for _, m := range []int{1, 32, 256} {
		for _, k := range []int{30, 128, 256} {
			const n = 512
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/transB", m, n, k), func(b *testing.B) {
				a, w, c := gemmOperands(m, n, k)
				b.ResetTimer()
				for range b.N {
					blas.SgemmSerial(false, true, m, n, k, 1, a, k, w, k, 1, c, n)
				}
				reportGFLOPS(b, m, n, k)
			})
			b.Run(fmt.Sprintf("m=%d/n=%d/k=%d/packedB", m, n, k), func(b *testing.B) {
				a, w, c := gemmOperands(m, n, k)
				pb := blas.PackB(true, k, n, w, k)
				b.ResetTimer()
				for range b.N {
					blas.SgemmPackedBSerial(m, 1, a, k, pb, 1, c, n)
				}
				reportGFLOPS(b, m, n, k)
			})
		}
	}
}
