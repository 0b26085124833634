package sim

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/novacron/perfpredict/baseline"
)

// DefaultTrace is the NAB series the command uses without --trace, relative
// to the repository root.
const DefaultTrace = "testdata/nab/realAWSCloudwatch/elb_request_count_8c0756.csv"

// LoadTrace reads a metrics file ("timestamp,value" CSV with a header, as
// NAB's, or its JSON/NDJSON twin) the way every command reads one
// (baseline.LoadCSV: the value column, or the only one, sorted stably by
// time, every row one step) and returns the values. Errors name the file,
// and the line or the time at fault.
func LoadTrace(path string) ([]float64, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sim: trace: %w", err)
	}
	s, err := baseline.LoadCSV(path, "")
	if err != nil {
		return nil, err
	}
	return traceValues(s, path)
}

// ParseTrace reads a trace from r (CSV, or JSON sniffed from its first
// byte); see LoadTrace. A missing, non-numeric, negative or non-finite
// value (a gap) is an error naming the input.
func ParseTrace(r io.Reader, name string) ([]float64, error) {
	s, err := baseline.ReadCSV(r, name, name, "")
	if err != nil {
		return nil, err
	}
	return traceValues(s, name)
}

// traceValues are a request rate's values, which cannot be negative.
func traceValues(s baseline.Series, name string) ([]float64, error) {
	for i, x := range s.Values {
		if x < 0 {
			return nil, fmt.Errorf("%s: value %v at %s (step %d) is negative; a trace is a request rate", name, x, s.Times[i].Format(time.RFC3339), i+1)
		}
	}
	return s.Values, nil
}

// ScaleToMedian scales a trace so its median is median (req/s).
func ScaleToMedian(trace []float64, median float64) ([]float64, error) {
	if len(trace) == 0 {
		return nil, errors.New("sim: empty trace")
	}
	s := append([]float64(nil), trace...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if m <= 0 {
		return nil, errors.New("sim: trace median is zero; cannot scale")
	}
	out := make([]float64, len(trace))
	for i, v := range trace {
		out[i] = v * median / m
	}
	return out, nil
}
