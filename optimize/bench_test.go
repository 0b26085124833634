package optimize

import (
	"context"
	"testing"
)

// BenchmarkOptimize is the command's default problem scaled up: a day of
// five-minute demand shaped like the DWCP v3 design's example of 2,847 req/s, 15 instance types.
func BenchmarkOptimize(b *testing.B) {
	for _, scale := range []float64{1, 10} {
		demand := make([]float64, 288)
		for i := range demand {
			// A diurnal shape with a peak 3.5x the trough.
			x := float64(i) / 288
			demand[i] = scale * 2847 * (0.6 + 1.4*x*(1-x)*4*(0.5+0.5*float64(i%7)/6))
		}
		o := &Optimizer{Catalog: DefaultCatalog(), Capacity: DefaultCapacity()}
		c := Constraints{Zone: "us-east-1a", MinPerformance: 0.99, MaxCostPerMonth: 1e6}
		b.Run(map[float64]string{1: "x1", 10: "x10"}[scale], func(b *testing.B) {
			nodes := 0
			for b.Loop() {
				res, err := o.Optimize(context.Background(), demand, c)
				if err != nil || !res.Optimal {
					b.Fatal(res, err)
				}
				nodes = res.Nodes
			}
			b.ReportMetric(float64(nodes), "nodes/op")
		})
	}
}
