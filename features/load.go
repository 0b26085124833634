package features

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
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
)

// Format names an input format.
type Format int

const (
	// FormatAuto picks the format from the file extension (.csv, .json,
	// .ndjson, .jsonl) or, failing that, from the first non-space byte.
	FormatAuto Format = iota
	// FormatCSV: a header line, a timestamp column (named timestamp, time,
	// ts, date or datetime) and one column per metric.
	FormatCSV
	// FormatJSON: an array of samples, an object of arrays, or a stream of
	// sample objects. A sample is {"timestamp": T, "metrics": {"m": v, ...}}
	// or flat {"timestamp": T, "m": v, ...}; the object-of-arrays form is
	// {"timestamp": [T...], "metrics": {"m": [v...]}} or flat
	// {"timestamp": [T...], "m": [v...]}, and is read whole.
	FormatJSON
	// FormatNDJSON: one sample object per line, streamed.
	FormatNDJSON
)

func (f Format) String() string {
	switch f {
	case FormatCSV:
		return "csv"
	case FormatJSON:
		return "json"
	case FormatNDJSON:
		return "ndjson"
	}
	return "auto"
}

// LoadOptions tune Load and Read.
type LoadOptions struct {
	Format Format
	// SkipInvalid skips a row (CSV record, NDJSON line, JSON sample or
	// element index) with a bad timestamp or value instead of failing, and
	// counts it in LoadReport.Skipped. Broken JSON syntax still fails.
	SkipInvalid bool
	// Metrics keeps only these metrics (nil keeps all); memory is then
	// proportional to the kept metrics only. Each must be present. CSV
	// columns not kept are not parsed; a JSON sample is validated whole.
	Metrics []string
	// MaxRows, when positive, is the most rows kept: the row past it fails
	// as soon as it is read, naming its line, so a file too long to hold
	// in memory is never read whole.
	MaxRows int
	// Untimed reads a CSV file of observations without a timestamp column
	// (every column is a metric; row i has time i nanoseconds, file order).
	// JSON input is read as usual.
	Untimed bool
}

// LoadReport says what a load did.
type LoadReport struct {
	Rows    int `json:"rows"`    // rows kept
	Skipped int `json:"skipped"` // rows skipped under SkipInvalid
	// FirstSkip describes the first skipped row, "" when none.
	FirstSkip string `json:"first_skip,omitempty"`
}

// Load reads a metrics file. Errors name the file and the line (CSV, NDJSON)
// or byte offset (JSON) and field at fault; they wrap ErrNoData when the file
// holds no sample.
func Load(path string, opt LoadOptions) (*Table, LoadReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, LoadReport{}, err
	}
	defer f.Close()
	if opt.Format == FormatAuto {
		opt.Format = FormatOf(path)
	}
	return Read(f, path, opt)
}

// FormatOf is the format Load reads path in: by its extension (.csv,
// .json, .ndjson, .jsonl), else FormatAuto (sniffed from the content).
func FormatOf(path string) Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return FormatCSV
	case ".json":
		return FormatJSON
	case ".ndjson", ".jsonl":
		return FormatNDJSON
	}
	return FormatAuto
}

// Read reads metrics from r; name labels errors.
func Read(r io.Reader, name string, opt LoadOptions) (*Table, LoadReport, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	b := newBuilder(name, opt)
	if opt.Format == FormatAuto {
		opt.Format = sniff(br)
	}
	var err error
	switch opt.Format {
	case FormatCSV:
		err = b.readCSV(br)
	case FormatJSON:
		err = b.readJSON(br)
	case FormatNDJSON:
		err = b.readNDJSON(br)
	default:
		err = fmt.Errorf("%s: unknown format %d", name, opt.Format)
	}
	if err != nil {
		return nil, b.report(), err
	}
	return b.finish()
}

// sniff guesses the format from the first non-space byte.
func sniff(br *bufio.Reader) Format {
	for i := 1; i <= 4096; i++ {
		p, _ := br.Peek(i)
		if len(p) < i {
			break
		}
		switch c := p[i-1]; c {
		case ' ', '\t', '\r', '\n':
			continue
		case '[':
			return FormatJSON
		case '{':
			return FormatNDJSON
		default:
			return FormatCSV
		}
	}
	return FormatCSV
}

