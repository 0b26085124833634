package baseline

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Series is one metric over time. Times may be nil when the cadence is not
// needed (a forecaster never reads them; SeasonFromCadence does).
type Series struct {
	Name   string
	Times  []time.Time
	Values []float64
}

// Len is the number of steps.
func (s Series) Len() int { return len(s.Values) }

// Slice returns steps [from, to) sharing the underlying arrays.
func (s Series) Slice(from, to int) Series {
	out := Series{Name: s.Name, Values: s.Values[from:to]}
	if s.Times != nil {
		out.Times = s.Times[from:to]
	}
	return out
}

// timeLayouts are the timestamp formats LoadCSV accepts, tried in order;
// NAB writes the first.
var timeLayouts = []string{
	"2006-01-02 15:04:05",
	time.RFC3339Nano,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04",
	"2006-01-02",
}

// parseTime reads one timestamp: a layout of timeLayouts or Unix seconds.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) &&
		math.Abs(f) < 1e12 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("timestamp %q is neither \"2006-01-02 15:04:05\", RFC 3339 nor Unix seconds", s)
}

// ErrBadInput marks errors caused by the data itself (missing column,
// unparsable field, too few or constant values); commands map it to exit 2.
var ErrBadInput = errors.New("bad input")

// inputError wraps a data problem so errors.Is(err, ErrBadInput) holds.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == ErrBadInput }

// MaxRows is the most data rows a CSV file may hold. A series is held in
// memory and training keeps a window of several hundred bytes for every
// step, so a longer file (a 1 GB CSV is about 40 million rows) would
// exhaust memory; it fails instead, as soon as the row past the limit is
// read. Two million rows are 19 years at a 5-minute cadence.
const MaxRows = 2_000_000

// maxRows is MaxRows, lowered by tests.
var maxRows = MaxRows

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// LoadCSV reads the series in column target ("" means "value", or the only
// column besides the timestamp) of a CSV file with a header row and a
// "timestamp" (or "time") column, as PROTOCOL.md says: rows are sorted by
// timestamp stably and every row is one step, none dropped or filled. The
// series is named after the file without its extension. A file of more
// than MaxRows data rows is an error.
func LoadCSV(path, target string) (Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return Series{}, err
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return ReadCSV(f, path, name, target)
}

// ReadCSV is LoadCSV on a reader; source names the input in errors.
func ReadCSV(r io.Reader, source, name, target string) (Series, error) {
	var targets []string
	if target != "" {
		targets = []string{target}
	}
	ss, err := readCSV(r, source, name, targets, false)
	if err != nil {
		return Series{}, err
	}
	return ss[0], nil
}

// LoadColumns reads several columns of a CSV file with a timestamp column
// in one pass, one Series per column, named "FILE:COLUMN" (FILE: the base
// name without extension). columns nil means every column besides the
// timestamp. The rules and errors are LoadCSV's.
func LoadColumns(path string, columns []string) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return readCSV(f, path, name, columns, true)
}

// readCSV reads the target columns (nil: "value" or the only value column,
// or, with all, every column besides the timestamp).
func readCSV(r io.Reader, source, name string, targets []string, all bool) ([]Series, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.TrimLeadingSpace = true
	cr.FieldsPerRecord = -1 // checked below, with the line number
	header, err := cr.Read()
	if err == io.EOF {
		return nil, badInput("%s: empty file, want a header row such as timestamp,value", source)
	}
	if err != nil {
		return nil, badInput("%s: %v", source, err)
	}
	header = slices.Clone(header)
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	tcol := -1
	for i, h := range header {
		switch strings.ToLower(strings.TrimSpace(h)) {
		case "timestamp", "time":
			if tcol < 0 {
				tcol = i
			}
		}
	}
	if tcol < 0 {
		return nil, badInput("%s: header %q has no timestamp column", source, strings.Join(header, ","))
	}
	var vcols []int
	switch {
	case len(targets) > 0:
		for _, target := range targets {
			vcol := slices.IndexFunc(header, func(h string) bool { return strings.TrimSpace(h) == target })
			if vcol < 0 {
				return nil, badInput("%s: target column %q not in header %q", source, target, strings.Join(header, ","))
			}
			vcols = append(vcols, vcol)
		}
	case all:
		for i := range header {
			if i != tcol {
				vcols = append(vcols, i)
			}
		}
		if len(vcols) == 0 {
			return nil, badInput("%s: header %q has no column besides the timestamp", source, strings.Join(header, ","))
		}
	default:
		vcol := -1
		for i, h := range header {
			if strings.TrimSpace(h) == "value" {
				vcol = i
			}
		}
		if vcol < 0 && len(header) == 2 {
			vcol = 1 - tcol
		}
		if vcol < 0 {
			return nil, badInput("%s: no \"value\" column in header %q; name the target column", source, strings.Join(header, ","))
		}
		vcols = []int{vcol}
	}
	out := make([]Series, len(vcols))
	for i, c := range vcols {
		out[i].Name = name
		if all {
			out[i].Name = name + ":" + strings.TrimSpace(header[c])
		}
	}
	var times []time.Time
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, badInput("%s: %v", source, err)
		}
		line, _ := cr.FieldPos(0)
		if len(times) == maxRows {
			return nil, badInput("%s:%d: more than %d rows; perfpredict holds a series in memory, so cut the file or resample it to a coarser cadence", source, line, maxRows)
		}
		if len(rec) != len(header) {
			return nil, badInput("%s:%d: %d fields, header has %d", source, line, len(rec), len(header))
		}
		t, err := parseTime(rec[tcol])
		if err != nil {
			return nil, badInput("%s:%d: field %q: %v", source, line, header[tcol], err)
		}
		for i, c := range vcols {
			v, err := strconv.ParseFloat(strings.TrimSpace(rec[c]), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, badInput("%s:%d: field %q: %q is not a finite number", source, line, header[c], rec[c])
			}
			out[i].Values = append(out[i].Values, v)
		}
		times = append(times, t)
	}
	if len(times) == 0 {
		return nil, badInput("%s: no data rows", source)
	}
	for i := range out {
		// Each series sorts its own copy of the times.
		out[i].Times = slices.Clone(times)
		sortByTime(&out[i])
	}
	return out, nil
}

// sortByTime orders the steps by timestamp, keeping file order among equal
// timestamps.
func sortByTime(s *Series) {
	idx := make([]int, len(s.Times))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return s.Times[idx[a]].Before(s.Times[idx[b]]) })
	ts := make([]time.Time, len(idx))
	vs := make([]float64, len(idx))
	for i, k := range idx {
		ts[i], vs[i] = s.Times[k], s.Values[k]
	}
	s.Times, s.Values = ts, vs
}

// SeasonFromCadence is the daily season in steps: one day divided by the
// median positive spacing of the timestamps, rounded (288 at 5 minutes), at
// least 1.
func SeasonFromCadence(times []time.Time) (int, error) {
	var d []time.Duration
	for i := 1; i < len(times); i++ {
		if dt := times[i].Sub(times[i-1]); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return 0, badInput("cannot infer the cadence: fewer than two distinct timestamps")
	}
	slices.Sort(d)
	med := d[len(d)/2]
	m := int(math.Round(float64(24*time.Hour) / float64(med)))
	return max(m, 1), nil
}
