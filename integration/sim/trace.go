package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// DefaultTrace is the NAB series the command uses without --trace, relative
// to the repository root.
const DefaultTrace = "testdata/nab/realAWSCloudwatch/elb_request_count_8c0756.csv"

// LoadTrace reads a NAB-style CSV ("timestamp,value" with a header) and
// returns the values; name prefixes errors, which name the line at fault.
func LoadTrace(path string) ([]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sim: trace: %w", err)
	}
	defer f.Close()
	return ParseTrace(f, path)
}

// ParseTrace reads a trace from r; see LoadTrace. Empty, non-numeric,
// negative or non-finite values (gaps) are errors naming the line.
func ParseTrace(r io.Reader, name string) ([]float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []float64
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		fields := strings.Split(text, ",")
		v := fields[len(fields)-1]
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			if line == 1 {
				continue // header
			}
			return nil, fmt.Errorf("%s:%d: value %q is not a number (a gap in the trace?)", name, line, v)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return nil, fmt.Errorf("%s:%d: value %v must be finite and non-negative", name, line, x)
		}
		out = append(out, x)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no values", name)
	}
	return out, nil
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