// builder accumulates kept columns; memory is the kept columns only.
type builder struct {
	file   string
	opt    LoadOptions
	keep   map[string]bool
	index  map[string]int
	names  []string
	times  []int64
	values [][]float64
	rep    LoadReport
	// pending holds one row's values until the row is known to be valid.
	pending []pendingValue
	// locs[i] is where row i was read (a line, byte offset or element
	// index, as locKind says), for errors found after parsing.
	locs    []int64
	locKind locKind
	// others are some metrics seen but not kept, named when a kept one is
	// not found.
	others []string
}

type pendingValue struct {
	col int
	v   float64
}

func newBuilder(file string, opt LoadOptions) *builder {
	b := &builder{file: file, opt: opt, index: map[string]int{}}
	if opt.Metrics != nil {
		b.keep = map[string]bool{}
		for _, m := range opt.Metrics {
			b.keep[m] = true
		}
	}
	return b
}

func (b *builder) report() LoadReport { return b.rep }

// column returns the index of metric name, adding it (missing for earlier
// rows) if new, or -1 when the metric is not kept.
func (b *builder) column(name string) int {
	if i, ok := b.index[name]; ok {
		return i
	}
	if b.keep != nil && !b.keep[name] {
		if len(b.others) < 20 && !slices.Contains(b.others, name) {
			b.others = append(b.others, name)
		}
		return -1
	}
	col := make([]float64, len(b.times), cap(b.times))
	for i := range col {
		col[i] = math.NaN()
	}
	b.index[name] = len(b.names)
	b.names = append(b.names, name)
	b.values = append(b.values, col)
	return len(b.names) - 1
}

// commit appends a row read at loc with the pending values; absent
// metrics are missing. The row past MaxRows is an error instead.
func (b *builder) commit(t, loc int64) error {
	if b.opt.MaxRows > 0 && len(b.times) == b.opt.MaxRows {
		b.pending = b.pending[:0]
		pe := b.at(loc, "", fmt.Errorf("more than %d rows; the rows are held in memory, so cut the file or resample it to a coarser cadence", b.opt.MaxRows))
		return pe
	}
	b.times = append(b.times, t)
	b.locs = append(b.locs, loc)
	for j := range b.values {
		b.values[j] = append(b.values[j], math.NaN())
	}
	n := len(b.times) - 1
	for _, p := range b.pending {
		b.values[p.col][n] = p.v
	}
	b.pending = b.pending[:0]
	b.rep.Rows++
	return nil
}

// at is a ParseError for the row read at loc.
func (b *builder) at(loc int64, field string, err error) *ParseError {
	return locate(b.file, b.locKind, loc, field, err)
}

// invalid handles a bad row: an error, or a count under SkipInvalid.
func (b *builder) invalid(pe *ParseError) error {
	b.pending = b.pending[:0]
	if !b.opt.SkipInvalid {
		return pe
	}
	if b.rep.Skipped == 0 {
		b.rep.FirstSkip = pe.Error()
	}
	b.rep.Skipped++
	return nil
}

// finish sorts the metric columns by name and checks the result.
func (b *builder) finish() (*Table, LoadReport, error) {
	for _, m := range b.opt.Metrics {
		if _, ok := b.index[m]; !ok {
			have := slices.Sorted(slices.Values(append(slices.Clone(b.names), b.others...)))
			return nil, b.rep, fmt.Errorf("%s: metric %q not found (the file has %s)", b.file, m, clip(strings.Join(have, ", ")))
		}
	}
	if len(b.times) == 0 {
		if b.rep.Skipped > 0 {
			return nil, b.rep, fmt.Errorf("%s: %w (all %d rows invalid; first: %s)", b.file, ErrNoData, b.rep.Skipped, b.rep.FirstSkip)
		}
		return nil, b.rep, fmt.Errorf("%s: %w", b.file, ErrNoData)
	}
	if len(b.names) == 0 {
		return nil, b.rep, fmt.Errorf("%s: no metric columns", b.file)
	}
	order := make([]int, len(b.names))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return b.names[order[i]] < b.names[order[j]] })
	s := &Table{Times: b.times, Names: make([]string, len(order)), Values: make([][]float64, len(order)),
		file: b.file, locs: b.locs, locKind: b.locKind}
	for i, o := range order {
		s.Names[i] = b.names[o]
		s.Values[i] = b.values[o]
	}
	return s, b.rep, nil
}

var timestampNames = map[string]bool{"timestamp": true, "time": true, "ts": true, "date": true, "datetime": true}

