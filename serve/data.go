package serve

import (
	"encoding/csv"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// Data is a multivariate metric series in original units, one row per step
// (PROTOCOL.md: rows neither dropped nor filled).
type Data struct {
	Name    string
	Times   []time.Time
	Metrics []string
	// Values[m][i] is Metrics[m] at row i.
	Values [][]float64
}

// Len is the number of rows.
func (d *Data) Len() int { return len(d.Times) }

// Metric is the index of the named metric, or -1.
func (d *Data) Metric(name string) int { return slices.Index(d.Metrics, name) }

// Slice returns rows [from, to), sharing the arrays.
func (d *Data) Slice(from, to int) *Data {
	out := &Data{Name: d.Name, Times: d.Times[from:to], Metrics: d.Metrics, Values: make([][]float64, len(d.Values))}
	for m, v := range d.Values {
		out.Values[m] = v[from:to]
	}
	return out
}

// check validates the shape.
func (d *Data) check() error {
	if len(d.Metrics) == 0 || len(d.Values) != len(d.Metrics) {
		return fmt.Errorf("serve: data %q: %d metric names for %d value columns", d.Name, len(d.Metrics), len(d.Values))
	}
	for m, v := range d.Values {
		if len(v) != len(d.Times) {
			return fmt.Errorf("serve: data %q: metric %s has %d values for %d times", d.Name, d.Metrics[m], len(v), len(d.Times))
		}
	}
	return nil
}

// FromSeries wraps a baseline series as one metric named metric.
func FromSeries(s baseline.Series, metric string) *Data {
	return &Data{Name: s.Name, Times: s.Times, Metrics: []string{metric}, Values: [][]float64{s.Values}}
}

// LoadCSV reads metrics from a CSV file with a header and a timestamp
// column the way the train command does (baseline.LoadCSV: sorted stably by
// time, every row one step). metrics names the columns to keep (nil: every
// column besides the timestamp).
func LoadCSV(path string, metrics []string) (*Data, error) {
	if len(metrics) == 0 {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		header, err := csv.NewReader(f).Read()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: line 1: %w", path, err)
		}
		for _, h := range header {
			switch strings.ToLower(strings.TrimSpace(h)) {
			case "timestamp", "time", "ts", "date", "datetime":
				continue
			}
			metrics = append(metrics, strings.TrimSpace(h))
		}
		if len(metrics) == 0 {
			return nil, fmt.Errorf("%s: no metric column besides the timestamp: %w", path, baseline.ErrBadInput)
		}
	}
	var d *Data
	for _, m := range metrics {
		s, err := baseline.LoadCSV(path, m)
		if err != nil {
			return nil, err
		}
		if d == nil {
			d = &Data{Name: s.Name, Times: s.Times}
		}
		d.Metrics = append(d.Metrics, m)
		d.Values = append(d.Values, s.Values)
	}
	return d, nil
}
