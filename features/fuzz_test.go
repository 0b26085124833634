package features

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"testing"
	"time"
)

// checkLoaded asserts the invariants of any successful load and runs the
// rest of the pipeline on it: nothing may panic and every feature is finite.
func checkLoaded(t *testing.T, s *Table, rep LoadReport, err error) {
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) && !errors.Is(err, ErrNoData) && err.Error() == "" {
			t.Fatalf("empty error")
		}
		return
	}
	if s.Len() == 0 || rep.Rows != s.Len() || len(s.Names) != len(s.Values) || len(s.Names) == 0 {
		t.Fatalf("inconsistent series: %d rows, report %+v, %d names, %d columns", s.Len(), rep, len(s.Names), len(s.Values))
	}
	for m, col := range s.Values {
		if len(col) != s.Len() {
			t.Fatalf("metric %d has %d values for %d rows", m, len(col), s.Len())
		}
		for _, v := range col {
			if math.IsInf(v, 0) || math.Abs(v) > maxValue {
				t.Fatalf("value %v passed the loader", v)
			}
		}
		if m > 0 && s.Names[m-1] >= s.Names[m] {
			t.Fatalf("names not sorted and unique: %q", s.Names)
		}
	}
	for _, tt := range s.Times {
		if tt < 0 {
			t.Fatalf("timestamp %d before 1970", tt)
		}
	}
	if s.Len() > 300 { // keep executions fast; the pipeline has its own tests
		return
	}
	g, _, err := Resample(s, GridOptions{})
	if errors.Is(err, ErrCadence) {
		g, _, err = Resample(s, GridOptions{Cadence: time.Minute})
	}
	if err != nil {
		return
	}
	f, err := Engineer(g, &Options{Lags: []int{1, 3}})
	if err != nil {
		return
	}
	for i, v := range f.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("feature %s at row %d is %v", f.Names[i%f.Cols()], i/f.Cols(), v)
		}
	}
	if w, err := NewWindows(f, WindowOptions{Steps: 3}); err == nil && w.Len() > 0 {
		sp, _ := SplitRows(f.Rows(), DefaultRatios())
		train, _, _ := sp.Sets(w)
		train.Tensors()
		if sc, err := FitScaler(f, 0, max(sp.TrainEnd, 1)); err == nil {
			sc.Transform(f.Data)
		}
	}
}

func seedFiles(f *testing.F, paths ...string) {
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		if len(b) > 4096 {
			b = b[:4096]
		}
		f.Add(b, false)
		f.Add(b, true)
	}
}

func FuzzLoadCSV(f *testing.F) {
	seedFiles(f, "../testdata/nab/realKnownCause/ec2_request_latency_system_failure.csv")
	for _, s := range []string{
		"timestamp,value\n2014-02-14 14:27:00,51.8\n2014-02-14 14:32:00,44.5\n",
		"time,a,b\n1704067200,1,\n1704067260,,2\n1704067200,3,3\n",
		"ts,a\n2024-01-01T00:00:00Z,NaN\n2024-01-01T00:00:00Z,Inf\n",
		"\xef\xbb\xbftimestamp,\"a,b\"\n1704067200000,\"1\"\n",
		"timestamp,value\n", "", "a\n1\n", "timestamp,a,a\n", "x,y\n\"1,2\n",
		"timestamp,x_total\n0,5\n60,7\n120,1\n180,4\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		s, rep, err := Read(bytes.NewReader(data), "fuzz.csv", LoadOptions{Format: FormatCSV, SkipInvalid: skip})
		checkLoaded(t, s, rep, err)
	})
}

func FuzzLoadJSON(f *testing.F) {
	for _, s := range []string{
		`[{"timestamp":"2024-01-01T00:00:00Z","metrics":{"latency_ms":12.1,"cpu_usage":0.5}},{"timestamp":"2024-01-01T00:01:00Z","metrics":{"latency_ms":null}}]`,
		`{"timestamp":[1704067200,1704067260,1704067320],"metrics":{"a":[1,2,"3"],"b_total":[5,1,9]}}`,
		`{"timestamps":["2024-01-01 00:00:00","2024-01-01 00:05:00"],"a":[1,2]}`,
		`{"timestamp":1704067200,"a":1}{"timestamp":1704067260,"a":2}`,
		`[]`, `{}`, `[1,2]`, `[{"timestamp":1e300,"a":1}]`, `{"timestamp":[1],"a":[1,2]}`, `[{"timestamp":0,"metrics":[]}]`,
		`[{"timestamp":1704067200,"hde_bytes_in":10,"hde_bytes_out":5,"pba_predicted_bandwidth":3,"pba_actual_bandwidth":4}]`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		s, rep, err := Read(bytes.NewReader(data), "fuzz.json", LoadOptions{Format: FormatJSON, SkipInvalid: skip})
		checkLoaded(t, s, rep, err)
	})
}