func (b *builder) readCSV(br *bufio.Reader) error {
	// A UTF-8 byte-order mark is not part of the first column's name.
	if p, _ := br.Peek(3); bytes.Equal(p, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
	}
	r := csv.NewReader(br)
	r.ReuseRecord = true
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: %w (empty file)", b.file, ErrNoData)
	}
	if err != nil {
		return &ParseError{File: b.file, Line: csvLine(err, 1), Field: "header", Err: csvCause(err)}
	}
	header = append([]string(nil), header...)
	b.locKind = locLine
	tcol := -1
	for i, h := range header {
		if !b.opt.Untimed && timestampNames[strings.ToLower(strings.TrimSpace(h))] {
			tcol = i
			break
		}
	}
	if tcol < 0 && !b.opt.Untimed {
		// No guess at the first column: a column of small numbers would
		// read as seconds after 1970.
		return &ParseError{File: b.file, Line: 1, Field: "header", Err: fmt.Errorf("no timestamp column in %q (name it timestamp, time, ts, date or datetime)", clip(strings.Join(header, ",")))}
	}
	cols := make([]int, len(header)) // header index -> builder column, -1 skipped
	seen := map[string]bool{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		header[i] = h
		if i == tcol {
			cols[i] = -1
			continue
		}
		if h == "" {
			return &ParseError{File: b.file, Line: 1, Field: fmt.Sprintf("column %d", i+1), Err: errors.New("empty column name")}
		}
		if seen[h] {
			return &ParseError{File: b.file, Line: 1, Field: h, Err: errors.New("duplicate column name")}
		}
		seen[h] = true
		cols[i] = b.column(h)
	}
	if len(header) < 2 && !b.opt.Untimed {
		return &ParseError{File: b.file, Line: 1, Field: "header", Err: fmt.Errorf("need a timestamp column and at least one metric column, got %d column(s)", len(header))}
	}
	lastOffset := int64(-1)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			// A broken quote: skip the record if asked, unless the reader
			// stopped advancing.
			line := csvLine(err, 0)
			if off := r.InputOffset(); off == lastOffset {
				return &ParseError{File: b.file, Line: line, Err: csvCause(err)}
			} else {
				lastOffset = off
			}
			if e := b.invalid(&ParseError{File: b.file, Line: line, Err: csvCause(err)}); e != nil {
				return e
			}
			continue
		}
		line, _ := r.FieldPos(0)
		if len(rec) != len(header) {
			if e := b.invalid(&ParseError{File: b.file, Line: line, Err: fmt.Errorf("%d fields, header has %d", len(rec), len(header))}); e != nil {
				return e
			}
			continue
		}
		t := int64(len(b.times))
		if tcol >= 0 {
			if t, err = parseTimeString(rec[tcol]); err != nil {
				if e := b.invalid(&ParseError{File: b.file, Line: line, Field: header[tcol], Err: err}); e != nil {
					return e
				}
				continue
			}
		}
		ok := true
		for i, c := range cols {
			if c < 0 {
				continue
			}
			v, err := parseValue(rec[i])
			if err != nil {
				if e := b.invalid(&ParseError{File: b.file, Line: line, Field: header[i], Err: err}); e != nil {
					return e
				}
				ok = false
				break
			}
			b.pending = append(b.pending, pendingValue{c, v})
		}
		if ok {
			if err := b.commit(t, int64(line)); err != nil {
				return err
			}
		}
	}
}

func csvLine(err error, fallback int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) && pe.Line > 0 {
		return pe.Line
	}
	return fallback
}

