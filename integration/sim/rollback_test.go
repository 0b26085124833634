package sim_test

import (
	"context"
	"testing"

	"github.com/novacron/perfpredict/integration"
	"github.com/novacron/perfpredict/integration/sim"
)

// A simulated regression: in this build of HDE, level 4 costs 30 times the
// CPU. The tuner explores level 4 from the default level 3, measures the
// transfer latency blow up, rolls back through the engine's setters, and
// never settles there.
func TestRollbackOnSimulatedRegression(t *testing.T) {
	c, err := sim.NewCluster(sim.Config{Seed: 11, SliceSeconds: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	c.HDECPUFactor = map[int]float64{4: 30}
	h, _, _ := c.Settings()
	tu, err := integration.NewHDETuner(c, h, sim.DefaultTargets().HDE, integration.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rolledBackFrom4, at4 := 0, 0
	for i := range 150 {
		st, err := c.Step(900)
		if err != nil {
			t.Fatal(err)
		}
		if err := tu.Observe(integration.HDETelemetry{Settings: st.HDE, ThroughputRPS: st.ArrivalRPS,
			LatencyMs: st.TransferMs, WireBytes: st.WireBytes, CPUUtil: st.CPUUtil}); err != nil {
			t.Fatal(err)
		}
		d, err := tu.Decide(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		eng, _, _ := c.Settings()
		if d.Rollback && d.From[0] == 4 {
			rolledBackFrom4++
			if eng.CompressionLevel == 4 {
				t.Fatalf("interval %d: rollback left the engine at level 4", i)
			}
		}
		if eng != tu.Settings() {
			t.Fatalf("interval %d: engine %+v, tuner %+v", i, eng, tu.Settings())
		}
		if i >= 100 && eng.CompressionLevel == 4 {
			at4++
		}
	}
	if rolledBackFrom4 == 0 {
		t.Fatal("the regressed level was never rolled back")
	}
	if at4 > 5 {
		t.Fatalf("the engine ran the regressed level in %d of the last 50 intervals", at4)
	}
	if _, rb, _ := tu.Stats(); rb < rolledBackFrom4 {
		t.Fatalf("rollbacks counted %d, seen %d", rb, rolledBackFrom4)
	}
}
