package optimize

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// historyColumns are the columns a metrics history CSV must have (any order,
// other columns ignored).
var historyColumns = []string{"throughput_rps", "vcpus", "cpu_utilization", "latency_ms"}

// LoadHistory reads metrics history for Calibrate from a CSV file.
func LoadHistory(path string) ([]Observation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("optimize: history: %w", err)
	}
	defer f.Close()
	return ParseHistory(f, path)
}

// ParseHistory reads a CSV with a header naming throughput_rps, vcpus,
// cpu_utilization (a share, 0..1) and latency_ms. Errors name the file, line
// and column; an empty cell (a gap) is an error, not a zero.
func ParseHistory(r io.Reader, name string) ([]Observation, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty history", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	idx := make([]int, len(historyColumns))
	for j, c := range historyColumns {
		i, ok := col[c]
		if !ok {
			return nil, fmt.Errorf("%s:1: missing column %q (need %s)", name, c, strings.Join(historyColumns, ", "))
		}
		idx[j] = i
	}
	var out []Observation
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		var v [4]float64
		for j, i := range idx {
			if i >= len(rec) {
				return nil, fmt.Errorf("%s:%d: column %s missing", name, line, historyColumns[j])
			}
			cell := strings.TrimSpace(rec[i])
			x, err := strconv.ParseFloat(cell, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				return nil, fmt.Errorf("%s:%d: column %s: %q is not a finite non-negative number (a gap?)", name, line, historyColumns[j], cell)
			}
			v[j] = x
		}
		if v[1] != math.Trunc(v[1]) || v[1] < 1 || v[1] > 1e6 {
			return nil, fmt.Errorf("%s:%d: column vcpus: %v is not a positive whole number", name, line, v[1])
		}
		if v[2] > 1 {
			return nil, fmt.Errorf("%s:%d: column cpu_utilization: %v is not a share in [0,1]", name, line, v[2])
		}
		out = append(out, Observation{ThroughputRPS: v[0], VCPUs: int(v[1]), CPUUtilization: v[2], LatencyMs: v[3]})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", name)
	}
	return out, nil
}
