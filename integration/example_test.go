package integration_test

import (
	"context"
	"fmt"

	"github.com/novacron/perfpredict/integration"
)

// engine is an HDE engine that records its settings.
type engine struct{ s integration.HDESettings }

func (e *engine) SetCompressionLevel(l int) error { e.s.CompressionLevel = l; return nil }
func (e *engine) SetChunkSize(b int) error        { e.s.ChunkSize = b; return nil }

func ExampleHDETuner() {
	e := &engine{integration.DefaultHDE()}
	tu, _ := integration.NewHDETuner(e, e.s, integration.HDETarget{LatencyMs: 50}, integration.Options{})
	for range 100 {
		// The engine's measured response: higher levels send fewer bytes but
		// take longer at this throughput.
		// Bigger chunks save header bytes but wait longer to fill.
		l, c := float64(e.s.CompressionLevel), float64(e.s.ChunkSize)
		_ = tu.Observe(integration.HDETelemetry{Settings: e.s, ThroughputRPS: 1000,
			LatencyMs: 10 + 6*l + c/32768, WireBytes: 65536/(1+0.2*l) + 64*65536/c, CPUUtil: 0.05 * l})
		_, _ = tu.Decide(context.Background())
	}
	s, _ := tu.PredictOptimalHDESettings(1000, 50)
	fmt.Printf("engine at level %d, chunk %d; recommended %+v\n", e.s.CompressionLevel, e.s.ChunkSize, s)
	// Output:
	// engine at level 6, chunk 131072; recommended {CompressionLevel:6 ChunkSize:131072}
}
