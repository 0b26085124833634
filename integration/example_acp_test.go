package integration_test

import (
	"context"
	"fmt"
	"time"

	"github.com/novacron/perfpredict/integration"
)

// acp is an ACP engine that records its settings.
type acp struct{ s integration.ACPSettings }

func (e *acp) SetTimeout(d time.Duration) error {
	e.s.TimeoutMs = float64(d / time.Millisecond)
	return nil
}
func (e *acp) SetBatchSize(n int) error { e.s.BatchSize = n; return nil }

func ExampleACPTuner() {
	e := &acp{integration.DefaultACP()}
	tu, _ := integration.NewACPTuner(e, e.s, integration.ACPTarget{LatencyBudgetMs: 20}, integration.Options{ExploreEvery: 1})
	for range 200 {
		// Commit latency is least near a 30 ms timeout and batches of 16,
		// but timeouts under 50 ms fail more than the 5% of rounds allowed.
		to, b := e.s.TimeoutMs, float64(e.s.BatchSize)
		failed := 0.5 * 5 / to
		commit := 6 + to/20 + 40/to + b/16 + 16/b
		_ = tu.Observe(integration.ACPTelemetry{Settings: e.s, ClusterSize: 5, LoadRPS: 2000,
			CommitMs: commit, FailedRoundShare: failed})
		_, _ = tu.Decide(context.Background())
	}
	s, _ := tu.PredictOptimalACPSettings(5, 20)
	fmt.Printf("engine at %+v; recommended %+v\n", e.s, s)
	// Output:
	// engine at {TimeoutMs:50 BatchSize:16}; recommended {TimeoutMs:50 BatchSize:16}
}
