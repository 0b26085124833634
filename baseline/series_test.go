package baseline

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestReadCSVSortsStably(t *testing.T) {
	in := "timestamp,value\n" +
		"2014-02-14 14:40:00,3\n" +
		"2014-02-14 14:30:00,1\n" +
		"2014-02-14 14:40:00,4\n" +
		"2014-02-14 14:35:00,2\n"
	s, err := ReadCSV(strings.NewReader(in), "t.csv", "t", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1, 2, 3, 4} // equal timestamps keep file order
	for i, v := range want {
		if s.Values[i] != v {
			t.Fatalf("values %v, want %v", s.Values, want)
		}
	}
	if !s.Times[0].Equal(time.Date(2014, 2, 14, 14, 30, 0, 0, time.UTC)) {
		t.Errorf("first time %v", s.Times[0])
	}
}

func TestReadCSVTargetColumn(t *testing.T) {
	in := "time,cpu,latency\n1700000000,1.5,20\n1700000300,2.5,30\n"
	s, err := ReadCSV(strings.NewReader(in), "m.csv", "m", "latency")
	if err != nil {
		t.Fatal(err)
	}
	if s.Values[1] != 30 || s.Times[1].Sub(s.Times[0]) != 5*time.Minute {
		t.Errorf("got %v %v", s.Values, s.Times)
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, c := range []struct{ name, in, target, want string }{
		{"empty", "", "", "empty file"},
		{"no time column", "a,value\n1,2\n", "", `f.csv:1: field "header": no timestamp column in "a,value"`},
		{"no target", "timestamp,cpu,mem\n2014-01-01,1,2\n", "", `f.csv: no "value" column among ["cpu" "mem"]`},
		{"missing target", "timestamp,value\n2014-01-01,1\n", "latency", `f.csv: metric "latency" not found (the file has value)`},
		{"bad value", "timestamp,value\n2014-01-01,1\n2014-01-02,abc\n", "", `f.csv:3: field "value": not a number: "abc"`},
		{"nan", "timestamp,value\n2014-01-01,NaN\n", "", `f.csv:2: field "value": missing value`},
		{"empty cell", "timestamp,a,value\n2014-01-01,1,2\n2014-01-02,,3\n2014-01-03,4,\n", "", `f.csv:4: field "value": missing value`},
		{"infinite", "timestamp,value\n2014-01-01,+Inf\n", "", `f.csv:2: field "value": value +Inf out of range`},
		{"bad time", "timestamp,value\nyesterday,1\n", "", `f.csv:2: field "timestamp"`},
		{"short row", "timestamp,value\n2014-01-01\n", "", "f.csv:2"},
		{"no rows", "timestamp,value\n", "", "f.csv: no samples"},
	} {
		_, err := ReadCSV(strings.NewReader(c.in), "f.csv", "f", c.target)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: error %v, want one containing %q marked ErrBadInput", c.name, err, c.want)
		}
	}
}

func TestSeasonFromCadence(t *testing.T) {
	for _, c := range []struct {
		step time.Duration
		want int
	}{{5 * time.Minute, 288}, {time.Hour, 24}, {24 * time.Hour, 1}, {7 * 24 * time.Hour, 1}, {time.Minute, 1440}} {
		ts := make([]time.Time, 10)
		for i := range ts {
			ts[i] = time.Unix(0, 0).Add(time.Duration(i) * c.step)
		}
		ts[5] = ts[4] // a duplicate does not change the median spacing
		if got, err := SeasonFromCadence(ts); err != nil || got != c.want {
			t.Errorf("step %v: %d, %v; want %d", c.step, got, err, c.want)
		}
	}
	if _, err := SeasonFromCadence([]time.Time{time.Unix(5, 0), time.Unix(5, 0)}); err == nil {
		t.Error("one distinct timestamp: no error")
	}
}

func TestLoadCSVNAB(t *testing.T) {
	s, err := LoadCSV("../testdata/nab/realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv", "")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "ec2_cpu_utilization_5f5533" || s.Len() != 4032 {
		t.Errorf("name %q, %d rows", s.Name, s.Len())
	}
	if m, _ := SeasonFromCadence(s.Times); m != 288 {
		t.Errorf("season %d, want 288", m)
	}
	if _, err := LoadCSV("../testdata/nab/does-not-exist.csv", ""); err == nil {
		t.Error("missing file: no error")
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,value\n2014-02-14 14:30:00,0.132\n2014-02-14 14:35:00,0.134\n", "")
	f.Add("time,a,b\n1700000000,1,2\n1699999999,3,4\n", "b")
	f.Add("timestamp,value\n\"2014-02-14 14:30:00\",\"1e308\"\n", "")
	f.Add("\ufefftimestamp,value\n2014-02-14T14:30:00Z,-0\n", "value")
	f.Add("timestamp,value\n2014-01-01,1,2\n", "")
	f.Fuzz(func(t *testing.T, in, target string) {
		s, err := ReadCSV(strings.NewReader(in), "fuzz.csv", "fuzz", target)
		if err != nil {
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("error not marked as bad input: %v", err)
			}
			return
		}
		if len(s.Values) == 0 || len(s.Values) != len(s.Times) {
			t.Fatalf("%d values, %d times", len(s.Values), len(s.Times))
		}
		for i := 1; i < len(s.Times); i++ {
			if s.Times[i].Before(s.Times[i-1]) {
				t.Fatalf("not sorted at %d", i)
			}
		}
	})
}
