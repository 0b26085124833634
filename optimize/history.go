package optimize

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/features"
)

// historyColumns are the columns a metrics history CSV must have (any order,
// other columns ignored).
var historyColumns = []string{"throughput_rps", "vcpus", "cpu_utilization", "latency_ms"}

// LoadHistory reads metrics history for Calibrate from a file: a CSV (or
// its JSON/NDJSON twin, by extension) parsed by features.Load, the parser
// every reader of the project uses.
func LoadHistory(path string) ([]Observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("optimize: history: %w", err)
	}
	defer f.Close()
	return readHistory(f, path, features.FormatOf(path))
}

// ParseHistory reads a CSV (or JSON, sniffed) with a header naming
// throughput_rps, vcpus, cpu_utilization (a share, 0..1) and latency_ms; a
// CSV needs no timestamp column (rows are observations, kept in file
// order; other columns are not read). Errors name the file, line and
// column; a missing value (a gap) is an error, not a zero.
func ParseHistory(r io.Reader, name string) ([]Observation, error) {
	return readHistory(r, name, features.FormatAuto)
}

func readHistory(r io.Reader, name string, format features.Format) ([]Observation, error) {
	tb, _, err := features.Read(r, name, features.LoadOptions{Format: format, Metrics: historyColumns, Untimed: true, MaxRows: baseline.MaxRows})
	if err != nil {
		return nil, err
	}
	// Names are sorted; idx[j] is historyColumns[j]'s column.
	idx := make([]int, len(historyColumns))
	for j, c := range historyColumns {
		idx[j] = slices.Index(tb.Names, c)
	}
	out := make([]Observation, tb.Len())
	for i := range out {
		var v [4]float64
		for j, c := range idx {
			x := tb.Values[c][i]
			switch {
			case math.IsNaN(x):
				return nil, tb.RowError(i, historyColumns[j], errors.New("missing value (a gap)"))
			case x < 0:
				return nil, tb.RowError(i, historyColumns[j], fmt.Errorf("%v is negative", x))
			}
			v[j] = x
		}
		if v[1] != math.Trunc(v[1]) || v[1] < 1 || v[1] > 1e6 {
			return nil, tb.RowError(i, "vcpus", fmt.Errorf("%v is not a positive whole number", v[1]))
		}
		if v[2] > 1 {
			return nil, tb.RowError(i, "cpu_utilization", fmt.Errorf("%v is not a share in [0,1]", v[2]))
		}
		out[i] = Observation{ThroughputRPS: v[0], VCPUs: int(v[1]), CPUUtilization: v[2], LatencyMs: v[3]}
	}
	return out, nil
}