func FuzzLoadNDJSON(f *testing.F) {
	for _, s := range []string{
		"{\"timestamp\":1704067200,\"metrics\":{\"a\":1}}\n{\"timestamp\":1704067260,\"metrics\":{\"a\":2,\"b\":3}}\n",
		"{\"timestamp\":\"2024-01-01 00:00:00\",\"a\":1}\r\n\r\n{\"timestamp\":\"2024-01-01 00:00:00\",\"a\":1}",
		"{\"ts\":1704067200000,\"net_total\":100}\n{\"ts\":1704067260000,\"net_total\":50}\n{bad\n",
		"", "\n", "[1]\n", "{\"timestamp\":null}\n", "{\"timestamp\":1,\"a\":\"x\"}\n",
		"{\"timestamp\":1704067200,\"acp_consensus_time_ms_total\":10,\"acp_consensus_rounds_total\":1}\n{\"timestamp\":1704067201,\"acp_consensus_time_ms_total\":30,\"acp_consensus_rounds_total\":2}\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		s, rep, err := Read(bytes.NewReader(data), "fuzz.ndjson", LoadOptions{Format: FormatNDJSON, SkipInvalid: skip})
		checkLoaded(t, s, rep, err)
	})
}

// FuzzReadSniffed reads with the format left to sniff, as for a file without
// a known extension or from standard input.
func FuzzReadSniffed(f *testing.F) {
	for _, s := range []string{
		"timestamp,value\n2014-02-14 14:27:00,51.8\n2014-02-14 14:32:00,44.5\n",
		`[{"timestamp":"2024-01-01T00:00:00Z","metrics":{"a":1}},{"timestamp":"2024-01-01T00:01:00Z","metrics":{"a":2}}]`,
		"{\"timestamp\":1704067200,\"a\":1}\n{\"timestamp\":1704067260,\"a\":2}\n",
		"  \n\t[", "{", "", "\xef\xbb\xbf{\"timestamp\":1,\"a\":1}",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		s, rep, err := Read(bytes.NewReader(data), "fuzz", LoadOptions{SkipInvalid: skip})
		checkLoaded(t, s, rep, err)
	})
}

// FuzzParseScaler: a scaler read back from a checkpoint either fails with an
// error or is one that Transform and Inverse can use, and survives another
// round trip through its JSON form unchanged.
func FuzzParseScaler(f *testing.F) {
	for _, s := range []string{
		`{"names":["a","b"],"mean":[1.5,-2],"std":[0.5,1]}`,
		`{"names":["a"],"mean":[0],"std":[0]}`,
		`{"names":["a"],"mean":[1e308],"std":[1e-320]}`,
		`{"names":[],"mean":[],"std":[]}`,
		`{"names":["a"],"mean":[1,2],"std":[1]}`,
		`{"names":["a"],"mean":["x"],"std":[1]}`,
		`null`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseScaler(data)
		if err != nil {
			if s != nil || err.Error() == "" {
				t.Fatalf("error %q with scaler %v", err, s)
			}
			return
		}
		c := len(s.Names)
		if c == 0 || len(s.Mean) != c || len(s.Std) != c {
			t.Fatalf("accepted %d names, %d means, %d stds", c, len(s.Mean), len(s.Std))
		}
		for j := range c {
			if !(s.Std[j] > 0) || math.IsInf(s.Std[j], 0) || math.IsNaN(s.Mean[j]) || math.IsInf(s.Mean[j], 0) {
				t.Fatalf("accepted column %d: mean %v, std %v", j, s.Mean[j], s.Std[j])
			}
			if v := s.TransformValue(j, s.Mean[j]); v != 0 {
				t.Fatalf("column %d: the mean standardises to %v", j, v)
			}
			if v := s.InverseValue(j, 0); v != s.Mean[j] {
				t.Fatalf("column %d: 0 maps back to %v, not the mean %v", j, v, s.Mean[j])
			}
		}
		row := make([]float32, 2*c)
		s.Transform(row)
		s.Inverse(row)
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ParseScaler(b)
		if err != nil {
			t.Fatalf("its own JSON %s: %v", b, err)
		}
		if !slices.Equal(s.Names, s2.Names) || !slices.Equal(s.Mean, s2.Mean) || !slices.Equal(s.Std, s2.Std) {
			t.Fatalf("round trip changed %+v to %+v", s, s2)
		}
	})
}