func csvCause(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (b *builder) readNDJSON(br *bufio.Reader) error {
	b.locKind = locLine
	line := 0
	for {
		buf, err := br.ReadBytes('\n')
		if len(buf) > 0 {
			line++
			buf = bytes.TrimSpace(buf)
			if len(buf) > 0 {
				if e := b.sample(buf, line, -1); e != nil {
					return e
				}
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", b.file, line+1, err)
		}
	}
}

func (b *builder) readJSON(br *bufio.Reader) error {
	b.locKind = locOffset
	dec := json.NewDecoder(br)
	dec.UseNumber()
	tok, err := dec.Token()
	if err == io.EOF {
		return fmt.Errorf("%s: %w (empty file)", b.file, ErrNoData)
	}
	if err != nil {
		return &ParseError{File: b.file, Offset: dec.InputOffset(), Err: err}
	}
	switch tok {
	case json.Delim('['):
		for dec.More() {
			off := dec.InputOffset()
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return &ParseError{File: b.file, Offset: errOffset(err, off), Err: err}
			}
			off = dec.InputOffset() - int64(len(raw))
			if e := b.sample(raw, 0, off); e != nil {
				return e
			}
		}
		if _, err := dec.Token(); err != nil {
			return &ParseError{File: b.file, Offset: dec.InputOffset(), Err: err}
		}
		return b.trailing(dec)
	case json.Delim('{'):
		return b.jsonObject(dec)
	}
	return &ParseError{File: b.file, Offset: 0, Err: fmt.Errorf("want a JSON array or object, got %v", tok)}
}

// trailing rejects anything but white space after the top-level value.
func (b *builder) trailing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != io.EOF {
		return &ParseError{File: b.file, Offset: dec.InputOffset(), Err: errors.New("unexpected data after the top-level value")}
	}
	return nil
}

// jsonObject reads an object of arrays, or a sample object followed by more
// (a .json file holding NDJSON). The opening brace is already consumed.
func (b *builder) jsonObject(dec *json.Decoder) error {
	start := dec.InputOffset() - 1
	obj := map[string]json.RawMessage{}
	for dec.More() {
		off := dec.InputOffset()
		kt, err := dec.Token()
		if err != nil {
			return &ParseError{File: b.file, Offset: off, Err: err}
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return &ParseError{File: b.file, Offset: dec.InputOffset(), Field: key, Err: err}
		}
		obj[key] = raw
	}
	if _, err := dec.Token(); err != nil {
		return &ParseError{File: b.file, Offset: dec.InputOffset(), Err: err}
	}
	tkey, traw := timestampField(obj)
	if tkey != "" && firstByte(traw) == '[' {
		if err := b.objectOfArrays(obj, tkey, start); err != nil {
			return err
		}
		return b.trailing(dec)
	}
	if err := b.sampleFields(obj, 0, start); err != nil {
		return err
	}
	// More sample objects may follow.
	for {
		off := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &ParseError{File: b.file, Offset: errOffset(err, off), Err: err}
		}
		off = dec.InputOffset() - int64(len(raw))
		if e := b.sample(raw, 0, off); e != nil {
			return e
		}
	}
}

// errOffset is where a decoding error occurred: the syntax error's offset,
// else the last good position.
func errOffset(err error, fallback int64) int64 {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset
	}
	return fallback
}

func firstByte(raw json.RawMessage) byte {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func timestampField(obj map[string]json.RawMessage) (string, json.RawMessage) {
	for _, k := range [...]string{"timestamp", "timestamps", "time", "ts"} {
		if v, ok := obj[k]; ok {
			return k, v
		}
	}
	return "", nil
}

// sample parses one sample object (an NDJSON line or an array element).
func (b *builder) sample(raw []byte, line int, off int64) error {
	obj := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &obj); err != nil {
		// A broken sample is one bad row: an NDJSON line, or an array element
		// the decoder has already delimited.
		return b.invalid(&ParseError{File: b.file, Line: line, Offset: off, Err: jsonCause(err)})
	}
	return b.sampleFields(obj, line, off)
}

func jsonCause(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d of the sample: %v", se.Offset, se)
	}
	var ue *json.UnmarshalTypeError
	if errors.As(err, &ue) {
		return fmt.Errorf("want a sample object, got a JSON %s", ue.Value)
	}
	return err
}

func (b *builder) sampleFields(obj map[string]json.RawMessage, line int, off int64) error {
	loc := func(field string, err error) *ParseError {
		return &ParseError{File: b.file, Line: line, Offset: off, Field: field, Err: err}
	}
	tkey, traw := timestampField(obj)
	if tkey == "" {
		return b.invalid(loc("timestamp", errors.New("missing")))
	}
	t, err := parseJSONTime(traw)
	if err != nil {
		return b.invalid(loc(tkey, err))
	}
	fields := obj
	skip := tkey
	if m, ok := obj["metrics"]; ok {
		fields = map[string]json.RawMessage{}
		if err := json.Unmarshal(m, &fields); err != nil {
			return b.invalid(loc("metrics", errors.New("want an object of metric values")))
		}
		skip = ""
	}
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if k != skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // deterministic column discovery and error choice
	for _, k := range keys {
		v, err := parseJSONValue(fields[k])
		if err != nil {
			return b.invalid(loc(k, err))
		}
		if c := b.column(k); c >= 0 {
			b.pending = append(b.pending, pendingValue{c, v})
		}
	}
	where := int64(line)
	if line == 0 {
		where = off
	}
	return b.commit(t, where)
}

