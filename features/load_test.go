package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func read(t *testing.T, content string, f Format, opt LoadOptions) (*Table, LoadReport, error) {
	t.Helper()
	opt.Format = f
	return Read(strings.NewReader(content), "in", opt)
}

func TestParseTimestamps(t *testing.T) {
	want := time.Date(2014, 2, 14, 14, 27, 0, 0, time.UTC).UnixNano()
	for _, s := range []string{"2014-02-14 14:27:00", "2014-02-14T14:27:00Z", "2014-02-14T15:27:00+01:00", "2014-02-14T14:27:00",
		"1392388020", "1392388020000", "1392388020.0", " 2014-02-14 14:27:00 "} {
		got, err := parseTimeString(s)
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		if got != want {
			t.Errorf("%q = %s, want %s", s, FormatTime(got), FormatTime(want))
		}
	}
	if got, _ := parseTimeString("2014-02-14 14:27:00.250"); got != want+250e6 {
		t.Errorf("fractional seconds: %s", FormatTime(got))
	}
	for _, s := range []string{"", "yesterday", "2014-13-01 00:00:00", "-5", "1e300", "NaN", "9999-01-01T00:00:00Z", "1969-12-31T23:59:59Z"} {
		if _, err := parseTimeString(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

// sameData writes one data set in every format; each must load to the same
// series and the same feature matrix.
func TestFormatsGiveIdenticalFeatures(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"cpu_usage", "latency_ms", "net_bytes_total"}
	n := 400
	times := make([]int64, n)
	vals := make([][]float64, len(names))
	t0 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Unix()
	for i := range times {
		times[i] = (t0 + int64(i)*60) * 1e9
		if i == 200 {
			t0 += 3600 // a long gap
		}
	}
	for m := range vals {
		vals[m] = make([]float64, n)
		for i := range vals[m] {
			vals[m][i] = math.Round(rng.NormFloat64()*1e6) / 1e3
			if m == 2 {
				vals[m][i] = float64(i * 1000)
			}
			if rng.IntN(50) == 0 && m != 2 {
				vals[m][i] = math.NaN()
			}
		}
	}
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	// Columns in a different order than sorted, to check the sort.
	order := []int{2, 0, 1}
	var csvB, ndB, arrB bytes.Buffer
	csvB.WriteString("timestamp")
	for _, m := range order {
		csvB.WriteString("," + names[m])
	}
	csvB.WriteString("\n")
	arrB.WriteString("[\n")
	obj := map[string]any{}
	ts := make([]int64, n)
	metrics := map[string][]any{}
	for i := 0; i < n; i++ {
		sec := times[i] / 1e9
		csvB.WriteString(time.Unix(sec, 0).UTC().Format("2006-01-02 15:04:05"))
		sample := map[string]any{}
		for _, m := range order {
			v := vals[m][i]
			csvB.WriteString(",")
			if !math.IsNaN(v) {
				csvB.WriteString(num(v))
				sample[names[m]] = json.RawMessage(num(v))
				metrics[names[m]] = append(metrics[names[m]], json.RawMessage(num(v)))
			} else {
				metrics[names[m]] = append(metrics[names[m]], nil)
			}
		}
		csvB.WriteString("\n")
		line, _ := json.Marshal(map[string]any{"timestamp": sec * 1000, "metrics": sample})
		ndB.Write(line)
		ndB.WriteString("\n")
		flat := map[string]any{"timestamp": time.Unix(sec, 0).UTC().Format(time.RFC3339)}
		for k, v := range sample {
			flat[k] = v
		}
		el, _ := json.Marshal(flat)
		if i > 0 {
			arrB.WriteString(",\n")
		}
		arrB.Write(el)
		ts[i] = sec
	}
	arrB.WriteString("\n]\n")
	obj["timestamp"] = ts
	obj["metrics"] = metrics
	objB, _ := json.Marshal(obj)

	inputs := []struct {
		name string
		data []byte
		f    Format
	}{
		{"csv", csvB.Bytes(), FormatCSV},
		{"json-array", arrB.Bytes(), FormatJSON},
		{"json-object", objB, FormatJSON},
		{"ndjson", ndB.Bytes(), FormatNDJSON},
		{"ndjson-as-json", ndB.Bytes(), FormatJSON},
		{"sniffed-csv", csvB.Bytes(), FormatAuto},
		{"sniffed-ndjson", ndB.Bytes(), FormatAuto},
		{"sniffed-array", arrB.Bytes(), FormatAuto},
	}
	var ref *Frame
	for _, in := range inputs {
		s, rep, err := Read(bytes.NewReader(in.data), in.name, LoadOptions{Format: in.f})
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		if rep.Rows != n || rep.Skipped != 0 || !slices.Equal(s.Names, names) || !slices.Equal(s.Times, times) {
			t.Fatalf("%s: report %+v names %v", in.name, rep, s.Names)
		}
		for m := range names {
			for i := range vals[m] {
				if a, b := s.Values[m][i], vals[m][i]; a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
					t.Fatalf("%s: %s[%d] = %v, want %v", in.name, names[m], i, a, b)
				}
			}
		}
		g, _, err := Resample(s, GridOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f, err := Engineer(g, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ref == nil {
			ref = f
			if gaps := countTrue(f.Break); gaps != 1 {
				t.Fatalf("want 1 gap, got %d", gaps)
			}
			continue
		}
		if !slices.Equal(f.Names, ref.Names) || !slices.Equal(f.Times, ref.Times) || !bitsEqual(f.Data, ref.Data) {
			t.Fatalf("%s: feature matrix differs from csv", in.name)
		}
	}
}

func countTrue(b []bool) int {
	n := 0
	for _, v := range b {
		if v {
			n++
		}
	}
	return n
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func TestLoadFileByExtension(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"a.csv":    "time,x\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,2\n",
		"a.json":   `[{"timestamp":"2024-01-01T00:00:00Z","x":1},{"timestamp":"2024-01-01T00:01:00Z","x":2}]`,
		"a.ndjson": "{\"timestamp\":1704067200,\"x\":1}\n\n{\"timestamp\":1704067260,\"x\":2}\r\n",
		"a.jsonl":  "{\"timestamp\":1704067200,\"x\":1}\n{\"timestamp\":1704067260,\"x\":2}",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		s, _, err := Load(p, LoadOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if s.Len() != 2 || s.Values[0][1] != 2 || s.Times[1]-s.Times[0] != 60e9 {
			t.Fatalf("%s: %+v", name, s)
		}
	}
	if _, _, err := Load(filepath.Join(dir, "missing.csv"), LoadOptions{}); err == nil {
		t.Fatal("missing file loaded")
	}
}

// TestBadInput pins the outcome of every kind of bad input: the error names
// file, line or byte offset, and field; SkipInvalid counts the row instead.
func TestBadInput(t *testing.T) {
	cases := []struct {
		name    string
		f       Format
		in      string
		wantErr string // substrings, "|"-separated; "" for success
		rows    int    // rows kept with SkipInvalid
		skipped int
	}{
		{"csv non-numeric", FormatCSV, "timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,abc\n", `in:3: field "value": not a number: "abc"`, 1, 1},
		{"csv inf", FormatCSV, "timestamp,value\n2024-01-01 00:00:00,Inf\n2024-01-01 00:01:00,2\n", `in:2: field "value": value +Inf out of range`, 1, 1},
		{"csv huge", FormatCSV, "timestamp,value\n2024-01-01 00:00:00,1e31\n", `in:2: field "value": value 1e+31 out of range`, 0, 1},
		{"csv overflow", FormatCSV, "timestamp,value\n2024-01-01 00:00:00,1e999\n", `in:2: field "value": value "1e999" out of range`, 0, 1},
		{"csv bad time", FormatCSV, "timestamp,value\nsoon,1\n2024-01-01 00:01:00,2\n", `in:2: field "timestamp": invalid timestamp "soon"`, 1, 1},
		{"csv field count", FormatCSV, "timestamp,a,b\n2024-01-01 00:00:00,1\n2024-01-01 00:01:00,1,2\n", "in:2: 2 fields, header has 3", 1, 1},
		{"csv bare quote", FormatCSV, "timestamp,a\n2024-01-01 00:00:00,1\"x\n2024-01-01 00:01:00,2\n", `in:2: bare " in non-quoted-field`, 1, 1},
		{"csv dup column", FormatCSV, "timestamp,a,a\n", `in:1: field "a": duplicate column name`, 0, 0},
		{"csv one column", FormatCSV, "timestamp\n2024-01-01 00:00:00\n", "in:1: field \"header\": need a timestamp column", 0, 0},
		{"csv empty", FormatCSV, "", "in: no samples (empty file)", 0, 0},
		{"csv header only", FormatCSV, "timestamp,value\n", "in: no samples", 0, 0},
		{"json empty", FormatJSON, "  ", "in: no samples (empty file)", 0, 0},
		{"json empty array", FormatJSON, "[]", "in: no samples", 0, 0},
		{"json syntax", FormatJSON, `[{"timestamp":1704067200,"x":1},{"timestamp":`, "in: byte 31: unexpected EOF", 0, 0},
		{"json non-numeric", FormatJSON, `[{"timestamp":1704067200,"x":1},{"timestamp":1704067260,"x":"fast"}]`, `in: byte 32: field "x": not a number: "fast"`, 1, 1},
		{"json bool", FormatJSON, `[{"timestamp":1704067200,"x":true}]`, `in: byte 1: field "x": not a number: true`, 0, 1},
		{"json no timestamp", FormatJSON, `[{"x":1}]`, `in: byte 1: field "timestamp": missing`, 0, 1},
		{"json scalar", FormatJSON, `3`, "in: byte 0: want a JSON array or object", 0, 0},
		{"json trailing", FormatJSON, `[{"timestamp":1704067200,"x":1}] x`, "in: byte", 0, 0},
		{"json element not object", FormatJSON, `[{"timestamp":1704067200,"x":1}, 5]`, "in: byte 33: want a sample object, got a JSON number", 1, 1},
		{"json object bad element", FormatJSON, `{"timestamp":[1704067200,1704067260],"metrics":{"x":[1,"?"]}}`, `in: field "x[1]": not a number: "?"`, 1, 1},
		{"json object bad time", FormatJSON, `{"timestamp":[1704067200,"x"],"x":[1,2]}`, `in: field "timestamp[1]": invalid timestamp "x"`, 1, 1},
		{"json object lengths", FormatJSON, `{"timestamp":[1704067200,1704067260],"x":[1]}`, `field "x": 1 values for 2 timestamps`, 0, 0},
		{"ndjson bad line", FormatNDJSON, "{\"timestamp\":1704067200,\"x\":1}\n{\"timestamp\":1704067260,\"x\":\n{\"timestamp\":1704067320,\"x\":3}\n", "in:2: invalid JSON", 2, 1},
		{"ndjson bad value", FormatNDJSON, "{\"timestamp\":1704067200,\"x\":1}\n{\"timestamp\":1704067260,\"x\":[1]}\n", `in:2: field "x": not a number: [1]`, 1, 1},
		{"ndjson metrics not object", FormatNDJSON, "{\"timestamp\":1704067200,\"metrics\":[1]}\n", `in:1: field "metrics": want an object`, 0, 1},
		{"ndjson empty", FormatNDJSON, "\n\n", "in: no samples", 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := read(t, c.in, c.f, LoadOptions{})
			if err == nil {
				t.Fatalf("accepted")
			}
			for _, w := range strings.Split(c.wantErr, "|") {
				if !strings.Contains(err.Error(), w) {
					t.Fatalf("error %q does not contain %q", err, w)
				}
			}
			s, rep, err := read(t, c.in, c.f, LoadOptions{SkipInvalid: true})
			if c.rows > 0 {
				if err != nil {
					t.Fatalf("SkipInvalid: %v", err)
				}
				if s.Len() != c.rows || rep.Skipped != c.skipped || rep.FirstSkip == "" {
					t.Fatalf("SkipInvalid: %d rows, report %+v; want %d rows, %d skipped", s.Len(), rep, c.rows, c.skipped)
				}
			} else if err == nil {
				t.Fatalf("SkipInvalid with no valid row succeeded")
			} else if c.skipped > 0 && (!errors.Is(err, ErrNoData) || rep.Skipped != c.skipped) {
				t.Fatalf("SkipInvalid: %v, report %+v", err, rep)
			}
		})
	}
}

// TestMissingValues: empty cells, null, "NaN" and absent metrics are missing
// values, which the grid interpolates (short runs) or drops (long runs).
func TestMissingValues(t *testing.T) {
	in := "timestamp,a,b\n" +
		"2024-01-01 00:00:00,1,10\n" +
		"2024-01-01 00:01:00,,NaN\n" +
		"2024-01-01 00:02:00,3,30\n"
	s, _, err := read(t, in, FormatCSV, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s.Values[0][1]) || !math.IsNaN(s.Values[1][1]) {
		t.Fatalf("missing cells loaded as %v %v", s.Values[0][1], s.Values[1][1])
	}
	g, rep, err := Resample(s, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if g.Values[0][1] != 2 || g.Values[1][1] != 20 || rep.Filled != 2 {
		t.Fatalf("interpolated %v %v, report %+v", g.Values[0][1], g.Values[1][1], rep)
	}
	js := `[{"timestamp":0,"metrics":{"a":1,"b":null}},{"timestamp":60,"metrics":{"a":2}},{"timestamp":120,"metrics":{"a":3,"b":"NaN"}}]`
	s, _, err = read(t, js, FormatJSON, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Resample(s, GridOptions{}); !errors.Is(err, ErrNoData) {
		t.Fatalf("a metric that is never present: %v", err)
	}
}

func TestMetricsFilter(t *testing.T) {
	in := "{\"timestamp\":0,\"a\":1,\"b\":2,\"c\":\"junk\"}\n{\"timestamp\":60,\"a\":2,\"b\":3,\"c\":\"junk\"}\n"
	if _, _, err := read(t, in, FormatNDJSON, LoadOptions{}); err == nil {
		t.Fatal("junk column accepted")
	}
	// Unkept metrics are still validated in JSON (a sample is all or nothing)...
	if _, _, err := read(t, in, FormatNDJSON, LoadOptions{Metrics: []string{"b"}}); err == nil {
		t.Fatal("junk accepted")
	}
	csv := "timestamp,a,b,c\n0,1,2,junk\n60,2,3,junk\n"
	// ...but a CSV column that is not kept is not parsed at all.
	s, _, err := read(t, csv, FormatCSV, LoadOptions{Metrics: []string{"b"}})
	if err != nil || !slices.Equal(s.Names, []string{"b"}) || s.Values[0][1] != 3 {
		t.Fatalf("%v %+v", err, s)
	}
	if _, _, err := read(t, csv, FormatCSV, LoadOptions{Metrics: []string{"zz"}}); err == nil || !strings.Contains(err.Error(), `metric "zz" not found`) {
		t.Fatalf("absent metric: %v", err)
	}
}

// TestStreamingNDJSONMemory loads a large NDJSON stream, generated on the
// fly, and checks the peak heap stays far below the input's size: memory goes
// with the kept series, not the file.
func TestStreamingNDJSONMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	const rows = 100_000
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r := &ndjsonGen{rows: rows, base: ms.HeapAlloc}
	s, rep, err := Read(r, "gen", LoadOptions{Format: FormatNDJSON, Metrics: []string{"keep"}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != rows || s.Len() != rows || len(s.Names) != 1 || s.Values[0][rows-1] != rows-1 {
		t.Fatalf("%+v", rep)
	}
	growth := int64(r.peak) - int64(r.base)
	t.Logf("input %d MB, kept %d KB, peak heap growth %d MB", r.bytes>>20, (cap(s.Times)+cap(s.Values[0]))*8>>10, growth>>20)
	if r.bytes < 50<<20 {
		t.Fatalf("generator too small: %d bytes", r.bytes)
	}
	if growth > 24<<20 {
		t.Fatalf("heap grew by %d MB while streaming %d MB", growth>>20, r.bytes>>20)
	}
}

// ndjsonGen produces NDJSON rows with one kept and many unkept metrics,
// sampling the heap as it goes.
type ndjsonGen struct {
	rows, i    int
	buf        []byte
	bytes      int
	calls      int
	base, peak uint64
}

func (g *ndjsonGen) Read(p []byte) (int, error) {
	if g.calls++; g.calls%64 == 0 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		g.peak = max(g.peak, ms.HeapAlloc)
	}
	for len(g.buf) < len(p) && g.i < g.rows {
		g.buf = fmt.Appendf(g.buf, `{"timestamp":%d,"metrics":{"keep":%d`, 1704067200+g.i*60, g.i)
		for k := 0; k < 40; k++ {
			g.buf = fmt.Appendf(g.buf, `,"drop_%02d":%d.5`, k, k)
		}
		g.buf = append(g.buf, "}}\n"...)
		g.i++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	g.bytes += n
	return n, nil
}
