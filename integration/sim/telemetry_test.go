package sim_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/integration/sim"
)

// The telemetry CSV holds the design's seven metrics, each loadable as a
// series by baseline.LoadCSV with its column as the target.
func TestWriteTelemetryLoads(t *testing.T) {
	rps := shortTrace(t)[:50]
	c, err := sim.NewCluster(sim.Config{Seed: 5, SliceSeconds: 0.25})
	if err != nil {
		t.Fatal(err)
	}
	_, stats, err := c.Run(context.Background(), rps, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2014, 4, 10, 0, 4, 0, 0, time.UTC)
	var buf bytes.Buffer
	if err := sim.WriteTelemetry(&buf, stats, start, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "telemetry.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	cols := sim.TelemetryColumns()
	design := []string{"latency_ms", "throughput_rps", "error_rate", "cpu_utilization", "memory_mib", "compression_ratio", "consensus_ms"}
	if strings.Join(cols[:7], ",") != strings.Join(design, ",") {
		t.Fatalf("columns %v, want the design's %v first", cols, design)
	}
	if header, _, _ := strings.Cut(buf.String(), "\n"); header != "timestamp,"+strings.Join(cols, ",") {
		t.Fatalf("header %q", header)
	}
	series, err := sim.TelemetrySeries(stats, cols...)
	if err != nil {
		t.Fatal(err)
	}
	for i, col := range cols {
		s, err := baseline.LoadCSV(path, col)
		if err != nil {
			t.Fatalf("%s: %v", col, err)
		}
		if s.Len() != len(stats) || !s.Times[0].Equal(start) || s.Times[len(stats)-1].Sub(s.Times[0]) != time.Duration(len(stats)-1)*5*time.Minute {
			t.Fatalf("%s: %d rows from %v to %v", col, s.Len(), s.Times[0], s.Times[s.Len()-1])
		}
		nonzero := false
		for j, v := range s.Values {
			want := series[i].Values[j]
			if math.Abs(v-want) > 1e-7*math.Abs(want) {
				t.Fatalf("%s row %d: %v in the file, %v in the telemetry", col, j, v, want)
			}
			nonzero = nonzero || v != 0
		}
		if !nonzero && col != "error_rate" {
			t.Errorf("%s is zero throughout", col)
		}
	}
	// The columns say what the simulator measured.
	st := stats[10]
	if st.Compression != sim.CompressRatio()[3] || st.CommitMs <= 0 || st.MemoryMiB <= 0 ||
		st.ThroughputRPS != float64(st.Requests-st.Errors)/0.25 {
		t.Fatalf("interval 10: %+v", st)
	}
	if _, err := sim.TelemetrySeries(stats, "latency_ms", "nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown column: %v", err)
	}
	if err := sim.WriteTelemetry(&buf, stats, start, 0); err == nil {
		t.Fatal("zero step accepted")
	}
}
