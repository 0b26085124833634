package sim

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// telemetryColumns are the telemetry's columns as CSV and series: first the
// design's seven forecast metrics, then the load and the per-component
// latencies the tuners plan on.
var telemetryColumns = []struct {
	name string
	get  func(IntervalStats) float64
}{
	{"latency_ms", func(s IntervalStats) float64 { return s.LatencyMs }},
	{"throughput_rps", func(s IntervalStats) float64 { return s.ThroughputRPS }},
	{"error_rate", func(s IntervalStats) float64 { return s.ErrorRate }},
	{"cpu_utilization", func(s IntervalStats) float64 { return s.CPUUtil }},
	{"memory_mib", func(s IntervalStats) float64 { return s.MemoryMiB }},
	{"compression_ratio", func(s IntervalStats) float64 { return s.Compression }},
	{"consensus_ms", func(s IntervalStats) float64 { return s.CommitMs }},
	{"arrival_rps", func(s IntervalStats) float64 { return s.ArrivalRPS }},
	{"transfer_ms", func(s IntervalStats) float64 { return s.TransferMs }},
	{"network_ms", func(s IntervalStats) float64 { return s.NetMs }},
	{"offered_mbps", func(s IntervalStats) float64 { return s.PBATelemetry().Traffic.OfferedMbps }},
}

// TelemetryColumns names the telemetry's metric columns: latency_ms,
// throughput_rps, error_rate, cpu_utilization, memory_mib,
// compression_ratio, consensus_ms (the design's seven), then arrival_rps,
// transfer_ms (HDE), network_ms (PBA) and offered_mbps.
func TelemetryColumns() []string {
	out := make([]string, len(telemetryColumns))
	for i, c := range telemetryColumns {
		out[i] = c.name
	}
	return out
}

// telemetryValue is column name of st.
func telemetryValue(st IntervalStats, name string) (float64, bool) {
	for _, c := range telemetryColumns {
		if c.name == name {
			return c.get(st), true
		}
	}
	return 0, false
}

// WriteTelemetry writes stats as CSV: a timestamp column (interval i at
// start + i*step, RFC 3339) and one column per TelemetryColumns, readable by
// baseline.LoadCSV (and `perfpredict train --data FILE --target COLUMN`).
// Pass the trace's own start and cadence to keep its daily season.
func WriteTelemetry(w io.Writer, stats []IntervalStats, start time.Time, step time.Duration) error {
	if step <= 0 {
		return fmt.Errorf("sim: telemetry: step must be positive, got %v", step)
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(append([]string{"timestamp"}, TelemetryColumns()...)); err != nil {
		return err
	}
	rec := make([]string, 1+len(telemetryColumns))
	for _, st := range stats {
		rec[0] = start.Add(time.Duration(st.Index) * step).UTC().Format(time.RFC3339Nano)
		for j, c := range telemetryColumns {
			rec[1+j] = strconv.FormatFloat(c.get(st), 'g', 8, 64)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// TelemetrySeries returns the named columns of stats as series, for
// forecast.Train; an unknown name is an error.
func TelemetrySeries(stats []IntervalStats, columns ...string) ([]baseline.Series, error) {
	out := make([]baseline.Series, len(columns))
	for i, name := range columns {
		if _, ok := telemetryValue(IntervalStats{}, name); !ok {
			return nil, fmt.Errorf("sim: telemetry has no column %q (known: %v)", name, TelemetryColumns())
		}
		v := make([]float64, len(stats))
		for j, st := range stats {
			v[j], _ = telemetryValue(st, name)
		}
		out[i] = baseline.Series{Name: name, Values: v}
	}
	return out, nil
}
