package serve

import (
	"errors"
	"fmt"
	"path/filepath"
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
		return fmt.Errorf("serve: data %q: %d metric names for %d value columns: %w", d.Name, len(d.Metrics), len(d.Values), ErrBadInput)
	}
	for m, v := range d.Values {
		if len(v) != len(d.Times) {
			return fmt.Errorf("serve: data %q: metric %s has %d values for %d times: %w", d.Name, d.Metrics[m], len(v), len(d.Times), ErrBadInput)
		}
	}
	return nil
}

// FromSeries wraps a baseline series as one metric named metric.
func FromSeries(s baseline.Series, metric string) *Data {
	return &Data{Name: s.Name, Times: s.Times, Metrics: []string{metric}, Values: [][]float64{s.Values}}
}

// LoadCSV reads metrics from a CSV file with a header and a timestamp
// column in one pass, the way train and evaluate read it
// (baseline.LoadColumns: sorted stably by time, every row one step).
// metrics names the columns to keep (nil: every column besides the
// timestamp). The Data is named by path, so that errors name the file;
// its errors wrap ErrBadInput when the file is at fault.
func LoadCSV(path string, metrics []string) (*Data, error) {
	ss, err := baseline.LoadColumns(path, metrics)
	if errors.Is(err, baseline.ErrBadInput) {
		return nil, fmt.Errorf("%w: %w", err, ErrBadInput)
	}
	if err != nil {
		return nil, err
	}
	file := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	d := &Data{Name: path, Times: ss[0].Times}
	for _, s := range ss {
		d.Metrics = append(d.Metrics, strings.TrimPrefix(s.Name, file+":"))
		d.Values = append(d.Values, s.Values)
	}
	return d, nil
}
