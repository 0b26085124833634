package blas

import (
	"fmt"
	"testing"
)

// BenchmarkGemmBlocking runs SgemmSerial at 512³ and an LSTM-sized product
// under several cache block sizes (gemmKC, gemmNC), to choose them.
func BenchmarkGemmBlocking(b *testing.B) {
	defer func(kc, nc int) { gemmKC, gemmNC = kc, nc }(gemmKC, gemmNC)
	for _, s := range [][3]int{{512, 512, 512}, {256, 512, 128}, {1024, 1024, 1024}} {
		m, n, k := s[0], s[1], s[2]
		a, bm, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
		for _, kc := range []int{128, 192, 256, 384, 512} {
			for _, nc := range []int{256, 512, 1024, 2048} {
				b.Run(fmt.Sprintf("%dx%dx%d/kc=%d/nc=%d", m, n, k, kc, nc), func(b *testing.B) {
					gemmKC, gemmNC = kc, nc
					for range b.N {
						SgemmSerial(false, false, m, n, k, 1, a, k, bm, n, 0, c, n)
					}
					b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}
