package sim_test

import (
	"context"
	"fmt"

	"github.com/novacron/perfpredict/integration/sim"
)

func ExampleCluster() {
	c, _ := sim.NewCluster(sim.Config{Seed: 1, SliceSeconds: 0.5})
	// Ten intervals at a steady 800 req/s, then a burst, with static settings.
	rps := []float64{800, 800, 800, 800, 800, 800, 800, 800, 800, 800, 3000, 3000}
	m, st, _ := c.Run(context.Background(), rps, nil)
	fmt.Printf("%d intervals, %d requests in the first\n", len(st), st[0].Requests)
	fmt.Printf("p99 %.0f ms, throughput %.0f req/s, errors %.2f%%\n", m.LatencyP99Ms, m.ThroughputRPS, 100*m.ErrorRate)
	// Output:
	// 12 intervals, 392 requests in the first
	// p99 57 ms, throughput 1169 req/s, errors 0.00%
}
