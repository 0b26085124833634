package baseline

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseLabels(t *testing.T) {
	in := `{
 "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv": [
  ["2014-02-27 08:55:00.000000", "2014-02-28 01:35:00.000000"],
  ["2014-02-26 13:45:00.000000", "2014-02-27 06:25:00.000000"]
 ],
 "realKnownCause/nyc_taxi.csv": []
}`
	l, err := ParseLabels(strings.NewReader(in), "w.json")
	if err != nil {
		t.Fatal(err)
	}
	ws := l.For("ec2_cpu_utilization_24ae8d")
	if len(ws) != 2 {
		t.Fatalf("%d windows, want 2", len(ws))
	}
	// Sorted by start.
	if want := time.Date(2014, 2, 26, 13, 45, 0, 0, time.UTC); !ws[0].Start.Equal(want) {
		t.Errorf("first start %v, want %v", ws[0].Start, want)
	}
	at := time.Date(2014, 2, 27, 6, 25, 0, 0, time.UTC)
	if !ws[0].Contains(at) || ws[0].Contains(at.Add(time.Minute)) {
		t.Errorf("window %v: the end is inside, a minute later is not", ws[0])
	}
	if got := l.For("realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"); len(got) != 2 {
		t.Errorf("by key: %d windows", len(got))
	}
	if got := l.For("nyc_taxi"); len(got) != 0 {
		t.Errorf("nyc_taxi: %d windows, want none", len(got))
	}
	if got := l.For("no_such_series"); got != nil {
		t.Errorf("unlabelled series: %v", got)
	}
}

func TestParseLabelsErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"{\n \"a.csv\": [\n  [\"2014-01-01\"]\n ]\n}", `"a.csv" window 1: 1 timestamps`},
		{"{\"a.csv\": [[\"2014-01-02\", \"2014-01-01\"]]}", "ends (2014-01-01) before it starts"},
		{"{\"a.csv\": [[\"yesterday\", \"2014-01-01\"]]}", `window 1 start: timestamp "yesterday"`},
		{"{\n\"a.csv\": [[1, 2]]}", "f.json:2:"},
		{"{\n\n\"a.csv\": [[\"x\",}", "f.json:3:"},
		{"null", "got null"},
		{"[]", "f.json:1:"},
	} {
		_, err := ParseLabels(strings.NewReader(c.in), "f.json")
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want bad input containing %q", c.in, err, c.want)
		}
	}
}

// The shipped label file parses and labels every shipped series.
func TestShippedLabels(t *testing.T) {
	p := filepath.Join("..", "testdata", "nab", "combined_windows.json")
	if _, err := os.Stat(p); err != nil {
		t.Skip(err)
	}
	l, err := LoadLabels(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ec2_cpu_utilization_24ae8d", "rds_cpu_utilization_cc0c53", "machine_temperature_system_failure"} {
		if len(l.For(name)) == 0 {
			t.Errorf("%s: no windows", name)
		}
	}
}

// FuzzParseLabels: bad input or labels whose windows are ordered and
// non-empty spans.
func FuzzParseLabels(f *testing.F) {
	f.Add(`{"realAWSCloudwatch/a.csv": [["2014-02-26 13:45:00.000000", "2014-02-27 06:25:00.000000"]]}`)
	f.Add(`{"a": []}`)
	f.Add(`{"a": [["1700000000", "1700000001.5"]]}`)
	f.Add(`{}`)
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ParseLabels(strings.NewReader(in), "fuzz.json")
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error not marked as bad input: %v", err)
			}
			return
		}
		for key, ws := range l {
			for i, w := range ws {
				if w.End.Before(w.Start) {
					t.Fatalf("%q window %d ends before it starts", key, i)
				}
				if i > 0 && w.Start.Before(ws[i-1].Start) {
					t.Fatalf("%q windows not sorted", key)
				}
			}
			_ = l.For(key)
		}
	})
}
