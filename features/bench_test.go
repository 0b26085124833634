package features

import (
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchGrid is n samples x 10 metrics at a one-minute cadence (windows of 5,
// 15 and 30 samples), with the domain metrics present.
func benchGrid(n int) *Grid { return benchGridAt(n, time.Minute) }

// benchGridAt is benchGrid at another cadence.
func benchGridAt(n int, cadence time.Duration) *Grid {
	names := []string{"acp_consensus_time_ms", "cpu_usage", "error_rate", "hde_bytes_in", "hde_bytes_out", "latency_ms",
		"memory_usage", "network_rx_bytes_total", "network_tx_bytes_total", "throughput"}
	rng := rand.New(rand.NewPCG(11, 12))
	g := &Grid{Names: names, Cadence: cadence, Times: make([]int64, n), Break: make([]bool, n), Values: make([][]float64, len(names))}
	for i := range g.Times {
		g.Times[i] = int64(1_700_000_000)*1e9 + int64(i)*int64(cadence)
	}
	for m, name := range names {
		v := make([]float64, n)
		x := 50.0
		for i := range v {
			if len(name) > 6 && name[len(name)-6:] == "_total" {
				x += float64(rng.IntN(1 << 20))
			} else {
				x = 0.95*x + 2.5 + rng.NormFloat64()
			}
			v[i] = x
		}
		g.Values[m] = v
	}
	return g
}

// benchRows is the benchmark's length; tests of the benchmark itself may lower it.
var benchRows = benchRowsDefault()

// BenchmarkEngineer engineers 1,000,000 samples x 10 metrics on one core and
// reports samples/s (rows), metric-samples/s (rows x metrics; wall clock),
// metric-samples/cpu-s (per CPU-second of the process, GC included) and the
// bytes allocated per run against the size of the output matrix. Run it with
// -cpu 1 -benchtime 1x (one run is 10 million metric-samples).
func BenchmarkEngineer(b *testing.B) { benchEngineer(b, benchGrid(benchRows)) }

// BenchmarkEngineerSeconds is BenchmarkEngineer at a one-second cadence on a
// fifth of the rows: the default windows (5, 15, 30 minutes) become 300, 900 and 1800 samples,
// where a per-push cost growing with w would show.
func BenchmarkEngineerSeconds(b *testing.B) {
	benchEngineer(b, benchGridAt(max(benchRows/5, 1), time.Second))
}

func benchEngineer(b *testing.B, g *Grid) {
	n := g.Len()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	var out int
	cpu0 := processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := Engineer(g, nil)
		if err != nil {
			b.Fatal(err)
		}
		out = len(f.Data) * 4
		f = nil
	}
	b.StopTimer()
	cpu := (processCPU() - cpu0).Seconds() / float64(b.N)
	runtime.ReadMemStats(&ms1)
	sec := b.Elapsed().Seconds() / float64(b.N)
	alloc := float64(ms1.TotalAlloc-ms0.TotalAlloc) / float64(b.N)
	b.ReportMetric(float64(n)/sec, "samples/s")
	b.ReportMetric(float64(n*len(g.Names))/sec, "metric-samples/s")
	if cpu > 0 {
		// Per CPU-second: what one core does, whatever else the machine runs.
		b.ReportMetric(float64(n*len(g.Names))/cpu, "metric-samples/cpu-s")
	}
	b.ReportMetric(float64(out), "output-bytes")
	b.ReportMetric(alloc/float64(out), "alloc/output")
}

// benchRowsDefault is 1,000,000 unless PERFPREDICT_BENCH_ROWS says otherwise
// (for quick profiling).
func benchRowsDefault() int {
	if v, err := strconv.Atoi(os.Getenv("PERFPREDICT_BENCH_ROWS")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}