func (b *builder) objectOfArrays(obj map[string]json.RawMessage, tkey string, off int64) error {
	b.locKind = locIndex
	arrays := map[string]json.RawMessage{}
	if m, ok := obj["metrics"]; ok {
		if err := json.Unmarshal(m, &arrays); err != nil {
			return &ParseError{File: b.file, Offset: off, Field: "metrics", Err: errors.New("want an object of metric arrays")}
		}
	} else {
		for k, v := range obj {
			if k != tkey {
				arrays[k] = v
			}
		}
	}
	var traw []json.RawMessage
	if err := json.Unmarshal(obj[tkey], &traw); err != nil {
		return &ParseError{File: b.file, Offset: off, Field: tkey, Err: errors.New("want an array of timestamps")}
	}
	n := len(traw)
	bad := make([]bool, n)
	times := make([]int64, n)
	var firstErr *ParseError
	mark := func(i int, pe *ParseError) {
		if !bad[i] {
			bad[i] = true
			if b.rep.Skipped == 0 && firstErr == nil {
				firstErr = pe
			}
		}
	}
	for i, r := range traw {
		t, err := parseJSONTime(r)
		if err != nil {
			pe := &ParseError{File: b.file, Offset: -1, Field: fmt.Sprintf("%s[%d]", tkey, i), Err: err}
			if !b.opt.SkipInvalid {
				return pe
			}
			mark(i, pe)
		}
		times[i] = t
	}
	keys := make([]string, 0, len(arrays))
	for k := range arrays {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	cols := make([][]float64, len(keys))
	for ki, k := range keys {
		var raws []json.RawMessage
		if err := json.Unmarshal(arrays[k], &raws); err != nil {
			return &ParseError{File: b.file, Offset: off, Field: k, Err: errors.New("want an array of numbers")}
		}
		if len(raws) != n {
			return &ParseError{File: b.file, Offset: off, Field: k, Err: fmt.Errorf("%d values for %d timestamps", len(raws), n)}
		}
		if b.keep != nil && !b.keep[k] {
			continue
		}
		col := make([]float64, n)
		for i, r := range raws {
			v, err := parseJSONValue(r)
			if err != nil {
				pe := &ParseError{File: b.file, Offset: -1, Field: fmt.Sprintf("%s[%d]", k, i), Err: err}
				if !b.opt.SkipInvalid {
					return pe
				}
				mark(i, pe)
			}
			col[i] = v
		}
		cols[ki] = col
	}
	idx := make([]int, len(keys))
	for ki, k := range keys {
		idx[ki] = -1
		if cols[ki] != nil {
			idx[ki] = b.column(k)
		}
	}
	for i := 0; i < n; i++ {
		if bad[i] {
			if b.rep.Skipped == 0 {
				b.rep.FirstSkip = firstErr.Error()
			}
			b.rep.Skipped++
			continue
		}
		for ki, c := range idx {
			if c >= 0 {
				b.pending = append(b.pending, pendingValue{c, cols[ki][i]})
			}
		}
		if err := b.commit(times[i], int64(i)); err != nil {
			return err
		}
	}
	return nil
}

func parseJSONTime(raw json.RawMessage) (int64, error) {
	raw = bytes.TrimSpace(raw)
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errors.New("invalid string")
		}
		return parseTimeString(s)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return 0, fmt.Errorf("invalid timestamp %s", clip(string(raw)))
		}
		return unixNumber(v)
	}
	return 0, fmt.Errorf("want a timestamp string or unix number, got %s", clip(string(raw)))
}

func parseJSONValue(raw json.RawMessage) (float64, error) {
	raw = bytes.TrimSpace(raw)
	switch firstByte(raw) {
	case 'n':
		if string(raw) == "null" {
			return math.NaN(), nil
		}
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, errors.New("invalid string")
		}
		return parseValue(s)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return 0, fmt.Errorf("value %s out of range", clip(string(raw)))
		}
		return checkValue(v)
	}
	return 0, fmt.Errorf("not a number: %s", clip(string(raw)))
}
