package baseline

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/novacron/perfpredict/features"
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

// parseTime reads a timestamp as the loader does (features.ParseTime).
func parseTime(s string) (time.Time, error) {
	t, err := features.ParseTime(s)
	if err != nil {
		return t, fmt.Errorf("timestamp %q is not RFC 3339, \"2006-01-02 15:04:05\" or unix seconds", clipText(s))
	}
	return t, nil
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// ErrBadInput marks errors caused by the data itself (missing column,
// unparsable field, too few or constant values); commands map it to exit 2.
var ErrBadInput = errors.New("bad input")

// inputError marks a data problem so errors.Is(err, ErrBadInput) holds;
// err, when set, is the cause (a features.ParseError naming file, line and
// field), still reachable with errors.As.
type inputError struct {
	msg string
	err error
}

func (e *inputError) Error() string {
	if e.err != nil {
		return e.err.Error()
	}
	return e.msg
}
func (e *inputError) Unwrap() error        { return e.err }
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
// column besides the timestamp) of a metrics file, as PROTOCOL.md says: rows
// are sorted by timestamp stably and every row is one step, none dropped or
// filled, so a missing value (an empty cell, NaN, null) in the column is an
// error naming the file, line and column. The file is parsed by
// features.Load (CSV with a header and a timestamp column, or its JSON or
// NDJSON twin, by extension), the one parser every reader of the project
// uses. The series is named after the file without its extension. A file
// of more than MaxRows data rows is an error.
func LoadCSV(path, target string) (Series, error) {
	ss, err := load(path, targets(target), false)
	if err != nil {
		return Series{}, err
	}
	return ss[0], nil
}

// ReadCSV is LoadCSV on a reader (the format sniffed from its first byte);
// source names the input in errors.
func ReadCSV(r io.Reader, source, name, target string) (Series, error) {
	ss, err := readCSV(r, source, name, targets(target), false)
	if err != nil {
		return Series{}, err
	}
	return ss[0], nil
}

func targets(target string) []string {
	if target == "" {
		return nil
	}
	return []string{target}
}

// LoadColumns reads several columns of a metrics file in one pass, one
// Series per column, named "FILE:COLUMN" (FILE: the base name without
// extension). columns nil means every column besides the timestamp, in
// name order (whatever the order in the file, so a CSV file and its JSON
// twin give the same series). The rules and errors are LoadCSV's.
func LoadColumns(path string, columns []string) ([]Series, error) {
	return load(path, columns, true)
}

func load(path string, targets []string, all bool) ([]Series, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	name := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return read(f, path, name, features.FormatOf(path), targets, all)
}

// readCSV reads the target columns (nil: "value" or the only value column,
// or, with all, every column besides the timestamp), the format sniffed.
func readCSV(r io.Reader, source, name string, targets []string, all bool) ([]Series, error) {
	return read(r, source, name, features.FormatAuto, targets, all)
}

// errMissing is the cause of a missing value in a column a series needs.
var errMissing = errors.New("missing value (an empty cell, NaN or null): every row is one step, none dropped or filled")

func read(r io.Reader, source, name string, format features.Format, targets []string, all bool) ([]Series, error) {
	tb, _, err := features.Read(r, source, features.LoadOptions{Format: format, Metrics: targets, MaxRows: maxRows})
	if err != nil {
		return nil, &inputError{err: err}
	}
	var cols []int
	switch {
	case len(targets) > 0:
		for _, t := range targets {
			cols = append(cols, slices.Index(tb.Names, t))
		}
	case all:
		for i := range tb.Names {
			cols = append(cols, i)
		}
	default:
		c := slices.Index(tb.Names, "value")
		if c < 0 && len(tb.Names) == 1 {
			c = 0
		}
		if c < 0 {
			return nil, badInput("%s: no \"value\" column among %q; name the target column", source, tb.Names)
		}
		cols = []int{c}
	}
	// The first missing value in file order, over the columns used.
	for i := range tb.Len() {
		for _, c := range cols {
			if math.IsNaN(tb.Values[c][i]) {
				return nil, &inputError{err: tb.RowError(i, tb.Names[c], errMissing)}
			}
		}
	}
	// Sorted by time, stably: equal timestamps keep file order.
	order := make([]int, tb.Len())
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(tb.Times[a], tb.Times[b]) })
	times := make([]time.Time, len(order))
	for k, i := range order {
		times[k] = time.Unix(0, tb.Times[i]).UTC()
	}
	out := make([]Series, len(cols))
	for k, c := range cols {
		out[k].Name = name
		if all {
			out[k].Name = name + ":" + tb.Names[c]
		}
		// Each series has its own times, so that one may be cut or
		// reordered without touching another.
		out[k].Times = slices.Clone(times)
		out[k].Values = make([]float64, len(order))
		for j, i := range order {
			out[k].Values[j] = tb.Values[c][i]
		}
	}
	return out, nil
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
