package features

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Table is a metrics file as parsed, before any time grid: one row per
// record in file order (possibly unsorted, duplicated or irregular), one
// column per metric, NaN where a value is missing. It is the parser's
// output, not a series: Resample lays it on a grid for the features, and
// baseline.LoadCSV turns its columns into baseline.Series (sorted by time,
// a missing value an error naming the row), the one type of a metric over
// time that the forecasters take.
type Table struct {
	// Names are the metric names in ascending order, whatever the order in
	// the file, so every input format yields the same columns.
	Names []string
	// Times are unix nanoseconds (UTC), one per row.
	Times []int64
	// Values[m][i] is metric m at row i; NaN marks a missing value (an empty
	// CSV cell, JSON null or "NaN", or a metric absent from a sample).
	Values [][]float64

	// file and locs[i], where row i was read (as locKind says), make the
	// errors of a check done after parsing (a missing value where a
	// reader needs one) name the line as a parse error does.
	file    string
	locs    []int64
	locKind locKind
}

// locKind says what a row location is.
type locKind uint8

const (
	locNone   locKind = iota
	locLine           // CSV, NDJSON: the 1-based line
	locOffset         // a JSON array or stream of samples: the sample's byte offset
	locIndex          // a JSON object of arrays: the element index
)

// Len is the number of rows.
func (s *Table) Len() int { return len(s.Times) }

// RowError is a ParseError for row i and field, located as the parser
// located its own errors: file and line (CSV, NDJSON), byte offset (JSON
// samples) or element index (a JSON object of arrays).
func (s *Table) RowError(i int, field string, err error) *ParseError {
	if i < len(s.locs) {
		return locate(s.file, s.locKind, s.locs[i], field, err)
	}
	return &ParseError{File: s.file, Offset: -1, Field: fmt.Sprintf("%s (row %d)", field, i+1), Err: err}
}

func locate(file string, kind locKind, loc int64, field string, err error) *ParseError {
	pe := &ParseError{File: file, Offset: -1, Field: field, Err: err}
	switch kind {
	case locLine:
		pe.Line = int(loc)
	case locOffset:
		pe.Offset = loc
	case locIndex:
		if field == "" {
			field = "timestamp"
		}
		pe.Field = fmt.Sprintf("%s[%d]", field, loc)
	}
	return pe
}

// Errors a caller can test for with errors.Is.
var (
	// ErrNoData: the input holds no sample (empty file, header only, []).
	ErrNoData = errors.New("no samples")
	// ErrCadence: the cadence cannot be inferred (fewer than two distinct timestamps).
	ErrCadence = errors.New("cannot infer the cadence from fewer than two distinct timestamps; give one")
)

// ParseError locates a bad value in an input file. Line is 1-based and 0 when
// unknown; Offset is a byte offset, used for JSON where lines are not tracked.
type ParseError struct {
	File   string
	Line   int
	Offset int64
	Field  string
	Err    error
}

func (e *ParseError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	} else if e.Offset >= 0 {
		fmt.Fprintf(&b, ": byte %d", e.Offset)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// Bounds on accepted values. Timestamps must lie in [1970, 2262) so that
// differences of unix nanoseconds never overflow; metric magnitudes above
// maxValue would overflow the fourth powers of the rolling moments.
const (
	maxValue = 1e30
	// unixMillisThreshold: a numeric timestamp at or above it is read as
	// milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
	unixMillisThreshold = 1e11
)

// parseTimeString reads RFC 3339, "YYYY-MM-DD HH:MM:SS[.fff]" (UTC),
// "YYYY-MM-DDTHH:MM:SS[.fff]" (UTC), "YYYY-MM-DD HH:MM", "YYYY-MM-DD" or a
// number of unix seconds/milliseconds.
func parseTimeString(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, errors.New("empty timestamp")
	}
	if c := s[0]; c == '-' || c == '+' || c == '.' || (c >= '0' && c <= '9' && !looksLikeDate(s)) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return 0, fmt.Errorf("invalid timestamp %q", clip(s))
		}
		return unixNumber(v)
	}
	layouts := []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"}
	if len(s) > 10 && s[10] == ' ' {
		// The separator picks the layouts: a failed time.Parse allocates,
		// which was most of the cost of a NAB row.
		layouts = []string{"2006-01-02 15:04:05", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04"}
	}
	for _, layout := range layouts {
		if t, err := time.Parse(layout, s); err == nil {
			return fromTime(t)
		}
	}
	return 0, fmt.Errorf("invalid timestamp %q (want RFC 3339, YYYY-MM-DD HH:MM:SS or unix seconds/milliseconds)", clip(s))
}

// ParseTime reads a timestamp the way the loaders do: RFC 3339,
// "YYYY-MM-DD HH:MM:SS[.fff]", "YYYY-MM-DDTHH:MM:SS[.fff]", "YYYY-MM-DD
// HH:MM", "YYYY-MM-DD" (UTC without a zone) or unix seconds or
// milliseconds, in [1970, 2262).
func ParseTime(s string) (time.Time, error) {
	ns, err := parseTimeString(s)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(0, ns).UTC(), nil
}

// looksLikeDate tells "2014-02-14..." from a plain number.
func looksLikeDate(s string) bool {
	return len(s) >= 10 && s[4] == '-' && s[7] == '-'
}

// unixNumber converts unix seconds or milliseconds to nanoseconds.
func unixNumber(v float64) (int64, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("invalid timestamp %v", v)
	}
	sec := v
	if math.Abs(v) >= unixMillisThreshold {
		sec = v / 1000
	}
	if sec < 0 || sec >= float64(math.MaxInt64)/1e9 {
		return 0, fmt.Errorf("timestamp %v out of range [1970, 2262)", v)
	}
	// Whole seconds and the fraction separately keep microsecond precision.
	whole := math.Floor(sec)
	return int64(whole)*1e9 + int64(math.Round((sec-whole)*1e9)), nil
}

func fromTime(t time.Time) (int64, error) {
	if t.Year() < 1970 || t.Year() >= 2262 || t.Before(time.Unix(0, 0)) {
		return 0, fmt.Errorf("timestamp %s out of range [1970, 2262)", t.UTC().Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// parseValue reads a metric cell. Empty, "NaN" and "null" are missing (NaN);
// infinities, magnitudes above 1e30 and non-numbers are errors.
func parseValue(s string) (float64, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "", "NaN", "nan", "NAN", "null", "NULL", "None", "NA":
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("value %q out of range", clip(s))
		}
		return 0, fmt.Errorf("not a number: %q", clip(s))
	}
	return checkValue(v)
}

func checkValue(v float64) (float64, error) {
	if math.IsNaN(v) {
		return v, nil
	}
	if math.IsInf(v, 0) || math.Abs(v) > maxValue {
		return 0, fmt.Errorf("value %v out of range (|v| <= 1e30, infinities rejected)", v)
	}
	return v, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// FormatTime renders unix nanoseconds as RFC 3339 UTC.
func FormatTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}
