package sim_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/novacron/perfpredict/baseline"
	"github.com/novacron/perfpredict/integration/sim"
	"github.com/novacron/perfpredict/optimize"
)

// twinRows are one history in file order: unsorted, with two rows at one
// timestamp, so sorting (stable) is visible.
var twinRows = []struct {
	t                            string
	rps, vcpus, util, lat, value float64
}{
	{"2026-01-01 00:10:00", 1200, 8, 0.75, 33, 3},
	{"2026-01-01 00:00:00", 800, 8, 0.5, 30, 1},
	{"2026-01-01 00:05:00", 400, 4, 0.25, 29, 2},
	{"2026-01-01 00:05:00", 900, 4, 0.55, 31, 2.5},
}

var twinColumns = []string{"throughput_rps", "vcpus", "cpu_utilization", "latency_ms", "value"}

// writeTwins writes the rows as CSV, a JSON array of samples, NDJSON and a
// JSON object of arrays; fault, when set, rewrites row 2 (file line 4 of
// the CSV and the NDJSON).
func writeTwins(t *testing.T, dir string, fault func(row []string) []string) []string {
	t.Helper()
	var csv, ndjson, arr strings.Builder
	csv.WriteString("timestamp," + strings.Join(twinColumns, ",") + "\n")
	ndjson.WriteString("\n") // the NDJSON's line 2 is its first sample, like the CSV's
	arr.WriteString("[")
	objTimes, objCols := []string{}, make([][]string, len(twinColumns))
	for i, r := range twinRows {
		cells := []string{r.t}
		for _, v := range []float64{r.rps, r.vcpus, r.util, r.lat, r.value} {
			cells = append(cells, fmt.Sprint(v))
		}
		if fault != nil && i == 2 {
			cells = fault(cells)
		}
		csv.WriteString(strings.Join(cells, ",") + "\n")
		ts, _ := time.Parse("2006-01-02 15:04:05", r.t)
		fields := []string{fmt.Sprintf(`"timestamp":%q`, ts.Format(time.RFC3339))}
		objTimes = append(objTimes, fmt.Sprintf("%q", ts.Format(time.RFC3339)))
		for c := range twinColumns {
			v := "null"
			if c+1 < len(cells) && cells[c+1] != "" {
				v = cells[c+1]
			}
			fields = append(fields, fmt.Sprintf("%q:%s", twinColumns[c], v))
			objCols[c] = append(objCols[c], v)
		}
		sample := "{" + strings.Join(fields, ",") + "}"
		ndjson.WriteString(sample + "\n")
		if i > 0 {
			arr.WriteString(",\n")
		}
		arr.WriteString(sample)
	}
	arr.WriteString("]\n")
	obj := `{"timestamp":[` + strings.Join(objTimes, ",") + "]"
	for c, name := range twinColumns {
		obj += fmt.Sprintf(",%q:[%s]", name, strings.Join(objCols[c], ","))
	}
	obj += "}\n"
	var paths []string
	for _, f := range []struct{ name, body string }{
		{"m.csv", csv.String()}, {"m.ndjson", ndjson.String()}, {"m.json", arr.String()}, {"arrays/m.json", obj},
	} {
		p := filepath.Join(dir, f.name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.body), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestOneParserEveryReader: a CSV file and its JSON, NDJSON and
// object-of-arrays twins load to the same series through every public
// reader (baseline, optimize, sim; serve takes baseline's series), all of
// which parse with features' parser.
func TestOneParserEveryReader(t *testing.T) {
	paths := writeTwins(t, t.TempDir(), nil)
	type loaded struct {
		Value   baseline.Series
		Columns []baseline.Series
		History []optimize.Observation
		Trace   []float64
	}
	load := func(p string) loaded {
		var l loaded
		var err error
		if l.Value, err = baseline.LoadCSV(p, ""); err != nil {
			t.Fatalf("baseline.LoadCSV: %v", err)
		}
		if l.Columns, err = baseline.LoadColumns(p, nil); err != nil {
			t.Fatalf("baseline.LoadColumns: %v", err)
		}
		if l.History, err = optimize.LoadHistory(p); err != nil {
			t.Fatalf("optimize.LoadHistory: %v", err)
		}
		if l.Trace, err = sim.LoadTrace(p); err != nil {
			t.Fatalf("sim.LoadTrace: %v", err)
		}
		return l
	}
	want := load(paths[0])
	// The CSV itself, read by the protocol: sorted stably by time.
	if !reflect.DeepEqual(want.Value.Values, []float64{1, 2, 2.5, 3}) || !reflect.DeepEqual(want.Trace, want.Value.Values) {
		t.Fatalf("value %v, trace %v; want 1 2 2.5 3 (sorted by time, ties in file order)", want.Value.Values, want.Trace)
	}
	var names []string
	for _, c := range want.Columns {
		names = append(names, c.Name)
	}
	if !reflect.DeepEqual(names, []string{"m:cpu_utilization", "m:latency_ms", "m:throughput_rps", "m:value", "m:vcpus"}) {
		t.Fatalf("columns %v; want the five in name order", names)
	}
	if len(want.History) != 4 || want.History[0] != (optimize.Observation{ThroughputRPS: 1200, VCPUs: 8, CPUUtilization: 0.75, LatencyMs: 33}) {
		t.Fatalf("history %+v, want the rows in file order", want.History)
	}
	for _, p := range paths[1:] {
		if got := load(p); !reflect.DeepEqual(got, want) {
			t.Errorf("%s loads differently from the CSV:\n%+v\nwant\n%+v", p, got, want)
		}
	}
}

// TestEveryReaderSameErrors: a bad row fails in every reader with the
// parser's error, naming the file, line and column; a missing value fails
// where the reader uses the column.
func TestEveryReaderSameErrors(t *testing.T) {
	readers := map[string]func(string) error{
		"baseline.LoadCSV":     func(p string) error { _, err := baseline.LoadCSV(p, ""); return err },
		"baseline.LoadColumns": func(p string) error { _, err := baseline.LoadColumns(p, nil); return err },
		"optimize.LoadHistory": func(p string) error { _, err := optimize.LoadHistory(p); return err },
		"sim.LoadTrace":        func(p string) error { _, err := sim.LoadTrace(p); return err },
	}
	short := writeTwins(t, t.TempDir(), func(row []string) []string { return row[:3] })[0]
	for name, read := range readers {
		err := read(short)
		if want := short + ":4: 3 fields, header has 6"; err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s on a short row: %v, want %q", name, err, want)
		}
	}
	// A gap in throughput_rps: an error where it is used, in CSV and NDJSON
	// alike; the value column's readers do not read it.
	for _, p := range writeTwins(t, t.TempDir(), func(row []string) []string { row[1] = ""; return row })[:2] {
		for name, read := range readers {
			err := read(p)
			uses := name == "baseline.LoadColumns" || name == "optimize.LoadHistory"
			if !uses {
				if err != nil {
					t.Errorf("%s %s: %v, but it does not use throughput_rps", name, p, err)
				}
				continue
			}
			want := p + `:4: field "throughput_rps": missing value`
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("%s %s: %v, want %q...", name, p, err, want)
			}
			if name != "optimize.LoadHistory" && !errors.Is(err, baseline.ErrBadInput) {
				t.Errorf("%s: %v is not marked bad input", name, err)
			}
		}
	}
}
